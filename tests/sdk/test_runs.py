"""SDK conformance: eval runs executed against the fake model server, through meetkai-mka1.

Every call to the Assay API goes through the official SDK (``sdk.llm.evals.*`` and
``sdk.llm.files.*``), so each success response is parsed by the SDK's typed models; the raw
JSON is checked too (``wire``) for keys the contract requires and keys it must not carry.
The only other HTTP traffic is reading the fake model server's own request log.

The model answers are scripted by directives inside the dataset rows (see ``ROWS``): the
fake model (``assay-fake-model``, started by ``conftest.py``) answers ``[[answer:TEXT]]``,
returns reasoning for ``[[reasoning:TEXT]]``, fails with ``[[status:CODE times=N]]``, never
answers ``[[hang]]`` and otherwise answers the prompt's last word. Every expected value below
(counts, scores, means, tokens) is derived from that table.

Registry of the session server: ``fake`` (chat_completions), ``fake-responses`` (responses),
``fake-completions`` (completions), ``auto`` -> ``fake``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from statistics import fmean
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, assert_raw_object, error_body, expect_api_error

# Bound on every wait for a run (or the fake model) to reach a state.
RUN_TIMEOUT = 60.0
POLL_INTERVAL = 0.2

MODELS = ["fake", "fake-responses"]
TERMINAL = {"completed", "failed", "cancelled"}

# lm-eval spellings; the server must store them as max_output_tokens / stop.
GENERATION = {"max_gen_toks": 32, "until": ["###"], "do_sample": False}
STOP = "###"

QA_TEMPLATE = "Question: {{question}} {{qa_control}}"
MC_TEMPLATE = "Pick one: A, B, C or D. {{question}} {{mc_control}}"
QA_PATTERN = r"Answer:\s*([^\n]+)"

RUN_KEYS = [
    "id", "object", "suite_id", "suite_version", "suite_version_id", "org_id", "team_id", "status",
    "models", "task_ids", "judge_model", "embedding_model", "generation", "request_counts", "metrics",
    "error", "artifact_file_ids", "metadata", "agent_name", "agent_version", "agent_effort", "cost_usd",
    "tokens", "created_at", "started_at", "completed_at", "cancelled_at", "failed_at",
]
SAMPLE_KEYS = [
    "id", "object", "run_id", "task_id", "model", "sample_index", "status", "dataset_row", "prompt",
    "target", "response_id", "output_text", "reasoning", "extracted_output", "scores", "judge", "error",
    "cost_usd", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "tokens_estimated",
    "phase_timings", "created_at", "started_at", "completed_at",
]
OVERVIEW_KEYS = [
    "run_id", "suite_id", "status", "agent_name", "agent_version", "agent_effort", "models", "metric",
    "avg_reward", "trials", "cost_usd", "tokens", "object",
]
ARTIFACTS_KEYS = ["run_id", "result_file_id", "samples_file_id", "artifact_file_ids", "object"]
TOKEN_KEYS = ("input", "output", "cached", "reasoning")


# ---------------------------------------------------------------------------
# The dataset: one row per behaviour, with what each row must produce
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    question: str
    # QA task ("qa"): gold answer, directives, and the expected outcome.
    answer: str
    qa_control: str
    qa_status: str  # "completed" | "failed"
    qa_reply: Optional[str]  # what the fake model answers (before any stop sequence)
    qa_output: Optional[str]  # output_text as stored: the reply cut at the stop sequence
    qa_extracted: Optional[str]  # after the regex extraction (None: no match)
    qa_exact_match: Optional[float]
    qa_f1: Optional[float]
    qa_reasoning: Optional[str]
    # Multiple-choice task ("mc"): gold letter, directives, the fake's reply, the score.
    mc_target: str
    mc_control: str
    mc_reply: str
    mc_accuracy: float

    def dataset_row(self) -> Dict[str, str]:
        return {
            "question": self.question,
            "answer": self.answer,
            "qa_control": self.qa_control,
            "mc_target": self.mc_target,
            "mc_control": self.mc_control,
        }


ROWS: List[Row] = [
    # 0: right answer on both tasks.
    Row(
        "What is the capital of France?", "Paris", "[[answer:Answer: Paris]]", "completed",
        "Answer: Paris", "Answer: Paris", "Paris", 1.0, 1.0, None,
        "B", "[[answer:B]]", "B", 1.0,
    ),
    # 1: wrong answers. SQuAD F1 of "York City" vs "New York": one shared token of two
    # on each side, P = R = 1/2, F1 = 1/2.
    Row(
        "Which city is called the Big Apple?", "New York", "[[answer:Answer: York City]]", "completed",
        "Answer: York City", "Answer: York City", "York City", 0.0, 0.5, None,
        "A", "[[answer:C]]", "C", 0.0,
    ),
    # 2: the model refuses the QA prompt with a 400 (not retryable): the sample fails.
    Row(
        "Which status does this row get?", "none", "[[status:400]]", "failed",
        None, None, None, None, None, None,
        "A", "[[answer:A]]", "A", 1.0,
    ),
    # 3: reasoning on the reasoning channel, kept apart from the answer.
    Row(
        "What is the capital of Germany?", "Berlin",
        "[[reasoning:Germany has had Berlin as its capital since 1990]] [[answer:Answer: Berlin]]", "completed",
        "Answer: Berlin", "Answer: Berlin", "Berlin", 1.0, 1.0, "Germany has had Berlin as its capital since 1990",
        "D", "[[answer:D]]", "D", 1.0,
    ),
    # 4: the `until` stop sequence cuts the answer before a second "Answer:".
    Row(
        "What is six times seven?", "42", "[[answer:Answer: 42 ### Answer: 7]]", "completed",
        "Answer: 42 ### Answer: 7", "Answer: 42 ", "42", 1.0, 1.0, None,
        "C", "[[answer:C]]", "C", 1.0,
    ),
    # 5: one 500 first, then the answer: retried, completed.
    Row(
        "What is two plus three?", "5", "[[status:500 times=1]] [[answer:Answer: 5]]", "completed",
        "Answer: 5", "Answer: 5", "5", 1.0, 1.0, None,
        "B", "[[answer:A]]", "A", 0.0,
    ),
    # 6: no QA directive: the fake answers the prompt's last word, the regex finds no
    # "Answer:", nothing is extracted and every metric is 0. The MC reply names its letter
    # in an answer phrase.
    Row(
        "Reply with one word: fine", "fine", "", "completed",
        "fine", "fine", None, 0.0, 0.0, None,
        "C", "[[answer:The answer is (C)]]", "The answer is (C)", 1.0,
    ),
]
N = len(ROWS)
JSONL_BYTES = "".join(json.dumps(r.dataset_row(), ensure_ascii=False) + "\n" for r in ROWS).encode()

_DIRECTIVE = re.compile(r"\[\[(?:answer|reasoning|status|hang)\b[^\]]*\]\]")


def render(template: str, row: Row) -> str:
    return template.replace("{{question}}", row.question).replace(
        "{{qa_control}}", row.qa_control
    ).replace("{{mc_control}}", row.mc_control)


def words(text: Optional[str]) -> int:
    """The fake model's token count: whitespace-separated words, directives removed."""
    return len(_DIRECTIVE.sub("", text or "").split())


@dataclass(frozen=True)
class Expected:
    """One sample as the run must record it."""

    task_id: str
    model: str
    index: int
    prompt: str
    target: str
    status: str
    output_text: Optional[str]
    extracted_output: Optional[str]
    scores: Dict[str, float]
    reasoning: Optional[str]
    input_tokens: Optional[int]
    output_tokens: Optional[int]
    reasoning_tokens: Optional[int]
    cached_tokens: Optional[int]


def expected_samples(models_: List[str], task_ids: Optional[List[str]] = None) -> List[Expected]:
    out: List[Expected] = []
    for model in models_:
        # The fake's Chat and Responses usage carries cached_tokens: 0 and the reasoning
        # split; its Completions usage has neither, so those stay null (not reported).
        details = model != "fake-completions"
        for i, row in enumerate(ROWS):
            if task_ids is None or "qa" in task_ids:
                prompt = render(QA_TEMPLATE, row)
                ok = row.qa_status == "completed"
                # Chat and Completions send `stop`, so the fake cuts before counting; the
                # Responses API has no `stop`, the gateway cuts after the fake counted.
                counted = row.qa_reply if model == "fake-responses" else row.qa_output
                out.append(
                    Expected(
                        "qa", model, i, prompt, row.answer, row.qa_status, row.qa_output, row.qa_extracted,
                        {"exact_match": row.qa_exact_match, "f1": row.qa_f1} if ok else {},
                        row.qa_reasoning,
                        words(prompt) if ok else None,
                        words(counted) + words(row.qa_reasoning) if ok else None,
                        words(row.qa_reasoning) if ok and details else None,
                        0 if ok and details else None,
                    )
                )
            if task_ids is None or "mc" in task_ids:
                prompt = render(MC_TEMPLATE, row)
                out.append(
                    Expected(
                        "mc", model, i, prompt, row.mc_target, "completed", row.mc_reply, row.mc_reply,
                        {"accuracy": row.mc_accuracy}, None,
                        words(prompt), words(row.mc_reply), 0 if details else None, 0 if details else None,
                    )
                )
    return out


def token_sums(samples: List[Expected]) -> Dict[str, Optional[int]]:
    """Sums over the samples that reported the figure; null when none did (not 0)."""

    def total(values: List[Optional[int]]) -> Optional[int]:
        reported = [v for v in values if v is not None]
        return sum(reported) if reported else None

    return {
        "input": total([s.input_tokens for s in samples]),
        "output": total([s.output_tokens for s in samples]),
        "cached": total([s.cached_tokens for s in samples]),
        "reasoning": total([s.reasoning_tokens for s in samples]),
    }


def expected_by_task(samples: List[Expected]) -> Dict[str, Dict[str, Any]]:
    """metrics.by_task: per task, the mean of each metric over its completed samples (all
    models together; failed samples excluded), plus the task's token sums."""
    by_task: Dict[str, Dict[str, Any]] = {}
    for task_id in dict.fromkeys(s.task_id for s in samples):
        mine = [s for s in samples if s.task_id == task_id]
        done = [s for s in mine if s.status == "completed"]
        entry: Dict[str, Any] = {
            metric: fmean(s.scores[metric] for s in done) for metric in done[0].scores
        }
        entry["tokens"] = token_sums(mine)
        by_task[task_id] = entry
    return by_task


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def assert_by_task(got: Dict[str, Any], want: Dict[str, Dict[str, Any]]) -> None:
    """``metrics.by_task`` holds exactly the expected tasks and keys; token sums are equal,
    means equal up to float rounding (a running mean may differ in the last bit)."""
    assert set(got) == set(want), f"by_task tasks: {sorted(got)}"
    for task_id, entry in want.items():
        assert set(got[task_id]) == set(entry), f"by_task.{task_id}: keys {sorted(got[task_id])}"
        for metric, value in entry.items():
            if metric == "tokens":
                assert got[task_id]["tokens"] == value, f"by_task.{task_id}.tokens"
            else:
                assert got[task_id][metric] == pytest.approx(value, rel=0, abs=1e-12), (
                    f"by_task.{task_id}.{metric}: {got[task_id][metric]!r}, want {value!r}"
                )


def json_diff(a: Any, b: Any, path: str = "$") -> List[str]:
    """Paths where two JSON values differ (exactly: no float tolerance), with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: List[str] = []
        for k in list(dict.fromkeys([*a, *b])):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'the first' if k in a else 'the second'}")
            else:
                out.extend(json_diff(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in json_diff(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def check_recent(ts: Optional[int]) -> None:
    assert isinstance(ts, int), f"not an integer timestamp: {ts!r}"
    assert abs(ts - time.time()) < 3600, f"timestamp {ts} is not a current unix-seconds value"


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = RUN_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_INTERVAL)


def wait_for_run(sdk: SDK, run_id: str, statuses=TERMINAL) -> models.GetEvalRunResponse:
    """Polls GET run (the cheap polling endpoint) until the run reaches one of ``statuses``."""
    last: List[Any] = [None]

    def poll():
        run = sdk.llm.evals.get_run(run_id=run_id)
        assert isinstance(run, models.GetEvalRunResponse)
        last[0] = run
        return run if run.status in statuses else None

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = poll()
        if run is not None:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {last[0].status!r} after {RUN_TIMEOUT:.0f}s (want {sorted(statuses)})")
        time.sleep(POLL_INTERVAL)


def all_samples(sdk: SDK, run_id: str, **filters: Any) -> List[models.EvalSampleObject]:
    page = sdk.llm.evals.list_samples(run_id=run_id, limit=500, **filters)
    assert isinstance(page, models.EvalSampleList)
    assert page.has_more is False
    return list(page.data)


def key(s: Any) -> tuple:
    return (s.task_id, s.model, s.sample_index)


def upload(sdk: SDK, name: str, data: bytes) -> models.File:
    return sdk.llm.files.upload(file={"file_name": name, "content": data}, purpose="evals")


def download(sdk: SDK, file_id: str) -> tuple[bytes, str]:
    res = sdk.llm.files.content(file_id=file_id)
    try:
        assert res.status_code == 200
        return res.read(), res.headers.get("content-type", "").split(";")[0].strip().lower()
    finally:
        res.close()


def manifest(file_id: str) -> Dict[str, Any]:
    dataset = {"file_id": file_id, "format": "jsonl"}
    return {
        "tasks": [
            {
                "id": "qa",
                "type": "qa",
                "dataset": dataset,
                "prompt_template": QA_TEMPLATE,
                "target_template": "{{answer}}",
                "output_extraction": {"type": "regex", "pattern": QA_PATTERN, "group": 1},
            },
            {
                "id": "mc",
                "type": "multiple_choice",
                "dataset": dataset,
                "prompt_template": MC_TEMPLATE,
                "target_template": "{{mc_target}}",
                "choices": ["A", "B", "C", "D"],
            },
        ]
    }


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake(fake_model):
    if fake_model is None:
        pytest.skip("external server without ASSAY_SDK_FAKE_MODEL_URL: runs need the fake model server")
    return fake_model


@pytest.fixture(scope="module")
def suite(sdk: SDK, fake) -> SimpleNamespace:
    dataset = upload(sdk, "run_rows.jsonl", JSONL_BYTES)
    created = sdk.llm.evals.create_suite(name=unique("runs"), manifest=manifest(dataset.id))
    version = sdk.llm.evals.get_suite_version(suite_id=created.id, version=1)
    return SimpleNamespace(suite=created, version=version, dataset=dataset)


@pytest.fixture(scope="module")
def finished_run(sdk: SDK, wire: WireRecorder, fake, suite: SimpleNamespace) -> SimpleNamespace:
    """The main run: both tasks on ``fake`` and ``fake-responses``, created, then polled to
    a terminal state."""
    log_before = fake.requests()
    created = sdk.llm.evals.create_run(
        suite_id=suite.suite.id,
        models=MODELS,
        generation=GENERATION,
        metadata={"purpose": "sdk-conformance"},
    )
    sent = wire.last.request_json
    created_raw = wire.last.response_json
    final = wait_for_run(sdk, created.id)
    final_raw = wire.last.response_json
    return SimpleNamespace(
        created=created,
        created_raw=created_raw,
        sent=sent,
        run=final,
        raw=final_raw,
        log_before=log_before,
        log_after=fake.requests(),
        expected=expected_samples(MODELS),
    )


# ---------------------------------------------------------------------------
# Create, poll, complete
# ---------------------------------------------------------------------------


def test_create_run_returns_a_queued_run(finished_run: SimpleNamespace, suite: SimpleNamespace) -> None:
    run, raw = finished_run.created, finished_run.created_raw
    # The SDK sent the lm-eval aliases as given.
    assert finished_run.sent["generation"] == GENERATION

    assert isinstance(run, models.CreateEvalRunResponse)
    assert_raw_object(raw, "eval.run", RUN_KEYS)
    assert run.object == "eval.run"
    assert run.id.startswith("eval_run_"), run.id
    assert run.status in ("queued", "in_progress"), run.status
    assert run.suite_id == suite.suite.id
    assert run.suite_version == 1
    assert run.suite_version_id == suite.version.id
    assert run.org_id == suite.suite.org_id and run.team_id == suite.suite.team_id
    assert run.models == MODELS
    assert run.task_ids is None and raw["task_ids"] is None, "omitted task_ids is stored as null (every task)"
    assert run.judge_model is None and run.embedding_model is None
    assert run.metrics is None and raw["metrics"] is None, "metrics are null until the run finishes"
    assert run.error is None
    assert run.artifact_file_ids == []
    assert run.metadata == {"purpose": "sdk-conformance"}
    assert run.agent_name is None and run.agent_version is None and run.agent_effort is None
    assert run.cost_usd is None
    assert run.request_counts.completed == 0 and run.request_counts.failed == 0
    assert run.request_counts.total in (0, 2 * N * len(MODELS))
    assert {k: getattr(run.tokens, k) for k in TOKEN_KEYS} == dict.fromkeys(TOKEN_KEYS)
    check_recent(run.created_at)
    assert run.completed_at is None and run.cancelled_at is None and run.failed_at is None

    # Normalized generation: aliases folded into the canonical fields and gone.
    gen = raw["generation"]
    assert gen["max_output_tokens"] == 32, gen
    assert gen["stop"] == [STOP], gen
    assert gen["do_sample"] is False, gen
    assert "max_gen_toks" not in gen and "until" not in gen, f"aliases kept: {gen}"
    assert run.generation.max_output_tokens == 32
    assert run.generation.stop == [STOP]
    assert run.generation.max_gen_toks is None and run.generation.until is None


def test_run_completes_with_exact_counts_metrics_and_tokens(finished_run: SimpleNamespace) -> None:
    run, raw = finished_run.run, finished_run.raw
    assert_raw_object(raw, "eval.run", RUN_KEYS)
    assert run.status == "completed", f"run ended {run.status}: {raw.get('error')}"
    assert run.id == finished_run.created.id
    assert run.error is None
    # One sample per (task, model, row); row 2's QA prompt fails on both models.
    failed = sum(1 for s in finished_run.expected if s.status == "failed")
    assert failed == 2
    assert raw["request_counts"] == {"total": 2 * N * len(MODELS), "completed": 2 * N * len(MODELS) - 2, "failed": 2}
    assert run.request_counts.total == 28

    check_recent(run.started_at)
    check_recent(run.completed_at)
    assert run.created_at <= run.started_at <= run.completed_at
    assert run.cancelled_at is None and run.failed_at is None
    assert len(run.artifact_file_ids) == 2

    # metrics.by_task: exact means over each task's completed samples, and token sums.
    want = expected_by_task(finished_run.expected)
    assert want["qa"]["exact_match"] == pytest.approx(4 / 6) and want["qa"]["f1"] == pytest.approx(0.75)
    assert want["mc"]["accuracy"] == pytest.approx(5 / 7)
    assert_by_task(raw["metrics"]["by_task"], want)
    assert run.metrics["by_task"]["qa"]["exact_match"] == pytest.approx(4 / 6, abs=1e-12)

    # Run tokens: summed over every sample that reported usage.
    tokens = token_sums(finished_run.expected)
    assert raw["tokens"] == tokens, raw["tokens"]
    assert {k: getattr(run.tokens, k) for k in TOKEN_KEYS} == tokens
    assert tokens["reasoning"] == 2 * words(ROWS[3].qa_reasoning)


def test_fake_model_saw_the_normalized_generation(finished_run: SimpleNamespace) -> None:
    before, after = finished_run.log_before, finished_run.log_after

    def calls(prompt: str) -> int:
        return after["by_prompt"].get(prompt, 0) - before["by_prompt"].get(prompt, 0)

    for row in ROWS:
        qa, mc = render(QA_TEMPLATE, row), render(MC_TEMPLATE, row)
        # Row 5's first answer is a 500: asked twice per model. A 400 is not retried.
        assert calls(qa) == (4 if "status:500" in row.qa_control else 2), qa
        assert calls(mc) == 2, mc
    assert after["total"] - before["total"] == 2 * N * len(MODELS) + 2

    ours = {render(QA_TEMPLATE, r) for r in ROWS} | {render(MC_TEMPLATE, r) for r in ROWS}
    recent = [r for r in after["recent"] if r["seq"] > before["total"] and r["prompt"] in ours]
    assert {(r["endpoint"], r["model"]) for r in recent} == {
        ("chat_completions", "fake"),
        ("responses", "fake-responses"),
    }
    for r in recent:
        body = r["body"]
        assert body["temperature"] == 0, body  # do_sample: false
        if r["endpoint"] == "chat_completions":
            assert body["max_tokens"] == 32 and body["stop"] == [STOP], body
        else:
            # The Responses API has no stop sequences: the server applies them itself.
            assert body["max_output_tokens"] == 32 and "stop" not in body, body


# ---------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------


def test_samples_record_every_row(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    listed = all_samples(sdk, run_id)
    raw_items = {item["id"]: item for item in wire.last.response_json["data"]}
    expected = {(e.task_id, e.model, e.index): e for e in finished_run.expected}
    assert len(listed) == len(expected) == 28
    assert {key(s) for s in listed} == set(expected)

    for s in listed:
        e = expected[key(s)]
        raw = raw_items[s.id]
        where = f"{e.task_id}/{e.model}/#{e.index}"
        assert_raw_object(raw, "eval.sample", SAMPLE_KEYS)
        assert isinstance(s, models.EvalSampleObject)
        assert s.id.startswith("eval_sample_"), s.id
        assert s.run_id == run_id
        assert s.status == e.status, f"{where}: {s.status} ({s.error})"
        assert s.prompt == e.prompt, where
        assert s.target == e.target, where
        assert s.dataset_row == ROWS[e.index].dataset_row(), where
        assert s.output_text == e.output_text, where
        assert s.extracted_output == e.extracted_output, where
        assert s.scores == e.scores, f"{where}: {s.scores}"
        assert s.reasoning is None, f"{where}: reasoning without include_reasoning"
        assert s.judge is None and s.cost_usd is None
        assert s.input_tokens == e.input_tokens, where
        assert s.output_tokens == e.output_tokens, where
        assert s.reasoning_tokens == e.reasoning_tokens, where
        assert s.cached_tokens == e.cached_tokens, where
        assert s.tokens_estimated is False, where
        check_recent(s.created_at)
        if e.status == "failed":
            assert isinstance(s.error, dict) and s.error, f"{where}: a failed sample carries its error"
            assert s.response_id is None
        else:
            assert s.error is None, f"{where}: {s.error}"
            assert s.response_id, where
            check_recent(s.completed_at)

    # The per-sample token figures add up to the run's and the tasks'.
    run = finished_run.run
    assert run.tokens.input == sum(s.input_tokens or 0 for s in listed)
    assert run.tokens.output == sum(s.output_tokens or 0 for s in listed)
    for task_id in ("qa", "mc"):
        tokens = run.metrics["by_task"][task_id]["tokens"]
        assert tokens["input"] == sum(s.input_tokens or 0 for s in listed if s.task_id == task_id)
        assert tokens["output"] == sum(s.output_tokens or 0 for s in listed if s.task_id == task_id)


def test_list_samples_paging(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    full = [s.id for s in all_samples(sdk, run_id)]
    assert len(full) == len(set(full)) == 28

    for limit in (5, 7, 28):
        seen: List[str] = []
        after = None
        for _ in range(40):
            page = sdk.llm.evals.list_samples(run_id=run_id, limit=limit, after=after)
            raw = wire.last.response_json
            assert_raw_object(raw, "list", ["object", "data", "has_more"])
            assert isinstance(page, models.EvalSampleList)
            assert len(page.data) <= limit
            if page.data:
                assert page.first_id == page.data[0].id and page.last_id == page.data[-1].id
            seen.extend(s.id for s in page.data)
            if not page.has_more:
                break
            assert len(page.data) == limit, "a page with has_more=true must be full"
            after = page.last_id
        else:
            pytest.fail(f"sample paging with limit={limit} did not terminate")
        assert seen == full, f"paging with limit={limit} must visit every sample once, in list order"


def test_list_samples_filters(sdk: SDK, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id

    qa = all_samples(sdk, run_id, task_id="qa")
    assert len(qa) == N * len(MODELS) and all(s.task_id == "qa" for s in qa)

    responses = all_samples(sdk, run_id, model="fake-responses")
    assert len(responses) == 2 * N and all(s.model == "fake-responses" for s in responses)

    failed = all_samples(sdk, run_id, status="failed")
    assert sorted(key(s) for s in failed) == [("qa", "fake", 2), ("qa", "fake-responses", 2)]
    assert all(s.status == "failed" and s.error for s in failed)
    assert all_samples(sdk, run_id, status="failed", task_id="mc") == []
    completed = all_samples(sdk, run_id, status="completed")
    assert len(completed) == 26 and all(s.status == "completed" for s in completed)

    index3 = all_samples(sdk, run_id, sample_index="3")
    assert sorted(key(s) for s in index3) == sorted(
        (t, m, 3) for t in ("qa", "mc") for m in MODELS
    )
    one = all_samples(sdk, run_id, sample_index="0", task_id="mc", model="fake")
    assert [key(s) for s in one] == [("mc", "fake", 0)]
    assert all_samples(sdk, run_id, sample_index=str(N)) == []


def test_reasoning_only_on_request(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    reasoning = ROWS[3].qa_reasoning

    hidden = all_samples(sdk, run_id)
    assert all(s.reasoning is None for s in hidden)
    assert all(item["reasoning"] is None for item in wire.last.response_json["data"])

    shown = all_samples(sdk, run_id, include_reasoning=True)
    with_reasoning = {key(s): s.reasoning for s in shown if s.reasoning is not None}
    assert with_reasoning == {("qa", m, 3): reasoning for m in MODELS}, with_reasoning
    for s in shown:
        # Reasoning never leaks into the answer (or what extraction and scoring saw).
        assert reasoning not in (s.output_text or ""), key(s)
        assert reasoning not in (s.extracted_output or ""), key(s)
    assert {key(s): s.output_text for s in shown} == {key(s): s.output_text for s in hidden}


def test_dataset_row_can_be_left_out(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    without = all_samples(sdk, run_id, include_dataset_row=False)
    assert len(without) == 28
    assert all(s.dataset_row is None for s in without)
    for item in wire.last.response_json["data"]:
        assert "dataset_row" in item and item["dataset_row"] is None
    with_rows = all_samples(sdk, run_id, include_dataset_row=True)
    assert all(s.dataset_row == ROWS[s.sample_index].dataset_row() for s in with_rows)


# ---------------------------------------------------------------------------
# Artifacts, overview, listing
# ---------------------------------------------------------------------------


def test_artifacts_download(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run, run_raw = finished_run.run, finished_run.raw
    arts = sdk.llm.evals.get_artifacts(run_id=run.id)
    assert_raw_object(wire.last.response_json, "eval.artifacts", ARTIFACTS_KEYS)
    assert isinstance(arts, models.EvalArtifactsObject)
    assert arts.run_id == run.id
    assert arts.result_file_id and arts.samples_file_id and arts.result_file_id != arts.samples_file_id
    assert sorted(arts.artifact_file_ids) == sorted([arts.result_file_id, arts.samples_file_id])
    assert sorted(arts.artifact_file_ids) == sorted(run.artifact_file_ids)

    # Samples: one JSON line per sample, each one an eval.sample the SDK can parse.
    body, media_type = download(sdk, arts.samples_file_id)
    assert media_type in ("application/jsonl", "application/x-ndjson"), media_type
    lines = body.decode("utf-8").splitlines()
    assert len(lines) == 28, f"{len(lines)} lines for 28 samples"
    parsed = [models.EvalSampleObject.model_validate(json.loads(line)) for line in lines]
    listed = {s.id: s for s in all_samples(sdk, run.id, include_reasoning=True)}
    assert sorted(p.id for p in parsed) == sorted(listed)
    for p in parsed:
        s = listed[p.id]
        for attr in ("run_id", "task_id", "model", "sample_index", "status", "output_text", "extracted_output", "scores"):
            assert getattr(p, attr) == getattr(s, attr), f"{p.id}.{attr}"

    # Results: the run's metrics, counts and tokens.
    body, media_type = download(sdk, arts.result_file_id)
    assert media_type == "application/json", media_type
    results = json.loads(body)
    assert results["run_id"] == run.id
    assert results["request_counts"] == run_raw["request_counts"]
    assert results["tokens"] == run_raw["tokens"]

    # Both are ordinary files of the run's owner.
    for file_id in arts.artifact_file_ids:
        f = sdk.llm.files.get(file_id=file_id)
        assert f.purpose == "evals" and f.bytes_ > 0

    # The metrics, exactly (floats included): the file and GET run report the same numbers.
    diff = json_diff(results["metrics"], run_raw["metrics"])
    assert not diff, "results file metrics != run metrics (results file vs GET run):\n" + "\n".join(diff)


def test_run_overview(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace) -> None:
    run = finished_run.run
    tokens = token_sums(finished_run.expected)

    default = sdk.llm.evals.get_run_overview(run_id=run.id)
    raw = wire.last.response_json
    assert_raw_object(raw, "eval.run.overview", OVERVIEW_KEYS)
    assert isinstance(default, models.EvalRunOverview)
    assert default.run_id == run.id and default.suite_id == run.suite_id
    assert default.status == "completed"
    assert default.models == MODELS
    assert default.metric == "reward"
    assert default.avg_reward is None and raw["avg_reward"] is None, "no sample has a reward score"
    assert raw["trials"] == {"total": 28, "completed": 26, "failed": 2, "errored": 2, "retried": 0}
    assert raw["tokens"] == tokens
    assert default.cost_usd is None

    em = sdk.llm.evals.get_run_overview(run_id=run.id, metric="exact_match")
    assert em.metric == "exact_match"
    assert em.avg_reward == pytest.approx(4 / 6, rel=0, abs=1e-12)
    acc = sdk.llm.evals.get_run_overview(run_id=run.id, metric="accuracy")
    assert acc.avg_reward == pytest.approx(5 / 7, rel=0, abs=1e-12)


def test_list_runs_filters(sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace, suite: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    by_suite = sdk.llm.evals.list_runs(suite_id=suite.suite.id, limit=100)
    assert isinstance(by_suite, models.ListEvalRunsResponse)
    assert_raw_object(wire.last.response_json, "list", ["object", "data", "has_more"])
    for item in wire.last.response_json["data"]:
        assert_raw_object(item, "eval.run", RUN_KEYS)
    assert run_id in {r.id for r in by_suite.data}
    assert all(r.suite_id == suite.suite.id for r in by_suite.data)
    listed = next(r for r in by_suite.data if r.id == run_id)
    assert listed.status == "completed"
    assert listed.request_counts.total == 28

    completed = sdk.llm.evals.list_runs(status="completed", limit=100)
    assert run_id in {r.id for r in completed.data}
    assert all(r.status == "completed" for r in completed.data)
    for status in ("queued", "cancelled", "failed"):
        page = sdk.llm.evals.list_runs(status=status, limit=100)
        assert run_id not in {r.id for r in page.data}
        assert all(r.status == status for r in page.data)

    both = sdk.llm.evals.list_runs(suite_id=suite.suite.id, status="completed", limit=100)
    assert run_id in {r.id for r in both.data}
    v1 = sdk.llm.evals.list_runs(suite_id=suite.suite.id, suite_version=1, limit=100)
    assert run_id in {r.id for r in v1.data}
    assert sdk.llm.evals.list_runs(suite_id=suite.suite.id, suite_version=2, limit=100).data == []
    other = sdk.llm.evals.list_runs(suite_id="eval_suite_" + "0" * 32, limit=100)
    assert other.data == [] and other.has_more is False


def test_other_tenant_cannot_see_runs(other_sdk: SDK, finished_run: SimpleNamespace) -> None:
    run_id = finished_run.run.id
    error_body(expect_api_error(404, lambda: other_sdk.llm.evals.get_run(run_id=run_id)))
    expect_api_error(404, lambda: other_sdk.llm.evals.list_samples(run_id=run_id))
    expect_api_error(404, lambda: other_sdk.llm.evals.get_artifacts(run_id=run_id))
    expect_api_error(404, lambda: other_sdk.llm.evals.cancel_run(run_id=run_id))
    expect_api_error(404, lambda: other_sdk.llm.evals.delete_run(run_id=run_id))
    assert run_id not in {r.id for r in other_sdk.llm.evals.list_runs(limit=100).data}


# ---------------------------------------------------------------------------
# Token backfill
# ---------------------------------------------------------------------------

MEASUREMENT_KEYS = ["suite_id", "measured_runs", "measured_samples", "remaining_runs", "object"]


def test_measure_suite_tokens_has_nothing_to_do_on_fresh_runs(
    sdk: SDK, wire: WireRecorder, finished_run: SimpleNamespace, suite: SimpleNamespace
) -> None:
    """Samples written by this server carry token figures (the provider's, or estimated from
    the text when it reports none), so the backfill finds nothing to measure and changes
    nothing, however often it is called."""
    suite_id = suite.suite.id
    before = sdk.llm.evals.get_run(run_id=finished_run.run.id)
    measured = sdk.llm.evals.measure_suite_tokens(suite_id=suite_id)
    assert wire.last.request_json == {"limit": 5}
    assert_raw_object(wire.last.response_json, "eval.suite.token_measurement", MEASUREMENT_KEYS)
    assert sorted(wire.last.response_json) == sorted(MEASUREMENT_KEYS)
    assert isinstance(measured, models.EvalSuiteTokenMeasurement)
    assert (measured.suite_id, measured.measured_runs, measured.measured_samples, measured.remaining_runs) == (
        suite_id, 0, 0, 0,
    )
    # The body may be empty (`limit` defaults to 5) or name up to 100 runs.
    for limit, sent in [(None, {}), (100, {"limit": 100})]:
        again = sdk.llm.evals.measure_suite_tokens(suite_id=suite_id, limit=limit)
        assert wire.last.request_json == sent
        assert (again.measured_runs, again.measured_samples, again.remaining_runs) == (0, 0, 0)
    after = sdk.llm.evals.get_run(run_id=finished_run.run.id)
    assert after.tokens == before.tokens
    assert after.metrics == before.metrics


def test_measure_suite_tokens_refusals(sdk: SDK, other_sdk: SDK, suite: SimpleNamespace) -> None:
    missing = "eval_suite_" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.evals.measure_suite_tokens(suite_id=missing)))
    # Another tenant's suite is indistinguishable from a missing one.
    error_body(expect_api_error(404, lambda: other_sdk.llm.evals.measure_suite_tokens(suite_id=suite.suite.id)))
    for limit in (0, 101):
        body = error_body(
            expect_api_error(400, lambda: sdk.llm.evals.measure_suite_tokens(suite_id=suite.suite.id, limit=limit))
        )
        assert body["error"]["details"]["param"] == "limit", body


# ---------------------------------------------------------------------------
# Cancel, delete
# ---------------------------------------------------------------------------


def test_cancel_completed_run_is_409(sdk: SDK, finished_run: SimpleNamespace) -> None:
    err = expect_api_error(409, lambda: sdk.llm.evals.cancel_run(run_id=finished_run.run.id))
    error_body(err)
    assert sdk.llm.evals.get_run(run_id=finished_run.run.id).status == "completed"


def test_cancel_running_run(sdk: SDK, wire: WireRecorder, fake) -> None:
    nonce = uuid.uuid4().hex[:12]
    rows = [{"question": f"cancel-{nonce} row {i} [[hang]]", "answer": "never"} for i in range(12)]
    prompts = [r["question"] for r in rows]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    dataset = upload(sdk, "hang_rows.jsonl", data)
    suite = sdk.llm.evals.create_suite(
        name=unique("hang"),
        manifest={
            "tasks": [
                {
                    "id": "hang",
                    "type": "qa",
                    "dataset": {"file_id": dataset.id, "format": "jsonl"},
                    "prompt_template": "{{question}}",
                    "target_template": "{{answer}}",
                }
            ]
        },
    )
    run = sdk.llm.evals.create_run(suite_id=suite.id, models=["auto"], generation_concurrency=3)
    assert run.status in ("queued", "in_progress")
    assert run.models == ["auto"]

    # Wait until the fake holds the first three calls (never answered).
    def calls() -> int:
        return sum(fake.requests()["by_prompt"].get(p, 0) for p in prompts)

    wait_until("the fake model to receive the run's first calls", lambda: calls() >= 3)
    cancelled = sdk.llm.evals.cancel_run(run_id=run.id)
    total_at_cancel = fake.requests()["total"]
    assert_raw_object(wire.last.response_json, "eval.run", RUN_KEYS)
    assert isinstance(cancelled, models.CancelEvalRunResponse)
    assert cancelled.id == run.id
    assert cancelled.status in ("cancelling", "cancelled"), cancelled.status

    final = wait_for_run(sdk, run.id)
    assert final.status == "cancelled"
    check_recent(final.cancelled_at)
    assert final.completed_at is None and final.failed_at is None
    assert final.request_counts.completed == 0
    assert final.request_counts.total in (0, 12)

    # `auto` went to the registry's `fake` entry (chat_completions).
    log = fake.requests()
    hang_calls = [r for r in log["recent"] if r["prompt"] in set(prompts)]
    assert hang_calls and {(r["endpoint"], r["model"]) for r in hang_calls} == {("chat_completions", "fake")}

    # No model call starts after the cancel returned (watched for longer than the executor's
    # 2 s scheduling poll), and the hanging ones were abandoned.
    time.sleep(2.5)
    assert fake.requests()["total"] == total_at_cancel, "model calls were made after the cancel returned"
    wait_until("the hanging model calls to be dropped", lambda: fake.requests()["in_flight"] == 0, timeout=15)
    assert calls() == 3

    samples = all_samples(sdk, run.id)
    assert len(samples) in (0, 12)
    assert not [s for s in samples if s.status == "completed"]

    assert run.id in {r.id for r in sdk.llm.evals.list_runs(status="cancelled", limit=100).data}
    # Cancelling again: a cancelled run is not cancellable.
    error_body(expect_api_error(409, lambda: sdk.llm.evals.cancel_run(run_id=run.id)))


def test_task_subset_run_then_delete(sdk: SDK, wire: WireRecorder, fake, suite: SimpleNamespace) -> None:
    """A run of one task on the Completions endpoint; then it is deleted."""
    before = fake.requests()
    run = sdk.llm.evals.create_run(suite_id=suite.suite.id, models=["fake-completions"], task_ids=["mc"])
    assert run.task_ids == ["mc"]
    final = wait_for_run(sdk, run.id)
    raw = wire.last.response_json
    assert final.status == "completed", raw.get("error")
    expected = expected_samples(["fake-completions"], ["mc"])
    assert raw["request_counts"] == {"total": N, "completed": N, "failed": 0}
    assert_by_task(raw["metrics"]["by_task"], expected_by_task(expected))
    samples = all_samples(sdk, run.id)
    assert sorted(key(s) for s in samples) == sorted(("mc", "fake-completions", i) for i in range(N))
    want = {(e.task_id, e.model, e.index): e for e in expected}
    for s in samples:
        e = want[key(s)]
        assert (s.status, s.output_text, s.scores) == (e.status, e.output_text, e.scores), key(s)
        # Completions usage has no cached / reasoning split: null, not 0.
        assert (s.input_tokens, s.output_tokens, s.cached_tokens, s.reasoning_tokens) == (
            e.input_tokens, e.output_tokens, None, None
        ), key(s)
    after = fake.requests()
    new = [r for r in after["recent"] if r["seq"] > before["total"]]
    assert len(new) == N and {(r["endpoint"], r["model"]) for r in new} == {("completions", "fake-completions")}

    deleted = sdk.llm.evals.delete_run(run_id=run.id)
    assert_raw_object(wire.last.response_json, "eval.run.deleted", ["id", "object", "deleted"])
    assert isinstance(deleted, models.EvalRunDeletedObject)
    assert deleted.id == run.id and deleted.deleted is True and deleted.object == "eval.run.deleted"

    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_run(run_id=run.id)))
    expect_api_error(404, lambda: sdk.llm.evals.list_samples(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.get_artifacts(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.get_run_overview(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.cancel_run(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.delete_run(run_id=run.id))
    assert run.id not in {r.id for r in sdk.llm.evals.list_runs(suite_id=suite.suite.id, limit=100).data}


# ---------------------------------------------------------------------------
# Bad requests
# ---------------------------------------------------------------------------


def test_bad_run_requests(sdk: SDK, suite: SimpleNamespace) -> None:
    suite_id = suite.suite.id
    runs_before = {r.id for r in sdk.llm.evals.list_runs(suite_id=suite_id, limit=100).data}

    def bad(param: str, **kwargs: Any) -> Dict[str, Any]:
        err = expect_api_error(400, lambda: sdk.llm.evals.create_run(**kwargs))
        body = error_body(err)
        assert param in json.dumps(body), f"error does not name {param}: {body}"
        return body

    bad("models[0]", suite_id=suite_id, models=["no-such-model"])
    bad("models[1]", suite_id=suite_id, models=["fake", "no-such-model"])
    bad("task_ids[1]", suite_id=suite_id, models=["fake"], task_ids=["qa", "no-such-task"])
    bad("suite_version", suite_id=suite_id, models=["fake"], suite_version=9)
    bad("suite_id", suite_id="eval_suite_" + "0" * 32, models=["fake"])

    # suite_version filters need a suite_id.
    error_body(expect_api_error(400, lambda: sdk.llm.evals.list_runs(suite_version=1)))
    # Unknown runs.
    missing = "eval_run_" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_run(run_id=missing)))
    error_body(expect_api_error(404, lambda: sdk.llm.evals.cancel_run(run_id=missing)))
    error_body(expect_api_error(404, lambda: sdk.llm.evals.delete_run(run_id=missing)))

    # Nothing was created by the rejected requests.
    assert {r.id for r in sdk.llm.evals.list_runs(suite_id=suite_id, limit=100).data} == runs_before
