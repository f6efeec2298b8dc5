//! Benchmark: Assay's wall time beside lm-evaluation-harness 0.4.13's on the same work, measured
//! back to back in one run. Run with `cargo bench -p assay-cli --bench lmeval_side_by_side`
//! after `scripts/bench/lmeval-venv` has made the Python venv it runs lm-eval from.
//!
//! For each fake-model latency (0 and 200 ms; each gets its own fake model server and its own
//! `assay serve`) and each concurrency (8, 32, 128, 256), the same rows (`ASSAY_BENCH_ROWS`,
//! default 2,000; row i asks `sbs-<latency>ms-c<concurrency> i [[answer:i]]`, which the fake
//! model answers with `i`) are evaluated twice against the same fake server's
//! `/v1/chat/completions`:
//!
//! - by Assay: the rows are uploaded as a file, a suite of one `numeric` task is made over it
//!   (prompt `{{q}}`, target `{{a}}`, extraction: the first match of `-?[0-9]+`) and a run of
//!   model `fake` with `generation_concurrency` = concurrency is awaited. `assay s` counts the
//!   upload, the suite and the run; `run s` the run alone (from its creation to `completed`).
//! - by lm-eval: `python -m lm_eval run` with its `local-chat-completions` model
//!   (`num_concurrent` = concurrency, one attempt per request, no tokenizer), `--batch_size 1`
//!   and `--apply_chat_template`, over a task written to a temporary directory: the same rows
//!   as a local JSON-lines file, the same prompt, a regex filter with the same pattern, metric
//!   `exact_match`. `lm-eval s` is the whole process, start-up included, as a user waits for it.
//!
//! Both must score every row right: Assay's run `completed` with `request_counts.completed` = N
//! and `exact_match` 1.0; lm-eval's results file `exact_match` 1.0 over N samples; and the fake
//! server must have answered exactly N requests for each. `ratio` is lm-eval s / assay s;
//! `peak` is the most requests the fake server had in flight at once (Assay/lm-eval).
//!
//! Before the table, lm-eval's start-up alone is timed (its Python imports plus the index of
//! its built-in tasks, which every `lm_eval run` builds before the first request; twice, the
//! second time with its files in the page cache as for every run in the table), and a one-row
//! evaluation by each tool at 0 ms shows the fixed cost of one evaluation.
//!
//! lm-eval runs offline (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE`, a fresh `HF_HOME` for each
//! run) and every request goes to 127.0.0.1. The venv is `$ASSAY_BENCH_VENV` (relative paths
//! are taken from the workspace root), default `target/bench-venv`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assay_testkit::{FakeModelOptions, FakeModelServer};
use serde_json::{json, Value};
use tokio::process::Command;

const LATENCIES_MS: [u64; 2] = [0, 200];
const CONCURRENCIES: [usize; 4] = [8, 32, 128, 256];
const DEFAULT_ROWS: usize = 2_000;
/// What both tools extract from a reply before scoring it: the first match of this pattern.
const NUMBER_PATTERN: &str = "-?[0-9]+";
/// The lm-eval task and filter names (its results key is `exact_match,<filter>`).
const LMEVAL_TASK: &str = "assay_side_by_side";
const LMEVAL_FILTER: &str = "number";
const LMEVAL_VERSION: &str = "0.4.13";
const VENV_SCRIPT: &str = "scripts/bench/lmeval-venv";
/// Longest one lm-eval process may take before the benchmark gives up.
const LMEVAL_TIMEOUT: Duration = Duration::from_secs(900);
/// Pause before each measurement, so that neither tool's tail of work overlaps the other's.
const SETTLE: Duration = Duration::from_millis(500);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = common::bench_rows(DEFAULT_ROWS);
    let work = tempfile::tempdir().expect("tempdir");
    let lmeval = LmEval {
        python: venv_python(),
        work: work.path().to_path_buf(),
    };
    lmeval.check_version().await;

    // The first start-up also reads lm-eval's files from disk; the runs below find them cached.
    let cold = lmeval.startup_seconds().await;
    let warm = lmeval.startup_seconds().await;
    println!(
        "lm-eval {LMEVAL_VERSION} start-up (Python imports + index of its built-in tasks, \
         no request): {warm:.2} s ({cold:.2} s the first time)"
    );

    let started = Instant::now();
    let mut table = Vec::new();
    for latency_ms in LATENCIES_MS {
        // Kept to the end of this latency: dropping it stops the server and the fake model.
        let bench = common::bench(FakeModelOptions {
            base_latency: Duration::from_millis(latency_ms),
            log_capacity: 16,
            ..Default::default()
        })
        .await;
        let side = Side {
            api: &bench.api,
            models: &bench.models,
            lmeval: &lmeval,
            chat_url: format!("{}/chat/completions", bench.models.openai_base_url()),
        };
        if latency_ms == 0 {
            let one = side.measure("one-row", 1, 8).await;
            println!(
                "one row at 0 ms, whole evaluation: assay {:.2} s (run {:.2} s), lm-eval {:.2} s",
                one.assay_s, one.assay_run_s, one.lmeval_s
            );
            println!();
            println!("{}", header());
        }
        for concurrency in CONCURRENCIES {
            let tag = format!("sbs-{latency_ms}ms-c{concurrency}");
            let m = side.measure(&tag, rows, concurrency).await;
            let line = row(latency_ms, concurrency, &m);
            println!("{line}");
            table.push(line);
        }
    }
    println!();
    println!(
        "{rows} rows per cell; whole benchmark {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!("{}", header());
    for line in table {
        println!("{line}");
    }
}

fn header() -> String {
    format!(
        "{:>10} {:>11} {:>9} {:>10} {:>7} {:>9} {:>9}",
        "latency ms", "concurrency", "assay s", "lm-eval s", "ratio", "run s", "peak"
    )
}

fn row(latency_ms: u64, concurrency: usize, m: &Measured) -> String {
    format!(
        "{latency_ms:>10} {concurrency:>11} {:>9.2} {:>10.2} {:>7.2} {:>9.2} {:>9}",
        m.assay_s,
        m.lmeval_s,
        m.lmeval_s / m.assay_s,
        m.assay_run_s,
        format!("{}/{}", m.assay_peak, m.lmeval_peak)
    )
}

/// One cell of the table.
struct Measured {
    assay_s: f64,
    assay_run_s: f64,
    assay_peak: u64,
    lmeval_s: f64,
    lmeval_peak: u64,
}

/// Both tools, against one fake model server.
struct Side<'a> {
    api: &'a common::Api,
    models: &'a FakeModelServer,
    lmeval: &'a LmEval,
    chat_url: String,
}

impl Side<'_> {
    /// Evaluates `rows` rows tagged `tag` with Assay, then with lm-eval, both at `concurrency`.
    async fn measure(&self, tag: &str, rows: usize, concurrency: usize) -> Measured {
        let data = rows_jsonl(rows, tag);

        self.settle().await;
        let (assay_s, assay_run_s) = self.assay(&data, tag, rows, concurrency).await;
        let assay_peak = self.served(rows, "Assay");

        self.settle().await;
        let lmeval_s = self
            .lmeval
            .evaluate(tag, &data, rows, &self.chat_url, concurrency)
            .await;
        let lmeval_peak = self.served(rows, "lm-eval");

        Measured {
            assay_s,
            assay_run_s,
            assay_peak,
            lmeval_s,
            lmeval_peak,
        }
    }

    /// Waits until the fake server is idle, pauses, and clears its log and peak.
    async fn settle(&self) {
        self.models.wait_until_idle().await;
        tokio::time::sleep(SETTLE).await;
        self.models.reset();
    }

    /// Checks that the fake server answered exactly `rows` requests since the last
    /// [`Side::settle`]; returns the most it had in flight at once.
    fn served(&self, rows: usize, who: &str) -> u64 {
        let log = self.models.requests();
        assert_eq!(
            log.total, rows as u64,
            "{who} sent {} model requests for {rows} rows",
            log.total
        );
        log.max_in_flight
    }

    /// Returns the seconds of upload + suite + run, and of the run alone.
    async fn assay(&self, data: &str, tag: &str, rows: usize, concurrency: usize) -> (f64, f64) {
        let started = Instant::now();
        let file = self.api.upload("rows.jsonl", data.to_string()).await;
        let task = json!({
            "id": "n",
            "type": "numeric",
            "dataset": {"file_id": file},
            "prompt_template": "{{q}}",
            "target_template": "{{a}}",
            "output_extraction": {"type": "regex", "pattern": NUMBER_PATTERN},
        });
        let suite = self
            .api
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": tag, "manifest": {"tasks": [task]}}),
            )
            .await;
        let suite = suite["id"].as_str().expect("suite id");
        let (run, run_s) = self
            .api
            .finished_run(&json!({
                "suite_id": suite,
                "models": ["fake"],
                "generation_concurrency": concurrency,
            }))
            .await;
        let total_s = started.elapsed().as_secs_f64();
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(run["request_counts"]["completed"], rows, "{run}");
        assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0, "{run}");
        (total_s, run_s)
    }
}

/// The rows as JSON lines: `q` is the prompt (the fake model answers `i` to row i), `a` the
/// target. Both tools read exactly this text.
fn rows_jsonl(rows: usize, tag: &str) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "{}\n",
                json!({"q": format!("{tag} {i} [[answer:{i}]]"), "a": i.to_string()})
            )
        })
        .collect()
}

/// The workspace root (two levels above this crate).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `$ASSAY_BENCH_VENV/bin/python` (default venv `target/bench-venv`); exits with a message
/// naming the setup script when it is missing.
fn venv_python() -> PathBuf {
    let root = workspace_root();
    let venv = std::env::var_os("ASSAY_BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-venv"));
    let python = root.join(venv).join("bin/python");
    if !python.exists() {
        eprintln!(
            "lmeval_side_by_side: no Python at {}; run {VENV_SCRIPT} (from {}) to make the venv \
             with lm-eval {LMEVAL_VERSION}, or point ASSAY_BENCH_VENV at one",
            python.display(),
            root.display()
        );
        std::process::exit(1);
    }
    python
}

/// lm-evaluation-harness in the benchmark venv, with a scratch directory for its files.
struct LmEval {
    python: PathBuf,
    work: PathBuf,
}

impl LmEval {
    /// A command of the venv's Python, offline, in the scratch directory (so lm-eval finds no
    /// git repository to describe), its Hugging Face cache under `hf_home`.
    fn command(&self, hf_home: &Path) -> Command {
        let mut command = Command::new(&self.python);
        command
            .current_dir(&self.work)
            .env("HF_HOME", hf_home)
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_DATASETS_OFFLINE", "1")
            .env("TRANSFORMERS_OFFLINE", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .kill_on_drop(true);
        command
    }

    /// Exits with a message when the venv's lm-eval is not the version this benchmark is for.
    async fn check_version(&self) {
        let output = self
            .command(&self.work.join("hf-version"))
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('lm_eval'))",
            ])
            .output()
            .await
            .expect("run the venv's python");
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || version != LMEVAL_VERSION {
            eprintln!(
                "lmeval_side_by_side: {} has lm-eval {:?}, not {LMEVAL_VERSION} ({}); run \
                 {VENV_SCRIPT}",
                self.python.display(),
                version,
                String::from_utf8_lossy(&output.stderr).trim()
            );
            std::process::exit(1);
        }
    }

    /// Seconds for a Python process to import lm-eval's evaluator and API models and index its
    /// built-in tasks: what every `lm_eval run` does before its first request.
    async fn startup_seconds(&self) -> f64 {
        let started = Instant::now();
        let status = self
            .command(&self.work.join("hf-startup"))
            .args([
                "-c",
                "import lm_eval.evaluator, lm_eval.models.openai_completions\n\
                 from lm_eval.tasks import TaskManager\n\
                 TaskManager()",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run the venv's python");
        assert!(status.success(), "lm-eval start-up probe failed: {status}");
        started.elapsed().as_secs_f64()
    }

    /// Runs `lm_eval` over `data` (JSON lines of `q`, `a`) against the chat completions URL
    /// with `concurrency` requests at once; checks that it scored every row right and returns
    /// the seconds the whole process took.
    async fn evaluate(
        &self,
        name: &str,
        data: &str,
        rows: usize,
        chat_url: &str,
        concurrency: usize,
    ) -> f64 {
        let dir = self.work.join(name);
        let tasks = dir.join("tasks");
        let out = dir.join("out");
        std::fs::create_dir_all(&tasks).expect("lm-eval task directory");
        let data_file = dir.join("rows.jsonl");
        std::fs::write(&data_file, data).expect("write the rows");
        // JSON is YAML, so the task configuration needs no YAML writer.
        let config = json!({
            "task": LMEVAL_TASK,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": data_file}},
            "test_split": "test",
            "output_type": "generate_until",
            "doc_to_text": "{{q}}",
            "doc_to_target": "{{a}}",
            "generation_kwargs": {"until": ["\n\n"], "do_sample": false},
            "filter_list": [{
                "name": LMEVAL_FILTER,
                "filter": [
                    {"function": "regex", "regex_pattern": NUMBER_PATTERN, "group_select": 0},
                    {"function": "take_first"},
                ],
            }],
            "metric_list": [
                {"metric": "exact_match", "aggregation": "mean", "higher_is_better": true},
            ],
            "metadata": {"version": 1.0},
        });
        std::fs::write(
            tasks.join(format!("{LMEVAL_TASK}.yaml")),
            serde_json::to_string_pretty(&config).expect("task config"),
        )
        .expect("write the task config");
        let log_path = dir.join("lm_eval.log");
        let log = std::fs::File::create(&log_path).expect("lm-eval log file");
        let model_args = format!(
            "model=fake,base_url={chat_url},num_concurrent={concurrency},max_retries=1,\
             tokenized_requests=False"
        );

        let started = Instant::now();
        let mut child = self
            .command(&dir.join("hf"))
            .args(["-m", "lm_eval", "run", "--model", "local-chat-completions"])
            .arg("--model_args")
            .arg(&model_args)
            .args(["--tasks", LMEVAL_TASK, "--include_path"])
            .arg(&tasks)
            .args([
                "--batch_size",
                "1",
                "--apply_chat_template",
                "--output_path",
            ])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("lm-eval log file"))
            .stderr(log)
            .spawn()
            .expect("start lm_eval");
        let status = match tokio::time::timeout(LMEVAL_TIMEOUT, child.wait()).await {
            Ok(status) => status.expect("wait for lm_eval"),
            Err(_) => panic!(
                "lm_eval did not finish within {LMEVAL_TIMEOUT:?}{}",
                log_tail(&log_path)
            ),
        };
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            status.success(),
            "lm_eval failed: {status}{}",
            log_tail(&log_path)
        );

        let results = read_results(&out)
            .unwrap_or_else(|| panic!("no lm-eval results file{}", log_tail(&log_path)));
        let score = &results["results"][LMEVAL_TASK][format!("exact_match,{LMEVAL_FILTER}")];
        let samples = &results["n-samples"][LMEVAL_TASK]["effective"];
        assert_eq!(
            (score.as_f64(), samples.as_u64()),
            (Some(1.0), Some(rows as u64)),
            "lm-eval's exact_match and sample count: {}",
            results["results"]
        );
        seconds
    }
}

/// The `results_<timestamp>.json` lm-eval wrote under `out` (in its per-model directory).
fn read_results(out: &Path) -> Option<Value> {
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.starts_with("results_") && name.ends_with(".json") {
                let text = std::fs::read_to_string(&path).expect("read lm-eval results");
                return Some(serde_json::from_str(&text).expect("lm-eval results are JSON"));
            }
        }
    }
    None
}

/// The last lines of lm-eval's log, for a failure message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    format!("; last lines of {}:\n{tail}", path.display())
}
