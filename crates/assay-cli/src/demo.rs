//! `assay demo`: runs the bundled quickstart suite against a running server and shows the
//! result — progress while it runs, then a metrics table and where to look further.
//!
//! With Debian's `espeak-ng` on the PATH the suite also gets a transcription task: each
//! sentence of `examples/quickstart/speech.txt` spoken by espeak-ng, sent as a WAV `data:` URI,
//! scored by `wer` / `cer` against the sentence. Without it (or when the server has no
//! transcription model) the demo says so and runs the other tasks.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

const MANIFEST: &str = include_str!("../../../examples/quickstart/manifest.json");
const SPEECH: &str = include_str!("../../../examples/quickstart/speech.txt");
/// The id of the transcription task the demo adds.
const SPEECH_TASK: &str = "speech";
const DATASETS: [(&str, &str); 4] = [
    (
        "factual_qa.jsonl",
        include_str!("../../../examples/quickstart/factual_qa.jsonl"),
    ),
    (
        "multiple_choice.jsonl",
        include_str!("../../../examples/quickstart/multiple_choice.jsonl"),
    ),
    (
        "arithmetic.jsonl",
        include_str!("../../../examples/quickstart/arithmetic.jsonl"),
    ),
    (
        "definitions.jsonl",
        include_str!("../../../examples/quickstart/definitions.jsonl"),
    ),
];

/// What the demo runs against.
pub struct DemoArgs {
    pub url: String,
    pub key: String,
    pub models: Vec<String>,
    pub max_samples_per_task: Option<i64>,
}

struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = req
            .bearer_auth(&self.key)
            .send()
            .await
            .context("reaching the server")?;
        let status = response.status();
        let body: Value = response.json().await.context("reading the response")?;
        if !status.is_success() {
            bail!(
                "{status}: {}",
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("request failed")
            );
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    /// Uploads `content` as a dataset file named `name` (purpose `evals`).
    async fn upload(&self, name: &'static str, content: String) -> anyhow::Result<Value> {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::text(content).file_name(name),
            )
            .text("purpose", "evals");
        self.send(
            self.http
                .post(format!("{}/api/v1/llm/files", self.url))
                .multipart(form),
        )
        .await
        .with_context(|| format!("uploading {name}"))
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.url)).json(body))
            .await
    }
}

/// Uploads the datasets, creates the suite, runs it and prints the outcome.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let client = Client {
        http: reqwest::Client::new(),
        url: args.url.trim_end_matches('/').to_string(),
        key: args.key,
    };
    let mut manifest: Value = serde_json::from_str(MANIFEST).context("the bundled manifest")?;
    let mut ids = std::collections::HashMap::new();
    for (name, content) in DATASETS {
        let file = client.upload(name, content.to_string()).await?;
        ids.insert(name, file["id"].as_str().unwrap_or_default().to_string());
    }
    if let Some(tasks) = manifest["tasks"].as_array_mut() {
        for task in tasks.iter_mut() {
            let name = task["dataset"]["file_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(id) = ids.get(name.as_str()) {
                task["dataset"]["file_id"] = json!(id);
            }
        }
        match speech_rows()? {
            Some(rows) => {
                let file = client.upload("speech.jsonl", rows).await?;
                tasks.push(json!({
                    "id": SPEECH_TASK,
                    "name": "Read-aloud sentences (espeak-ng)",
                    "type": "transcription",
                    "language": "en",
                    "dataset": {"file_id": file["id"], "format": "jsonl", "audio_column": "audio"},
                    "target_template": "{{text}}",
                }));
            }
            None => println!(
                "espeak-ng is not installed: the transcription task is left out (on Debian: apt-get install espeak-ng)."
            ),
        }
    }
    let suite = client
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "Assay quickstart", "description": "Bundled example suite", "manifest": manifest}),
        )
        .await
        .context("creating the suite")?;
    let mut body = json!({
        "suite_id": suite["id"],
        "models": args.models,
        "generation": {"max_gen_toks": 32, "do_sample": false, "until": ["\n\n"]},
        "metadata": {"source": "assay demo"},
    });
    if let Some(n) = args.max_samples_per_task {
        body["max_samples_per_task"] = json!(n);
    }
    let run = match client.post("/api/v1/llm/evals/runs", &body).await {
        Err(e)
            if has_task(&manifest, SPEECH_TASK)
                && e.to_string().contains("transcription model") =>
        {
            // The server has no transcription model for these models: run the rest.
            println!("The transcription task is left out: {e:#}");
            body["task_ids"] = json!(task_ids(&manifest)
                .into_iter()
                .filter(|t| t != SPEECH_TASK)
                .collect::<Vec<_>>());
            client.post("/api/v1/llm/evals/runs", &body).await
        }
        other => other,
    }
    .context("starting the run")?;
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    println!(
        "Run {run_id} started on suite {}.",
        suite["id"].as_str().unwrap_or_default()
    );

    let run = loop {
        let run = client
            .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
            .await?;
        let counts = &run["request_counts"];
        let (total, done, failed) = (
            counts["total"].as_i64().unwrap_or(0),
            counts["completed"].as_i64().unwrap_or(0),
            counts["failed"].as_i64().unwrap_or(0),
        );
        print!(
            "\r  {:<11} {:>4}/{:<4} samples done, {failed} failed   ",
            run["status"].as_str().unwrap_or("?"),
            done + failed,
            total
        );
        let _ = std::io::stdout().flush();
        if ["completed", "failed", "cancelled"].contains(&run["status"].as_str().unwrap_or("")) {
            println!();
            break run;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if run["status"] != "completed" {
        bail!("the run ended {}: {}", run["status"], run["error"]);
    }
    print_table(&run);
    println!();
    println!("Look at it in a browser (sign in with the API key):");
    println!("  run      {}/ui/runs/{run_id}", client.url);
    println!("  samples  {}/ui/runs/{run_id}/samples", client.url);
    println!("  all runs {}/ui/runs", client.url);
    println!("  suites   {}/ui/suites", client.url);
    println!("Or through the API (Authorization: Bearer <key>):");
    println!(
        "  samples  {}/api/v1/llm/evals/runs/{run_id}/samples",
        client.url
    );
    println!("  API docs {}/docs", client.url);
    Ok(())
}

fn task_ids(manifest: &Value) -> Vec<String> {
    manifest["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect()
}

fn has_task(manifest: &Value, id: &str) -> bool {
    task_ids(manifest).iter().any(|t| t == id)
}

/// The transcription task's rows (JSON Lines): each sentence of `speech.txt` spoken by
/// espeak-ng as a WAV `data:` URI (`audio`) with the sentence (`text`); `None` without
/// espeak-ng.
fn speech_rows() -> anyhow::Result<Option<String>> {
    use base64::Engine as _;
    let dir = std::env::temp_dir().join(format!("assay-demo-speech-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = (|| {
        let mut rows = String::new();
        let sentences = SPEECH
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        for (i, sentence) in sentences.enumerate() {
            let wav = dir.join(format!("{i}.wav"));
            let status = match std::process::Command::new("espeak-ng")
                .args(["-v", "en-us", "-w"])
                .arg(&wav)
                .arg(sentence)
                .stdout(std::process::Stdio::null())
                .status()
            {
                Ok(status) => status,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(anyhow::Error::new(e).context("running espeak-ng")),
            };
            if !status.success() {
                bail!("espeak-ng failed ({status}) speaking {sentence:?}");
            }
            let bytes =
                std::fs::read(&wav).with_context(|| format!("reading {}", wav.display()))?;
            let uri = format!(
                "data:audio/wav;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            );
            rows.push_str(&json!({"audio": uri, "text": sentence}).to_string());
            rows.push('\n');
        }
        Ok(Some(rows))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One row per (model, task, metric): mean ± standard error over n samples.
fn print_table(run: &Value) {
    println!();
    println!(
        "{:<24} {:<18} {:<12} {:>8} {:>9} {:>5}",
        "model", "task", "metric", "mean", "± stderr", "n"
    );
    let Some(models) = run["metrics"]["by_model"].as_object() else {
        return;
    };
    for (model, tasks) in models {
        let Some(tasks) = tasks.as_object() else {
            continue;
        };
        for (task, entry) in tasks {
            let Some(metrics) = entry["metrics"].as_object() else {
                continue;
            };
            for (metric, m) in metrics {
                let fmt = |v: &Value| {
                    v.as_f64()
                        .map(|x| format!("{x:.3}"))
                        .unwrap_or_else(|| "—".into())
                };
                println!(
                    "{:<24} {:<18} {:<12} {:>8} {:>9} {:>5}",
                    model,
                    task,
                    metric,
                    fmt(&m["mean"]),
                    fmt(&m["stderr"]),
                    m["n"]
                );
            }
            let failed = entry["samples"]["failed"].as_i64().unwrap_or(0);
            if failed > 0 {
                println!(
                    "{:<24} {:<18} ({failed} samples failed and are excluded)",
                    "", ""
                );
            }
        }
    }
}
