"""SDK conformance: Python graders and preprocessors (spec 2.7, 2.8, 6.4) through meetkai-mka1.

Suites whose tasks carry a ``grader`` (``sample``, ``batch`` and ``model_backed`` contracts,
inline ``source`` or an uploaded ``.py`` by ``file_id``) or a ``preprocess`` block (``row`` and
``batch``) are created with ``sdk.llm.evals.create_suite``, run against the fake model server
with ``create_run``, polled to the end with ``get_run`` and read back with ``list_samples``; all
through the official SDK. The only other HTTP traffic is reading the fake model's request log.

The model answers are scripted by the rows (see ``ROWS``): every prompt carries an
``[[answer:X]]`` directive, so the fake answers ``X``; the judge prompts a model-backed grader
builds carry the row's ``verdict`` directive the same way. Every expected score, count and
mean below follows from that table.
"""

from __future__ import annotations

import json
from statistics import fmean
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, error_body, expect_api_error

# The run helpers and the `fake` fixture (skips without a fake model server) of the run tests.
from test_runs import all_samples, fake, unique, upload, wait_for_run  # noqa: F401  (fake: fixture)

# ---------------------------------------------------------------------------
# The dataset: what the fake model answers for each row, and what graders make of it
# ---------------------------------------------------------------------------

ROWS: List[Dict[str, str]] = [
    {"q": "Capital of France? [[answer:Paris]]", "a": "Paris", "verdict": "[[answer:0.9]]"},
    {"q": "Capital of Italy? [[answer:Milan]]", "a": "Rome", "verdict": "[[answer:0.2]]"},
    {"q": "Capital of Norway? [[answer:Oslo]]", "a": "Oslo", "verdict": "[[answer:0.7]]"},
    {"q": "Capital of Spain? [[answer:Madrid]]", "a": "Madrid", "verdict": "[[answer:1]]"},
]
N = len(ROWS)
OUTPUTS = ["Paris", "Milan", "Oslo", "Madrid"]  # the fake's answer to each row's prompt
CORRECT = [1.0, 0.0, 1.0, 1.0]  # output == target
VERDICTS = [0.9, 0.2, 0.7, 1.0]  # the judge's answer to each row's verdict directive

# Rows a preprocessor rewrites: the task templates name columns only the preprocessors add.
WORDS: List[Dict[str, str]] = [{"word": "alpha"}, {"word": "skip"}, {"word": "gamma"}, {"word": "delta"}]


def jsonl(rows: List[Dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# ---------------------------------------------------------------------------
# Grader and preprocessor code
# ---------------------------------------------------------------------------

# sample contract, float return: stored under the default metric id, "score".
EXACT = """\
def grade(sample, item):
    return 1.0 if sample["extracted_output"].strip() == item["target"] else 0.0
"""

# sample contract, bool return (stored as 1.0 / 0.0 under metric_id).
BOOLEAN = """\
def grade(sample, item):
    return sample["output_text"] == item["a"]
"""

# Uploaded as a .py file: a dict of metrics, and ctx.info describing the call.
FILE_GRADER = b"""\
def grade(sample, item, ctx):
    info = ctx.info
    return {
        "exact": float(sample["output_text"].lower() == item["target"].lower()),
        "ctx_ok": (info.task_id, info.model, info.metric_id) == ("from_file", "fake", "exact"),
    }
"""

# batch contract: per-sample results and task-level metrics from one call per (task, model).
BATCH_BOTH = """\
def grade_batch(samples):
    correct = [s["output_text"] == s["item"]["a"] for s in samples]
    return {
        "samples": correct,
        "metrics": {
            "batch_size": len(samples),
            "all_correct": all(correct),
            "distinct_outputs": len({s["output_text"] for s in samples}),
        },
    }
"""

# batch contract, a dict: task-level metrics only.
BATCH_METRICS_ONLY = """\
def grade_batch(samples, ctx):
    right = sum(1 for s in samples if s["extracted_output"] == s["item"]["target"])
    return {"task_accuracy": right / len(samples),
            "one_model": all(s["model"] == ctx.info.model for s in samples)}
"""

# batch contract, a list: one result per sample.
BATCH_LIST = """\
def grade_batch(samples):
    return [{"length": len(s["output_text"])} for s in samples]
"""

RAISES = """\
def grade(sample, item):
    if sample["index"] == 1:
        raise ValueError("no good " + item["a"])
    return 1
"""

BAD_RETURN = """\
def grade(sample, item):
    return "not a score" if sample["index"] == 2 else 0.5
"""

LOOPS = """\
def grade(sample, item):
    while sample["index"] == 3:
        pass
    return 0.25
"""

# model_backed: asks the run's judge model (model="auto") and embedding model through the
# bridge; the judge's reply is the row's scripted verdict and becomes the score.
JUDGE = """\
def grade(sample, item, ctx):
    reply = ctx.responses_create(
        input="Grade " + sample["output_text"] + " against " + item["target"] + ". " + item["verdict"],
        model="auto",
    )
    vectors = ctx.embeddings_create(input=[sample["output_text"], item["target"]])
    same = vectors.data[0].embedding == vectors["data"][1]["embedding"]
    return {"verdict": float(reply.output_text), "same_embedding": same}
"""

ROW_PREPROCESS = """\
def transform(row):
    if row["word"] == "skip":
        return None
    word = row["word"].upper()
    return {**row, "q": "Say " + word + " [[answer:" + word + "]]", "a": word}
"""

# Uploaded as a .py file: drops "skip", reverses the rest and numbers them.
BATCH_PREPROCESS = b"""\
def transform_batch(rows):
    kept = [r["word"] for r in rows if r["word"] != "skip"]
    return [{"q": f"#{i} of {len(kept)}: {w} [[answer:{w}]]", "a": w}
            for i, w in enumerate(reversed(kept))]
"""


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def task(task_id: str, file_id: str, *, grader: Optional[Dict[str, Any]] = None, **extra: Any) -> Dict[str, Any]:
    """A ``custom`` task over ``file_id`` rendering ``{{q}}`` / ``{{a}}``; ``grader`` gets
    ``type: python``."""
    out: Dict[str, Any] = {
        "id": task_id,
        "type": "custom",
        "dataset": {"file_id": file_id, "format": "jsonl"},
        "prompt_template": "{{q}}",
        "target_template": "{{a}}",
    }
    if grader is not None:
        out["grader"] = {"type": "python", **grader}
    out.update(extra)
    return out


def run_suite(sdk: SDK, wire: WireRecorder, tasks: List[Dict[str, Any]], **run_args: Any) -> SimpleNamespace:
    """Creates a suite of ``tasks``, runs it (``models`` defaults to ``["fake"]``), waits for
    the end; the run as the SDK parsed it, its raw JSON, and its samples by (task, model, index)."""
    suite = sdk.llm.evals.create_suite(name=unique("py-graders"), manifest={"tasks": tasks})
    run_args.setdefault("models", ["fake"])
    created = sdk.llm.evals.create_run(suite_id=suite.id, **run_args)
    final = wait_for_run(sdk, created.id)
    raw = wire.last.response_json
    assert final.status == "completed", f"run ended {final.status}: {raw.get('error')}"
    assert final.error is None
    samples = {(s.task_id, s.model, s.sample_index): s for s in all_samples(sdk, final.id)}
    return SimpleNamespace(suite=suite, run=final, raw=raw, samples=samples)


def metric(run: models.GetEvalRunResponse, model: str, task_id: str, name: str) -> Dict[str, Any]:
    """``metrics.by_model[model][task].metrics[name]`` of a finished run."""
    entry = run.metrics["by_model"][model][task_id]["metrics"]
    assert name in entry, f"{model}/{task_id}: no metric {name!r} in {sorted(entry)}"
    return entry[name]


def assert_metric(run: models.GetEvalRunResponse, model: str, task_id: str, name: str, mean: float,
                  aggregation: str, n: int) -> None:
    m = metric(run, model, task_id, name)
    where = f"{model}/{task_id}/{name}: {m}"
    assert m["mean"] == pytest.approx(mean, rel=0, abs=1e-12), where
    assert m["aggregation"] == aggregation, where
    assert m["n"] == n, where


def _sent_manifest(wire: WireRecorder, suite_id: str) -> Dict[str, Any]:
    """The manifest of the recorded create-suite request that returned ``suite_id``."""
    for ex in reversed(wire.exchanges):
        if ex.method == "POST" and isinstance(ex.response_json, dict) and ex.response_json.get("id") == suite_id:
            return ex.request_json["manifest"]
    pytest.fail(f"no recorded create-suite request for {suite_id}")


def new_requests(before: Dict[str, Any], after: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The fake model's requests between two snapshots of its log."""
    new = [r for r in after["recent"] if r["seq"] > before["total"]]
    assert len(new) == after["total"] - before["total"], "the fake's request log dropped entries"
    return new


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
# The tests that run a suite also take `fake` (they skip without the fake model server).


@pytest.fixture(scope="module")
def dataset(sdk: SDK) -> str:
    return upload(sdk, "capitals.jsonl", jsonl(ROWS)).id


@pytest.fixture(scope="module")
def words(sdk: SDK) -> str:
    return upload(sdk, "words.jsonl", jsonl(WORDS)).id


# ---------------------------------------------------------------------------
# (1) sample contract: inline source and an uploaded .py
# ---------------------------------------------------------------------------


def test_sample_graders_from_source_and_file(sdk: SDK, wire: WireRecorder, fake, dataset: str) -> None:
    py = upload(sdk, "capital_grader.py", FILE_GRADER)
    assert py.purpose == "evals" and py.filename == "capital_grader.py"

    done = run_suite(
        sdk,
        wire,
        [
            task("inline", dataset, grader={"source": EXACT}),
            task("from_file", dataset, grader={"file_id": py.id, "metric_id": "exact"}),
            task("boolean", dataset, grader={"contract": "sample", "source": BOOLEAN, "metric_id": "correct"}),
        ],
    )
    # The SDK's request model (which drops keys it does not know) sent the grader blocks on.
    sent = [t["grader"] for t in _sent_manifest(wire, done.suite.id)["tasks"]]
    assert sent[0]["source"] == EXACT and sent[1]["file_id"] == py.id and sent[2]["contract"] == "sample"

    run = done.run
    assert run.request_counts.total == 3 * N
    assert run.request_counts.completed == 3 * N and run.request_counts.failed == 0
    accuracy = fmean(CORRECT)
    assert_metric(run, "fake", "inline", "score", accuracy, "mean", N)
    assert_metric(run, "fake", "from_file", "exact", accuracy, "mean", N)
    assert_metric(run, "fake", "from_file", "ctx_ok", 1.0, "mean", N)
    assert_metric(run, "fake", "boolean", "correct", accuracy, "mean", N)
    by_task = run.metrics["by_task"]
    assert by_task["inline"]["score"] == pytest.approx(accuracy, abs=1e-12)
    assert by_task["from_file"]["exact"] == pytest.approx(accuracy, abs=1e-12)

    expected = {
        "inline": lambda i: {"score": CORRECT[i]},
        "from_file": lambda i: {"exact": CORRECT[i], "ctx_ok": 1.0},
        "boolean": lambda i: {"correct": CORRECT[i]},
    }
    assert set(done.samples) == {(t, "fake", i) for t in expected for i in range(N)}
    for (task_id, _, i), s in done.samples.items():
        where = f"{task_id}#{i}"
        assert isinstance(s, models.EvalSampleObject)
        assert s.status == "completed", f"{where}: {s.error}"
        assert s.prompt == ROWS[i]["q"] and s.target == ROWS[i]["a"], where
        assert s.output_text == OUTPUTS[i], where
        assert s.scores == expected[task_id](i), f"{where}: {s.scores}"
        assert s.error is None and s.judge is None, where

    # list_samples' score filter works on a grader's metric too.
    right = all_samples(sdk, run.id, task_id="from_file", score_metric="exact", score_min=1)
    assert sorted(s.sample_index for s in right) == [i for i in range(N) if CORRECT[i] == 1.0]


# ---------------------------------------------------------------------------
# (2) batch contract: task-level metrics
# ---------------------------------------------------------------------------


def test_batch_graders_report_task_level_metrics(sdk: SDK, wire: WireRecorder, fake, dataset: str) -> None:
    models_ = ["fake", "fake-responses"]
    done = run_suite(
        sdk,
        wire,
        [
            task("both", dataset, grader={"contract": "batch", "source": BATCH_BOTH, "metric_id": "correct"}),
            task("task_only", dataset, grader={"contract": "batch", "source": BATCH_METRICS_ONLY}),
            task("per_sample", dataset, grader={"contract": "batch", "source": BATCH_LIST}),
        ],
        models=models_,
    )
    run = done.run
    assert run.request_counts.total == 3 * N * len(models_) and run.request_counts.failed == 0
    lengths = [len(o) for o in OUTPUTS]
    for model in models_:
        # One grade_batch call per (task, model), over that model's N samples.
        assert_metric(run, model, "both", "batch_size", N, "task", N)
        assert_metric(run, model, "both", "all_correct", 0.0, "task", N)
        assert_metric(run, model, "both", "distinct_outputs", len(set(OUTPUTS)), "task", N)
        assert_metric(run, model, "both", "correct", fmean(CORRECT), "mean", N)
        assert_metric(run, model, "task_only", "task_accuracy", fmean(CORRECT), "task", N)
        assert_metric(run, model, "task_only", "one_model", 1.0, "task", N)
        assert_metric(run, model, "per_sample", "length", fmean(lengths), "mean", N)
        assert set(run.metrics["by_model"][model]["task_only"]["metrics"]) == {"task_accuracy", "one_model"}
    assert run.metrics["by_task"]["both"]["batch_size"] == N

    assert len(done.samples) == 3 * N * len(models_)
    for (task_id, model, i), s in done.samples.items():
        where = f"{task_id}/{model}#{i}"
        assert s.status == "completed", f"{where}: {s.error}"
        assert s.output_text == OUTPUTS[i], where
        want = {"both": {"correct": CORRECT[i]}, "task_only": {}, "per_sample": {"length": float(lengths[i])}}[task_id]
        assert s.scores == want, f"{where}: {s.scores}"


# ---------------------------------------------------------------------------
# (3) preprocessors: row (inline) and batch (uploaded file)
# ---------------------------------------------------------------------------


def test_preprocessors_rewrite_the_prompts(sdk: SDK, wire: WireRecorder, fake, words: str) -> None:
    batch_file = upload(sdk, "reverse_rows.py", BATCH_PREPROCESS)
    kept = [w["word"] for w in WORDS if w["word"] != "skip"]
    row_prompts = [f"Say {w.upper()} [[answer:{w.upper()}]]" for w in kept]
    batch_words = list(reversed(kept))
    batch_prompts = [f"#{i} of {len(kept)}: {w} [[answer:{w}]]" for i, w in enumerate(batch_words)]

    before = fake.requests()
    done = run_suite(
        sdk,
        wire,
        [
            task("rows", words, type="qa", metrics=[{"id": "exact_match"}],
                 preprocess={"type": "python", "contract": "row", "source": ROW_PREPROCESS}),
            task("batch", words, type="qa", metrics=[{"id": "exact_match"}],
                 preprocess={"type": "python", "contract": "batch", "file_id": batch_file.id}),
        ],
    )
    after = fake.requests()
    run = done.run
    # "skip" was dropped by both: 3 samples per task.
    assert run.request_counts.total == 2 * len(kept) and run.request_counts.completed == 2 * len(kept)
    assert_metric(run, "fake", "rows", "exact_match", 1.0, "mean", len(kept))
    assert_metric(run, "fake", "batch", "exact_match", 1.0, "mean", len(kept))

    assert set(done.samples) == {(t, "fake", i) for t in ("rows", "batch") for i in range(len(kept))}
    for i, word in enumerate(kept):
        s = done.samples[("rows", "fake", i)]
        assert s.prompt == row_prompts[i], s.prompt
        assert s.target == word.upper() and s.output_text == word.upper()
        assert s.dataset_row == {"word": word, "q": row_prompts[i], "a": word.upper()}, s.dataset_row
    for i, word in enumerate(batch_words):
        s = done.samples[("batch", "fake", i)]
        assert s.prompt == batch_prompts[i], s.prompt
        assert s.target == word and s.output_text == word
        assert s.dataset_row == {"q": batch_prompts[i], "a": word}, s.dataset_row

    # The model was sent the rewritten prompts, once each, and nothing about "skip".
    sent = [r["prompt"] for r in new_requests(before, after)]
    assert sorted(sent) == sorted(row_prompts + batch_prompts), sent


# ---------------------------------------------------------------------------
# (4) a grader that raises fails only its sample
# ---------------------------------------------------------------------------


def test_grader_errors_fail_only_their_samples(sdk: SDK, wire: WireRecorder, fake, dataset: str) -> None:
    done = run_suite(
        sdk,
        wire,
        [
            task("raises", dataset, grader={"source": RAISES}),
            task("bad_return", dataset, grader={"source": BAD_RETURN}),
            task("healthy", dataset, grader={"source": EXACT}),
            task("loops", dataset, grader={"source": LOOPS, "timeout_seconds": 1}),
        ],
    )
    run = done.run
    assert run.request_counts.total == 4 * N
    assert run.request_counts.completed == 4 * N - 3 and run.request_counts.failed == 3
    by_model = run.metrics["by_model"]["fake"]
    assert by_model["raises"]["samples"] == {"total": N, "completed": N - 1, "failed": 1}
    assert by_model["bad_return"]["samples"] == {"total": N, "completed": N - 1, "failed": 1}
    assert by_model["healthy"]["samples"] == {"total": N, "completed": N, "failed": 0}
    # Means over the completed samples only.
    assert_metric(run, "fake", "raises", "score", 1.0, "mean", N - 1)
    assert_metric(run, "fake", "bad_return", "score", 0.5, "mean", N - 1)
    assert_metric(run, "fake", "healthy", "score", fmean(CORRECT), "mean", N)
    assert_metric(run, "fake", "loops", "score", 0.25, "mean", N - 1)

    raised = done.samples[("raises", "fake", 1)]
    assert raised.status == "failed"
    # The model's answer is kept; only grading failed.
    assert raised.output_text == OUTPUTS[1] and raised.scores == {}
    err = raised.error
    assert err["type"] == "grader_error", err
    assert err["exception"] == "ValueError", err
    assert "no good Rome" in err["message"], err
    assert isinstance(err["traceback"], str), err
    assert "line 3, in grade" in err["traceback"], err["traceback"]
    assert err["traceback"].rstrip().endswith("ValueError: no good Rome"), err["traceback"]

    invalid = done.samples[("bad_return", "fake", 2)]
    assert invalid.status == "failed" and invalid.scores == {}
    assert invalid.error["type"] == "grader_invalid_result", invalid.error
    assert "string" in invalid.error["message"], invalid.error

    # A grader still running after timeout_seconds is stopped; the next sample's call works.
    timed_out = done.samples[("loops", "fake", 3)]
    assert timed_out.status == "failed" and timed_out.scores == {}
    assert timed_out.error["type"] == "grader_timeout", timed_out.error

    failing = {("raises", "fake", 1), ("bad_return", "fake", 2), ("loops", "fake", 3)}
    for key_, s in done.samples.items():
        if key_ in failing:
            continue
        assert s.status == "completed" and s.error is None, f"{key_}: {s.error}"
        want = {"raises": 1.0, "bad_return": 0.5, "healthy": CORRECT[key_[2]], "loops": 0.25}[key_[0]]
        assert s.scores == {"score": want}, f"{key_}: {s.scores}"

    failed = all_samples(sdk, run.id, status="failed")
    assert sorted((s.task_id, s.model, s.sample_index) for s in failed) == sorted(failing)


# ---------------------------------------------------------------------------
# (5) code is checked when the suite is created
# ---------------------------------------------------------------------------

# Not Python: uploaded, then named by file_id.
BROKEN_PY = b"def grade(sample, item)\n    return 1\n"

BAD_CODE = [
    pytest.param({"grader": {"source": "def grade(sample, item):\n    return (\n"}},
                 "manifest.tasks[0].grader.source", "SyntaxError", id="syntax-error"),
    pytest.param({"grader": {"source": "def score(sample, item):\n    return 1\n"}},
                 "manifest.tasks[0].grader.source", "grade(sample, item)", id="no-grade-function"),
    pytest.param({"grader": {"source": "def grade(sample):\n    return 1\n"}},
                 "manifest.tasks[0].grader.source", "wrong parameters", id="wrong-signature"),
    pytest.param({"grader": {"contract": "batch", "source": EXACT}},
                 "manifest.tasks[0].grader.source", "grade_batch(samples)", id="batch-without-grade_batch"),
    pytest.param({"grader": {"file_id": BROKEN_PY}},
                 "manifest.tasks[0].grader.file_id", "line 1", id="file-syntax-error"),
    pytest.param({"preprocess": {"contract": "batch", "source": ROW_PREPROCESS}},
                 "manifest.tasks[0].preprocess.source", "transform_batch(rows)", id="preprocess-wrong-function"),
]


@pytest.mark.parametrize("change, path, says", BAD_CODE)
def test_bad_code_is_a_400_naming_the_field(sdk: SDK, dataset: str, change: Dict[str, Any], path: str,
                                            says: str) -> None:
    block_name, block = next(iter(change.items()))
    block = {"type": "python", **block}
    if isinstance(block.get("file_id"), bytes):
        block["file_id"] = upload(sdk, "broken.py", block["file_id"]).id
    bad_task = task("t", dataset, **{block_name: block})
    name = unique("bad-code")

    err = expect_api_error(400, lambda: sdk.llm.evals.create_suite(name=name, manifest={"tasks": [bad_task]}))
    body = error_body(err)
    assert (body["error"].get("details") or {}).get("param") == path, body
    message = body["error"]["message"]
    assert path in message and says in message, message
    assert name not in {s.name for s in sdk.llm.evals.list_suites(limit=100).data}, "a rejected suite was created"


def test_bad_grader_in_a_new_version_is_a_400(sdk: SDK, dataset: str) -> None:
    suite = sdk.llm.evals.create_suite(
        name=unique("good-then-bad"), manifest={"tasks": [task("t", dataset, grader={"source": EXACT})]}
    )
    broken = task("t", dataset, grader={"source": "def grade(sample, item):\n    return (\n"})
    err = expect_api_error(
        400, lambda: sdk.llm.evals.create_suite_version(suite_id=suite.id, manifest={"tasks": [broken]})
    )
    body = error_body(err)
    assert body["error"]["details"]["param"] == "manifest.tasks[0].grader.source", body
    assert "SyntaxError" in body["error"]["message"], body
    assert sdk.llm.evals.get_suite(suite_id=suite.id).latest_version == 1


# ---------------------------------------------------------------------------
# (6) model_backed: the grader calls the run's judge and embedding models
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("judge_model", ["fake-responses", None], ids=["judge-fake-responses", "judge-auto"])
def test_model_backed_grader_uses_the_judge(
    sdk: SDK, wire: WireRecorder, fake, dataset: str, judge_model: Optional[str]
) -> None:
    before = fake.requests()
    run_args: Dict[str, Any] = {"judge_model": judge_model} if judge_model else {}
    done = run_suite(sdk, wire, [task("judged", dataset, grader={"contract": "model_backed", "source": JUDGE})],
                     **run_args)
    after = fake.requests()
    run = done.run
    assert run.judge_model == judge_model
    assert run.request_counts.total == N and run.request_counts.completed == N

    assert_metric(run, "fake", "judged", "verdict", fmean(VERDICTS), "mean", N)
    assert_metric(run, "fake", "judged", "same_embedding", fmean(CORRECT), "mean", N)
    judge_prompts = [f"Grade {OUTPUTS[i]} against {ROWS[i]['a']}. {ROWS[i]['verdict']}" for i in range(N)]
    for i in range(N):
        s = done.samples[("judged", "fake", i)]
        where = f"judged#{i}"
        assert s.status == "completed", f"{where}: {s.error}"
        assert s.output_text == OUTPUTS[i], where
        assert s.scores == {"verdict": VERDICTS[i], "same_embedding": CORRECT[i]}, f"{where}: {s.scores}"
        calls = s.judge["model_calls"]
        assert [c["kind"] for c in calls] == ["responses", "embeddings"], s.judge
        assert calls[0]["model"] == (judge_model or "auto"), s.judge

    # The fake saw: the candidate calls, then per sample one judge call on the Responses
    # endpoint of fake-responses (the run's judge, or auto's) and one embedding call.
    new = new_requests(before, after)
    candidate = [r for r in new if r["endpoint"] == "chat_completions"]
    judge = [r for r in new if r["endpoint"] == "responses"]
    embed = [r for r in new if r["endpoint"] == "embeddings"]
    assert len(new) == 3 * N, [(r["endpoint"], r["model"], r["prompt"]) for r in new]
    assert sorted(r["prompt"] for r in candidate) == sorted(r["q"] for r in ROWS)
    assert {r["model"] for r in candidate} == {"fake"}
    assert sorted(r["prompt"] for r in judge) == sorted(judge_prompts)
    assert {r["model"] for r in judge} == {"fake-responses"}
    assert len(embed) == N and {r["model"] for r in embed} == {"fake-embeddings"}
