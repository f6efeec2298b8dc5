//! Schedules (E30–E36) on the local executor, with the clock injected: the API and its
//! validation, cron slots in a time zone across both 2026 daylight-saving changes, intervals,
//! pause and resume, missed slots after a restart, the overlap policies against runs that do
//! not end until cancelled, and two servers on one Postgres firing each slot once.

mod common;

use assay_engine::schedules::local::LocalScheduler;
use assay_engine::schedules::{Clock, Firing};
use common::{assert_error, TestServer};
use serde_json::{json, Value};

const SCHEDULES: &str = "/api/v1/llm/evals/schedules";

/// Unix seconds of an RFC 3339 UTC time.
fn at(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("rfc3339")
        .timestamp()
}

/// A suite of one task over `rows` prompts (each may carry fake-model directives).
async fn suite(server: &TestServer, prompts: &[&str]) -> String {
    let rows: Vec<Value> = prompts
        .iter()
        .map(|p| json!({"q": p, "a": "yes"}))
        .collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    server
        .create_suite(json!({"tasks": [{"id": "t", "type": "qa",
            "dataset": {"file_id": data}, "prompt_template": "{{q}} [[answer:yes]]",
            "target_template": "{{a}}", "metrics": [{"id": "exact_match"}]}]}))
        .await
}

async fn create(server: &TestServer, body: Value) -> Value {
    let (status, schedule) = server.post(SCHEDULES, &body).await;
    assert_eq!(status, 200, "{schedule}");
    schedule
}

async fn get(server: &TestServer, id: &str) -> Value {
    let (status, schedule) = server.get(&format!("{SCHEDULES}/{id}")).await;
    assert_eq!(status, 200, "{schedule}");
    schedule
}

async fn runs_of(server: &TestServer, id: &str) -> Vec<Value> {
    let (status, page) = server
        .get(&format!("{SCHEDULES}/{id}/runs?limit=100"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().cloned().unwrap_or_default()
}

/// Polls until the run's status is one of `want` (bounded).
async fn wait_status(server: &TestServer, run_id: &str, want: &[&str]) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, run) = server
            .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
            .await;
        if want.contains(&run["status"].as_str().unwrap_or("")) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} never reached {want:?}: {run}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn create_read_update_delete_and_every_refusal_names_its_field() {
    let server = TestServer::start().await;
    let suite_id = suite(&server, &["q0", "q1"]).await;
    let now = server.clock.now();
    let body = json!({"name": "nightly", "suite_id": suite_id, "cron": "0 3 * * *",
        "timezone": "US/Pacific", "run": {"models": ["fake"], "generation_concurrency": 2, "note": "kept"},
        "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s3cret", "metadata": {"team": "evals"}});
    let schedule = create(&server, body.clone()).await;
    let id = schedule["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("eval_sched_"));
    assert_eq!(schedule["object"], "eval.schedule");
    assert_eq!(schedule["overlap_policy"], "skip");
    assert_eq!(schedule["enabled"], true);
    assert_eq!(schedule["webhook_configured"], true);
    assert!(schedule.get("webhook_secret").is_none(), "{schedule}");
    assert_eq!(schedule["run"]["note"], "kept", "unknown keys are kept");
    assert_eq!(schedule["suite_version"], Value::Null);
    assert_eq!(schedule["last_run_id"], Value::Null);
    // 2026-01-01T00:00Z is 2025-12-31 16:00 PST: the next 03:00 PST is 11:00Z that day.
    assert_eq!(now, at("2026-01-01T00:00:00Z"));
    assert_eq!(schedule["next_run_at"], at("2026-01-01T11:00:00Z"));
    for key in [
        "description",
        "interval_seconds",
        "last_run_at",
        "last_run_status",
    ] {
        assert!(
            schedule.get(key).is_some_and(Value::is_null),
            "{key}: {schedule}"
        );
    }

    // Listing, with its filters.
    let paused = create(
        &server,
        json!({"name": "paused", "suite_id": suite_id, "interval_seconds": 3600, "enabled": false,
            "run": {"models": ["fake"]}}),
    )
    .await;
    assert_eq!(paused["next_run_at"], Value::Null);
    let (_, all) = server.get(SCHEDULES).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, enabled) = server.get(&format!("{SCHEDULES}?enabled=true")).await;
    assert_eq!(enabled["data"][0]["id"], id.as_str());
    assert_eq!(enabled["data"].as_array().unwrap().len(), 1);
    let (_, disabled) = server.get(&format!("{SCHEDULES}?enabled=false")).await;
    assert_eq!(disabled["data"][0]["id"], paused["id"]);
    let (status, answer) = server.get(&format!("{SCHEDULES}?enabled=yes")).await;
    assert_error(status, &answer, 400, "enabled");
    let (_, page) = server.get(&format!("{SCHEDULES}?limit=1")).await;
    assert_eq!(page["has_more"], true);
    let (_, by_suite) = server
        .get(&format!("{SCHEDULES}?suite_id=eval_suite_none"))
        .await;
    assert!(by_suite["data"].as_array().unwrap().is_empty());

    // Another tenant sees none of it.
    let (status, _) = server
        .get_as(&server.other_key, &format!("{SCHEDULES}/{id}"))
        .await;
    assert_eq!(status, 404);
    let (_, theirs) = server.get_as(&server.other_key, SCHEDULES).await;
    assert!(theirs["data"].as_array().unwrap().is_empty());

    // Refusals name their field.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"cron": null}), "cron"),
        (json!({"interval_seconds": 3600}), "interval_seconds"),
        (json!({"cron": "61 * * * *"}), "cron"),
        (json!({"cron": "0 0 30 2 *"}), "cron"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"overlap_policy": "never"}), "overlap_policy"),
        (json!({"webhook_url": "ftp://example.com/"}), "webhook_url"),
        (
            json!({"webhook_url": "http://10.1.2.3/hook"}),
            "webhook_url",
        ),
        (
            json!({"webhook_url": "http://169.254.169.254/"}),
            "webhook_url",
        ),
        (json!({"webhook_secret": "whsec_!!"}), "webhook_secret"),
        (json!({"run": {"models": []}}), "run.models"),
        (json!({"run": {"models": ["nope"]}}), "run.models[0]"),
        (
            json!({"run": {"models": ["fake"], "task_ids": ["missing"]}}),
            "run.task_ids[0]",
        ),
        (
            json!({"run": {"models": ["fake"], "generation_concurrency": 0}}),
            "run.generation_concurrency",
        ),
        (json!({"run": "fake"}), "run"),
        (
            json!({"suite_id": "eval_suite_00000000000000000000000000000000"}),
            "suite_id",
        ),
        (json!({"suite_version": 9}), "suite_version"),
        (json!({"name": ""}), "name"),
        (
            json!({"interval_seconds": 30, "cron": null}),
            "interval_seconds",
        ),
    ];
    for (change, path) in cases {
        let mut bad = body.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                bad.as_object_mut().unwrap().remove(k);
            } else {
                bad[k] = v.clone();
            }
        }
        let (status, answer) = server.post(SCHEDULES, &bad).await;
        assert_error(status, &answer, 400, path);
    }

    // Merge patch: absent keys stay, null clears, the cadence rule holds after the patch.
    let path = format!("{SCHEDULES}/{id}");
    let (status, patched) = server
        .patch(
            &path,
            &json!({"cron": null, "interval_seconds": 7200, "description": "every 2h",
            "webhook_secret": null, "overlap_policy": "buffer_one"}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["cron"], Value::Null);
    assert_eq!(patched["interval_seconds"], 7200);
    assert_eq!(patched["description"], "every 2h");
    assert_eq!(patched["webhook_configured"], false);
    assert_eq!(patched["webhook_url"], "http://127.0.0.1:9/hook");
    assert_eq!(patched["overlap_policy"], "buffer_one");
    assert_eq!(patched["name"], "nightly");
    assert_eq!(patched["next_run_at"], now + 7200);
    for (patch, field) in [
        (json!({"cron": "0 * * * *"}), "interval_seconds"),
        (json!({"interval_seconds": null}), "cron"),
        (json!({"name": null}), "name"),
        (json!({"enabled": null}), "enabled"),
        (
            json!({"run": {"models": ["fake", "fake"]}}),
            "run.models[1]",
        ),
        (json!({"suite_version": 5}), "suite_version"),
        (json!({"webhook_url": "http://192.168.1.1/"}), "webhook_url"),
    ] {
        let (status, answer) = server.patch(&path, &patch).await;
        assert_error(status, &answer, 400, field);
    }
    let (status, answer) = server
        .patch(&format!("{SCHEDULES}/eval_sched_missing"), &json!({}))
        .await;
    assert_error(status, &answer, 404, "");

    // Runs of a schedule: a different suite is a 400.
    let (status, answer) = server
        .get(&format!("{path}/runs?suite_id=eval_suite_other"))
        .await;
    assert_error(status, &answer, 400, "suite_id");
    let (status, answer) = server
        .get(&format!("{path}/runs?suite_id={suite_id}&suite_version=1"))
        .await;
    assert_eq!(status, 200, "{answer}");

    // Delete: gone from reads, its runs kept.
    let (status, fired) = server.post(&format!("{path}/trigger"), &json!({})).await;
    assert_eq!(status, 200, "{fired}");
    let run_id = fired["last_run_id"].as_str().unwrap().to_string();
    let (status, deleted) = server.delete(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "eval.schedule.deleted", "deleted": true})
    );
    let (status, _) = server.get(&path).await;
    assert_eq!(status, 404);
    let (status, _) = server.delete(&path).await;
    assert_eq!(status, 404);
    let run = server.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["metadata"]["schedule_id"], id.as_str());
}

#[tokio::test]
async fn cron_slots_follow_the_time_zone_across_both_2026_dst_changes() {
    let server = TestServer::start().await;
    let suite_id = suite(&server, &["q0"]).await;

    // Spring forward: 2026-03-08 02:00 PST → 03:00 PDT. 02:30 does not exist that day.
    server.clock.set(at("2026-03-07T12:00:00Z"));
    let spring = create(
        &server,
        json!({"name": "spring", "suite_id": suite_id, "cron": "30 2 * * *",
            "timezone": "US/Pacific", "run": {"models": ["fake"]}}),
    )
    .await;
    let id = spring["id"].as_str().unwrap().to_string();
    assert_eq!(spring["next_run_at"], at("2026-03-08T10:30:00Z"));
    server.clock.set(at("2026-03-08T10:29:59Z"));
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    server.clock.set(at("2026-03-08T10:30:00Z"));
    let fired = server.scheduler.tick().await.unwrap();
    assert_eq!(fired.started.len(), 1);
    let after = get(&server, &id).await;
    assert_eq!(after["last_run_id"], fired.started[0].as_str());
    // The next day's 02:30 is PDT: 09:30Z.
    assert_eq!(after["next_run_at"], at("2026-03-09T09:30:00Z"));
    server.wait_terminal(&fired.started[0]).await;
    assert_eq!(get(&server, &id).await["last_run_status"], "completed");
    let (status, _) = server.delete(&format!("{SCHEDULES}/{id}")).await;
    assert_eq!(status, 200);

    // Fall back: 2026-11-01 02:00 PDT → 01:00 PST. 01:30 happens twice; it fires once.
    server.clock.set(at("2026-10-31T12:00:00Z"));
    let fall = create(
        &server,
        json!({"name": "fall", "suite_id": suite_id, "cron": "30 1 * * *",
            "timezone": "US/Pacific", "run": {"models": ["fake"]}}),
    )
    .await;
    let id = fall["id"].as_str().unwrap().to_string();
    assert_eq!(fall["next_run_at"], at("2026-11-01T08:30:00Z"));
    server.clock.set(at("2026-11-01T08:30:00Z"));
    assert_eq!(server.scheduler.tick().await.unwrap().started.len(), 1);
    // Not again at the second 01:30 (09:30Z): the next is 2026-11-02 01:30 PST.
    assert_eq!(
        get(&server, &id).await["next_run_at"],
        at("2026-11-02T09:30:00Z")
    );
    server.clock.set(at("2026-11-01T09:30:00Z"));
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    let (status, _) = server.delete(&format!("{SCHEDULES}/{id}")).await;
    assert_eq!(status, 200);

    // A 09:00 local job keeps its wall time on both sides of the change.
    server.clock.set(at("2026-10-31T12:00:00Z"));
    let daily = create(
        &server,
        json!({"name": "nine", "suite_id": suite_id, "cron": "0 9 * * *",
            "timezone": "US/Pacific", "run": {"models": ["fake"]}}),
    )
    .await;
    let id = daily["id"].as_str().unwrap().to_string();
    assert_eq!(daily["next_run_at"], at("2026-10-31T16:00:00Z"));
    server.clock.set(at("2026-10-31T16:00:00Z"));
    assert_eq!(server.scheduler.tick().await.unwrap().started.len(), 1);
    assert_eq!(
        get(&server, &id).await["next_run_at"],
        at("2026-11-01T17:00:00Z")
    );
    for run in runs_of(&server, &id).await {
        server.wait_terminal(run["id"].as_str().unwrap()).await;
    }
}

#[tokio::test]
async fn missed_slots_fire_once_after_a_restart_and_a_pause_is_not_replayed() {
    let server = TestServer::start().await;
    let suite_id = suite(&server, &["q0"]).await;
    let t0 = server.clock.now();
    let schedule = create(
        &server,
        json!({"name": "hourly", "suite_id": suite_id, "interval_seconds": 3600,
            "run": {"models": ["fake"]}}),
    )
    .await;
    let id = schedule["id"].as_str().unwrap().to_string();
    assert_eq!(schedule["next_run_at"], t0 + 3600);
    server.clock.set(t0 + 3599);
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    server.clock.set(t0 + 3600);
    let first = server.scheduler.tick().await.unwrap().started;
    assert_eq!(first.len(), 1);
    assert_eq!(get(&server, &id).await["next_run_at"], t0 + 7200);
    // (The default policy is skip: let the run end first.)
    server.wait_terminal(&first[0]).await;

    // "Down" for five slots; a new scheduler over the same database (a restarted server)
    // fires once, and the next slot is the first after now, on the same hourly grid.
    server.clock.set(t0 + 6 * 3600 + 10);
    let restarted = LocalScheduler::new(
        Firing {
            store: server.store.clone(),
            engine: server.engine.clone(),
        },
        server.clock.clone(),
    );
    let fired = restarted.tick().await.unwrap();
    assert_eq!(fired.started.len(), 1, "{fired:?}");
    server.wait_terminal(&fired.started[0]).await;
    assert!(restarted.tick().await.unwrap().started.is_empty());
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    assert_eq!(get(&server, &id).await["next_run_at"], t0 + 7 * 3600);
    assert_eq!(runs_of(&server, &id).await.len(), 2);

    // Paused: no fires, no next time. Resumed: counting starts again from now.
    let path = format!("{SCHEDULES}/{id}");
    let (status, paused) = server.patch(&path, &json!({"enabled": false})).await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["next_run_at"], Value::Null);
    server.clock.set(t0 + 10 * 3600);
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    let (_, resumed) = server.patch(&path, &json!({"enabled": true})).await;
    assert_eq!(resumed["next_run_at"], t0 + 11 * 3600);
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    server.clock.set(t0 + 11 * 3600);
    assert_eq!(server.scheduler.tick().await.unwrap().started.len(), 1);
    let runs = runs_of(&server, &id).await;
    assert_eq!(runs.len(), 3);
    for run in &runs {
        server.wait_terminal(run["id"].as_str().unwrap()).await;
    }
    let (_, done) = server
        .get(&format!("{path}/runs?status=completed&limit=2"))
        .await;
    assert_eq!(done["data"].as_array().unwrap().len(), 2);
    assert_eq!(done["has_more"], true);
}

/// A schedule whose runs never finish on their own (the model hangs) until cancelled.
async fn hanging_schedule(server: &TestServer, policy: &str) -> String {
    let suite_id = suite(server, &["slow [[hang]]"]).await;
    let schedule = create(
        server,
        json!({"name": policy, "suite_id": suite_id, "interval_seconds": 60,
            "overlap_policy": policy, "run": {"models": ["fake"]}}),
    )
    .await;
    schedule["id"].as_str().unwrap().to_string()
}

async fn cancel(server: &TestServer, run_id: &str) {
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.wait_terminal(run_id).await;
}

#[tokio::test]
async fn skip_drops_fires_while_a_run_is_unfinished() {
    let server = TestServer::start().await;
    let id = hanging_schedule(&server, "skip").await;
    server.clock.advance(60);
    let first = server.scheduler.tick().await.unwrap();
    assert_eq!(first.started.len(), 1);
    wait_status(&server, &first.started[0], &["in_progress"]).await;
    server.clock.advance(60);
    let second = server.scheduler.tick().await.unwrap();
    assert_eq!((second.started.len(), second.skipped), (0, 1));
    // A trigger obeys the policy too.
    let (status, after) = server
        .post(&format!("{SCHEDULES}/{id}/trigger"), &json!({}))
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["last_run_id"], first.started[0].as_str());
    assert_eq!(runs_of(&server, &id).await.len(), 1);
    cancel(&server, &first.started[0]).await;
    let (_, after) = server
        .post(&format!("{SCHEDULES}/{id}/trigger"), &json!({}))
        .await;
    let second_run = after["last_run_id"].as_str().unwrap().to_string();
    assert_ne!(second_run, first.started[0]);
    assert_eq!(runs_of(&server, &id).await.len(), 2);
    cancel(&server, &second_run).await;
}

#[tokio::test]
async fn buffer_one_keeps_one_fire_for_when_the_run_ends() {
    buffer_one(TestServer::start().await).await;
}

#[tokio::test]
async fn buffer_one_keeps_one_fire_on_postgres_too() {
    if let Some(server) = TestServer::start_on_postgres(None).await {
        buffer_one(server).await;
    }
}

async fn buffer_one(server: TestServer) {
    let id = hanging_schedule(&server, "buffer_one").await;
    server.clock.advance(60);
    let first = server.scheduler.tick().await.unwrap().started;
    assert_eq!(first.len(), 1);
    wait_status(&server, &first[0], &["in_progress"]).await;
    server.clock.advance(60);
    let busy = server.scheduler.tick().await.unwrap();
    assert_eq!((busy.started.len(), busy.buffered), (0, 1));
    server.clock.advance(60);
    let again = server.scheduler.tick().await.unwrap();
    assert_eq!(
        (again.started.len(), again.skipped),
        (0, 1),
        "only one waits"
    );
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    cancel(&server, &first[0]).await;
    let released = server.scheduler.tick().await.unwrap();
    assert_eq!(
        released.started.len(),
        1,
        "the waiting fire starts once the run ended"
    );
    assert!(server.scheduler.tick().await.unwrap().started.is_empty());
    assert_eq!(runs_of(&server, &id).await.len(), 2);
    cancel(&server, &released.started[0]).await;
}

#[tokio::test]
async fn allow_all_starts_every_fire() {
    let server = TestServer::start().await;
    let id = hanging_schedule(&server, "allow_all").await;
    let mut started = Vec::new();
    for _ in 0..3 {
        server.clock.advance(60);
        started.extend(server.scheduler.tick().await.unwrap().started);
    }
    let (_, after) = server
        .post(&format!("{SCHEDULES}/{id}/trigger"), &json!({}))
        .await;
    started.push(after["last_run_id"].as_str().unwrap().to_string());
    assert_eq!(started.len(), 4);
    for run in &started {
        wait_status(&server, run, &["in_progress"]).await;
    }
    assert_eq!(runs_of(&server, &id).await.len(), 4);
    for run in &started {
        cancel(&server, run).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_fire_each_slot_once() {
    let Some(a) = TestServer::start_on_postgres(None).await else {
        return;
    };
    let b = TestServer::start_on_postgres(Some(a.database()))
        .await
        .expect("the same database");
    let suite_id = suite(&a, &["q0"]).await;
    let t0 = a.clock.now();
    b.clock.set(t0);
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = create(
            &a,
            json!({"name": format!("s{i}"), "suite_id": suite_id, "interval_seconds": 60,
                "overlap_policy": "allow_all", "run": {"models": ["fake"]}}),
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    let slots = 20;
    let mut started = 0;
    for k in 1..=slots {
        a.clock.set(t0 + 60 * k);
        b.clock.set(t0 + 60 * k);
        let (x, y) = tokio::join!(a.scheduler.tick(), b.scheduler.tick());
        started += x.unwrap().started.len() + y.unwrap().started.len();
    }
    assert_eq!(started, 3 * slots as usize);
    for id in &ids {
        let runs = runs_of(&a, id).await;
        assert_eq!(runs.len(), slots as usize, "one run per slot");
    }
}
