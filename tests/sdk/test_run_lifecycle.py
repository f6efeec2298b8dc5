"""SDK conformance: retry a cancelled run (``retry_failed_run``) and rerun a completed run's
failed samples (``rerun_failed_samples``), in place, without sending any sample that already
has its result to the model again (checked against the fake model's per-prompt counts).

The fake model hangs on ``[[hang times=1]]`` the first time it sees a prompt and fails
``[[status:500 times=1]]`` once; after that it answers ``[[answer:TEXT]]``.
"""

from __future__ import annotations

import json
from typing import Dict, List

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import error_body, expect_api_error
from test_runs import fake, unique, upload, wait_for_run, wait_until  # noqa: F401  (fake: fixture)


def suite_of(sdk: SDK, prompts: List[str]) -> str:
    rows = "".join(json.dumps({"q": p, "a": p.rsplit(":", 1)[-1].rstrip("]")}) + "\n" for p in prompts)
    data = upload(sdk, "lifecycle.jsonl", rows.encode())
    suite = sdk.llm.evals.create_suite(
        name=unique("lifecycle"),
        manifest={"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data.id},
                             "prompt_template": "{{q}}", "target_template": "{{a}}",
                             "metrics": [{"id": "exact_match"}]}]},
    )
    return suite.id


def calls(fake, prompts: List[str]) -> Dict[str, int]:
    seen = fake.requests()["by_prompt"]
    return {p: seen.get(p, 0) for p in prompts}


def test_retry_resumes_a_cancelled_run(sdk: SDK, other_sdk: SDK, fake) -> None:
    tag = unique("retry")
    done = [f"{tag} {i} [[answer:A{i}]]" for i in range(8)]
    hung = [f"{tag} {i} [[hang times=1]] [[answer:A{i}]]" for i in range(8, 10)]
    suite_id = suite_of(sdk, done + hung)
    run = sdk.llm.evals.create_run(suite_id=suite_id, models=["fake"], generation_concurrency=2)
    wait_until("8 finished samples and 2 hung calls",
               lambda: sdk.llm.evals.get_run(run_id=run.id).request_counts.completed == 8
               and fake.requests()["in_flight"] >= 2)
    # A running run cannot be retried.
    err = expect_api_error(409, lambda: sdk.llm.evals.retry_failed_run(run_id=run.id))
    assert "failed or cancelled" in error_body(err)["error"]["message"]
    sdk.llm.evals.cancel_run(run_id=run.id)
    cancelled = wait_for_run(sdk, run.id)
    assert cancelled.status == "cancelled"
    expect_api_error(404, lambda: other_sdk.llm.evals.retry_failed_run(run_id=run.id))

    retried = sdk.llm.evals.retry_failed_run(run_id=run.id)
    assert isinstance(retried, models.RetryFailedEvalRunResponse)
    assert retried.id == run.id
    assert retried.status in ("queued", "in_progress")
    assert retried.cancelled_at is None and retried.error is None
    final = wait_for_run(sdk, run.id)
    assert final.status == "completed"
    assert final.request_counts.total == 10
    assert final.request_counts.completed == 10
    assert final.cancelled_at is None
    assert calls(fake, done) == {p: 1 for p in done}, "finished samples were generated again"
    assert calls(fake, hung) == {p: 2 for p in hung}
    expect_api_error(409, lambda: sdk.llm.evals.retry_failed_run(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.retry_failed_run(run_id="eval_run_" + "0" * 32))


def test_rerun_failed_redoes_only_failed_samples(sdk: SDK, other_sdk: SDK, fake) -> None:
    tag = unique("rerun")
    good = [f"{tag} {i} [[answer:A{i}]]" for i in range(6)]
    flaky = [f"{tag} {i} [[status:500 times=1]] [[answer:A{i}]]" for i in range(6, 9)]
    suite_id = suite_of(sdk, good + flaky)
    run = sdk.llm.evals.create_run(suite_id=suite_id, models=["fake"], generation={"max_retries": 0})
    first = wait_for_run(sdk, run.id)
    assert first.status == "completed"
    assert (first.request_counts.completed, first.request_counts.failed) == (6, 3)
    before = {s.id: s for s in sdk.llm.evals.list_samples(run_id=run.id, limit=100).data}
    old_artifacts = sdk.llm.evals.get_artifacts(run_id=run.id)
    assert sdk.llm.evals.get_run_overview(run_id=run.id).trials.retried == 0
    expect_api_error(404, lambda: other_sdk.llm.evals.rerun_failed_samples(run_id=run.id))

    rerun = sdk.llm.evals.rerun_failed_samples(run_id=run.id)
    assert rerun.id == run.id
    assert rerun.status in ("queued", "in_progress")
    final = wait_for_run(sdk, run.id)
    assert final.status == "completed"
    assert (final.request_counts.completed, final.request_counts.failed) == (9, 0)
    after = {s.id: s for s in sdk.llm.evals.list_samples(run_id=run.id, limit=100).data}
    assert set(after) == set(before), "the same sample ids"
    assert all(s.status == "completed" for s in after.values())
    assert calls(fake, good) == {p: 1 for p in good}
    assert calls(fake, flaky) == {p: 2 for p in flaky}
    overview = sdk.llm.evals.get_run_overview(run_id=run.id)
    assert overview.trials.retried == 3
    assert overview.trials.failed == 0
    artifacts = sdk.llm.evals.get_artifacts(run_id=run.id)
    assert artifacts.result_file_id and artifacts.result_file_id != old_artifacts.result_file_id
    assert final.metrics["by_model"]["fake"]["t"]["metrics"]["exact_match"]["n"] == 9
    err = expect_api_error(409, lambda: sdk.llm.evals.rerun_failed_samples(run_id=run.id))
    assert "no failed samples" in error_body(err)["error"]["message"]
