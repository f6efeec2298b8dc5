"""SDK conformance: the historical import (``import_historical_results``) through meetkai-mka1.

The session's fake Hub serves lm-eval's own output — two runs written by real
lm-evaluation-harness 0.4.13 with ``--log_samples`` (crates/assay-lmeval/tests/fixtures, made by
tests/reference/make_lmeval_fixture.py) — as ``meetkai/lm-eval-harness-result``, the import's
default repository, private to a caller's token the server is never given. Every imported
run's metrics must equal the numbers in lm-eval's own results file for that run.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from meetkai_mka1 import SDK

from conftest import HUB_IMPORT_TOKEN, HUB_TOKEN, LMEVAL_FIXTURE_DIR
from sdk_helpers import error_body, expect_api_error


def results_files() -> Dict[str, Dict[str, Any]]:
    """lm-eval's results file of each model (directory name)."""
    out = {}
    for path in sorted(LMEVAL_FIXTURE_DIR.glob("*/results_*.json")):
        out[path.parent.name] = json.loads(path.read_text())
    return out


def assay_key(metric: str, filter_name: str) -> str:
    return metric if filter_name == "none" else f"{metric},{filter_name}"


def lm_eval_numbers(results: Dict[str, Any]) -> List[tuple]:
    """(task, assay metric key, "mean" | "stderr", number) of every number lm-eval reported."""
    out = []
    for task, numbers in results["results"].items():
        for key, value in numbers.items():
            if "," not in key or not isinstance(value, (int, float)):
                continue
            metric, filter_name = key.split(",", 1)
            field = "mean"
            if metric.endswith("_stderr"):
                metric, field = metric[: -len("_stderr")], "stderr"
            out.append((task, assay_key(metric, filter_name), field, float(value)))
    return out


@pytest.fixture(scope="module")
def hub(fake_hub):
    if fake_hub is None:
        pytest.skip("external server: the fake Hub's repositories are not ours")
    return fake_hub


def test_import_reproduces_lm_evals_numbers(sdk: SDK, hub) -> None:
    suite_name = f"lm-eval history {uuid.uuid4().hex[:8]}"
    evals = sdk.llm.evals

    dry = evals.import_historical_results(
        x_hugging_face_token=HUB_IMPORT_TOKEN, suite_name=suite_name, dry_run=True
    )
    assert dry.object == "eval.import" and dry.dry_run
    assert dry.source.repo == "meetkai/lm-eval-harness-result" and dry.source.revision == "main"
    assert dry.discovered_files == 2 and dry.imported_runs == 2 and dry.skipped_runs == 0
    assert dry.created_suite and dry.imported_samples == 76

    out = evals.import_historical_results(
        x_hugging_face_token=HUB_IMPORT_TOKEN,
        suite_name=suite_name,
        suite_description="lm-eval runs of the fake models",
        metadata={"imported_by": "sdk-test"},
    )
    assert out.created_suite and not out.created_suite_version and not out.dry_run
    assert out.suite_version == 1
    assert (out.discovered_files, out.imported_runs, out.skipped_runs, out.imported_samples) == (2, 2, 0, 76)
    suite = evals.get_suite(suite_id=out.suite_id)
    assert suite.name == suite_name and suite.description == "lm-eval runs of the fake models"

    runs = evals.list_runs(suite_id=out.suite_id, limit=100).data
    assert len(runs) == 2
    expected = results_files()
    for listed in runs:
        run = evals.get_run(run_id=listed.id)
        assert run.status == "completed" and run.agent_name is None
        assert run.metadata["imported_by"] == "sdk-test"
        model = run.models[0]
        assert run.request_counts.completed == run.request_counts.total == 38
        by_model = run.metrics["by_model"][model]
        for task, key, field, reported in lm_eval_numbers(expected[model]):
            ours = by_model[task]["metrics"][key][field]
            assert math.isclose(ours, reported, rel_tol=1e-12, abs_tol=1e-12), (model, task, key, field, ours, reported)
        samples = evals.list_samples(run_id=run.id, task_id="assay_capitals", limit=100).data
        assert len(samples) == 12
        for s in samples:
            assert s.status == "completed" and s.prompt and s.target
            assert s.scores["exact_match"] in (0.0, 1.0)
        mean = sum(s.scores["exact_match"] for s in samples) / len(samples)
        assert math.isclose(mean, by_model["assay_capitals"]["metrics"]["exact_match"]["mean"])

    # Importing again skips both files and finds the same suite by name.
    again = evals.import_historical_results(x_hugging_face_token=HUB_IMPORT_TOKEN, suite_name=suite_name)
    assert again.suite_id == out.suite_id and not again.created_suite
    assert (again.imported_runs, again.skipped_runs, again.imported_samples) == (0, 2, 0)


def test_the_callers_token_is_required_and_used(sdk: SDK, hub) -> None:
    evals = sdk.llm.evals
    err = expect_api_error(400, lambda: evals.import_historical_results(x_hugging_face_token="", dry_run=True))
    assert error_body(err)["error"]["details"]["param"] == "X-HuggingFace-Token"
    # The server's own Hub token does not open the repository: only the caller's would.
    err = expect_api_error(400, lambda: evals.import_historical_results(x_hugging_face_token=HUB_TOKEN, dry_run=True))
    body = error_body(err)
    assert body["error"]["details"]["param"] == "X-HuggingFace-Token"
    assert "401" in body["error"]["message"]
    err = expect_api_error(400, lambda: evals.import_historical_results(
        x_hugging_face_token=HUB_IMPORT_TOKEN, limit_files=101, dry_run=True))
    assert error_body(err)["error"]["details"]["param"] == "limit_files"
    err = expect_api_error(400, lambda: evals.import_historical_results(
        x_hugging_face_token=HUB_IMPORT_TOKEN, source={"repo": "meetkai/lm-eval-harness-result",
                                                        "files": ["nope/results_2026-01-01T00-00-00.json"]},
        dry_run=True))
    assert error_body(err)["error"]["details"]["param"] == "source.files[0]"
