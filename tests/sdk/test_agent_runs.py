"""SDK conformance: coding-agent runs — one-shot import (``import_agent_run``), streaming
appends (``append_agent_trials``), idempotency under racing imports, and the overview of an
agent run (``get_run_overview``). Imports are writes: the fake model server is never called.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from meetkai_mka1 import SDK, models

from sdk_helpers import error_body, expect_api_error
from test_runs import fake, unique, upload  # noqa: F401  (fake: fixture)

TASKS = ["hello-world", "fix-regex", "sort-list"]


def agent_suite(sdk: SDK) -> str:
    data = upload(sdk, "agent_tasks.jsonl", (json.dumps({"instruction": "do it"}) + "\n").encode())
    suite = sdk.llm.evals.create_suite(
        name=unique("agents"),
        manifest={"tasks": [{"id": t, "type": "custom", "dataset": {"file_id": data.id},
                             "prompt_template": "{{instruction}}"} for t in TASKS]},
    )
    return suite.id


def test_import_an_agent_run(sdk: SDK, fake) -> None:
    calls_before = fake.requests()["total"]
    suite_id = agent_suite(sdk)
    timings = {"agent_execution": {"started_at": "2026-11-01T10:00:00Z", "finished_at": "2026-11-01T10:02:00Z"}}
    run = sdk.llm.evals.import_agent_run(
        suite_id=suite_id, agent_name="claude-code", agent_version="1.2.0", agent_effort="high",
        model="claude-sonnet", created_at=1_750_000_000, metadata={"job": "nightly"},
        trials=[
            {"task_id": "hello-world", "scores": {"reward": 1}, "cost_usd": 0.2, "input_tokens": 900,
             "output_tokens": 100, "cached_tokens": 300, "phase_timings": timings},
            {"task_id": "fix-regex", "scores": {"reward": 0}, "cost_usd": 0.3, "input_tokens": 100,
             "output_tokens": 10, "error": {"type": "AgentTimeoutError"}},
            {"task_id": "sort-list", "status": "failed"},
        ],
    )
    assert isinstance(run, models.ImportAgentEvalRunResponse)
    assert run.status == "completed"
    assert (run.agent_name, run.agent_version, run.agent_effort) == ("claude-code", "1.2.0", "high")
    assert run.task_ids is None, "every task covered: a complete sweep"
    assert run.created_at == 1_750_000_000
    assert (run.request_counts.total, run.request_counts.completed, run.request_counts.failed) == (3, 2, 1)
    assert abs(run.cost_usd - 0.5) < 1e-9
    assert (run.tokens.input, run.tokens.output, run.tokens.cached, run.tokens.reasoning) == (1000, 110, 300, None)

    overview = sdk.llm.evals.get_run_overview(run_id=run.id)
    assert overview.agent_name == "claude-code" and overview.agent_effort == "high"
    assert overview.avg_reward == 0.5
    t = overview.trials
    assert (t.total, t.completed, t.failed, t.errored, t.retried) == (3, 2, 1, 1, 0)
    assert abs(overview.cost_usd - 0.5) < 1e-9
    assert overview.tokens.input == 1000

    samples = {s.task_id: s for s in sdk.llm.evals.list_samples(run_id=run.id).data}
    assert samples["fix-regex"].status == "completed" and samples["fix-regex"].error["type"] == "AgentTimeoutError"
    assert samples["hello-world"].phase_timings == timings
    assert samples["sort-list"].input_tokens is None

    err = expect_api_error(400, lambda: sdk.llm.evals.import_agent_run(
        suite_id=suite_id, agent_name="a", model="m",
        trials=[{"task_id": "hello-world"}, {"task_id": "no-such-task"}]))
    assert error_body(err)["error"]["details"]["param"] == "trials[1].task_id"
    assert fake.requests()["total"] == calls_before, "an import never calls a model"


def test_racing_imports_with_one_key_make_one_run(sdk: SDK) -> None:
    suite_id = agent_suite(sdk)
    key = unique("job")

    def once(_):
        return sdk.llm.evals.import_agent_run(
            suite_id=suite_id, agent_name="omp", model="m", idempotency_key=key,
            trials=[{"task_id": "hello-world", "scores": {"reward": 1}}]).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(once, range(8)))
    assert len(ids) == 1
    runs = sdk.llm.evals.list_runs(suite_id=suite_id, limit=100).data
    assert [r.id for r in runs] == list(ids)


def test_stream_trials_into_an_open_run(sdk: SDK, other_sdk: SDK) -> None:
    suite_id = agent_suite(sdk)
    run = sdk.llm.evals.import_agent_run(suite_id=suite_id, agent_name="omp", model="m",
                                         finalize=False, expected_trials=6)
    assert run.status == "in_progress" and run.request_counts.total == 6
    batch = [{"task_id": t, "sample_index": 0, "scores": {"reward": i % 2}, "cost_usd": 0.1}
             for i, t in enumerate(TASKS)]
    sdk.llm.evals.append_agent_trials(run_id=run.id, trials=batch)
    again = sdk.llm.evals.append_agent_trials(run_id=run.id, trials=batch)  # a replay replaces
    assert again.request_counts.completed == 3 and abs(again.cost_usd - 0.3) < 1e-9
    assert again.status == "in_progress"
    err = expect_api_error(400, lambda: sdk.llm.evals.append_agent_trials(
        run_id=run.id, trials=[{"task_id": "nope", "sample_index": 0}]))
    assert error_body(err)["error"]["details"]["param"] == "trials[0].task_id"
    expect_api_error(404, lambda: other_sdk.llm.evals.append_agent_trials(run_id=run.id, trials=batch))
    done = sdk.llm.evals.append_agent_trials(
        run_id=run.id, trials=[{"task_id": "hello-world", "sample_index": 1, "scores": {"reward": 1}}],
        finalize=True)
    assert done.status == "completed" and done.request_counts.completed == 4
    assert done.request_counts.total == 6
    expect_api_error(409, lambda: sdk.llm.evals.append_agent_trials(run_id=run.id, trials=batch))
