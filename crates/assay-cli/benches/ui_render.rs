//! Benchmark: how long the web UI takes to answer its heaviest pages for a 100,000-sample
//! run, against the 150 ms goal. Two runs of 100,000 samples each (few-shot-sized prompts of
//! about 1.5 KB, as real benchmarks have; run B differs from run A on about 10% of the samples
//! and fails 1%) are executed for real against the fake model server with no latency, then
//! each page is fetched over HTTP with a signed-in session: the first fetch, and the median
//! and slowest of several more, are printed. Run with `cargo bench -p assay-cli --bench ui_render`
//! (`ASSAY_BENCH_ROWS` changes the run size).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use assay_testkit::FakeModelOptions;
use serde_json::{json, Value};

/// The page time to stay under.
const GOAL: Duration = Duration::from_millis(150);
/// Timed fetches per page (after one untimed warm-up fetch).
const FETCHES: usize = 15;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = common::bench_rows(100_000);
    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;

    // A shared ~1.5 KB preamble stands in for few-shot examples.
    let preamble = "Question: What is 12 plus 30?\nAnswer: 42\n\n".repeat(36);
    let dataset = |variant: u8| -> String {
        (0..rows)
            .map(|i| {
                // Run B's dataset moves the target of every tenth row (those samples change
                // score) and makes every hundredth row fail.
                let moved = variant == 1 && i % 10 == 3;
                let fault = if variant == 1 && i % 100 == 7 {
                    " [[status:400]]"
                } else {
                    ""
                };
                let target = if moved { i + 1 } else { i };
                format!(
                    "{}\n",
                    json!({"q": format!("Question {i}: what is {i}? [[answer:{i}]]{fault}"),
                           "a": target.to_string()})
                )
            })
            .collect()
    };
    let mut run_ids = Vec::new();
    for variant in [0u8, 1] {
        let file = api.upload("rows.jsonl", dataset(variant)).await;
        let task = json!({"id": "arith", "type": "numeric", "dataset": {"file_id": file},
            "prompt_template": format!("{preamble}{{{{q}}}}"), "target_template": "{{a}}"});
        let suite = api
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": format!("ui-bench-{variant}"), "manifest": {"tasks": [task]}}),
            )
            .await;
        let started = Instant::now();
        let run = api
            .post(
                "/api/v1/llm/evals/runs",
                &json!({"suite_id": suite["id"], "models": ["fake"], "generation_concurrency": 64}),
            )
            .await;
        let id = run["id"].as_str().expect("run id").to_string();
        let run = wait_long(api, &id).await;
        assert_eq!(run["status"], "completed", "{run}");
        println!(
            "run {} ({rows} samples) completed in {:.1} s",
            ["A", "B"][variant as usize],
            started.elapsed().as_secs_f64()
        );
        run_ids.push(id);
    }
    let (a, b) = (&run_ids[0], &run_ids[1]);

    let session = sign_in(api).await;
    let sample = first_sample(api, a).await;
    // Each page with a text only that page shows, so a sign-in page cannot pass for it.
    let pages = [
        (
            "run page",
            format!("/ui/runs/{b}"),
            "bad_request".to_string(),
        ),
        ("runs list", "/ui/runs".to_string(), a.clone()),
        (
            "samples, first page",
            format!("/ui/runs/{a}/samples"),
            format!("data-matching=\"{rows}\""),
        ),
        (
            "samples, failed only",
            format!("/ui/runs/{b}/samples?status=failed"),
            format!("data-matching=\"{}\"", rows.div_ceil(100)),
        ),
        (
            "samples, sorted by score",
            format!("/ui/runs/{b}/samples?metric=exact_match&sort=score_asc"),
            "data-matching=".to_string(),
        ),
        (
            "samples, text search",
            format!("/ui/runs/{a}/samples?q=question+{}%3A", rows / 2),
            "data-matching=\"1\"".to_string(),
        ),
        (
            "compare A vs B",
            format!("/ui/compare?a={a}&b={b}"),
            format!("{} regressed", rows.div_ceil(10)),
        ),
        (
            "compare, changed from 5,000",
            format!("/ui/compare?a={a}&b={b}&task=arith&metric=exact_match&from=5000"),
            "Showing 5001–5025".to_string(),
        ),
        (
            "sample page",
            format!("/ui/runs/{a}/samples/{sample}"),
            "Question 0: what is 0?".to_string(),
        ),
    ];
    // The first fetch of a page is shown apart: a comparison of completed runs is computed
    // then and kept, later fetches read it back.
    println!(
        "{:<28} {:>9} {:>11} {:>11} {:>9} {:>7}",
        "page", "first ms", "median ms", "slowest ms", "goal ms", "ratio"
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (name, path, marker) in pages {
        let mut times = Vec::with_capacity(FETCHES);
        let mut first = Duration::ZERO;
        for i in 0..=FETCHES {
            let started = Instant::now();
            let response = client
                .get(format!("{}{path}", api.base))
                .header("Cookie", format!("assay_session={session}"))
                .send()
                .await
                .expect("page");
            let status = response.status();
            let body = response.text().await.expect("body");
            let took = started.elapsed();
            assert!(status.is_success(), "{name}: {status}: {body}");
            assert!(body.contains(&marker), "{name}: no {marker:?} in {body}");
            if i > 0 {
                times.push(took);
            } else {
                first = took;
            }
        }
        times.sort();
        let median = times[times.len() / 2];
        let slowest = times[times.len() - 1];
        println!(
            "{name:<28} {:>9.1} {:>11.1} {:>11.1} {:>9} {:>7.2}",
            first.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            GOAL.as_millis(),
            median.as_secs_f64() / GOAL.as_secs_f64()
        );
    }
}

/// Waits (up to 20 minutes) for a large run to end.
async fn wait_long(api: &common::Api, run_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let run = api.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
        if ["completed", "failed", "cancelled"].contains(&run["status"].as_str().unwrap_or("")) {
            return run;
        }
        assert!(Instant::now() < deadline, "timed out: {run}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The id of a run's first sample.
async fn first_sample(api: &common::Api, run_id: &str) -> String {
    let page = api
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/samples?limit=1"))
        .await;
    page["data"][0]["id"]
        .as_str()
        .expect("a sample")
        .to_string()
}

/// The `name=value` of cookie `name` set by `response`.
fn cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// Signs in to the UI with the benchmark's key; returns the session cookie's value.
async fn sign_in(api: &common::Api) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = client
        .get(format!("{}/ui/sign-in", api.base))
        .send()
        .await
        .expect("sign-in form");
    // The form's CSRF token is the pre-session cookie's value.
    let pre = cookie(&form, "assay_sign_in");
    let done = client
        .post(format!("{}/ui/sign-in", api.base))
        .header("Cookie", format!("assay_sign_in={pre}"))
        .form(&[("key", common::KEY), ("csrf", pre.as_str())])
        .send()
        .await
        .expect("sign in");
    assert_eq!(done.status(), 303, "sign-in refused");
    cookie(&done, "assay_session")
}
