"""Model-graded and embedding tasks through the official SDK: an LLM judge, semantic
similarity and an STS embedding task run against the fake model server with the default
(`auto`) judge and embedding models, and every typed object the SDK returns parses."""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any, Dict, List

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import expect_api_error

TERMINAL = {"completed", "failed", "cancelled"}


def upload_rows(sdk: SDK, name: str, rows: List[Dict[str, Any]]) -> str:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return sdk.llm.files.upload(file={"file_name": name, "content": data}, purpose="evals").id


def wait(sdk: SDK, run_id: str) -> models.GetEvalRunResponse:
    deadline = time.monotonic() + 60
    while True:
        run = sdk.llm.evals.get_run(run_id=run_id)
        if run.status in TERMINAL:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.status}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def graded_run(sdk: SDK, fake_model):
    if fake_model is None:
        pytest.skip("runs need the fake model server")
    qa = upload_rows(
        sdk,
        "graded.jsonl",
        [
            {"q": "Capital of France? [[answer:Paris]]", "a": "Paris", "verdict": '[[answer:{"score": 8, "reasoning": "ok"}]]'},
            {"q": "Capital of Spain? [[answer:Lisbon]]", "a": "Madrid", "verdict": "[[answer:Score: 3]]"},
        ],
    )
    sts = upload_rows(
        sdk,
        "sts.jsonl",
        [
            {"sentence1": "a red car", "sentence2": "a red car", "score": 5},
            {"sentence1": "a red car", "sentence2": "a red bus", "score": 3},
            {"sentence1": "a red car", "sentence2": "green tea leaves", "score": 0},
        ],
    )
    manifest = {
        "tasks": [
            {
                "id": "judge",
                "type": "llm_judge",
                "dataset": {"file_id": qa, "format": "jsonl"},
                "prompt_template": "{{q}}",
                "target_template": "{{a}}",
                "metadata": {"pass_threshold": 5, "judge": {"prompt_template": "Grade {{output}}. {{ row.verdict }}"}},
            },
            {
                "id": "similar",
                "type": "semantic_similarity",
                "dataset": {"file_id": qa, "format": "jsonl"},
                "prompt_template": "{{q}}",
                "target_template": "{{a}}",
            },
            {
                "id": "sts",
                "type": "embedding",
                "dataset": {"file_id": sts, "format": "jsonl"},
                "embedding": {"kind": "sts"},
            },
        ]
    }
    suite = sdk.llm.evals.create_suite(name=f"graded-{uuid.uuid4().hex[:8]}", manifest=manifest)
    run = sdk.llm.evals.create_run(suite_id=suite.id, models=["fake"])
    return wait(sdk, run.id)


def test_graded_run_completes_with_task_metrics(graded_run) -> None:
    run = graded_run
    assert run.status == "completed"
    assert run.request_counts.total == 2 + 2 + 3
    assert run.request_counts.failed == 0
    by_model = run.metrics["by_model"]
    judge = by_model["fake"]["judge"]["metrics"]
    assert judge["score"]["mean"] == pytest.approx(5.5)
    assert judge["pass_rate"]["mean"] == pytest.approx(0.5)
    assert by_model["fake"]["similar"]["metrics"]["cosine"]["mean"] == pytest.approx(0.5)
    sts = by_model["auto"]["sts"]["metrics"]
    assert sts["spearman"]["aggregation"] == "task"
    assert sts["spearman"]["mean"] == pytest.approx(1.0)
    assert math.isfinite(sts["pearson"]["mean"])


def test_judge_details_reach_the_sdk(sdk: SDK, graded_run) -> None:
    page = sdk.llm.evals.list_samples(run_id=graded_run.id, task_id="judge", limit=10)
    assert isinstance(page, models.EvalSampleList)
    samples = sorted(page.data, key=lambda s: s.sample_index)
    assert [s.scores["score"] for s in samples] == [8.0, 3.0]
    assert [s.scores["pass_rate"] for s in samples] == [1.0, 0.0]
    judge = samples[0].judge
    assert judge["type"] == "llm_judge"
    assert judge["model"] == "auto"
    assert judge["reasoning"] == "ok"
    assert judge["prompt"].startswith("Grade Paris.")
    similar = sdk.llm.evals.list_samples(run_id=graded_run.id, task_id="similar", limit=10).data
    assert {s.judge["type"] for s in similar} == {"embedding_similarity"}
    # Only the metrics filter narrows by score; the judge's pass metric is filterable too.
    passed = sdk.llm.evals.list_samples(run_id=graded_run.id, score_metric="pass_rate", score_min=1, limit=10).data
    assert {(s.task_id, s.sample_index) for s in passed} == {("judge", 0), ("similar", 0)}


def test_a_run_needing_an_unknown_judge_is_refused(sdk: SDK, graded_run) -> None:
    err = expect_api_error(
        400,
        lambda: sdk.llm.evals.create_run(suite_id=graded_run.suite_id, models=["fake"], judge_model="nope"),
    )
    assert "judge_model" in str(err.body)
