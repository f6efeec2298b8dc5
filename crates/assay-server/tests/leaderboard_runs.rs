//! The leaderboard-runs feed over HTTP, on runs executed against the fake model server.

mod common;

use std::collections::BTreeSet;

use assay_domain::api::LeaderboardRunsQuery;
use assay_domain::Principal;
use assay_server::ServerConfig;
use common::{assert_error, TestServer};
use serde_json::{json, Value};

const ETA: &str = "fake:eta";
const ZETA: &str = "fake:zeta";

/// Uploads a one-row dataset per task and creates a suite over those tasks (in the order
/// given); returns the suite id and the manifest's task list.
async fn suite(server: &TestServer, tasks: &[&str]) -> (String, Vec<Value>) {
    let mut manifest_tasks = Vec::new();
    for task in tasks {
        let file = server
            .upload_jsonl(
                &format!("{task}.jsonl"),
                &[json!({"question": format!("{task}? [[answer:yes]]"), "answer": "yes"})],
            )
            .await;
        manifest_tasks.push(task_json(task, &file));
    }
    let id = server
        .create_suite(json!({"tasks": manifest_tasks.clone()}))
        .await;
    (id, manifest_tasks)
}

fn task_json(id: &str, file_id: &str) -> Value {
    json!({"id": id, "type": "qa", "dataset": {"file_id": file_id},
           "prompt_template": "{{question}}", "target_template": "{{answer}}"})
}

/// Starts a run (POST only); returns its id. Runs started one after another are created in
/// that order.
async fn start(server: &TestServer, body: Value) -> String {
    let (status, run) = server.post("/api/v1/llm/evals/runs", &body).await;
    assert_eq!(status, 200, "{run}");
    run["id"].as_str().expect("run id").to_string()
}

/// Starts runs in order and waits until each has completed; returns their ids.
async fn complete_all(server: &TestServer, bodies: Vec<Value>) -> Vec<String> {
    let mut ids = Vec::new();
    for body in bodies {
        ids.push(start(server, body).await);
    }
    for id in &ids {
        let run = server.wait_terminal(id).await;
        assert_eq!(run["status"], "completed", "{run}");
    }
    ids
}

fn run_body(suite_id: &str, models: &[&str], tasks: Option<&[&str]>) -> Value {
    let mut body = json!({"suite_id": suite_id, "models": models});
    if let Some(tasks) = tasks {
        body["task_ids"] = json!(tasks);
    }
    body
}

async fn feed(server: &TestServer, suite_id: &str, query: &str) -> Value {
    feed_as(server, &server.key, suite_id, query).await
}

async fn feed_as(server: &TestServer, key: &str, suite_id: &str, query: &str) -> Value {
    let (status, body) = server
        .get_as(
            key,
            &format!("/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs{query}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "eval.leaderboard_runs");
    body
}

/// `groups` as (model, task, rank, run).
fn groups(feed: &Value) -> Vec<(String, Option<String>, i64, String)> {
    feed["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["model"].as_str().expect("model").to_string(),
                g["task_id"].as_str().map(String::from),
                g["rank"].as_i64().expect("rank"),
                g["run_id"].as_str().expect("run_id").to_string(),
            )
        })
        .collect()
}

fn g(
    model: &str,
    task: Option<&str>,
    rank: i64,
    run: &str,
) -> (String, Option<String>, i64, String) {
    (model.into(), task.map(String::from), rank, run.into())
}

fn data_ids(feed: &Value) -> Vec<String> {
    feed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn ids(runs: &[&String]) -> Vec<String> {
    runs.iter().map(|r| r.to_string()).collect()
}

#[tokio::test]
async fn groups_rank_the_newest_completed_runs() {
    let server = TestServer::start().await;
    // Manifest order is not the groups' order: tasks sort by id.
    let (suite_id, tasks) = suite(&server, &["gamma", "beta"]).await;
    // Version 2 (not active) adds a task whose model call never answers.
    let slow = server
        .upload_jsonl(
            "slow.jsonl",
            &[json!({"question": "wait [[hang]]", "answer": "x"})],
        )
        .await;
    let mut v2_tasks = tasks.clone();
    v2_tasks.push(task_json("slow", &slow));
    let (status, v2) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{suite_id}/versions"),
            &json!({"manifest": {"tasks": v2_tasks}, "make_active": false}),
        )
        .await;
    assert_eq!(status, 200, "{v2}");

    let empty = feed(&server, &suite_id, "").await;
    assert_eq!(
        empty,
        json!({"object": "eval.leaderboard_runs", "data": [], "groups": [], "truncated": false, "next_cursor": null})
    );

    let runs = complete_all(
        &server,
        vec![
            run_body(&suite_id, &[ZETA, ETA], None),
            run_body(&suite_id, &[ZETA], Some(&["beta"])),
            run_body(&suite_id, &[ZETA], Some(&["gamma", "beta"])),
            run_body(&suite_id, &[ETA], Some(&["gamma"])),
            run_body(&suite_id, &[ZETA], None),
            json!({"suite_id": suite_id, "suite_version": 2, "models": [ETA], "task_ids": ["beta"]}),
        ],
    )
    .await;
    let [r1, r2, r3, r4, r5, r6] = [0, 1, 2, 3, 4, 5].map(|i| &runs[i]);
    // A run that cannot complete: in progress, then cancelled.
    let hanging = start(
        &server,
        json!({"suite_id": suite_id, "suite_version": 2, "models": [ETA], "task_ids": ["slow"]}),
    )
    .await;

    let all = feed(&server, &suite_id, "").await;
    assert_eq!(all["truncated"], false);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(
        groups(&all),
        vec![
            g(ETA, None, 1, r1),
            g(ETA, Some("beta"), 1, r6),
            g(ETA, Some("gamma"), 1, r4),
            g(ZETA, None, 1, r5),
            g(ZETA, None, 2, r1),
            g(ZETA, Some("beta"), 1, r3),
            g(ZETA, Some("beta"), 2, r2),
            g(ZETA, Some("gamma"), 1, r3),
        ]
    );
    assert_eq!(data_ids(&all), ids(&[r6, r5, r4, r3, r2, r1]));
    let first = &all["data"][0];
    assert_eq!(first["object"], "eval.run");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["task_ids"], json!(["beta"]));
    assert_eq!(
        first["artifact_file_ids"].as_array().map(Vec::len),
        Some(2),
        "the owner sees artifacts: {first}"
    );
    // The same object GET run returns.
    let (_, direct) = server.get(&format!("/api/v1/llm/evals/runs/{r6}")).await;
    assert_eq!(first, &direct);

    // per_group keeps each group's newest runs.
    let newest = feed(&server, &suite_id, "?per_group=1").await;
    assert_eq!(
        groups(&newest),
        vec![
            g(ETA, None, 1, r1),
            g(ETA, Some("beta"), 1, r6),
            g(ETA, Some("gamma"), 1, r4),
            g(ZETA, None, 1, r5),
            g(ZETA, Some("beta"), 1, r3),
            g(ZETA, Some("gamma"), 1, r3),
        ]
    );
    assert_eq!(data_ids(&newest), ids(&[r6, r5, r4, r3, r1]));

    // model keeps that model's groups; a run naming other models is still returned whole.
    let eta = feed(&server, &suite_id, &format!("?model={ETA}")).await;
    assert_eq!(
        groups(&eta),
        vec![
            g(ETA, None, 1, r1),
            g(ETA, Some("beta"), 1, r6),
            g(ETA, Some("gamma"), 1, r4),
        ]
    );
    assert_eq!(data_ids(&eta), ids(&[r6, r4, r1]));
    assert_eq!(eta["data"][2]["models"], json!([ZETA, ETA]));
    let none = feed(&server, &suite_id, "?model=fake:nobody").await;
    assert_eq!(none["data"], json!([]));
    assert_eq!(none["groups"], json!([]));

    // suite_version keeps that version's runs; the unfinished run is never listed.
    let v1 = feed(&server, &suite_id, "?suite_version=1").await;
    assert_eq!(data_ids(&v1), ids(&[r5, r4, r3, r2, r1]));
    let v2 = feed(&server, &suite_id, "?suite_version=2").await;
    assert_eq!(groups(&v2), vec![g(ETA, Some("beta"), 1, r6)]);
    let v3 = feed(&server, &suite_id, "?suite_version=3").await;
    assert_eq!(v3["data"], json!([]));
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{hanging}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.wait_terminal(&hanging).await["status"], "cancelled");
    assert_eq!(feed(&server, &suite_id, "").await["groups"], all["groups"]);

    // A deleted run leaves every group; the next newest moves up.
    let (status, body) = server.delete(&format!("/api/v1/llm/evals/runs/{r5}")).await;
    assert_eq!(status, 200, "{body}");
    let after_delete = feed(&server, &suite_id, &format!("?model={ZETA}")).await;
    assert_eq!(
        groups(&after_delete),
        vec![
            g(ZETA, None, 1, r1),
            g(ZETA, Some("beta"), 1, r3),
            g(ZETA, Some("beta"), 2, r2),
            g(ZETA, Some("gamma"), 1, r3),
        ]
    );
    assert_eq!(data_ids(&after_delete), ids(&[r3, r2, r1]));
}

#[tokio::test]
async fn bad_queries_and_unreachable_suites() {
    let server = TestServer::start().await;
    let (suite_id, _) = suite(&server, &["qa"]).await;
    let path = |query: &str| format!("/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs{query}");
    for (query, param) in [
        ("?per_group=0", "per_group"),
        ("?per_group=101", "per_group"),
        ("?per_group=many", "per_group"),
        ("?suite_version=0", "suite_version"),
        ("?model=", "model"),
        ("?cursor=not-a-cursor", "cursor"),
        // Valid base64url, but not a cursor.
        ("?cursor=e30", "cursor"),
    ] {
        let (status, body) = server.get(&path(query)).await;
        assert_error(status, &body, 400, param);
    }
    assert_eq!(
        feed(&server, &suite_id, "?per_group=100").await["truncated"],
        false
    );

    let (status, body) = server
        .get(
            "/api/v1/llm/evals/suites/eval_suite_00000000000000000000000000000000/leaderboard-runs",
        )
        .await;
    assert_error(status, &body, 404, "");
    // Another tenant's suite is as missing as an unknown one.
    let (status, body) = server.get_as(&server.other_key, &path("")).await;
    assert_error(status, &body, 404, "");
    // So is a deleted one.
    let (status, _) = server
        .delete(&format!("/api/v1/llm/evals/suites/{suite_id}"))
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.get(&path("")).await;
    assert_error(status, &body, 404, "");
}

#[tokio::test]
async fn the_feed_shows_the_runs_get_runs_shows() {
    let server = TestServer::start().await;
    let (suite_id, _) = suite(&server, &["qa", "extra"]).await;
    let plain = complete_all(&server, vec![run_body(&suite_id, &[ETA], None)]).await;
    // A run started on behalf of an end user of the owning team.
    let (status, run) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/llm/evals/runs"))
                .bearer_auth(&server.key)
                .header("x-on-behalf-of", "alice")
                .json(&run_body(&suite_id, &[ETA], Some(&["qa"]))),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let alices = run["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait_terminal(&alices).await["status"], "completed");

    let owner = feed(&server, &suite_id, "").await;
    assert_eq!(
        groups(&owner),
        vec![g(ETA, None, 1, &plain[0]), g(ETA, Some("qa"), 1, &alices)]
    );

    // Another end user of the team sees the feed as `GET /runs` shows it: the team's runs and
    // its own, not alice's.
    let (status, bob) = server
        .send(
            server
                .client
                .get(server.url(&format!(
                    "/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs"
                )))
                .bearer_auth(&server.key)
                .header("x-on-behalf-of", "bob"),
        )
        .await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(groups(&bob), vec![g(ETA, None, 1, &plain[0])]);
    assert_eq!(data_ids(&bob), vec![plain[0].clone()]);

    // Another org reads it once the suite is shared with it, without any artifacts.
    let (status, body) = server
        .get_as(
            &server.other_key,
            &format!("/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs"),
        )
        .await;
    assert_error(status, &body, 404, "");
    server
        .store
        .create_share(&owner_principal(), &suite_id, "org_b")
        .await
        .expect("share");
    let shared = feed_as(&server, &server.other_key, &suite_id, "").await;
    assert_eq!(shared["groups"], owner["groups"]);
    assert_eq!(data_ids(&shared), data_ids(&owner));
    for run in shared["data"].as_array().unwrap() {
        assert_eq!(run["artifact_file_ids"], json!([]), "{run}");
        assert_eq!(run["org_id"], "org_a");
    }
}

/// What joins one more parameter to `query`.
fn sep(query: &str) -> &'static str {
    if query.is_empty() {
        "?"
    } else {
        "&"
    }
}

fn owner_principal() -> Principal {
    Principal {
        key_id: "test".into(),
        org_id: "org_a".into(),
        team_id: "team_a".into(),
        user_id: None,
        is_admin: true,
    }
}

/// The whole feed for `query`, without a ceiling, from the engine over the server's store.
async fn untruncated(server: &TestServer, suite_id: &str, query: LeaderboardRunsQuery) -> Value {
    let request = query.validate().expect("valid query");
    let feed = assay_engine::leaderboard::leaderboard_runs(
        &server.store,
        &owner_principal(),
        suite_id,
        &request,
        usize::MAX,
    )
    .await
    .expect("feed");
    assert!(!feed.truncated);
    serde_json::to_value(feed).expect("json")
}

#[tokio::test]
async fn a_truncated_feed_pages_to_the_whole_answer() {
    let server = TestServer::start_with(ServerConfig {
        leaderboard_runs_max: 3,
        ..Default::default()
    })
    .await;
    let (a, b, c) = ("fake:A", "fake:B", "fake:C");
    let (suite_id, _) = suite(&server, &["t1", "t2", "t3"]).await;
    let body = |models: &[&str], tasks: Option<&[&str]>| run_body(&suite_id, models, tasks);
    let runs = complete_all(
        &server,
        vec![
            body(&[a, b, c], None),
            body(&[a], Some(&["t1", "t2"])),
            body(&[b, c], Some(&["t3"])),
            body(&[a, b], None),
            body(&[c], Some(&["t1"])),
            body(&[a, b, c], Some(&["t2"])),
            body(&[b], Some(&["t1", "t3"])),
            body(&[a, c], None),
            body(&[a, b, c], Some(&["t1", "t2", "t3"])),
        ],
    )
    .await;

    for (query, per_group) in [("", None), ("?per_group=2", Some(2))] {
        let whole = untruncated(
            &server,
            &suite_id,
            LeaderboardRunsQuery {
                per_group,
                ..Default::default()
            },
        )
        .await;
        let distinct: BTreeSet<_> = groups(&whole).into_iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(distinct.len(), 12, "3 models x (3 tasks + every task)");
        let rank_one: BTreeSet<String> = groups(&whole)
            .into_iter()
            .filter(|x| x.2 == 1)
            .map(|x| x.3)
            .collect();

        let mut pages = Vec::new();
        let mut page = feed(&server, &suite_id, query).await;
        loop {
            let more = page["truncated"] == true;
            assert_eq!(page["next_cursor"].is_string(), more, "{page}");
            assert!(page["data"].as_array().unwrap().len() <= 3);
            let cursor = page["next_cursor"].as_str().map(String::from);
            if pages.is_empty() {
                assert!(more, "more runs than the ceiling of 3");
                // Every group's newest run is on the first page.
                let first: BTreeSet<String> = data_ids(&page).into_iter().collect();
                assert!(rank_one.is_subset(&first), "{rank_one:?} vs {first:?}");
                // A run created now does not shift the following pages.
                complete_all(&server, vec![body(&[a, b, c], None)]).await;
                // A cursor belongs to its query.
                let cursor = cursor.as_deref().unwrap();
                let (status, err) = server
                    .get(&format!(
                        "/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs?per_group=7&cursor={cursor}"
                    ))
                    .await;
                assert_error(status, &err, 400, "cursor");
                let (other_suite, _) = suite(&server, &["t1"]).await;
                let (status, err) = server
                    .get(&format!(
                        "/api/v1/llm/evals/suites/{other_suite}/leaderboard-runs{query}{}cursor={cursor}",
                        sep(query)
                    ))
                    .await;
                assert_error(status, &err, 400, "cursor");
            }
            pages.push(page);
            let Some(cursor) = cursor else { break };
            page = feed(
                &server,
                &suite_id,
                &format!("{query}{}cursor={cursor}", sep(query)),
            )
            .await;
        }

        // The pages' union is the untruncated answer: same runs (objects), same groups.
        let mut union_data: Vec<Value> = pages
            .iter()
            .flat_map(|p| p["data"].as_array().unwrap().clone())
            .collect();
        let mut union_groups: Vec<_> = pages.iter().flat_map(groups).collect();
        let mut whole_data = whole["data"].as_array().unwrap().clone();
        let by_id = |x: &Value, y: &Value| x["id"].as_str().cmp(&y["id"].as_str());
        union_data.sort_by(by_id);
        whole_data.sort_by(by_id);
        let id_list = |runs: &[Value]| -> Vec<String> {
            runs.iter()
                .map(|r| r["id"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(
            id_list(&union_data),
            id_list(&whole_data),
            "query {query:?}"
        );
        assert!(
            union_data == whole_data,
            "query {query:?}: run objects differ"
        );
        union_groups.sort();
        let mut whole_groups = groups(&whole);
        whole_groups.sort();
        assert_eq!(union_groups, whole_groups, "query {query:?}");
        // Pages never repeat a run, and all but the last are full.
        let count: usize = pages
            .iter()
            .map(|p| p["data"].as_array().unwrap().len())
            .sum();
        assert_eq!(count, whole_data.len());
        for p in &pages[..pages.len() - 1] {
            assert_eq!(p["data"].as_array().unwrap().len(), 3);
        }
        // Each page lists its groups in the contractual order.
        for p in &pages {
            let listed = groups(p);
            let mut sorted = listed.clone();
            sorted.sort_by(|x, y| (&x.0, &x.1, x.2).cmp(&(&y.0, &y.1, y.2)));
            assert_eq!(listed, sorted);
        }
    }

    // Without a cursor, the newest run (created while paging) leads again.
    let fresh = feed(&server, &suite_id, "?per_group=1").await;
    assert_eq!(fresh["truncated"], false, "{fresh}");
    let newest = data_ids(&fresh)[0].clone();
    assert!(!runs.contains(&newest));
    assert_eq!(groups(&fresh).iter().filter(|x| x.3 == newest).count(), 3);
}
