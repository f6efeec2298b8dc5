"""SDK conformance: trial trajectories (``upload_sample_trajectory``, ``get_sample_trajectory``).

A trajectory attaches to any sample of a run, so these tests use an ordinary run executed on
the fake model: two tasks (``a``, ``b``) over two models (``fake``, ``fake-responses``), so
sample index 0 names four samples and must be narrowed with ``task_id`` and ``model``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, List

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, assert_raw_object, error_body, expect_api_error
from test_runs import fake, unique, upload, wait_for_run  # noqa: F401  (fake: fixture)

MIB = 1024 * 1024

TRAJECTORY_KEYS = [
    "run_id", "sample_index", "task_id", "model", "schema_version", "step_count", "size_bytes",
    "steps", "logs",
]
UPLOADED_KEYS = ["run_id", "sample_index", "task_id", "model", "step_count", "size_bytes"]

# Steps a harness might write, with the JSON a lossy round trip would damage: integers past
# 2^64, floats written with a fraction, unicode, nulls, empty containers, and key order.
STEPS: List[Any] = [
    {
        "step_id": 1,
        "z_written_first": True,
        "reasoning_content": "Look around first — café ✓ 🦀",
        "tool_calls": [{"function_name": "bash", "arguments": {"cmd": "ls -la", "timeout": 1.0}}],
        "observation": {"results": [{"source_call_id": "call_1", "content": "a\nb\n"}]},
        "metrics": {"big": 123456789012345678901234567890, "u64": 18446744073709551615,
                    "negative": -9223372036854775809, "float": 2.5, "one": 1.0},
        "empty": {"list": [], "object": {}, "string": "", "null": None},
    },
    None,
    "a plain string step",
    [1, [2, [3]]],
]
LOGS = {"trial.log": "started\n  indented line\n", "verifier/test-stdout.txt": "1 passed ✓", "exception.txt": ""}


def compact(value: Any) -> str:
    """JSON text without whitespace, keys in their order, non-ASCII escaped as the SDK sends
    it: what the server stores and counts."""
    return json.dumps(value, separators=(",", ":"))


@pytest.fixture(scope="module")
def agent_run(sdk: SDK, fake) -> SimpleNamespace:
    rows = "".join(json.dumps({"q": f"{unique('traj')} [[answer:x]]"}) + "\n" for _ in range(2))
    data = upload(sdk, "trajectory_rows.jsonl", rows.encode())
    task = {"type": "qa", "dataset": {"file_id": data.id}, "prompt_template": "{{q}}"}
    suite = sdk.llm.evals.create_suite(
        name=unique("trajectories"),
        manifest={"tasks": [{"id": "a", **task}, {"id": "b", **task}]},
    )
    run = sdk.llm.evals.create_run(suite_id=suite.id, models=["fake", "fake-responses"])
    assert wait_for_run(sdk, run.id).status == "completed"
    return SimpleNamespace(suite=suite, run_id=run.id)


def test_upload_and_get_round_trip(sdk: SDK, wire: WireRecorder, agent_run: SimpleNamespace) -> None:
    run_id = agent_run.run_id
    uploaded = sdk.llm.evals.upload_sample_trajectory(
        run_id=run_id, sample_index=0, task_id="a", model="fake", steps=STEPS, logs=LOGS,
    )
    assert isinstance(uploaded, models.EvalSampleTrajectoryUploadedObject)
    assert_raw_object(wire.last.response_json, "eval.sample.trajectory.uploaded", UPLOADED_KEYS)
    assert (uploaded.run_id, uploaded.sample_index, uploaded.task_id, uploaded.model) == (run_id, 0, "a", "fake")
    assert uploaded.step_count == len(STEPS)
    assert uploaded.size_bytes == len(compact(STEPS).encode()) + len(compact(LOGS).encode())

    got = sdk.llm.evals.get_sample_trajectory(run_id=run_id, sample_index=0, task_id="a", model="fake")
    assert isinstance(got, models.GetEvalSampleTrajectoryResponse)
    raw = wire.last.response_json
    assert_raw_object(raw, "eval.sample.trajectory", TRAJECTORY_KEYS)
    assert (got.run_id, got.sample_index, got.task_id, got.model) == (run_id, 0, "a", "fake")
    assert got.schema_version == "ATIF-v1.7"
    assert (got.step_count, got.size_bytes) == (uploaded.step_count, uploaded.size_bytes)
    # Equal values, integer and float types kept, and the same key order.
    assert got.steps == STEPS and got.logs == LOGS
    assert compact(raw["steps"]) == compact(STEPS)
    assert compact(raw["logs"]) == compact(LOGS)
    assert isinstance(raw["steps"][0]["metrics"]["one"], float)
    assert isinstance(raw["steps"][0]["metrics"]["big"], int)

    # Re-sending replaces: another schema, no logs.
    replaced = sdk.llm.evals.upload_sample_trajectory(
        run_id=run_id, sample_index=0, task_id="a", model="fake", steps=[{"only": 1}],
        schema_version="ATIF-v1.8",
    )
    assert (replaced.step_count, replaced.size_bytes) == (1, len('[{"only":1}]'))
    got = sdk.llm.evals.get_sample_trajectory(run_id=run_id, sample_index=0, task_id="a", model="fake")
    assert got.steps == [{"only": 1}] and got.logs is None
    assert got.schema_version == "ATIF-v1.8"
    assert wire.last.response_json["logs"] is None


def test_an_ambiguous_index_is_refused(sdk: SDK, agent_run: SimpleNamespace) -> None:
    run_id = agent_run.run_id
    for narrowing, param in [({}, "task_id"), ({"model": "fake"}, "task_id"), ({"task_id": "b"}, "model")]:
        err = expect_api_error(400, lambda: sdk.llm.evals.upload_sample_trajectory(
            run_id=run_id, sample_index=1, steps=[1], **narrowing))
        assert error_body(err)["error"]["details"]["param"] == param
        err = expect_api_error(400, lambda: sdk.llm.evals.get_sample_trajectory(
            run_id=run_id, sample_index=1, **narrowing))
        assert error_body(err)["error"]["details"]["param"] == param
    # Nothing was written to any of the four candidates.
    for task_id in ["a", "b"]:
        for model in ["fake", "fake-responses"]:
            expect_api_error(404, lambda: sdk.llm.evals.get_sample_trajectory(
                run_id=run_id, sample_index=1, task_id=task_id, model=model))


def test_missing_samples_trajectories_and_runs_are_404(
    sdk: SDK, other_sdk: SDK, agent_run: SimpleNamespace,
) -> None:
    run_id = agent_run.run_id
    sdk.llm.evals.upload_sample_trajectory(run_id=run_id, sample_index=1, task_id="b", model="fake", steps=[])
    expect_api_error(404, lambda: sdk.llm.evals.upload_sample_trajectory(
        run_id=run_id, sample_index=7, task_id="a", model="fake", steps=[]))
    expect_api_error(404, lambda: sdk.llm.evals.get_sample_trajectory(
        run_id=run_id, sample_index=7, task_id="a", model="fake"))
    expect_api_error(404, lambda: sdk.llm.evals.get_sample_trajectory(
        run_id=run_id, sample_index=1, task_id="b", model="fake-responses"))
    expect_api_error(404, lambda: sdk.llm.evals.get_sample_trajectory(
        run_id="eval_run_00000000000000000000000000000000", sample_index=0))
    # Another tenant's run is indistinguishable from a missing one.
    expect_api_error(404, lambda: other_sdk.llm.evals.get_sample_trajectory(
        run_id=run_id, sample_index=1, task_id="b", model="fake"))
    expect_api_error(404, lambda: other_sdk.llm.evals.upload_sample_trajectory(
        run_id=run_id, sample_index=1, task_id="b", model="fake", steps=[1]))


def test_over_16_mib_is_413(sdk: SDK, agent_run: SimpleNamespace) -> None:
    run_id = agent_run.run_id
    where = {"run_id": run_id, "sample_index": 0, "task_id": "b", "model": "fake-responses"}
    # Steps and logs together just over 16 MiB (the body itself within the body limit)...
    err = expect_api_error(413, lambda: sdk.llm.evals.upload_sample_trajectory(
        **where, steps=["x" * (8 * MIB)], logs={"trial.log": "y" * (8 * MIB)}))
    assert "16 MiB" in error_body(err)["error"]["message"]
    # ...and a body over the body limit, refused before the server reads it.
    expect_api_error(413, lambda: sdk.llm.evals.upload_sample_trajectory(**where, steps=["x" * (24 * MIB)]))
    expect_api_error(404, lambda: sdk.llm.evals.get_sample_trajectory(**where))
    # Under the limit the same sample takes it.
    ok = sdk.llm.evals.upload_sample_trajectory(**where, steps=["x" * (15 * MIB)])
    assert ok.size_bytes == 15 * MIB + 4
