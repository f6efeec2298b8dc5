//! assay-hub against the fake Hub: revisions, listings, every selection rule, reading with
//! `max_rows` (and what that downloads), authentication, missing things, corrupt files and
//! retries.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use assay_hub::{
    open_rows, ClientOptions, DataFiles, DataFormat, HubClient, HubConfig, HubError, LocalFile,
    Missing, RetryPolicy,
};
use assay_testkit::{Access, FakeHub, FakeHubOptions};
use bytes::Bytes;
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

const REPO: &str = "org/data";

fn client(hub: &FakeHub, token: Option<&str>) -> HubClient {
    let config = HubConfig {
        endpoint: hub.url(),
        token: token.map(str::to_string),
    };
    let options = ClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
        ..ClientOptions::default()
    };
    HubClient::with_options(&config, options).expect("client")
}

async fn start(options: FakeHubOptions) -> FakeHub {
    FakeHub::start(options).await.expect("fake hub")
}

/// A Parquet file of `groups` row groups of `rows_per_group` rows: `id` (int) and `text`
/// (`pad` bytes of varied text, so it does not compress away).
fn parquet_file(groups: usize, rows_per_group: usize, pad: usize) -> Bytes {
    let n = groups * rows_per_group;
    let ids: Vec<i64> = (0..n as i64).collect();
    let texts: Vec<String> = (0..n)
        .map(|i| {
            let mut s = format!("row {i} ");
            let mut x = i as u64 * 2_654_435_761 + 1;
            while s.len() < pad {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push((b'a' + (x % 26) as u8) as char);
            }
            s
        })
        .collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("text", Arc::new(StringArray::from(texts)) as ArrayRef),
    ])
    .expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    Bytes::from(out)
}

fn paths(files: &[assay_hub::DataFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

async fn rows(client: &HubClient, files: &[assay_hub::DataFile], max: Option<usize>) -> Vec<Value> {
    client
        .open_split_rows(files, max)
        .map_ok(Value::Object)
        .try_collect()
        .await
        .expect("rows")
}

#[tokio::test]
async fn revisions_resolve_to_commits() {
    let hub = start(FakeHubOptions::default()).await;
    let first = hub.commit(REPO, "main", [("a.csv", "x\n1\n")]);
    let second = hub.commit(REPO, "main", [("a.csv", "x\n2\n")]);
    let dev = hub.commit(REPO, "dev", [("a.csv", "x\n3\n")]);
    let c = client(&hub, None);
    assert_eq!(c.resolve_revision(REPO, None, None).await.unwrap(), second);
    assert_eq!(
        c.resolve_revision(REPO, Some("dev"), None).await.unwrap(),
        dev
    );
    assert_eq!(
        c.resolve_revision(REPO, Some(&first), None).await.unwrap(),
        first
    );
    assert!(assay_hub::is_commit(&first));

    // The commit, not the branch, decides what is read.
    let files = c
        .select_data_files(REPO, &first, None, "train", None)
        .await
        .unwrap();
    assert_eq!(files[0].revision, first);
    assert_eq!(rows(&c, &files, None).await, [json!({"x": 1})]);

    let err = c
        .resolve_revision(REPO, Some("v9"), None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::Revision("v9".into()),
            available: vec![]
        }
    );
    assert!(err.to_string().contains("check `revision`"), "{err}");
    let err = c
        .resolve_revision("org/missing", None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: "org/missing".into(),
            missing: Missing::Repo,
            available: vec![]
        }
    );
    assert!(err.to_string().contains("check `path`"), "{err}");
}

#[tokio::test]
async fn tree_listings_follow_every_page() {
    let hub = start(FakeHubOptions {
        page_size: 3,
        ..FakeHubOptions::default()
    })
    .await;
    let files: Vec<(String, &str)> = (0..7)
        .map(|i| (format!("data/part-{i}.csv"), "a\n1\n"))
        .collect();
    let commit = hub.commit(REPO, "main", files);
    let c = client(&hub, None);
    let listed = c.list_files(REPO, &commit).await.unwrap();
    let names: Vec<String> = listed.iter().map(|f| f.path.clone()).collect();
    let expected: Vec<String> = (0..7).map(|i| format!("data/part-{i}.csv")).collect();
    assert_eq!(names, expected);
    assert!(listed.iter().all(|f| f.size == 4));
    // 8 entries (a directory and 7 files), 3 a page.
    let pages = hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("/tree/"))
        .count();
    assert_eq!(pages, 3);
}

const CARD: &str = "---
license: mit
configs:
- config_name: main
  default: true
  data_files:
  - split: train
    path: main/train-*.jsonl
  - split: validation
    path: main/dev.jsonl
  - split: test
    path: main/test.jsonl
- config_name: tables
  data_files:
  - split: test
    path: tables/*.csv
---
# A dataset
";

#[tokio::test]
async fn card_configs_with_several_splits() {
    let hub = start(FakeHubOptions::default()).await;
    let commit = hub.commit(
        REPO,
        "main",
        [
            ("README.md", CARD.as_bytes().to_vec()),
            ("main/train-0.jsonl", b"{\"q\": \"a\"}\n".to_vec()),
            (
                "main/train-1.jsonl",
                b"{\"q\": \"b\"}\n{\"q\": \"c\"}\n".to_vec(),
            ),
            ("main/dev.jsonl", b"{\"q\": \"d\"}\n".to_vec()),
            ("main/test.jsonl", b"{\"q\": \"e\"}\n".to_vec()),
            ("tables/t.csv", b"q,n\nf,1\n".to_vec()),
            ("train.csv", b"ignored\n".to_vec()),
        ],
    );
    let c = client(&hub, None);
    let train = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    assert_eq!(paths(&train), ["main/train-0.jsonl", "main/train-1.jsonl"]);
    assert!(train.iter().all(|f| f.format == DataFormat::JsonLines));
    assert_eq!(
        rows(&c, &train, None).await,
        [json!({"q": "a"}), json!({"q": "b"}), json!({"q": "c"})]
    );
    assert_eq!(
        rows(&c, &train, Some(2)).await,
        [json!({"q": "a"}), json!({"q": "b"})]
    );
    let dev = c
        .select_data_files(REPO, &commit, Some("main"), "validation", None)
        .await
        .unwrap();
    assert_eq!(paths(&dev), ["main/dev.jsonl"]);
    let tables = c
        .select_data_files(REPO, &commit, Some("tables"), "test", None)
        .await
        .unwrap();
    assert_eq!(paths(&tables), ["tables/t.csv"]);
    assert_eq!(rows(&c, &tables, None).await, [json!({"q": "f", "n": 1})]);

    let err = c
        .select_data_files(REPO, &commit, Some("main"), "dev", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::Split("dev".into()),
            available: vec!["train".into(), "validation".into(), "test".into()],
        }
    );
    assert!(
        err.to_string()
            .contains("available splits: train, validation, test"),
        "{err}"
    );
    let err = c
        .select_data_files(REPO, &commit, Some("other"), "test", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::Config("other".into()),
            available: vec!["main".into(), "tables".into()],
        }
    );
}

#[tokio::test]
async fn default_split_patterns() {
    let hub = start(FakeHubOptions::default()).await;
    let commit = hub.commit(
        REPO,
        "main",
        [
            ("README.md", "# no metadata\n"),
            (".gitattributes", "*.parquet filter=lfs\n"),
            ("data/train/shard_0.csv", "a\n1\n"),
            ("data/train/shard_1.csv", "a\n2\n"),
            ("data/valid/x.csv", "a\n3\n"),
            ("data/test/y.csv", "a\n4\n"),
        ],
    );
    let c = client(&hub, None);
    let train = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    assert_eq!(
        paths(&train),
        ["data/train/shard_0.csv", "data/train/shard_1.csv"]
    );
    let dev = c
        .select_data_files(REPO, &commit, Some("default"), "validation", None)
        .await
        .unwrap();
    assert_eq!(paths(&dev), ["data/valid/x.csv"]);
    assert_eq!(rows(&c, &dev, None).await, [json!({"a": 3})]);

    let flat = hub.commit(
        "org/flat",
        "main",
        [
            ("train.jsonl", "{}\n"),
            ("test-00.jsonl", "{}\n"),
            ("notes.txt", "x"),
        ],
    );
    let test = c
        .select_data_files("org/flat", &flat, None, "test", None)
        .await
        .unwrap();
    assert_eq!(paths(&test), ["test-00.jsonl"]);
    let err = c
        .select_data_files("org/flat", &flat, Some("en"), "test", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HubError::NotFound {
                missing: Missing::Config(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn explicit_data_files_with_globs() {
    let hub = start(FakeHubOptions::default()).await;
    let commit = hub.commit(
        REPO,
        "main",
        [
            ("README.md", CARD),
            ("main/test.jsonl", "{\"q\": \"e\"}\n"),
            ("extra/2024/a.jsonl", "{\"v\": 1}\n"),
            ("extra/2025/b.jsonl", "{\"v\": 2}\n"),
            ("extra/2025/c.json", "[{\"v\": 3}]"),
            ("extra/.hidden/d.jsonl", "{\"v\": 4}\n"),
        ],
    );
    let c = client(&hub, None);
    let spec: DataFiles =
        serde_json::from_value(json!({"eval": ["extra/**/*.jsonl", "extra/*/c.json"]})).unwrap();
    let files = c
        .select_data_files(REPO, &commit, None, "eval", Some(&spec))
        .await
        .unwrap();
    assert_eq!(
        paths(&files),
        [
            "extra/2024/a.jsonl",
            "extra/2025/b.jsonl",
            "extra/2025/c.json"
        ]
    );
    assert_eq!(files[2].format, DataFormat::Json);
    assert_eq!(
        rows(&c, &files, None).await,
        [json!({"v": 1}), json!({"v": 2}), json!({"v": 3})]
    );

    let one = DataFiles::One("extra/2025/b.jsonl".into());
    let files = c
        .select_data_files(REPO, &commit, None, "train", Some(&one))
        .await
        .unwrap();
    assert_eq!(paths(&files), ["extra/2025/b.jsonl"]);
    let missing = DataFiles::One("extra/nope.jsonl".into());
    let err = c
        .select_data_files(REPO, &commit, None, "train", Some(&missing))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::File("extra/nope.jsonl".into()),
            available: vec![]
        }
    );
    assert!(err.to_string().contains("check `data_files`"), "{err}");
}

#[tokio::test]
async fn the_parquet_conversion_is_the_last_resort() {
    let hub = start(FakeHubOptions {
        cdn_threshold: 1024,
        ..FakeHubOptions::default()
    })
    .await;
    let commit = hub.commit(
        REPO,
        "main",
        [
            ("README.md", "# images\n"),
            ("train/a.png", "png"),
            ("train/b.png", "png"),
        ],
    );
    let train = parquet_file(2, 50, 40);
    let export = hub.add_parquet_export(REPO, "default", "train", vec![train.clone()]);
    let c = client(&hub, None);
    let files = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].revision, export);
    assert_eq!(files[0].format, DataFormat::Parquet);
    assert_eq!(files[0].path, "default/train/0.parquet");
    let got = rows(&c, &files, Some(3)).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2]["id"], json!(2));
    // The listing's URL redirected to the conversion branch, which redirected to the CDN.
    let log = hub.requests();
    assert!(log
        .iter()
        .any(|r| r.path.contains("/resolve/refs%2Fconvert%2Fparquet/") && r.status == 302));
    assert!(log
        .iter()
        .any(|r| r.path.starts_with("/_cdn/") && r.status == 206));

    let err = c
        .select_data_files(REPO, &commit, None, "test", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::Split("test".into()),
            available: vec!["train".into()]
        }
    );
    let err = c
        .select_data_files(REPO, &commit, Some("fr"), "train", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::NotFound {
            repo: REPO.into(),
            missing: Missing::Config("fr".into()),
            available: vec!["default".into()]
        }
    );
}

#[tokio::test]
async fn parquet_max_rows_reads_the_footer_and_the_first_row_groups_only() {
    let hub = start(FakeHubOptions::default()).await;
    let file = parquet_file(4, 2000, 100);
    let size = file.len() as u64;
    let commit = hub.commit(
        REPO,
        "main",
        [("data/train-00000-of-00001.parquet", file.clone())],
    );
    let c = client(&hub, None);
    let files = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    assert_eq!(paths(&files), ["data/train-00000-of-00001.parquet"]);
    assert_eq!(files[0].size, Some(size));

    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .unwrap();
    let group_bytes: Vec<u64> = meta
        .row_groups()
        .iter()
        .map(|g| g.compressed_size() as u64)
        .collect();
    assert_eq!(group_bytes.len(), 4);

    hub.reset_log();
    let got = rows(&c, &files, Some(10)).await;
    assert_eq!(got.len(), 10);
    assert_eq!(got[9]["id"], json!(9));
    let keys: Vec<&String> = got[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "text"]);
    let served = hub.bytes_served("train-00000");
    assert!(
        served <= 64 * 1024 + group_bytes[0] + 1024,
        "served {served} of {size} bytes (first row group {})",
        group_bytes[0]
    );
    // Every transfer of the file was a range request (through the CDN redirect).
    let log = hub.requests();
    assert!(log
        .iter()
        .filter(|r| r.path.starts_with("/_cdn/"))
        .all(|r| r.range.is_some() && r.status == 206));

    hub.reset_log();
    let got = rows(&c, &files, Some(2500)).await;
    assert_eq!(got.len(), 2500);
    assert_eq!(got[2499]["id"], json!(2499));
    let served = hub.bytes_served("train-00000");
    assert!(
        served <= 64 * 1024 + group_bytes[0] + group_bytes[1] + 1024,
        "served {served}"
    );
    assert!(served < size - group_bytes[3], "served {served}");

    hub.reset_log();
    assert_eq!(rows(&c, &files, None).await.len(), 8000);
}

#[tokio::test]
async fn line_formats_stop_reading_at_max_rows() {
    // Slow, small pieces: a client that stops reading is seen to stop.
    let hub = start(FakeHubOptions {
        chunk_size: 16 * 1024,
        chunk_delay: Duration::from_millis(2),
        ..FakeHubOptions::default()
    })
    .await;
    let mut jsonl = String::new();
    let mut csv = String::from("id,text,score\n");
    for i in 0..100_000 {
        jsonl.push_str(&format!(
            "{{\"id\": {i}, \"text\": \"line number {i} of a long file\"}}\n"
        ));
        csv.push_str(&format!("{i},\"row {i}, quoted\",{}.5\n", i % 7));
    }
    let (jsonl_len, csv_len) = (jsonl.len() as u64, csv.len() as u64);
    let commit = hub.commit(REPO, "main", [("train.jsonl", jsonl), ("test.csv", csv)]);
    let c = client(&hub, None);

    let train = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    hub.reset_log();
    let got = rows(&c, &train, Some(5)).await;
    assert_eq!(
        got[4],
        json!({"id": 4, "text": "line number 4 of a long file"})
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let served = hub.bytes_served("train.jsonl");
    assert!(served < jsonl_len / 4, "served {served} of {jsonl_len}");
    // The body was streamed, not fetched by ranges.
    assert!(hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("train.jsonl"))
        .all(|r| r.range.is_none()));

    let test = c
        .select_data_files(REPO, &commit, None, "test", None)
        .await
        .unwrap();
    hub.reset_log();
    let got = rows(&c, &test, Some(3)).await;
    assert_eq!(
        got,
        [
            json!({"id": 0, "text": "row 0, quoted", "score": 0.5}),
            json!({"id": 1, "text": "row 1, quoted", "score": 1.5}),
            json!({"id": 2, "text": "row 2, quoted", "score": 2.5}),
        ]
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let served = hub.bytes_served("test.csv");
    // The first 10,000-row chunk is typed as a whole, then reading stops.
    assert!(served < csv_len / 2, "served {served} of {csv_len}");
}

#[tokio::test]
async fn private_and_gated_repositories_need_the_token() {
    let hub = start(FakeHubOptions::default()).await;
    let commit = hub.commit(REPO, "main", [("train.csv", "a\n1\n")]);
    hub.set_access(REPO, Access::Private("hf_good".into()));

    let anonymous = client(&hub, None);
    let err = anonymous
        .resolve_revision(REPO, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        HubError::Unauthorized {
            repo: REPO.into(),
            token_sent: false
        }
    );
    assert!(
        err.to_string()
            .contains("set the server's Hugging Face token"),
        "{err}"
    );
    let err = anonymous.list_files(REPO, &commit).await.unwrap_err();
    assert!(matches!(err, HubError::Unauthorized { .. }));
    // A per-call token works for the revision.
    assert_eq!(
        anonymous
            .resolve_revision(REPO, None, Some("hf_good"))
            .await
            .unwrap(),
        commit
    );

    let wrong = client(&hub, Some("hf_bad"));
    let err = wrong.resolve_revision(REPO, None, None).await.unwrap_err();
    assert_eq!(
        err,
        HubError::Unauthorized {
            repo: REPO.into(),
            token_sent: true
        }
    );

    let good = client(&hub, Some("hf_good"));
    let files = good
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    assert_eq!(rows(&good, &files, None).await, [json!({"a": 1})]);
    assert!(hub
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .all(|r| r.authorized));

    hub.set_access(REPO, Access::Gated("hf_good".into()));
    let err = wrong.resolve_revision(REPO, None, None).await.unwrap_err();
    assert_eq!(err, HubError::Forbidden { repo: REPO.into() });
    assert!(err.to_string().contains("gated"), "{err}");
}

#[tokio::test]
async fn corrupt_files_are_unreadable_and_name_the_file() {
    let hub = start(FakeHubOptions::default()).await;
    let mut broken = parquet_file(1, 10, 10).to_vec();
    let mid = broken.len() / 2;
    broken.truncate(mid);
    broken.extend_from_slice(b"garbage!PAR1");
    let commit = hub.commit(
        REPO,
        "main",
        [
            ("train.parquet", Bytes::from(broken)),
            ("test.jsonl", Bytes::from_static(b"{\"a\": 1}\nnot json\n")),
        ],
    );
    let c = client(&hub, None);
    let files = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    let err = c
        .open_split_rows(&files, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let HubError::Unreadable { repo, path, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((repo.as_str(), path.as_str()), (REPO, "train.parquet"));
    assert!(reason.contains("Parquet"), "{reason}");

    let files = c
        .select_data_files(REPO, &commit, None, "test", None)
        .await
        .unwrap();
    let mut stream = c.open_split_rows(&files, None);
    assert_eq!(
        stream.try_next().await.unwrap().map(Value::Object),
        Some(json!({"a": 1}))
    );
    let err = stream.try_next().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read `test.jsonl`: line 2: invalid JSON"),
        "{err}"
    );
    assert_eq!(
        stream.try_next().await.ok(),
        Some(None),
        "the stream ends after an error"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_then_reported() {
    let hub = start(FakeHubOptions::default()).await;
    let commit = hub.commit(REPO, "main", [("train.csv", "a\n1\n")]);
    let c = client(&hub, None);
    hub.fail_next(2, 503, None);
    assert_eq!(c.resolve_revision(REPO, None, None).await.unwrap(), commit);
    hub.fail_next(1, 429, Some(0));
    assert_eq!(c.list_files(REPO, &commit).await.unwrap().len(), 1);
    hub.fail_next(3, 500, None);
    let err = c.resolve_revision(REPO, None, None).await.unwrap_err();
    assert!(err.is_transient());
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    // An unreachable Hub is unavailable too.
    let addr = hub.addr();
    hub.shutdown().await;
    let config = HubConfig {
        endpoint: format!("http://{addr}"),
        token: None,
    };
    let gone = HubClient::with_options(
        &config,
        ClientOptions {
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(5),
            },
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let err = gone.resolve_revision(REPO, None, None).await.unwrap_err();
    assert!(matches!(err, HubError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_cached_copy_reads_like_the_hub() {
    let hub = start(FakeHubOptions::default()).await;
    let file = parquet_file(3, 100, 30);
    let commit = hub.commit(REPO, "main", [("data.parquet", file.clone())]);
    let c = client(&hub, None);
    let files = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    let remote = rows(&c, &files, Some(150)).await;

    let dir = tempfile::tempdir().unwrap();
    let local_path = dir.path().join("cached.parquet");
    std::fs::write(&local_path, &file).unwrap();
    let local: Vec<Value> = open_rows(
        LocalFile::new(&local_path, REPO, "data.parquet"),
        DataFormat::Parquet,
        Some(150),
    )
    .map_ok(Value::Object)
    .try_collect()
    .await
    .unwrap();
    assert_eq!(remote, local);
    assert_eq!(local.len(), 150);

    let missing = open_rows(
        LocalFile::new(dir.path().join("nope"), REPO, "x.csv"),
        DataFormat::Csv,
        None,
    )
    .try_collect::<Vec<_>>()
    .await
    .unwrap_err();
    assert!(matches!(missing, HubError::Unreadable { ref path, .. } if path == "x.csv"));
}

#[tokio::test]
async fn downloads_follow_no_redirect_off_the_hub() {
    let elsewhere = start(FakeHubOptions::default()).await;
    let hub = start(FakeHubOptions {
        cdn_threshold: 16,
        cdn_base: Some(elsewhere.url()),
        ..FakeHubOptions::default()
    })
    .await;
    let commit = hub.commit(REPO, "main", [("train.jsonl", "{\"a\": 1}\n{\"a\": 2}\n")]);
    let c = client(&hub, Some("hf_secret"));
    let files = c
        .select_data_files(REPO, &commit, None, "train", None)
        .await
        .unwrap();
    let err = c
        .open_split_rows(&files, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("refused a redirect off the Hub"),
        "{err}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "nothing, and no token, went elsewhere"
    );

    // A file whose URL is not on the configured Hub is refused before any request.
    let mut foreign = files[0].clone();
    foreign.url = format!(
        "{}/datasets/{REPO}/resolve/{commit}/train.jsonl",
        elsewhere.url()
    );
    let err = c
        .open_rows(&foreign, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::Unreadable { .. }), "{err:?}");
    assert!(elsewhere.requests().is_empty());
}
