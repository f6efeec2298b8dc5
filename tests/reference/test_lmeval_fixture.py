"""Checks the committed lm-evaluation-harness fixture (make_lmeval_fixture.py) with lm-eval's own code.

The fixture cannot be compared byte for byte with a new run (lm-eval stamps times and the
fake server's port into it), so this checks what a new run must keep: the layout, the
tasks and their metric keys, lm-eval's task hashes over the samples, and that lm-eval's own
`mean` / `mean_stderr` over the logged per-sample values give the numbers in the results
file. Skipped when lm-eval is not installed (requirements-lmeval.txt).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

metrics = pytest.importorskip("lm_eval.api.metrics")
lm_eval_utils = pytest.importorskip("lm_eval.utils")

FIXTURES = Path(__file__).resolve().parents[2] / "crates" / "assay-lmeval" / "tests" / "fixtures"
MODELS = ["fake-model-a", "fake-model-b"]
TASKS = ["assay_arith", "assay_capitals", "assay_translate"]
KEYS = {
    "assay_arith": {"exact_match,strict-match", "exact_match,flexible-extract"},
    "assay_capitals": {"exact_match,none"},
    "assay_translate": {"exact_match,none", "bleu,none"},
}
ROWS = {"assay_arith": 16, "assay_capitals": 12, "assay_translate": 10}
TIMESTAMP = re.compile(r"^results_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d+)\.json$")


def runs():
    for model in MODELS:
        results = sorted((FIXTURES / model).glob("results_*.json"))
        assert len(results) == 1, f"{model}: expected one results file, found {results}"
        yield model, results[0]


def samples_of(results_path: Path, task: str) -> list[dict]:
    match = TIMESTAMP.match(results_path.name)
    assert match, results_path.name
    path = results_path.parent / f"samples_{task}_{match.group(1)}.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_layout_and_tasks():
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == MODELS
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert total < 300_000, f"fixture is {total} bytes"
    for model, results_path in runs():
        match = TIMESTAMP.match(results_path.name)
        files = sorted(p.name for p in (FIXTURES / model).iterdir())
        assert files == sorted(
            [results_path.name] + [f"samples_{t}_{match.group(1)}.jsonl" for t in TASKS]
        )
        results = json.loads(results_path.read_text(encoding="utf-8"))
        assert results["model_name"] == model
        assert results["model_name_sanitized"] == model
        assert results["lm_eval_version"] == "0.4.13"
        assert sorted(results["results"]) == TASKS
        for task in TASKS:
            keys = {k for k in results["results"][task] if "," in k and "_stderr," not in k}
            assert keys == KEYS[task]
            assert results["n-samples"][task]["effective"] == ROWS[task]
            assert results["configs"][task]["output_type"] == "generate_until"


def test_task_hashes_match_samples():
    for _, results_path in runs():
        results = json.loads(results_path.read_text(encoding="utf-8"))
        for task in TASKS:
            samples = samples_of(results_path, task)
            joined = "".join(s["doc_hash"] + s["prompt_hash"] + s["target_hash"] for s in samples)
            assert lm_eval_utils.hash_string(joined) == results["task_hashes"][task]


def test_mean_metrics_recompute_with_lm_eval():
    checked = 0
    for model, results_path in runs():
        results = json.loads(results_path.read_text(encoding="utf-8"))
        for task in TASKS:
            samples = samples_of(results_path, task)
            for key in KEYS[task]:
                metric, filter_name = key.split(",", 1)
                if metric != "exact_match":
                    continue  # bleu is a corpus score with a bootstrapped stderr
                items = [s[metric] for s in samples if s["filter"] == filter_name]
                assert len(items) == ROWS[task]
                reported = results["results"][task]
                assert metrics.mean(items) == reported[key], (model, task, key)
                assert metrics.mean_stderr(items) == reported[f"{metric}_stderr,{filter_name}"]
                checked += 1
    assert checked == 8


def test_runs_differ():
    values = [
        json.loads(p.read_text(encoding="utf-8"))["results"]["assay_arith"][
            "exact_match,flexible-extract"
        ]
        for _, p in runs()
    ]
    assert values[0] != values[1]
    for _, results_path in runs():
        for task in TASKS:
            scores = {s["exact_match"] for s in samples_of(results_path, task)}
            assert scores == {0.0, 1.0}, (results_path, task)
