//! The real `assay` binary as a child process, and a small API client for tests and benchmarks.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use assay_testkit::FakeModelServer;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const KEY: &str = "assay_sk_durability_test_key_0123456789abcdefghij";

pub struct Server {
    pub child: Child,
    pub base: String,
}

/// Starts `assay serve` on a free port with the fake model server as registry entry `fake`.
pub async fn start(data_dir: &std::path::Path, models: &FakeModelServer) -> Server {
    start_with(
        data_dir,
        &[
            ("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()),
            ("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()),
        ],
    )
    .await
}

/// What a benchmark runs against: the fake model server, `assay serve` on a fresh data
/// directory with it as registry entry `fake`, and a client of that server.
pub struct Bench {
    pub models: FakeModelServer,
    pub server: Server,
    pub api: Api,
    /// Kept until the server has stopped (fields drop in order).
    _dir: tempfile::TempDir,
}

/// Starts a [`Bench`] with the fake model server configured by `options` (its request log
/// kept short unless `options` says otherwise).
pub async fn bench(options: assay_testkit::FakeModelOptions) -> Bench {
    let models = FakeModelServer::start(options)
        .await
        .expect("fake model server");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), &models).await;
    let api = api(&server);
    Bench {
        models,
        server,
        api,
        _dir: dir,
    }
}

/// Starts `assay serve` on a free port with `env` added to its environment (the registry is
/// whatever `env` configures; empty, it defaults to the installed local models).
pub async fn start_with(data_dir: &std::path::Path, env: &[(&str, String)]) -> Server {
    let mut defaults = vec![
        ("ASSAY_SERVER_BIND", "127.0.0.1:0".to_string()),
        ("ASSAY_BOOTSTRAP_KEY", KEY.to_string()),
        ("ASSAY_EXECUTOR_NODE_ID", "test-node".to_string()),
    ];
    defaults.extend_from_slice(env);
    let (child, line) = spawn("serve", data_dir, &defaults, "Assay listening on ").await;
    Server {
        child,
        base: line.trim().to_string(),
    }
}

/// Starts `assay worker` with `env` added to its environment and waits until it polls.
pub async fn start_worker(data_dir: &std::path::Path, env: &[(&str, String)]) -> Child {
    spawn("worker", data_dir, env, "Assay worker polling")
        .await
        .0
}

/// Runs `assay COMMAND --data-dir DATA_DIR` with `env` and waits (at most 120 s) for the
/// stdout line starting with `ready`; returns the child and the rest of that line.
async fn spawn(
    subcommand: &str,
    data_dir: &std::path::Path,
    env: &[(&str, String)],
    ready: &str,
) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_assay"));
    command
        .arg(subcommand)
        .arg("--data-dir")
        .arg(data_dir)
        .env("ASSAY_LOG_LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("assay starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let rest = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.strip_prefix(ready) {
                return rest.to_string();
            }
        }
        panic!("assay {subcommand} exited before {ready:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("assay {subcommand} printed {ready:?} within 120 s"));
    (child, rest)
}

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn json(&self, req: reqwest::RequestBuilder) -> Value {
        let response = req.bearer_auth(KEY).send().await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.expect("json body");
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        self.json(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.json(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Value {
        self.json(self.client.patch(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Value {
        self.json(self.client.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn upload(&self, name: &str, content: String) -> String {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::text(content).file_name(name.to_string()),
            )
            .text("purpose", "evals");
        let file = self
            .json(
                self.client
                    .post(format!("{}/api/v1/llm/files", self.base))
                    .multipart(form),
            )
            .await;
        file["id"].as_str().expect("file id").to_string()
    }

    /// A suite with one numeric task over `rows` rows whose answers are their index.
    pub async fn suite(&self, rows: usize, tag: &str) -> String {
        self.suite_with(rows, tag, json!({})).await
    }

    /// Like [`Api::suite`], with `extra` merged into the task (e.g. a `grader`).
    pub async fn suite_with(&self, rows: usize, tag: &str, extra: Value) -> String {
        let data: String = (0..rows)
            .map(|i| {
                format!(
                    "{}\n",
                    json!({"q": format!("{tag} {i} [[answer:{i}]]"), "a": i.to_string()})
                )
            })
            .collect();
        let file = self.upload("rows.jsonl", data).await;
        let mut task = json!({"id": "n", "type": "numeric", "dataset": {"file_id": file},
            "prompt_template": "{{q}}", "target_template": "{{a}}"});
        if let (Some(task), Some(extra)) = (task.as_object_mut(), extra.as_object()) {
            task.extend(extra.clone());
        }
        let suite = self
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": tag, "manifest": {"tasks": [task]}}),
            )
            .await;
        suite["id"].as_str().expect("suite id").to_string()
    }

    /// Creates a run from `body` and waits until it completes or fails; returns the run and
    /// the seconds from creation to the end.
    pub async fn finished_run(&self, body: &Value) -> (Value, f64) {
        let started = std::time::Instant::now();
        let run = self.post("/api/v1/llm/evals/runs", body).await;
        let run_id = run["id"].as_str().expect("run id").to_string();
        let run = self.wait_finished(&run_id).await;
        (run, started.elapsed().as_secs_f64())
    }

    /// Waits until run `run_id` is `completed` or `failed`; returns it.
    pub async fn wait_finished(&self, run_id: &str) -> Value {
        self.wait(run_id, |r| {
            r["status"] == "completed" || r["status"] == "failed"
        })
        .await
    }

    pub async fn wait(&self, run_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let run = self.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
            if done(&run) {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out: {run}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn samples(&self, run_id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let mut path = format!(
                "/api/v1/llm/evals/runs/{run_id}/samples?limit=500&include_dataset_row=false"
            );
            if !after.is_empty() {
                path.push_str(&format!("&after={after}"));
            }
            let page = self.get(&path).await;
            out.extend(page["data"].as_array().expect("data").iter().cloned());
            if page["has_more"] != true {
                return out;
            }
            after = page["last_id"].as_str().expect("last id").to_string();
        }
    }
}

pub fn api(server: &Server) -> Api {
    Api {
        client: reqwest::Client::new(),
        base: server.base.clone(),
    }
}

/// Asserts that `samples` hold every index from 0 to `n - 1` exactly once.
pub fn assert_each_index_once(samples: &[Value], n: i64) {
    let mut indices: Vec<i64> = samples
        .iter()
        .map(|s| s["sample_index"].as_i64().expect("index"))
        .collect();
    indices.sort();
    assert_eq!(
        indices,
        (0..n).collect::<Vec<_>>(),
        "every sample exactly once"
    );
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A benchmark's row count: `ASSAY_BENCH_ROWS` when set (a positive number), else `default`.
pub fn bench_rows(default: usize) -> usize {
    match std::env::var("ASSAY_BENCH_ROWS") {
        Err(_) => default,
        Ok(v) => match v.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("ASSAY_BENCH_ROWS is a positive row count, not {v:?}"),
        },
    }
}
