"""SDK conformance: the coding-agent leaderboard (``sdk.llm.evals.get_suite_leaderboard``).

Runs are imported with ``import_agent_run`` (writes, nothing executes); the board must parse
into the SDK's ``EvalSuiteLeaderboard`` and its rows must carry the figures worked out by hand
below, the 95% Wald interval included: p ± 1.96·√(p(1−p)/n), clamped to [0, 1].
"""

from __future__ import annotations

import math
import uuid
from types import SimpleNamespace

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, assert_raw_object, error_body, expect_api_error

BOARD_KEYS = ["suite_id", "suite_version", "metric", "data"]
ROW_KEYS = [
    "agent_name", "agent_version", "agent_effort", "model", "accuracy", "accuracy_ci", "trials",
    "scored_trials", "failed_trials", "cost_usd", "solved_trials", "input_tokens", "output_tokens",
    "cached_tokens", "steps", "agent_seconds", "timed_trials", "run_count", "run_ids", "last_run_at",
]


def timed(seconds: int) -> dict:
    """An ``agent_execution`` phase lasting ``seconds`` (under a minute)."""
    return {"agent_execution": {"started_at": "2026-03-01T10:00:00Z", "finished_at": f"2026-03-01T10:00:{seconds:02d}Z"}}


def wald(p: float, n: int) -> tuple[float, float, float]:
    margin = 1.96 * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - margin), min(1.0, p + margin), margin


@pytest.fixture(scope="module")
def board(sdk: SDK) -> SimpleNamespace:
    tag = uuid.uuid4().hex[:10]
    data = sdk.llm.files.upload(file={"file_name": "agent-tasks.jsonl", "content": b'{"q": "fix it"}\n'}, purpose="evals")
    tasks = [
        {"id": t, "type": "qa", "dataset": {"file_id": data.id, "format": "jsonl"}, "prompt_template": "{{q}}"}
        for t in ("t1", "t2", "t3", "t4", "t5")
    ]
    suite = sdk.llm.evals.create_suite(name=f"agents-{tag}", manifest={"tasks": tasks})

    def trials(rewards, **extra):
        return [{"task_id": f"t{i % 5 + 1}", "sample_index": i // 5, "scores": {"reward": r}, **extra} for i, r in enumerate(rewards)]

    # omp / gpt-x / high: 7 of 10 over two runs (6 of 8, then 1 of 2), plus one failed trial.
    big = sdk.llm.evals.import_agent_run(
        suite_id=suite.id, agent_name="omp", agent_version="1.0", agent_effort="high", model="gpt-x",
        created_at=1_700_000_000,
        trials=trials([1, 1, 1, 0, 1, 1, 1, 0], cost_usd=0.125, input_tokens=1000, output_tokens=100,
                      cached_tokens=400, phase_timings=timed(20))
        + [{"task_id": "t4", "sample_index": 1, "status": "failed", "error": {"type": "EnvironmentError"}}],
    )
    # One session uploaded: the row's steps are its 12 steps, the other trials add nothing.
    sdk.llm.evals.upload_sample_trajectory(
        run_id=big.id, sample_index=0, task_id="t1", steps=[{"step_id": i} for i in range(12)],
    )
    small = sdk.llm.evals.import_agent_run(
        suite_id=suite.id, agent_name="omp", agent_version="1.1", agent_effort="high", model="gpt-x",
        created_at=1_700_000_100, cost_usd=2.5, trials=trials([1, 0]),
    )
    # claude-code / gpt-x / no effort: 1 of 4.
    claude = sdk.llm.evals.import_agent_run(
        suite_id=suite.id, agent_name="claude-code", model="gpt-x", created_at=1_700_000_050,
        trials=trials([0, 1, 0, 0]),
    )
    # An open run counts for nothing until it is finalized.
    sdk.llm.evals.import_agent_run(
        suite_id=suite.id, agent_name="claude-code", model="gpt-x", finalize=False, trials=trials([1, 1, 1, 1]),
    )
    # A run whose trials carry no reward: a row with a null accuracy, last.
    nulls = sdk.llm.evals.import_agent_run(
        suite_id=suite.id, agent_name="aider", model="gpt-y", agent_effort="low", created_at=1_700_000_200,
        trials=[{"task_id": "t1", "scores": {"resolved": 1}}],
    )
    return SimpleNamespace(suite=suite, big=big.id, small=small.id, claude=claude.id, nulls=nulls.id)


def test_rows_carry_the_hand_computed_figures(sdk: SDK, wire: WireRecorder, board: SimpleNamespace) -> None:
    lb = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id)
    raw = wire.last.response_json
    assert isinstance(lb, models.EvalSuiteLeaderboard)
    assert_raw_object(raw, "eval.leaderboard", BOARD_KEYS)
    assert raw["suite_version"] is None and lb.metric == "reward" and lb.suite_id == board.suite.id
    for row in raw["data"]:
        assert list(row) == ROW_KEYS

    assert [(r.agent_name, r.model, r.agent_effort) for r in lb.data] == [
        ("omp", "gpt-x", "high"),
        ("claude-code", "gpt-x", None),
        ("aider", "gpt-y", "low"),
    ]
    omp, claude, aider = lb.data

    # 7 of 10: margin 1.96·√(0.21/10) = 0.284030…
    assert omp.accuracy == pytest.approx(0.7)
    low, high, margin = wald(0.7, 10)
    assert margin == pytest.approx(0.28403098422531)
    assert (omp.accuracy_ci.low, omp.accuracy_ci.high, omp.accuracy_ci.margin) == pytest.approx((low, high, margin))
    assert omp.agent_version == "1.1"
    assert (omp.trials, omp.scored_trials, omp.failed_trials, omp.solved_trials) == (11, 10, 1, 7)
    # 8 trials × 0.125 from the first run, the second run's own total 2.5 (its trials report none).
    assert omp.cost_usd == pytest.approx(3.5)
    assert (omp.input_tokens, omp.output_tokens, omp.cached_tokens) == (8000, 800, 3200)
    assert omp.steps == 12 and claude.steps is None
    assert omp.agent_seconds == pytest.approx(160.0) and omp.timed_trials == 8
    assert omp.run_count == 2 and omp.run_ids == [board.big, board.small]
    assert omp.last_run_at == 1_700_000_100

    # 1 of 4: the lower bound clamps at 0.
    low, high, margin = wald(0.25, 4)
    assert claude.accuracy == pytest.approx(0.25)
    assert claude.accuracy_ci.low == 0.0
    assert (claude.accuracy_ci.high, claude.accuracy_ci.margin) == pytest.approx((high, margin))
    assert claude.run_ids == [board.claude] and claude.run_count == 1
    assert claude.cost_usd is None and claude.input_tokens is None and claude.agent_seconds is None

    assert aider.accuracy is None and aider.accuracy_ci is None
    assert raw["data"][2]["accuracy"] is None and raw["data"][2]["accuracy_ci"] is None
    assert (aider.trials, aider.scored_trials, aider.solved_trials) == (1, 0, 0)


def test_metric_filters_and_limit(sdk: SDK, board: SimpleNamespace) -> None:
    lb = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, metric="resolved")
    assert lb.metric == "resolved"
    assert [r.agent_name for r in lb.data] == ["aider", "claude-code", "omp"]
    assert lb.data[0].accuracy == 1.0 and lb.data[0].solved_trials == 1
    assert lb.data[0].accuracy_ci.margin == 0.0
    assert lb.data[1].accuracy is None and lb.data[2].accuracy is None

    only = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, agent="claude-code")
    assert [r.run_ids for r in only.data] == [[board.claude]]
    by_model = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, model="gpt-y")
    assert [r.agent_name for r in by_model.data] == ["aider"]
    top = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, limit=1)
    assert [r.agent_name for r in top.data] == ["omp"]
    v1 = sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, suite_version=1)
    assert v1.suite_version == 1 and len(v1.data) == 3
    assert sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, suite_version=2).data == []


def test_errors(sdk: SDK, other_sdk: SDK, board: SimpleNamespace) -> None:
    unknown = "eval_suite_" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_suite_leaderboard(suite_id=unknown)))
    error_body(expect_api_error(404, lambda: other_sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id)))
    for kwargs, param in [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"metric": ""}, "metric")]:
        err = expect_api_error(400, lambda: sdk.llm.evals.get_suite_leaderboard(suite_id=board.suite.id, **kwargs))
        assert error_body(err)["error"]["details"]["param"] == param
