//! Benchmark: server CPU per sample. One run of a plain generated task (template, model call,
//! extraction, built-in metric, persisted result) against the fake model server with no
//! latency; the server's CPU time (user + system, from `/proc/<pid>/stat`) over the run,
//! divided by its samples, against the 0.25 ms goal. The fake model runs in this process, so
//! only the server's own work is counted. Run with
//! `cargo bench -p assay-cli --bench cpu_per_sample`; `ASSAY_BENCH_ROWS` changes the run size
//! (default 20,000) and `ASSAY_BENCH_PERF=FILE` also records the server with
//! `perf record -e cpu-clock --call-graph dwarf` into FILE (read it with `perf report -i FILE`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use assay_testkit::FakeModelOptions;
use serde_json::json;

/// The CPU per sample to reach, in milliseconds.
const GOAL_MS: f64 = 0.25;

/// User + system CPU seconds `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process stat");
    // Fields after the command (which may hold spaces) start after its closing parenthesis;
    // utime and stime are fields 14 and 15, the 12th and 13th after it.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / clock_ticks_per_second()
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), in which `/proc` counts CPU time.
fn clock_ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = common::bench_rows(20_000);
    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;
    let pid = bench.server.child.id().expect("server pid");
    let suite = api.suite(rows, "cpu").await;

    let perf = std::env::var("ASSAY_BENCH_PERF").ok().map(|file| {
        std::process::Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
                "-o",
                &file,
                "-p",
            ])
            .arg(pid.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("perf starts (Debian's linux-perf)")
    });
    let before = cpu_seconds(pid);
    let started = Instant::now();
    let (run, _) = api
        .finished_run(&json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 64}))
        .await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - before;
    if let Some(mut perf) = perf {
        // SIGINT makes perf write its file and stop.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["request_counts"]["completed"], rows, "{run}");
    let per_sample = cpu * 1e3 / rows as f64;
    println!(
        "{:>8} {:>9} {:>9} {:>12} {:>9} {:>7}",
        "samples", "wall s", "cpu s", "cpu ms/sample", "goal ms", "ratio"
    );
    println!(
        "{rows:>8} {wall:>9.2} {cpu:>9.2} {per_sample:>12.3} {GOAL_MS:>9.2} {:>7.2}",
        per_sample / GOAL_MS
    );
}
