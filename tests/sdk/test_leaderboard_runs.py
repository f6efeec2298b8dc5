"""SDK conformance: the leaderboard-runs feed (``sdk.llm.evals.list_suite_leaderboard_runs``).

Three runs of a two-task suite are executed against the fake model server; the feed must
parse into the SDK's ``ListEvalSuiteLeaderboardRunsResponse`` and group them as the contract
says. The session server is started with ``ASSAY_SERVER_LEADERBOARD_RUNS_MAX=2`` (see
``conftest.py``), so the full feed arrives truncated over two pages joined by ``next_cursor``.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any, List, Tuple

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, assert_raw_object, error_body, expect_api_error

RUN_TIMEOUT = 60.0
FEED_KEYS = ["data", "groups", "truncated", "next_cursor"]
GROUP_KEYS = ["model", "task_id", "rank", "run_id"]
ROWS = b'{"question": "Ready? [[answer:yes]]", "answer": "yes"}\n'


def task(task_id: str, file_id: str) -> dict:
    return {
        "id": task_id,
        "type": "qa",
        "dataset": {"file_id": file_id, "format": "jsonl"},
        "prompt_template": "{{question}}",
        "target_template": "{{answer}}",
    }


def wait_completed(sdk: SDK, run_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = sdk.llm.evals.get_run(run_id=run_id)
        if run.status in ("completed", "failed", "cancelled"):
            assert run.status == "completed", f"run {run_id} ended {run.status}: {run.error}"
            return
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.status!r} after {RUN_TIMEOUT:.0f}s")
        time.sleep(0.2)


def placements(groups: List[Any]) -> List[Tuple[str, Any, int, str]]:
    return [(g.model, g.task_id, g.rank, g.run_id) for g in groups]


def contract_order(placement: Tuple[str, Any, int, str]) -> tuple:
    """The contractual order of groups: model, then task with null first, then rank."""
    model, task_id, rank, _ = placement
    return (model, task_id is not None, task_id or "", rank)


@pytest.fixture(scope="module")
def board(sdk: SDK, fake_model) -> SimpleNamespace:
    if fake_model is None:
        pytest.skip("external server without ASSAY_SDK_FAKE_MODEL_URL: runs need the fake model server")
    dataset = sdk.llm.files.upload(file={"file_name": "board.jsonl", "content": ROWS}, purpose="evals")
    suite = sdk.llm.evals.create_suite(
        name=f"board-{uuid.uuid4().hex[:10]}",
        manifest={"tasks": [task("b", dataset.id), task("a", dataset.id)]},
    )
    runs = []
    for models_, task_ids in [(["fake", "fake-responses"], None), (["fake"], ["b"]), (["fake-responses"], ["a"])]:
        kwargs = {"task_ids": task_ids} if task_ids else {}
        run = sdk.llm.evals.create_run(suite_id=suite.id, models=models_, **kwargs)
        wait_completed(sdk, run.id)
        runs.append(run.id)
    return SimpleNamespace(suite=suite, full=runs[0], fake_b=runs[1], responses_a=runs[2])


def test_feed_pages_union_to_the_groups(sdk: SDK, wire: WireRecorder, board: SimpleNamespace, assay_server) -> None:
    pages = []
    cursor = None
    while True:
        page = sdk.llm.evals.list_suite_leaderboard_runs(suite_id=board.suite.id, cursor=cursor)
        raw = wire.last.response_json
        assert isinstance(page, models.ListEvalSuiteLeaderboardRunsResponse)
        assert_raw_object(raw, "eval.leaderboard_runs", FEED_KEYS)
        for g in raw["groups"]:
            assert all(k in g for k in GROUP_KEYS), g
        assert page.object == "eval.leaderboard_runs"
        assert page.truncated == (page.next_cursor is not None), raw
        assert all(r.status == "completed" and r.suite_id == board.suite.id for r in page.data)
        created = [r.created_at for r in page.data]
        assert created == sorted(created, reverse=True), "data is newest first"
        on_page = {r.id for r in page.data}
        assert {g.run_id for g in page.groups} == on_page, "groups name exactly the runs in data"
        pages.append(page)
        if not page.truncated:
            assert raw["next_cursor"] is None
            break
        cursor = page.next_cursor
        assert len(pages) < 10, "the feed does not end"
    if assay_server.process is not None:
        # The session server's ceiling is 2 runs per response.
        assert len(pages) == 2, [placements(p.groups) for p in pages]
        assert [r.id for r in pages[0].data] == [board.fake_b, board.full]

    union = sorted((placement for p in pages for placement in placements(p.groups)), key=contract_order)
    assert union == [
        ("fake", None, 1, board.full),
        ("fake", "b", 1, board.fake_b),
        ("fake-responses", None, 1, board.full),
        ("fake-responses", "a", 1, board.responses_a),
    ]
    assert sorted(r.id for p in pages for r in p.data) == sorted([board.full, board.fake_b, board.responses_a])
    # Within a page, groups come by model, then task (null first), then rank.
    for p in pages:
        listed = placements(p.groups)
        assert listed == sorted(listed, key=contract_order)


def test_filters_by_model_and_per_group(sdk: SDK, wire: WireRecorder, board: SimpleNamespace) -> None:
    page = sdk.llm.evals.list_suite_leaderboard_runs(
        suite_id=board.suite.id, model="fake-responses", per_group=1, suite_version=1
    )
    assert placements(page.groups) == [
        ("fake-responses", None, 1, board.full),
        ("fake-responses", "a", 1, board.responses_a),
    ]
    assert [r.id for r in page.data] == [board.responses_a, board.full]
    assert page.truncated is False and page.next_cursor is None
    assert wire.last.response_json["groups"][0]["task_id"] is None

    empty = sdk.llm.evals.list_suite_leaderboard_runs(suite_id=board.suite.id, suite_version=2)
    assert empty.data == [] and empty.groups == [] and empty.truncated is False


def test_errors(sdk: SDK, other_sdk: SDK, board: SimpleNamespace) -> None:
    unknown = "eval_suite_" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.evals.list_suite_leaderboard_runs(suite_id=unknown)))
    # Another tenant's suite is as missing as an unknown one.
    error_body(expect_api_error(404, lambda: other_sdk.llm.evals.list_suite_leaderboard_runs(suite_id=board.suite.id)))
    for kwargs, param in [({"per_group": 0}, "per_group"), ({"cursor": "garbage"}, "cursor")]:
        err = expect_api_error(400, lambda: sdk.llm.evals.list_suite_leaderboard_runs(suite_id=board.suite.id, **kwargs))
        assert error_body(err)["error"]["details"]["param"] == param
