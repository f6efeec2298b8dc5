//! The store test suite. Every case runs on SQLite, and on Postgres when
//! `ASSAY_TEST_POSTGRES_URL` points at a server (CI sets it; with
//! `ASSAY_TEST_REQUIRE_POSTGRES=1` a missing URL fails instead of skipping).

use std::future::Future;

use assay_domain::api::{FilePurpose, Metadata, Order, PageRequest};
use assay_domain::Principal;
use assay_store::{
    DatabaseConfig, FileFilter, NewApiKey, NewFile, NewSuite, NewVersion, StorageConfig, Store,
    StoreError,
};
use assay_testkit::services;
use bytes::Bytes;
use serde_json::json;

/// A fresh store on each configured backend, handed to `case`.
async fn on_each_backend<F, Fut>(case: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = open(
        format!("sqlite://{}", dir.path().join("t.db").display()),
        dir.path(),
    )
    .await;
    case(sqlite).await;

    match services::postgres_url() {
        Some(url) => {
            let db = services::fresh_postgres_database(&url).await;
            let pg = open(db, dir.path()).await;
            case(pg).await;
        }
        None => eprintln!("ASSAY_TEST_POSTGRES_URL unset: Postgres half skipped"),
    }
}

async fn open(url: String, dir: &std::path::Path) -> Store {
    let database = DatabaseConfig {
        url,
        ..Default::default()
    };
    let storage = StorageConfig::default().with_default_under(dir);
    Store::open(&database, &storage).await.expect("store opens")
}

fn principal(org: &str, team: &str, user: Option<&str>) -> Principal {
    Principal {
        key_id: "key_test".into(),
        org_id: org.into(),
        team_id: team.into(),
        user_id: user.map(str::to_string),
        is_admin: false,
    }
}

async fn put_file(store: &Store, owner: &Principal, name: &str, content: &'static [u8]) -> String {
    let id = assay_domain::ids::new_id(assay_domain::ids::FILE);
    let key = format!("files/{id}");
    let put = store
        .blobs()
        .put_bytes(&key, Bytes::from_static(content))
        .await
        .expect("blob put");
    store
        .insert_file(
            owner,
            &NewFile {
                id: id.clone(),
                filename: name.into(),
                purpose: FilePurpose::Evals,
                bytes: put.bytes as i64,
                sha256: put.sha256,
                content_type: "application/jsonl".into(),
                blob_key: key,
            },
        )
        .await
        .expect("insert file");
    id
}

fn version(manifest: serde_json::Value) -> NewVersion {
    NewVersion {
        manifest,
        dataset_file_ids: vec![],
        metadata: Metadata::new(),
    }
}

fn suite(name: &str) -> NewSuite {
    NewSuite {
        name: name.into(),
        description: None,
        metadata: Metadata::new(),
    }
}

#[tokio::test]
async fn api_keys_authenticate_by_secret() {
    on_each_backend(|store| async move {
        assert_eq!(store.count_api_keys().await.unwrap(), 0);
        let (record, secret) = store
            .create_api_key(&NewApiKey {
                org_id: "o".into(),
                team_id: "t".into(),
                is_admin: true,
                label: None,
            })
            .await
            .unwrap();
        let found = store
            .authenticate(&secret)
            .await
            .unwrap()
            .expect("key found");
        assert_eq!(found, record);
        assert!(found.is_admin);
        assert!(store
            .authenticate("assay_sk_wrong")
            .await
            .unwrap()
            .is_none());
        let again = store
            .insert_api_key(
                &NewApiKey {
                    org_id: "o".into(),
                    team_id: "t".into(),
                    is_admin: false,
                    label: None,
                },
                &secret,
            )
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))));
        assert_eq!(store.count_api_keys().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn ui_sessions_stand_for_their_key_until_they_end() {
    on_each_backend(|store| async move {
        let (key, _) = store
            .create_api_key(&NewApiKey {
                org_id: "o".into(),
                team_id: "t".into(),
                is_admin: false,
                label: Some("laptop".into()),
            })
            .await
            .unwrap();
        let now = 1_800_000_000;
        let a = store.open_ui_session(&key, now, 3600).await.unwrap();
        let b = store.open_ui_session(&key, now, 60).await.unwrap();
        assert_ne!(a.token, b.token);
        assert_ne!(a.token, a.csrf_token);
        assert_eq!(a.expires_at, now + 3600);
        let live = store
            .ui_session(&a.token, now + 10)
            .await
            .unwrap()
            .expect("live");
        assert_eq!(live.key, key);
        assert_eq!(live.csrf_token, a.csrf_token);
        assert!(store
            .ui_session("not-a-token", now)
            .await
            .unwrap()
            .is_none());
        // Expiry is exclusive, and an ended session is forgotten by the next sign-in.
        assert!(store
            .ui_session(&b.token, now + 60)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .ui_session(&a.token, now + 59)
            .await
            .unwrap()
            .is_some());
        store.open_ui_session(&key, now + 61, 60).await.unwrap();
        assert!(store.ui_session(&b.token, now).await.unwrap().is_none());
        // Signing out ends that session only.
        store.close_ui_session(&a.token).await.unwrap();
        assert!(store
            .ui_session(&a.token, now + 10)
            .await
            .unwrap()
            .is_none());
        store.close_ui_session(&a.token).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn files_are_tenant_scoped_and_paged() {
    on_each_backend(|store| async move {
        let me = principal("o1", "t1", None);
        let other_team = principal("o1", "t2", None);
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(put_file(&store, &me, &format!("f{i}.jsonl"), b"{}\n").await);
        }
        let f = store.get_file(&me, &ids[0]).await.unwrap();
        assert_eq!(f.object.bytes, 3);
        assert_eq!(f.object.filename, "f0.jsonl");
        assert!(matches!(
            store.get_file(&other_team, &ids[0]).await,
            Err(StoreError::NotFound)
        ));

        // Newest first, two at a time.
        let filter = FileFilter::default();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, more) = store
                .list_files(
                    &me,
                    &filter,
                    &PageRequest {
                        after: after.clone(),
                        limit: 2,
                    },
                )
                .await
                .unwrap();
            seen.extend(page.iter().map(|f| f.id.clone()));
            after = page.last().map(|f| f.id.clone());
            if !more {
                break;
            }
        }
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(seen, newest_first);

        let asc = FileFilter {
            order: Order::Asc,
            ..Default::default()
        };
        let (page, more) = store
            .list_files(
                &me,
                &asc,
                &PageRequest {
                    after: Some(ids[1].clone()),
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(
            page.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
            ids[2..].to_vec()
        );

        let by_hash = FileFilter {
            sha256: Some(f.object.sha256.clone().unwrap()),
            purpose: Some(FilePurpose::Evals),
            ..Default::default()
        };
        let (page, _) = store
            .list_files(
                &me,
                &by_hash,
                &PageRequest {
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.len(), 5);
        let batch = FileFilter {
            purpose: Some(FilePurpose::Batch),
            ..Default::default()
        };
        let (page, _) = store
            .list_files(
                &me,
                &batch,
                &PageRequest {
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert!(page.is_empty());

        let (page, _) = store
            .list_files(
                &other_team,
                &filter,
                &PageRequest {
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert!(page.is_empty());
        let bad_cursor = store
            .list_files(
                &other_team,
                &filter,
                &PageRequest {
                    after: Some(ids[0].clone()),
                    limit: 1,
                },
            )
            .await;
        assert!(matches!(bad_cursor, Err(StoreError::InvalidCursor(_))));

        store.delete_file(&me, &ids[0]).await.unwrap();
        assert!(matches!(
            store.get_file(&me, &ids[0]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_file(&me, &ids[0]).await,
            Err(StoreError::NotFound)
        ));
        assert!(store
            .blobs()
            .get_bytes(&format!("files/{}", ids[0]))
            .await
            .is_err());
    })
    .await;
}

#[tokio::test]
async fn delegated_callers_see_team_rows_and_their_own() {
    on_each_backend(|store| async move {
        let team = principal("o", "t", None);
        let alice = principal("o", "t", Some("alice"));
        let bob = principal("o", "t", Some("bob"));
        let shared = put_file(&store, &team, "team.jsonl", b"1").await;
        let alices = put_file(&store, &alice, "alice.jsonl", b"2").await;
        assert!(store.get_file(&alice, &shared).await.is_ok());
        assert!(store.get_file(&alice, &alices).await.is_ok());
        assert!(store.get_file(&team, &alices).await.is_ok());
        assert!(matches!(
            store.get_file(&bob, &alices).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn suites_and_versions() {
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let other = principal("o2", "t", None);
        let manifest = json!({"tasks": [{"id": "a", "type": "qa", "extra": {"kept": [1, 2]}}]});
        let s = store
            .create_suite(&me, &suite("one"), &version(manifest.clone()))
            .await
            .unwrap();
        assert_eq!((s.active_version, s.latest_version), (1, 1));
        assert_eq!(s.object, "eval.suite");
        assert!(matches!(
            store.get_suite(&other, &s.id).await,
            Err(StoreError::NotFound)
        ));

        let v1 = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        assert_eq!(v1.manifest, manifest);

        let v2 = store
            .create_suite_version(&me, &s.id, &version(json!({"tasks": []})), false)
            .await
            .unwrap();
        assert_eq!(v2.version, 2);
        let s2 = store.get_suite(&me, &s.id).await.unwrap();
        assert_eq!((s2.active_version, s2.latest_version), (1, 2));
        let v3 = store
            .create_suite_version(&me, &s.id, &version(json!({"tasks": []})), true)
            .await
            .unwrap();
        assert_eq!(v3.version, 3);
        let s3 = store.get_suite(&me, &s.id).await.unwrap();
        assert_eq!((s3.active_version, s3.latest_version), (3, 3));
        assert!(matches!(
            store
                .create_suite_version(&other, &s.id, &version(json!({})), true)
                .await,
            Err(StoreError::NotFound)
        ));

        let (page, more) = store
            .list_suite_versions(
                &me,
                &s.id,
                &PageRequest {
                    after: None,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert!(more);
        assert_eq!(
            page.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let (page, more) = store
            .list_suite_versions(
                &me,
                &s.id,
                &PageRequest {
                    after: Some(page[1].id.clone()),
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(page.iter().map(|v| v.version).collect::<Vec<_>>(), vec![3]);
        assert!(matches!(
            store.get_suite_version(&me, &s.id, 4).await,
            Err(StoreError::NotFound)
        ));

        let second = store
            .create_suite(&me, &suite("two"), &version(json!({})))
            .await
            .unwrap();
        let (page, more) = store
            .list_suites(
                &me,
                assay_store::Reach::Owned,
                &PageRequest {
                    after: None,
                    limit: 1,
                },
            )
            .await
            .unwrap();
        assert!(more);
        assert_eq!(page[0].id, second.id);
        let (page, more) = store
            .list_suites(
                &me,
                assay_store::Reach::Owned,
                &PageRequest {
                    after: Some(second.id.clone()),
                    limit: 1,
                },
            )
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(page[0].id, s.id);

        assert_eq!(store.delete_suite(&me, &s.id).await.unwrap(), 0);
        assert!(matches!(
            store.get_suite(&me, &s.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_suite(&me, &s.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.get_suite_version(&me, &s.id, 1).await,
            Err(StoreError::NotFound)
        ));
        let (page, _) = store
            .list_suites(
                &me,
                assay_store::Reach::Owned,
                &PageRequest {
                    after: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_versions_get_distinct_numbers() {
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let s = store
            .create_suite(&me, &suite("c"), &version(json!({})))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let me = me.clone();
            let id = s.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .create_suite_version(&me, &id, &version(json!({})), true)
                    .await
                    .map(|v| v.version)
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.push(t.await.unwrap().unwrap());
        }
        numbers.sort();
        assert_eq!(numbers, (2..=9).collect::<Vec<_>>());
        let s = store.get_suite(&me, &s.id).await.unwrap();
        assert_eq!(s.latest_version, 9);
    })
    .await;
}

fn new_run(suite_id: &str, version_id: &str) -> assay_store::NewRun {
    assay_store::NewRun {
        suite_id: suite_id.into(),
        suite_version: 1,
        suite_version_id: version_id.into(),
        models: vec!["m1".into(), "m2".into()],
        task_ids: None,
        judge_model: None,
        embedding_model: None,
        generation: Default::default(),
        settings: assay_domain::api::RunSettings {
            generation_concurrency: 4,
            grader_concurrency: 2,
            max_samples_per_task: None,
            max_workflow_sample_activities: None,
        },
        metadata: Metadata::new(),
    }
}

fn new_samples(n: i64) -> Vec<assay_store::NewSample> {
    (0..n)
        .flat_map(|i| {
            ["m1", "m2"].map(|m| assay_store::NewSample {
                task_id: "t".into(),
                model: m.into(),
                sample_index: i,
                dataset_row: serde_json::from_value(json!({"q": i})).unwrap(),
                prompt: format!("q{i}"),
                target: Some(i.to_string()),
            })
        })
        .collect()
}

#[tokio::test]
async fn runs_samples_and_group_commit() {
    use assay_domain::api::{RunStatus, SampleStatus};
    use assay_store::{RunFilter, SampleFilter, SampleUpdate, SampleUsage};
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let other = principal("o", "other", None);
        let s = store
            .create_suite(&me, &suite("r"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let run = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        assert_eq!(run.object.status, RunStatus::Queued);
        assert!(!run.planned);
        assert!(matches!(
            store.get_run(&other, &run.object.id).await,
            Err(StoreError::NotFound)
        ));

        // Planning twice keeps one sample per key; while planning, the total follows the
        // samples inserted (and not the ones a repeat left alone).
        let first = store
            .insert_samples(&run.object.id, &new_samples(2))
            .await
            .unwrap();
        assert_eq!(first, 4);
        let r = store.run_record(&run.object.id).await.unwrap();
        assert_eq!(r.object.request_counts.total, 4);
        assert_eq!(
            store.planned_rows(&run.object.id).await.unwrap(),
            std::collections::HashMap::from([("t".to_string(), 2)])
        );
        let again = store
            .insert_samples(&run.object.id, &new_samples(3))
            .await
            .unwrap();
        assert_eq!(again, 2);
        assert_eq!(store.count_samples(&run.object.id).await.unwrap(), 6);
        let r = store.run_record(&run.object.id).await.unwrap();
        assert_eq!(r.object.request_counts.total, 6);
        store.mark_planned(&run.object.id, 6).await.unwrap();
        let r = store.run_record(&run.object.id).await.unwrap();
        assert_eq!(r.object.status, RunStatus::InProgress);
        assert_eq!(r.object.request_counts.total, 6);
        assert!(r.planned && r.object.started_at.is_some());

        let batch = store
            .sample_batch(&run.object.id, 0, 100, true)
            .await
            .unwrap();
        assert_eq!(batch.len(), 6);
        let writer = store.sample_writer();
        // Drive every sample concurrently through the writer; completing twice counts once.
        let mut handles = Vec::new();
        for (i, s) in batch.iter().enumerate() {
            let writer = writer.clone();
            let id = s.object.id.clone();
            handles.push(tokio::spawn(async move {
                writer
                    .send(SampleUpdate::Generating { id: id.clone() })
                    .await
                    .unwrap();
                writer
                    .send(SampleUpdate::Generated {
                        id: id.clone(),
                        output_text: format!("answer {i}"),
                        reasoning: Some("thought".into()),
                        response_id: Some(format!("resp_{i}")),
                        usage: SampleUsage {
                            input_tokens: Some(10),
                            output_tokens: Some(2),
                            ..Default::default()
                        },
                        attempts: 1,
                        phase_timings: json!({}),
                    })
                    .await
                    .unwrap();
                writer
                    .send(SampleUpdate::Scoring { id: id.clone() })
                    .await
                    .unwrap();
                let update = if i == 0 {
                    SampleUpdate::Failed {
                        id: id.clone(),
                        error: json!({"type": "timeout"}),
                        attempts: Some(3),
                    }
                } else {
                    SampleUpdate::Completed {
                        id: id.clone(),
                        extracted_output: Some(i.to_string()),
                        scores: serde_json::from_value(json!({"exact_match": (i % 2) as f64}))
                            .unwrap(),
                        judge: None,
                    }
                };
                writer.send(update.clone()).await.unwrap();
                writer.send(update).await.unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let r = store.run_record(&run.object.id).await.unwrap();
        assert_eq!(r.object.request_counts.completed, 5);
        assert_eq!(r.object.request_counts.failed, 1);
        assert!(store
            .sample_batch(&run.object.id, 0, 100, true)
            .await
            .unwrap()
            .is_empty());

        // The artifact's lines, built by the database, are the samples' API objects.
        let stored = store
            .sample_batch(&run.object.id, 0, 100, false)
            .await
            .unwrap();
        let (first, last) = store
            .sample_positions(&run.object.id)
            .await
            .unwrap()
            .unwrap();
        let lines = store
            .sample_lines_between(&run.object.id, first - 1, last)
            .await
            .unwrap();
        let from_lines: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let objects: Vec<serde_json::Value> = stored
            .iter()
            .map(|s| serde_json::to_value(&s.object).unwrap())
            .collect();
        assert_eq!(from_lines, objects);
        assert_eq!(from_lines[0]["tokens_estimated"], json!(false));
        assert!(store
            .sample_lines_between(&run.object.id, last, last + 10)
            .await
            .unwrap()
            .is_empty());

        let page = |limit| PageRequest { after: None, limit };
        let all = SampleFilter {
            include_dataset_row: true,
            ..Default::default()
        };
        let (samples, more) = store
            .list_samples(&me, &run.object.id, &all, &page(4))
            .await
            .unwrap();
        assert!(more);
        assert_eq!(samples.len(), 4);
        assert!(samples[0].reasoning.is_none(), "reasoning only on request");
        assert!(samples[0].dataset_row.is_some());
        let (rest, more) = store
            .list_samples(
                &me,
                &run.object.id,
                &all,
                &PageRequest {
                    after: Some(samples[3].id.clone()),
                    limit: 4,
                },
            )
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(rest.len(), 2);
        let failed = SampleFilter {
            status: Some(SampleStatus::Failed),
            include_reasoning: true,
            ..Default::default()
        };
        let (f, _) = store
            .list_samples(&me, &run.object.id, &failed, &page(10))
            .await
            .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].error, Some(json!({"type": "timeout"})));
        assert!(f[0].dataset_row.is_none());
        let scored = SampleFilter {
            score: Some(("exact_match".into(), Some(1.0), None)),
            ..Default::default()
        };
        let (hi, _) = store
            .list_samples(&me, &run.object.id, &scored, &page(1))
            .await
            .unwrap();
        assert_eq!(hi.len(), 1);
        let (hi_all, more) = store
            .list_samples(&me, &run.object.id, &scored, &page(10))
            .await
            .unwrap();
        assert!(!more);
        assert!(hi_all.iter().all(|s| s.scores["exact_match"] == json!(1.0)));
        let by_model = SampleFilter {
            model: Some("m2".into()),
            sample_index: Some(1),
            ..Default::default()
        };
        let (one, _) = store
            .list_samples(&me, &run.object.id, &by_model, &page(10))
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!((one[0].model.as_str(), one[0].sample_index), ("m2", 1));

        // Listing and filters.
        let (runs, _) = store
            .list_runs(
                &me,
                assay_store::Reach::Owned,
                &RunFilter::default(),
                &page(10),
            )
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        let done = RunFilter {
            status: Some(RunStatus::Completed),
            ..Default::default()
        };
        assert!(store
            .list_runs(&me, assay_store::Reach::Owned, &done, &page(10))
            .await
            .unwrap()
            .0
            .is_empty());

        // Leases: one owner at a time; the holder renews.
        assert!(store.lease_run(&run.object.id, "node-a", 30).await.unwrap());
        assert!(!store.lease_run(&run.object.id, "node-b", 30).await.unwrap());
        assert!(store.lease_run(&run.object.id, "node-a", 30).await.unwrap());
        assert_eq!(
            store.claimable_runs("node-b", 10).await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store.claimable_runs("node-a", 10).await.unwrap(),
            vec![run.object.id.clone()]
        );
        store.release_run(&run.object.id, "node-a").await.unwrap();
        assert!(store.lease_run(&run.object.id, "node-b", 30).await.unwrap());

        // Cancel, then the executor finishes it.
        assert_eq!(
            store.request_cancel(&me, &run.object.id).await.unwrap(),
            RunStatus::Cancelling
        );
        store.finish_cancel(&run.object.id).await.unwrap();
        let r = store.get_run(&me, &run.object.id).await.unwrap();
        assert_eq!(r.object.status, RunStatus::Cancelled);
        assert!(r.object.cancelled_at.is_some());
        assert!(matches!(
            store.request_cancel(&me, &run.object.id).await,
            Err(StoreError::Conflict(_))
        ));

        // Deleting the suite takes its runs with it.
        assert_eq!(store.delete_suite(&me, &s.id).await.unwrap(), 1);
        assert!(matches!(
            store.get_run(&me, &run.object.id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn response_cache_round_trips_and_replaces() {
    on_each_backend(|store| async move {
        assert_eq!(store.cache_get("k").await.unwrap(), None);
        store.cache_put("k", &json!({"a": 1})).await.unwrap();
        assert_eq!(store.cache_get("k").await.unwrap(), Some(json!({"a": 1})));
        store.cache_put("k", &json!([2])).await.unwrap();
        assert_eq!(store.cache_get("k").await.unwrap(), Some(json!([2])));
    })
    .await;
}

#[tokio::test]
async fn task_metrics_are_kept_per_task_and_model() {
    on_each_backend(|store| async move {
        assert!(store.task_metrics("run_x").await.unwrap().is_empty());
        store
            .put_task_metrics("run_x", "sts", "m2", &json!({"spearman": 0.5}))
            .await
            .unwrap();
        store
            .put_task_metrics("run_x", "sts", "m1", &json!({"spearman": 0.25}))
            .await
            .unwrap();
        // A repeated write (a resumed run) replaces the row.
        store
            .put_task_metrics("run_x", "sts", "m2", &json!({"spearman": 0.75}))
            .await
            .unwrap();
        store
            .put_task_metrics("run_y", "sts", "m1", &json!({"spearman": 1.0}))
            .await
            .unwrap();
        let rows = store.task_metrics("run_x").await.unwrap();
        let got: Vec<(&str, &str, &serde_json::Value)> = rows
            .iter()
            .map(|r| (r.task_id.as_str(), r.model.as_str(), &r.metrics))
            .collect();
        assert_eq!(
            got,
            [
                ("sts", "m1", &json!({"spearman": 0.25})),
                ("sts", "m2", &json!({"spearman": 0.75}))
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn shares_widen_reads_and_requeues_happen_once() {
    use assay_domain::api::{RunStatus, SampleStatus};
    use assay_store::{Reach, RunFilter, RunResults, SampleUpdate, ShareError};
    on_each_backend(|store| async move {
        let owner = Principal {
            is_admin: true,
            ..principal("org_a", "team_a", None)
        };
        let reader = principal("org_b", "team_b", None);
        for (org, team) in [("org_a", "team_a"), ("org_b", "team_b")] {
            store
                .create_api_key(&NewApiKey {
                    org_id: org.into(),
                    team_id: team.into(),
                    is_admin: false,
                    label: None,
                })
                .await
                .unwrap();
        }
        let s = store
            .create_suite(&owner, &suite("shared"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&owner, &s.id, 1).await.unwrap();
        let run = store
            .create_run(&owner, &new_run(&s.id, &v.id))
            .await
            .unwrap();
        let run_id = run.object.id.clone();
        let page = PageRequest {
            after: None,
            limit: 10,
        };
        let filter = RunFilter::default();

        // Not shared yet: nothing reaches the reader.
        assert!(matches!(
            store.find_suite(&reader, &s.id, Reach::Shared).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.create_share(&owner, &s.id, "org_a").await,
            Err(ShareError::OwningOrg)
        ));
        assert!(matches!(
            store.create_share(&owner, &s.id, "org_none").await,
            Err(ShareError::UnknownOrg(_))
        ));
        let share = store.create_share(&owner, &s.id, "org_b").await.unwrap();
        let again = store.create_share(&owner, &s.id, "org_b").await.unwrap();
        assert_eq!(share.id, again.id);
        assert_eq!(store.list_shares(&owner, &s.id).await.unwrap().len(), 1);
        assert!(matches!(
            store.list_shares(&reader, &s.id).await,
            Err(StoreError::NotFound)
        ));

        let seen = store
            .find_suite(&reader, &s.id, Reach::Shared)
            .await
            .unwrap();
        assert_eq!(seen.access, assay_domain::api::SuiteAccess::Shared);
        assert!(matches!(
            store.get_suite(&reader, &s.id).await,
            Err(StoreError::NotFound)
        ));
        let (suites, _) = store
            .list_suites(&reader, Reach::Shared, &page)
            .await
            .unwrap();
        assert_eq!(suites.len(), 1);
        let (suites, _) = store
            .list_suites(&reader, Reach::Owned, &page)
            .await
            .unwrap();
        assert!(suites.is_empty());
        let (runs, _) = store
            .list_runs(&reader, Reach::Shared, &filter, &page)
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        let paged = PageRequest {
            after: Some(run_id.clone()),
            limit: 10,
        };
        let (runs, _) = store
            .list_runs(&reader, Reach::Shared, &filter, &paged)
            .await
            .unwrap();
        assert!(
            runs.is_empty(),
            "a shared run is a valid cursor for its reader"
        );
        assert!(store
            .find_run(&reader, &run_id, Reach::Shared)
            .await
            .is_ok());
        assert!(store.get_run(&reader, &run_id).await.is_err());
        assert!(store.requeue_for_retry(&reader, &run_id).await.is_err());

        // Retry: only from failed / cancelled, once.
        assert!(matches!(
            store.requeue_for_retry(&owner, &run_id).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .insert_samples(&run_id, &new_samples(2))
            .await
            .unwrap();
        store.mark_planned(&run_id, 4).await.unwrap();
        store
            .fail_run(&run_id, &json!({"type": "storage_error"}))
            .await
            .unwrap();
        let retried = store.requeue_for_retry(&owner, &run_id).await.unwrap();
        assert_eq!(retried.object.status, RunStatus::Queued);
        assert!(retried.object.error.is_none() && retried.object.failed_at.is_none());
        assert!(matches!(
            store.requeue_for_retry(&owner, &run_id).await,
            Err(StoreError::Conflict(_))
        ));

        // Rerun-failed: finish the run with one failed sample, then reopen it.
        let writer = store.sample_writer();
        for (i, s) in store
            .sample_batch(&run_id, 0, 100, true)
            .await
            .unwrap()
            .into_iter()
            .enumerate()
        {
            let update = if i == 0 {
                SampleUpdate::Failed {
                    id: s.object.id,
                    error: json!({"type": "server_error"}),
                    attempts: Some(1),
                }
            } else {
                SampleUpdate::Completed {
                    id: s.object.id,
                    extracted_output: None,
                    scores: Default::default(),
                    judge: None,
                }
            };
            writer.send(update).await.unwrap();
        }
        store.mark_started(&run_id).await.unwrap();
        assert!(store.mark_finalizing(&run_id).await.unwrap());
        assert!(store
            .complete_run(
                &run_id,
                &RunResults {
                    metrics: json!({}),
                    tokens: Default::default(),
                    result_file_id: "file-r".into(),
                    samples_file_id: "file-s".into(),
                },
            )
            .await
            .unwrap());
        let reopened = store.requeue_failed_samples(&owner, &run_id).await.unwrap();
        assert_eq!(reopened.object.status, RunStatus::Queued);
        assert_eq!(reopened.retried, 1);
        assert_eq!(reopened.artifact_round, 1);
        assert_eq!(reopened.object.request_counts.failed, 0);
        assert_eq!(reopened.object.request_counts.completed, 3);
        assert!(reopened.object.metrics.is_none() && reopened.result_file_id.is_none());
        let pending = store.sample_batch(&run_id, 0, 100, true).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].object.status, SampleStatus::Queued);
        assert!(pending[0].object.error.is_none());
        assert!(matches!(
            store.requeue_failed_samples(&owner, &run_id).await,
            Err(StoreError::Conflict(_))
        ));

        // Revoking ends the reader's access at once.
        assert_eq!(
            store.delete_share(&owner, &s.id, "org_b").await.unwrap(),
            share.id
        );
        assert!(store
            .find_run(&reader, &run_id, Reach::Shared)
            .await
            .is_err());
        assert!(matches!(
            store.delete_share(&owner, &s.id, "org_b").await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

/// Moves a queued run through to `completed`, as finalization does.
async fn complete(store: &Store, run_id: &str) {
    store.mark_planned(run_id, 0).await.unwrap();
    assert!(store.mark_finalizing(run_id).await.unwrap());
    let results = assay_store::RunResults {
        metrics: json!({}),
        tokens: Default::default(),
        result_file_id: format!("file-{run_id}-results"),
        samples_file_id: format!("file-{run_id}-samples"),
    };
    assert!(store.complete_run(run_id, &results).await.unwrap());
}

#[tokio::test]
async fn a_suites_completed_runs_are_read_as_a_whole() {
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let alice = principal("o", "t", Some("alice"));
        let s = store
            .create_suite(&me, &suite("board"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let other_suite = store
            .create_suite(&me, &suite("other"), &version(json!({})))
            .await
            .unwrap();
        let ov = store
            .get_suite_version(&me, &other_suite.id, 1)
            .await
            .unwrap();

        let mut restricted = new_run(&s.id, &v.id);
        restricted.task_ids = Some(vec!["t2".into(), "t1".into()]);
        let first = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let queued = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let alices = store.create_run(&alice, &restricted).await.unwrap();
        let deleted = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let elsewhere = store
            .create_run(&me, &new_run(&other_suite.id, &ov.id))
            .await
            .unwrap();
        for run in [&first, &alices, &deleted, &elsewhere] {
            complete(&store, &run.object.id).await;
        }
        store.delete_run(&me, &deleted.object.id).await.unwrap();

        // Completed and live only, newest first, whoever in the team started them.
        let runs = store
            .completed_suite_runs(&me, &s, None, None)
            .await
            .unwrap();
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [alices.object.id.as_str(), first.object.id.as_str()]);
        // A delegated caller sees them as `GET /runs` shows them: the team's and its own.
        let bob = principal("o", "t", Some("bob"));
        let seen = store
            .completed_suite_runs(&bob, &s, None, None)
            .await
            .unwrap();
        let ids: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [first.object.id.as_str()]);
        assert!(runs[0].seq > runs[1].seq);
        assert_eq!(runs[0].models, ["m1", "m2"]);
        assert_eq!(
            runs[0].task_ids,
            Some(vec!["t2".to_string(), "t1".to_string()])
        );
        assert_eq!(runs[1].task_ids, None);

        let up_to_first = store
            .completed_suite_runs(&me, &s, Some(1), Some(runs[1].seq))
            .await
            .unwrap();
        assert_eq!(up_to_first, runs[1..].to_vec());
        assert!(store
            .completed_suite_runs(&me, &s, Some(2), None)
            .await
            .unwrap()
            .is_empty());

        // By id: live runs of this suite only.
        let wanted: Vec<String> = [&first, &queued, &deleted, &elsewhere]
            .iter()
            .map(|r| r.object.id.clone())
            .chain(["eval_run_unknown".to_string()])
            .collect();
        let mut found: Vec<String> = store
            .suite_runs_by_id(&me, &s, &wanted)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.object.id)
            .collect();
        found.sort();
        let mut expected = vec![first.object.id.clone(), queued.object.id.clone()];
        expected.sort();
        assert_eq!(found, expected);
    })
    .await;
}

/// Sums the input figures of every sample it is shown; writes them as the run's totals and
/// into `metrics.seen`.
struct SumInputs {
    samples: i64,
    input: Option<i64>,
}

impl assay_store::RunRefresh for SumInputs {
    fn add(&mut self, sample: &assay_domain::api::SampleObject) {
        self.samples += 1;
        if let Some(n) = sample.input_tokens {
            self.input = Some(self.input.unwrap_or(0) + n);
        }
    }

    fn finish(
        self,
        metrics: Option<serde_json::Value>,
    ) -> (Option<serde_json::Value>, assay_domain::api::RunTokens) {
        let mut metrics = metrics.unwrap_or_else(|| json!({}));
        metrics["seen"] = json!(self.samples);
        let tokens = assay_domain::api::RunTokens {
            input: self.input,
            ..Default::default()
        };
        (Some(metrics), tokens)
    }
}

#[tokio::test]
async fn token_backfill_finds_and_fills_unmeasured_samples() {
    use assay_store::{RunResults, SampleUpdate, SampleUsage, TokenEstimate};
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let other = principal("o", "other", None);
        let s = store
            .create_suite(&me, &suite("tokens"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        // Two completed runs and an unfinished one, each with four samples (two per model):
        // index 0 measured by the provider, index 1 with text and no figure.
        let mut runs = Vec::new();
        for finish in [true, true, false] {
            let run = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
            let id = run.object.id.clone();
            store.insert_samples(&id, &new_samples(2)).await.unwrap();
            store.mark_planned(&id, 4).await.unwrap();
            let writer = store.sample_writer();
            for sample in store.sample_batch(&id, 0, 100, true).await.unwrap() {
                let o = &sample.object;
                let usage = if o.sample_index == 0 {
                    SampleUsage {
                        input_tokens: Some(5),
                        output_tokens: Some(1),
                        ..Default::default()
                    }
                } else {
                    SampleUsage::default()
                };
                let reasoning = (o.model == "m2").then(|| "because".to_string());
                writer
                    .send(SampleUpdate::Generated {
                        id: o.id.clone(),
                        output_text: format!("answer {}", o.sample_index),
                        reasoning,
                        response_id: None,
                        usage,
                        attempts: 1,
                        phase_timings: json!({}),
                    })
                    .await
                    .unwrap();
                writer
                    .send(SampleUpdate::Completed {
                        id: o.id.clone(),
                        extracted_output: None,
                        scores: Default::default(),
                        judge: None,
                    })
                    .await
                    .unwrap();
            }
            if finish {
                assert!(store.mark_finalizing(&id).await.unwrap());
                let results = RunResults {
                    metrics: json!({"by_task": {"t": {"exact_match": 1.0}}}),
                    tokens: Default::default(),
                    result_file_id: "file-r".into(),
                    samples_file_id: "file-s".into(),
                };
                assert!(store.complete_run(&id, &results).await.unwrap());
            }
            runs.push(id);
        }

        // The completed runs, oldest first; the unfinished one and other teams see none.
        let found = store.runs_to_measure(&me, &s.id, 10).await.unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.object.id.as_str()).collect();
        assert_eq!(ids, [runs[0].as_str(), runs[1].as_str()]);
        let first = store.runs_to_measure(&me, &s.id, 1).await.unwrap();
        assert_eq!(first[0].object.id, runs[0]);
        assert_eq!(store.count_runs_to_measure(&me, &s.id).await.unwrap(), 2);
        assert!(store
            .runs_to_measure(&other, &s.id, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.count_runs_to_measure(&other, &s.id).await.unwrap(), 0);

        let unmeasured = store.unmeasured_samples(&runs[0], 0, 100).await.unwrap();
        assert_eq!(unmeasured.len(), 2);
        assert!(unmeasured
            .iter()
            .all(|u| u.output_text.as_deref() == Some("answer 1")));
        // Paged by position.
        let page = store.unmeasured_samples(&runs[0], 0, 1).await.unwrap();
        let rest = store
            .unmeasured_samples(&runs[0], page[0].seq, 100)
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].seq, unmeasured[1].seq);
        assert_eq!(unmeasured[1].reasoning.as_deref(), Some("because"));

        let estimates: Vec<TokenEstimate> = unmeasured
            .iter()
            .map(|u| TokenEstimate {
                seq: u.seq,
                input_tokens: 7,
                output_tokens: 3,
                reasoning_tokens: u.reasoning.as_ref().map(|_| 1),
            })
            .collect();
        let refresh = SumInputs {
            samples: 0,
            input: None,
        };
        let written = store
            .record_token_estimates(&runs[0], &estimates, refresh)
            .await
            .unwrap();
        assert_eq!(written, 2);
        let run = store.run_record(&runs[0]).await.unwrap();
        // The refresh saw every sample with the new figures: 2 × 5 + 2 × 7.
        assert_eq!(run.object.tokens.input, Some(24));
        assert_eq!(run.object.metrics.as_ref().unwrap()["seen"], 4);
        assert_eq!(
            run.object.metrics.as_ref().unwrap()["by_task"]["t"]["exact_match"],
            1.0
        );
        let samples = store.sample_batch(&runs[0], 0, 100, false).await.unwrap();
        for s in samples.iter().map(|s| &s.object) {
            if s.sample_index == 0 {
                assert_eq!((s.input_tokens, s.output_tokens), (Some(5), Some(1)));
                assert!(!s.tokens_estimated);
            } else {
                assert_eq!((s.input_tokens, s.output_tokens), (Some(7), Some(3)));
                assert_eq!(s.reasoning_tokens, (s.model == "m2").then_some(1));
                assert_eq!(s.cached_tokens, None);
                assert!(s.tokens_estimated);
            }
        }
        assert!(store
            .unmeasured_samples(&runs[0], 0, 100)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.count_runs_to_measure(&me, &s.id).await.unwrap(), 1);

        // Estimates for samples that have figures by now are not written again.
        let again = store
            .record_token_estimates(
                &runs[0],
                &estimates,
                SumInputs {
                    samples: 0,
                    input: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(again, 0);
        assert_eq!(
            store
                .run_record(&runs[0])
                .await
                .unwrap()
                .object
                .tokens
                .input,
            Some(24)
        );
    })
    .await;
}

/// Keeps token sums and writes no metrics (the engine's refresh builds them).
struct TokensOnly(assay_domain::api::RunTokens);

impl assay_store::RunRefresh for TokensOnly {
    fn add(&mut self, sample: &assay_domain::api::SampleObject) {
        if let Some(n) = sample.input_tokens {
            self.0.input = Some(self.0.input.unwrap_or(0) + n);
        }
    }

    fn finish(
        self,
        metrics: Option<serde_json::Value>,
    ) -> (Option<serde_json::Value>, assay_domain::api::RunTokens) {
        (metrics, self.0)
    }
}

#[tokio::test]
async fn imported_runs_upsert_trials_and_summarize_them() {
    use assay_domain::api::{RunStatus, TrialStatus};
    use assay_store::{ImportOutcome, NewImportedRun, NewTrial, TrialWrite};
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let s = store
            .create_suite(&me, &suite("agents"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let trial = |task: &str, i: i64, reward: f64, cost: Option<f64>| NewTrial {
            task_id: task.into(),
            sample_index: i,
            status: TrialStatus::Completed,
            prompt: String::new(),
            target: None,
            output_text: None,
            scores: [("reward".to_string(), reward)].into_iter().collect(),
            error: None,
            cost_usd: cost,
            input_tokens: Some(5),
            output_tokens: None,
            cached_tokens: None,
            reasoning_tokens: None,
            phase_timings: None,
            agent_seconds: Some(2.5),
            dataset_row: None,
            extracted_output: None,
            tokens_estimated: false,
        };
        let run = NewImportedRun {
            suite_id: s.id.clone(),
            suite_version: 1,
            suite_version_id: v.id.clone(),
            model: "m".into(),
            agent_name: Some("omp".into()),
            agent_version: None,
            agent_effort: Some("high".into()),
            reported_cost_usd: None,
            created_at: 1_700_000_000,
            metadata: Metadata::new(),
            idempotency_key: Some("k1".into()),
            expected_trials: Some(5),
        };
        let tasks = vec!["a".to_string(), "b".to_string()];
        let open = TrialWrite {
            version_tasks: &tasks,
            finalize: false,
        };
        let created = match store
            .write_imported_run(
                &me,
                &run,
                &[trial("a", 0, 1.0, Some(0.5))],
                open,
                TokensOnly(Default::default()),
            )
            .await
            .unwrap()
        {
            ImportOutcome::Created(r) => r,
            other => panic!("{other:?}"),
        };
        let id = created.object.id.clone();
        assert!(created.imported);
        assert_eq!(created.object.status, RunStatus::InProgress);
        assert_eq!(created.object.task_ids, Some(vec!["a".to_string()]));
        assert_eq!(created.object.request_counts.total, 5);
        assert!(matches!(
            store
                .write_imported_run(&me, &run, &[], open, TokensOnly(Default::default()))
                .await
                .unwrap(),
            ImportOutcome::Existing(r) if r.object.id == id
        ));
        // Executors never see it.
        assert!(!store
            .claimable_runs("node", 10)
            .await
            .unwrap()
            .contains(&id));
        // Upsert on (task, model, index), then finalize.
        let done = store
            .append_trials(
                &me,
                &id,
                &[
                    trial("a", 0, 0.0, None),
                    trial("b", 0, 1.0, Some(1.25)),
                    trial("b", 1, 0.5, None),
                ],
                TrialWrite {
                    version_tasks: &tasks,
                    finalize: true,
                },
                TokensOnly(Default::default()),
            )
            .await
            .unwrap();
        assert_eq!(done.object.status, RunStatus::Completed);
        assert_eq!(done.object.task_ids, None, "every task covered");
        assert_eq!(done.object.request_counts.completed, 3);
        assert_eq!(done.object.request_counts.total, 5);
        assert_eq!(done.object.cost_usd, Some(1.25));
        assert_eq!(done.object.tokens.input, Some(15));
        assert!(matches!(
            store
                .append_trials(&me, &id, &[], open, TokensOnly(Default::default()))
                .await,
            Err(StoreError::Conflict(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn trajectories_are_upserted_and_summed_per_run() {
    use assay_store::{NewTrajectory, SampleKey, SampleMatch};
    fn upload(steps: i64, payload: &'static str) -> NewTrajectory {
        NewTrajectory {
            schema_version: "ATIF-v1.7".into(),
            step_count: steps,
            size_bytes: payload.len() as i64,
            payload: Bytes::from_static(payload.as_bytes()),
        }
    }
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let s = store
            .create_suite(&me, &suite("trajectories"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let run = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let run_id = run.object.id.clone();
        // Task `t`, models m1 and m2, indices 0..4.
        store
            .insert_samples(&run_id, &new_samples(4))
            .await
            .unwrap();

        // An index alone names both models' samples; the model picks one.
        assert_eq!(
            store.match_sample(&run_id, 0, None, None).await.unwrap(),
            SampleMatch::Several {
                task_ids: vec!["t".into()],
                models: vec!["m1".into(), "m2".into()]
            }
        );
        let pick = |index: i64, model: &'static str| {
            let store = store.clone();
            let run_id = run_id.clone();
            async move {
                match store
                    .match_sample(&run_id, index, Some("t"), Some(model))
                    .await
                    .unwrap()
                {
                    SampleMatch::One(sample) => sample,
                    other => panic!("{index} {model}: {other:?}"),
                }
            }
        };
        let m1 = pick(0, "m1").await;
        assert_eq!(
            (m1.task_id.as_str(), m1.model.as_str(), m1.sample_index),
            ("t", "m1", 0)
        );
        for (index, task, model) in [(9, None, None), (0, Some("u"), None), (0, None, Some("m3"))] {
            assert_eq!(
                store
                    .match_sample(&run_id, index, task, model)
                    .await
                    .unwrap(),
                SampleMatch::Missing
            );
        }

        // Upload, replace, and the run's total follows the rows.
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), None);
        assert!(store.read_trajectory(&m1.id).await.unwrap().is_none());
        let first = store.put_trajectory(&m1, upload(3, "first")).await.unwrap();
        assert_eq!((first.step_count, first.size_bytes), (3, 5));
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), Some(3));
        let m2 = pick(0, "m2").await;
        store.put_trajectory(&m2, upload(2, "m2")).await.unwrap();
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), Some(5));
        let second = store
            .put_trajectory(&m1, upload(1, "second"))
            .await
            .unwrap();
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), Some(3));
        assert_eq!(second.created_at, first.created_at);
        assert_ne!(second.blob_key, first.blob_key);
        let (record, payload) = store.read_trajectory(&m1.id).await.unwrap().unwrap();
        assert_eq!(record, second);
        assert_eq!(payload, Bytes::from_static(b"second"));
        // The replaced payload is gone from the blob store.
        assert!(store.blobs().get_bytes(&first.blob_key).await.is_err());

        // Another run's trajectories do not count towards this one.
        let other = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        store
            .insert_samples(&other.object.id, &new_samples(1))
            .await
            .unwrap();
        let elsewhere = match store
            .match_sample(&other.object.id, 0, None, Some("m1"))
            .await
            .unwrap()
        {
            SampleMatch::One(sample) => sample,
            other => panic!("{other:?}"),
        };
        store
            .put_trajectory(&elsewhere, upload(10, "x"))
            .await
            .unwrap();
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), Some(3));
        assert_eq!(
            store.trajectory_steps(&other.object.id).await.unwrap(),
            Some(10)
        );

        // Concurrent uploads to one run: the total counts every one of them.
        let mut samples: Vec<SampleKey> = Vec::new();
        for index in 1..4 {
            for model in ["m1", "m2"] {
                samples.push(pick(index, model).await);
            }
        }
        let handles: Vec<_> = samples
            .into_iter()
            .enumerate()
            .map(|(i, sample)| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .put_trajectory(&sample, upload(10 + i as i64, "concurrent"))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        // 1 + 2 before, plus 10 + 11 + … + 15.
        assert_eq!(store.trajectory_steps(&run_id).await.unwrap(), Some(3 + 75));
    })
    .await;
}

#[tokio::test]
async fn agent_board_runs_read_the_summaries_of_completed_agent_runs() {
    use assay_domain::api::TrialStatus;
    use assay_store::{AgentBoardFilter, ImportOutcome, NewImportedRun, NewTrial, TrialWrite};
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let reader = principal("org_r", "team_r", None);
        store
            .create_api_key(&NewApiKey {
                org_id: "org_r".into(),
                team_id: "team_r".into(),
                is_admin: false,
                label: None,
            })
            .await
            .unwrap();
        let s = store
            .create_suite(&me, &suite("board"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let tasks = vec!["a".to_string(), "b".to_string()];
        let trial = |task: &str, scores: &[(&str, f64)], cost: Option<f64>| NewTrial {
            task_id: task.into(),
            sample_index: 0,
            status: if scores.is_empty() {
                TrialStatus::Failed
            } else {
                TrialStatus::Completed
            },
            prompt: String::new(),
            target: None,
            output_text: None,
            scores: scores.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            error: None,
            cost_usd: cost,
            input_tokens: cost.map(|_| 10),
            output_tokens: None,
            cached_tokens: None,
            reasoning_tokens: None,
            phase_timings: None,
            agent_seconds: cost.map(|_| 1.5),
            dataset_row: None,
            extracted_output: None,
            tokens_estimated: false,
        };
        let import = |agent: &str,
                      model: &str,
                      reported: Option<f64>,
                      trials: Vec<NewTrial>,
                      finalize: bool| {
            let run = NewImportedRun {
                suite_id: s.id.clone(),
                suite_version: 1,
                suite_version_id: v.id.clone(),
                model: model.into(),
                agent_name: Some(agent.into()),
                agent_version: Some("1.2".into()),
                agent_effort: None,
                reported_cost_usd: reported,
                created_at: 1_700_000_000,
                metadata: Metadata::new(),
                idempotency_key: None,
                expected_trials: None,
            };
            let store = store.clone();
            let me = me.clone();
            let tasks = tasks.clone();
            async move {
                let write = TrialWrite {
                    version_tasks: &tasks,
                    finalize,
                };
                match store
                    .write_imported_run(&me, &run, &trials, write, TokensOnly(Default::default()))
                    .await
                    .unwrap()
                {
                    ImportOutcome::Created(r) => r.object.id,
                    other => panic!("{other:?}"),
                }
            }
        };
        // Scored with spend; failed-only with a reported total; open; deleted.
        let scored = import(
            "omp",
            "m-1",
            Some(9.0),
            vec![
                trial("a", &[("reward", 1.0), ("resolved", 1.0)], Some(0.25)),
                trial("b", &[("reward", 0.5)], Some(0.5)),
            ],
            true,
        )
        .await;
        let failed = import(
            "claude",
            "m-2",
            Some(3.0),
            vec![trial("a", &[], None)],
            true,
        )
        .await;
        let open = import(
            "omp",
            "m-1",
            None,
            vec![trial("a", &[("reward", 1.0)], None)],
            false,
        )
        .await;
        let deleted = import(
            "omp",
            "m-1",
            None,
            vec![trial("a", &[("reward", 0.0)], None)],
            true,
        )
        .await;
        store.delete_run(&me, &deleted).await.unwrap();
        // A run with no agent is no board entrant.
        let plain = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        complete(&store, &plain.object.id).await;

        let filter = |metric: &str| AgentBoardFilter {
            metric: metric.into(),
            ..Default::default()
        };
        let mut runs = store
            .agent_board_runs(&me, &s, &filter("reward"))
            .await
            .unwrap();
        runs.sort_by_key(|r| r.seq);
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [scored.as_str(), failed.as_str()],
            "not {open} nor {deleted}"
        );
        let r = &runs[0];
        assert_eq!(
            (
                r.agent_name.as_str(),
                r.model.as_str(),
                r.agent_version.as_deref(),
                r.agent_effort.as_deref()
            ),
            ("omp", "m-1", Some("1.2"), None)
        );
        assert_eq!(r.created_at, 1_700_000_000);
        assert_eq!((r.trials, r.failed, r.scored, r.solved), (2, 0, 2, 1));
        assert_eq!(r.score_sum, 1.5);
        assert_eq!(
            r.cost_usd,
            Some(0.75),
            "the trials' spend, not the reported 9.0"
        );
        assert_eq!(r.input_tokens, Some(20));
        assert_eq!(
            (r.output_tokens, r.cached_tokens, r.steps),
            (None, None, None)
        );
        assert_eq!((r.agent_seconds, r.timed_trials), (Some(3.0), 2));
        let r = &runs[1];
        assert_eq!((r.trials, r.failed, r.scored, r.solved), (1, 1, 0, 0));
        assert_eq!(r.score_sum, 0.0);
        assert_eq!(r.cost_usd, Some(3.0), "no trial spend: the run's total");
        assert_eq!(
            (r.input_tokens, r.agent_seconds, r.timed_trials),
            (None, None, 0)
        );

        // Another metric; filters.
        let resolved = store
            .agent_board_runs(&me, &s, &filter("resolved"))
            .await
            .unwrap();
        let r = resolved.iter().find(|r| r.id == scored).unwrap();
        assert_eq!((r.scored, r.score_sum, r.solved), (1, 1.0, 1));
        let by =
            |agent: Option<&str>, model: Option<&str>, version: Option<i64>| AgentBoardFilter {
                suite_version: version,
                metric: "reward".into(),
                agent: agent.map(Into::into),
                model: model.map(Into::into),
            };
        let ids = |runs: Vec<assay_store::AgentRunFigures>| -> Vec<String> {
            runs.into_iter().map(|r| r.id).collect()
        };
        assert_eq!(
            ids(store
                .agent_board_runs(&me, &s, &by(Some("claude"), None, None))
                .await
                .unwrap()),
            [failed.as_str()]
        );
        assert_eq!(
            ids(store
                .agent_board_runs(&me, &s, &by(None, Some("m-1"), None))
                .await
                .unwrap()),
            [scored.as_str()]
        );
        assert_eq!(
            ids(store
                .agent_board_runs(&me, &s, &by(Some("omp"), Some("m-2"), None))
                .await
                .unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(store
                .agent_board_runs(&me, &s, &by(None, None, Some(2)))
                .await
                .unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(
            store
                .agent_board_runs(&me, &s, &by(None, None, Some(1)))
                .await
                .unwrap()
                .len(),
            2
        );

        // Another org sees nothing until the suite is shared with it.
        assert!(store
            .agent_board_runs(&reader, &s, &filter("reward"))
            .await
            .unwrap()
            .is_empty());
        store.create_share(&me, &s.id, "org_r").await.unwrap();
        assert_eq!(
            store
                .agent_board_runs(&reader, &s, &filter("reward"))
                .await
                .unwrap()
                .len(),
            2
        );
    })
    .await;
}

#[tokio::test]
async fn samples_are_browsed_by_text_score_and_error_in_keyset_pages() {
    use assay_domain::api::SampleStatus;
    use assay_store::{RunFilter, SampleOrder, SampleQuery, SampleUpdate, SampleUsage};
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let other = principal("o2", "t", None);
        let s = store
            .create_suite(&me, &suite("browse"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let run = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let run_id = run.object.id.clone();
        // 10 indexes × 2 models; model m1 scores index/10, m2 scores 1 - index/10 except
        // index 0 of m2 which fails (timeout) and index 1 of m2 (a grader error).
        store
            .insert_samples(&run_id, &new_samples(10))
            .await
            .unwrap();
        store.mark_planned(&run_id, 20).await.unwrap();
        let writer = store.sample_writer();
        for sample in store.sample_batch(&run_id, 0, 100, true).await.unwrap() {
            let o = sample.object;
            let i = o.sample_index as f64;
            writer
                .send(SampleUpdate::Generated {
                    id: o.id.clone(),
                    output_text: format!("The ANSWER is {}%_{}", o.sample_index, o.model),
                    reasoning: None,
                    response_id: None,
                    usage: SampleUsage::default(),
                    attempts: 1,
                    phase_timings: json!({}),
                })
                .await
                .unwrap();
            let update = match (o.model.as_str(), o.sample_index) {
                ("m2", 0) => SampleUpdate::Failed {
                    id: o.id.clone(),
                    error: json!({"type": "timeout", "message": "took too long"}),
                    attempts: Some(3),
                },
                ("m2", 1) => SampleUpdate::Failed {
                    id: o.id.clone(),
                    error: json!({"type": "grader_error", "message": "boom"}),
                    attempts: None,
                },
                (m, _) => SampleUpdate::Completed {
                    id: o.id.clone(),
                    extracted_output: Some("x".into()),
                    scores: serde_json::from_value(json!({
                        "acc": if m == "m1" { i / 10.0 } else { 1.0 - i / 10.0 },
                        "ok": m == "m1",
                    }))
                    .unwrap(),
                    judge: None,
                },
            };
            writer.send(update).await.unwrap();
        }

        let browse = |q: SampleQuery, after: Option<String>, limit: i64| {
            let store = store.clone();
            let me = me.clone();
            let run_id = run_id.clone();
            async move {
                store
                    .browse_samples(&me, &run_id, &q, after.as_deref(), limit)
                    .await
            }
        };
        // Every page of 3 in planned order, each sample once; the count is of all matches.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = browse(SampleQuery::default(), after.clone(), 3)
                .await
                .unwrap();
            assert_eq!(page.matching, 20);
            seen.extend(
                page.samples
                    .iter()
                    .map(|s| (s.model.clone(), s.sample_index)),
            );
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 20);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 20);

        // Text: case-insensitive, in prompt or output, with LIKE's wildcards taken literally.
        let text = |t: &str| SampleQuery {
            text: Some(t.into()),
            ..Default::default()
        };
        assert_eq!(
            browse(text("answer is 3"), None, 50)
                .await
                .unwrap()
                .matching,
            2
        );
        assert_eq!(browse(text("Q7"), None, 50).await.unwrap().matching, 2);
        assert_eq!(browse(text("3%_M1"), None, 50).await.unwrap().matching, 1);
        assert_eq!(browse(text("3_%"), None, 50).await.unwrap().matching, 0);

        // Score range, with booleans counted as 1 and 0 like the API's filter.
        let range = |metric: &str, min: Option<f64>, max: Option<f64>| SampleQuery {
            score: Some((metric.into(), min, max)),
            ..Default::default()
        };
        let low = browse(range("acc", None, Some(0.25)), None, 50)
            .await
            .unwrap();
        // m1 indexes 0, 1, 2 (0.0, 0.1, 0.2) and m2 index 8, 9 (0.2, 0.1 — 0.0 at 10 is absent).
        assert_eq!(low.matching, 5);
        assert_eq!(
            browse(range("ok", Some(1.0), None), None, 50)
                .await
                .unwrap()
                .matching,
            10
        );
        assert_eq!(
            browse(range("missing", Some(0.0), None), None, 50)
                .await
                .unwrap()
                .matching,
            0
        );

        // Sorted by a score in keyset pages: descending, ties in planned order, samples
        // without the score last.
        let mut order = Vec::new();
        let mut after = None;
        let by_acc = SampleQuery {
            order: SampleOrder::Score {
                metric: "acc".into(),
                descending: true,
            },
            ..Default::default()
        };
        loop {
            let page = browse(by_acc.clone(), after.clone(), 4).await.unwrap();
            order.extend(page.samples.iter().map(|s| {
                (
                    s.scores.get("acc").and_then(|v| v.as_f64()),
                    s.model.clone(),
                    s.sample_index,
                )
            }));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(order.len(), 20);
        let values: Vec<Option<f64>> = order.iter().map(|o| o.0).collect();
        assert!(values[..18].windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        assert_eq!(&values[18..], &[None, None]);
        assert_eq!(
            (order[0].1.as_str(), order[0].2),
            ("m1", 9),
            "0.9 of m1 comes before 0.9 of m2 (index 1 failed), then m2's 0.8"
        );

        // Failures by type; then the failed samples of one type.
        let groups = store.failure_groups(&me, &run_id).await.unwrap();
        let mut types: Vec<(Option<String>, i64)> = groups
            .iter()
            .map(|g| (g.error_type.clone(), g.count))
            .collect();
        types.sort();
        assert_eq!(
            types,
            vec![
                (Some("grader_error".into()), 1),
                (Some("timeout".into()), 1)
            ]
        );
        assert!(groups
            .iter()
            .any(|g| g.example.as_deref() == Some("took too long")));
        let timeouts = browse(
            SampleQuery {
                error_type: Some("timeout".into()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
        assert_eq!(timeouts.matching, 1);
        assert_eq!(timeouts.samples[0].status, SampleStatus::Failed);
        assert_eq!(timeouts.samples[0].error_type.as_deref(), Some("timeout"));

        // Runs by model: both models' run; no run of another model.
        let by_model = |m: &str| RunFilter {
            model: Some(m.into()),
            ..Default::default()
        };
        let page = PageRequest {
            after: None,
            limit: 10,
        };
        let (runs, _) = store
            .list_runs(&me, assay_store::Reach::Shared, &by_model("m2"), &page)
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        let (runs, _) = store
            .list_runs(&me, assay_store::Reach::Shared, &by_model("m"), &page)
            .await
            .unwrap();
        assert!(runs.is_empty());

        // Another tenant, a bad cursor.
        assert!(matches!(
            store
                .browse_samples(&other, &run_id, &SampleQuery::default(), None, 5)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.failure_groups(&other, &run_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            browse(SampleQuery::default(), Some("garbage".into()), 5).await,
            Err(StoreError::InvalidCursor(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn score_columns_round_trip_and_samples_are_found_by_index() {
    use assay_store::ScoreColumns;
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let s = store
            .create_suite(&me, &suite("columns"), &version(json!({})))
            .await
            .unwrap();
        let v = store.get_suite_version(&me, &s.id, 1).await.unwrap();
        let run = store.create_run(&me, &new_run(&s.id, &v.id)).await.unwrap();
        let run_id = run.object.id.clone();
        store
            .insert_samples(&run_id, &new_samples(5))
            .await
            .unwrap();

        assert!(store.score_columns(&run_id, "m1").await.unwrap().is_empty());
        let mut m1 = ScoreColumns::new("t", "m1");
        for i in 0..5 {
            if i == 2 {
                m1.push(i, []);
            } else {
                m1.push(i, [("acc", i as f64 / 4.0), ("f1", -1.5e-300)]);
            }
        }
        let mut m2 = ScoreColumns::new("t", "m2");
        m2.push(0, [("acc", 1.0)]);
        let mut other_task = ScoreColumns::new("u", "m1");
        other_task.push(7, [("acc", 0.0)]);
        store
            .put_score_columns(&run_id, &[m1.clone(), m2, other_task])
            .await
            .unwrap();
        let back = store.score_columns(&run_id, "m1").await.unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[0].task_id.as_str(), back[1].task_id.as_str()),
            ("t", "u")
        );
        assert_eq!(back[0].indexes, m1.indexes);
        assert_eq!(back[0].values("f1").unwrap()[4], -1.5e-300);
        let acc = back[0].values("acc").unwrap();
        assert!(acc[2].is_nan());
        assert_eq!(acc[3], 0.75);
        // Stored again, the previous columns are replaced.
        store.put_score_columns(&run_id, &[]).await.unwrap();
        assert!(store.score_columns(&run_id, "m1").await.unwrap().is_empty());

        let found = store
            .samples_at(&run_id, "t", "m2", &[3, 1, 99])
            .await
            .unwrap();
        let indexes: Vec<i64> = found.iter().map(|s| s.sample_index).collect();
        assert_eq!(indexes, vec![1, 3]);
        assert!(found
            .iter()
            .all(|s| s.model == "m2" && s.prompt.starts_with('q')));
        assert!(store
            .samples_at(&run_id, "t", "m2", &[])
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn runs_are_found_by_ids_in_one_read_within_reach() {
    use assay_store::Reach;
    on_each_backend(|store| async move {
        let me = principal("o", "t", None);
        let other = principal("o2", "t", None);
        let mut ids = Vec::new();
        for (who, name) in [(&me, "mine"), (&me, "gone"), (&other, "theirs")] {
            let s = store
                .create_suite(who, &suite(name), &version(json!({})))
                .await
                .unwrap();
            let v = store.get_suite_version(who, &s.id, 1).await.unwrap();
            ids.push(
                store
                    .create_run(who, &new_run(&s.id, &v.id))
                    .await
                    .unwrap()
                    .object
                    .id,
            );
        }
        store.delete_run(&me, &ids[1]).await.unwrap();
        let mut asked = ids.clone();
        asked.push("eval_run_missing".into());
        let found = store.find_runs(&me, &asked, Reach::Shared).await.unwrap();
        let found: Vec<&str> = found.iter().map(|r| r.object.id.as_str()).collect();
        assert_eq!(found, vec![ids[0].as_str()]);
        assert!(store
            .find_runs(&me, &[], Reach::Shared)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
