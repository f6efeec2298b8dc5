"""SDK conformance: runs over Hugging Face Hub datasets, through meetkai-mka1.

The session server reads the Hub at the fake Hub ``conftest.py`` starts (``assay-fake-hub``),
which serves the fixture repository crates/assay-hub/tests/fixtures/hub_repo (written with
Python ``datasets``/pyarrow by tests/reference/make_hub_reference.py) as ``acme/fixture``
(public), ``acme/private`` (private to the server's ``HF_TOKEN``) and ``acme/locked``
(private to another token). Every call to the Assay API goes through the official SDK
(``create_suite``, ``create_run``, ``get_run``, ``list_samples``, ``get_artifacts``,
``files.content``).

What the server must make of each dataset is what Python makes of the same directory:
``datasets.load_dataset`` picks the files of a config's split (or of ``data_files``) and reads
the rows, which every sample's ``dataset_row``, ``prompt`` and ``target`` are compared with;
the Parquet files the run recorded are read again with ``pyarrow.parquet`` and must hold those
rows in that order. The commit a run recorded in its results artifact must be the one the fake
Hub printed for the repository.

Every run of the module is created up front (they run side by side), then polled to a
terminal state with a deadline.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional

import pyarrow.parquet as pq
import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, make_sdk

# Bound on the wait for all of the module's runs to reach a terminal state.
RUN_TIMEOUT = 90.0
POLL_INTERVAL = 0.2
TERMINAL = {"completed", "failed", "cancelled"}

MODEL = "fake"
TASK = "t"
FIXTURE = "acme/fixture"
PRIVATE = "acme/private"
LOCKED = "acme/locked"

# The fake model answers what [[answer:…]] says, so a row's prompt scripts the right answer.
PARQUET_PROMPT = "{{question}} [[answer:{{answer}}]]"
PARQUET_TARGET = "{{answer}}"

# Stands for acme/fixture's commit (known once the fake Hub printed it) in a dataset's
# `revision`.
FIXTURE_COMMIT = "<the commit of acme/fixture>"


def hf(path: str, **fields: Any) -> Dict[str, Any]:
    return {"source": "huggingface", "path": path, **fields}


@dataclass(frozen=True)
class Case:
    """One run that must complete: the dataset as the manifest gives it, the templates, and
    the columns they are made of (Python reads the rows with ``load_dataset(<fixture dir>,
    name, split, data_files)``)."""

    dataset: Dict[str, Any]
    prompt: str
    target: str
    # Python's side: which column the prompt and target are made of.
    prompt_column: str = "question"
    target_column: str = "answer"
    max_rows: Optional[int] = None


OK_CASES: Dict[str, Case] = {
    # (a) The default config's train split: two Parquet files, 13 rows.
    "default_train": Case(hf(FIXTURE, split="train"), PARQUET_PROMPT, PARQUET_TARGET),
    # (b) A named config's other split: one Parquet file, 4 rows.
    "main_test": Case(hf(FIXTURE, name="main", split="test"), PARQUET_PROMPT, PARQUET_TARGET),
    # (c) JSON Lines through data_files (a hidden .jsonl beside it is not picked).
    "jsonl": Case(
        hf(FIXTURE, split="validation", data_files={"validation": "raw/*.jsonl"}),
        "{{question}} [[answer:{{id}}]]",
        "{{id}}",
        target_column="id",
    ),
    # (d) CSV through data_files, no split (train).
    "csv": Case(
        hf(FIXTURE, data_files="raw/scores.csv"),
        "{{text}} [[answer:{{id}}]]",
        "{{id}}",
        prompt_column="text",
        target_column="id",
    ),
    # (e) max_rows: the first 5 rows, across the split's first file.
    "max_rows": Case(hf(FIXTURE, split="train", max_rows=5), PARQUET_PROMPT, PARQUET_TARGET, max_rows=5),
    # (f) A private dataset the server's token opens.
    "private": Case(hf(PRIVATE, name="main", split="test"), PARQUET_PROMPT, PARQUET_TARGET),
    # A revision pinned to a commit is read at that commit.
    "pinned_commit": Case(hf(FIXTURE, split="test", revision=FIXTURE_COMMIT), PARQUET_PROMPT, PARQUET_TARGET),
}

# Failing datasets, with the words the run's error message must contain to tell the user
# what to check (beyond the task).
FAIL_CASES: Dict[str, tuple] = {
    "missing_repo": (hf("acme/missing", split="train"), ["acme/missing"]),
    "locked_repo": (hf(LOCKED, split="train"), [LOCKED, "token"]),
    "unknown_split": (hf(FIXTURE, split="dev"), [FIXTURE, "split `dev`"]),
    "unknown_config": (hf(FIXTURE, name="nope", split="train"), [FIXTURE, "config `nope`"]),
    "unknown_revision": (hf(FIXTURE, split="train", revision="v9"), [FIXTURE, "revision `v9`"]),
}


def resolve(dataset: Dict[str, Any], fake_hub) -> Dict[str, Any]:
    """The dataset with FIXTURE_COMMIT replaced by the commit the fake Hub printed."""
    if dataset.get("revision") == FIXTURE_COMMIT:
        return {**dataset, "revision": fake_hub.commits[FIXTURE]}
    return dataset


# ---------------------------------------------------------------------------
# What Python reads
# ---------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A row value as JSON, as the fixture's reference (make_hub_reference.py) writes it:
    bytes as base64, a NaN or infinity as null."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def as_text(value: Any) -> str:
    """A scalar column value as a template renders it."""
    return value if isinstance(value, str) else json.dumps(value)


@contextmanager
def offline_env() -> Iterator[None]:
    """``datasets`` reads local directories only: no Hub, no progress bars (set while it is
    imported and used, so the session server started earlier never sees these)."""
    wanted = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class PythonRead:
    files: List[str]  # relative to the repository, in the order `datasets` reads them
    rows: List[Dict[str, Any]]  # as JSON (jsonable)


@pytest.fixture(scope="module")
def python_reads(fake_hub, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, PythonRead]:
    """Each OK case's files and rows as ``datasets.load_dataset`` reads them from a copy of the
    fixture directory (the committed one is never written to; the cache is a temp dir)."""
    if fake_hub is None:
        pytest.skip("external server: the fake Hub's repositories are not ours")
    base = tmp_path_factory.mktemp("hub-python")
    repo = base / "hub_repo"
    shutil.copytree(fake_hub.fixture_dir, repo)
    cache = base / "cache"
    out: Dict[str, PythonRead] = {}
    with offline_env():
        import datasets

        for key, case in OK_CASES.items():
            d = case.dataset
            name, split, data_files = d.get("name"), d.get("split", "train"), d.get("data_files")
            ds = datasets.load_dataset(str(repo), name=name, split=split, data_files=data_files, cache_dir=str(cache))
            builder = datasets.load_dataset_builder(str(repo), name=name, data_files=data_files, cache_dir=str(cache))
            files = [Path(f).resolve().relative_to(repo.resolve()).as_posix() for f in builder.config.data_files[split]]
            rows = [jsonable(row) for row in ds]
            if case.max_rows is not None:
                rows = rows[: case.max_rows]
            out[key] = PythonRead(files=files, rows=rows)
    return out


# ---------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------


def manifest(dataset: Dict[str, Any], prompt: str, target: str) -> Dict[str, Any]:
    return {
        "tasks": [
            {
                "id": TASK,
                "type": "qa",
                "dataset": dataset,
                "prompt_template": prompt,
                "target_template": target,
            }
        ]
    }


@pytest.fixture(scope="module")
def hub_runs(sdk: SDK, wire: WireRecorder, fake_model, fake_hub) -> Dict[str, SimpleNamespace]:
    """Every case's run, all created first and then polled to a terminal state: the final
    run (SDK model and raw JSON) and the suite's manifest as the server stored it."""
    if fake_hub is None or fake_model is None:
        pytest.skip("external server: runs over Hub datasets need the session's fake Hub")
    specs = {k: (c.dataset, c.prompt, c.target) for k, c in OK_CASES.items()}
    specs.update({k: (d, "{{question}}", "x") for k, (d, _) in FAIL_CASES.items()})
    created: Dict[str, SimpleNamespace] = {}
    for key, (dataset, prompt, target) in specs.items():
        dataset = resolve(dataset, fake_hub)
        suite = sdk.llm.evals.create_suite(
            name=f"hub-{key}-{uuid.uuid4().hex[:8]}", manifest=manifest(dataset, prompt, target)
        )
        sdk.llm.evals.get_suite_version(suite_id=suite.id, version=1)
        stored = wire.last.response_json["manifest"]["tasks"][0]["dataset"]
        run = sdk.llm.evals.create_run(suite_id=suite.id, models=[MODEL])
        created[key] = SimpleNamespace(suite=suite, dataset=dataset, stored_dataset=stored, run_id=run.id)
    deadline = time.monotonic() + RUN_TIMEOUT
    pending = dict(created)
    while pending:
        for key, entry in list(pending.items()):
            run = sdk.llm.evals.get_run(run_id=entry.run_id)
            entry.run, entry.raw = run, wire.last.response_json
            if run.status in TERMINAL:
                del pending[key]
        if pending and time.monotonic() > deadline:
            states = {k: e.run.status for k, e in pending.items()}
            pytest.fail(f"runs not finished after {RUN_TIMEOUT:.0f}s: {states}")
        if pending:
            time.sleep(POLL_INTERVAL)
    return created


def run_one(client: SDK, recorder: WireRecorder, dataset: Dict[str, Any]) -> Dict[str, Any]:
    """Creates a suite over ``dataset`` and a run of it with ``client`` (whose exchanges
    ``recorder`` records), polls the run to a terminal state and returns its raw JSON."""
    suite = client.llm.evals.create_suite(
        name=f"hub-{uuid.uuid4().hex[:8]}", manifest=manifest(dataset, PARQUET_PROMPT, PARQUET_TARGET)
    )
    run_id = client.llm.evals.create_run(suite_id=suite.id, models=[MODEL]).id
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = client.llm.evals.get_run(run_id=run_id)
        if run.status in TERMINAL:
            return recorder.last.response_json
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.status!r} after {RUN_TIMEOUT:.0f}s")
        time.sleep(POLL_INTERVAL)


def samples_of(sdk: SDK, run_id: str) -> List[models.EvalSampleObject]:
    page = sdk.llm.evals.list_samples(run_id=run_id, limit=500, include_dataset_row=True)
    assert page.has_more is False
    return sorted(page.data, key=lambda s: s.sample_index)


def results_artifact(sdk: SDK, run_id: str) -> Dict[str, Any]:
    artifacts = sdk.llm.evals.get_artifacts(run_id=run_id)
    assert artifacts.result_file_id, f"run {run_id} has no results file: {artifacts}"
    res = sdk.llm.files.content(file_id=artifacts.result_file_id)
    try:
        assert res.status_code == 200
        return json.loads(res.read())
    finally:
        res.close()


def parquet_rows(repo_dir: Path, files: List[str]) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for f in files:
        rows.extend(jsonable(r) for r in pq.read_table(repo_dir / f).to_pylist())
    return rows


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(OK_CASES))
def test_hub_dataset_run_reads_the_rows_python_reads(
    key: str, sdk: SDK, hub_runs, python_reads, fake_hub
) -> None:
    case = OK_CASES[key]
    entry = hub_runs[key]
    want = python_reads[key]
    run = entry.run
    dataset = entry.dataset
    assert entry.stored_dataset == dataset, "the suite stores the dataset as sent"
    assert run.status == "completed", f"{dataset}: {entry.raw}"
    assert run.error is None, entry.raw
    n = len(want.rows)
    counts = entry.raw["request_counts"]
    assert (counts["total"], counts["completed"], counts["failed"]) == (n, n, 0), f"{dataset}: {counts}"
    assert entry.raw["metrics"]["by_task"][TASK]["exact_match"] == 1.0, entry.raw["metrics"]

    samples = samples_of(sdk, run.id)
    assert [s.sample_index for s in samples] == list(range(n))
    for s, row in zip(samples, want.rows):
        assert s.task_id == TASK and s.model == MODEL and s.status == "completed", s
        assert s.dataset_row == row, f"{key} row {s.sample_index}"
        answer = as_text(row[case.target_column])
        assert s.prompt == f"{as_text(row[case.prompt_column])} [[answer:{answer}]]", f"{key} row {s.sample_index}"
        assert s.target == answer, f"{key} row {s.sample_index}"
        assert s.output_text == answer and s.scores.get("exact_match") == 1.0, s

    # The commit read is recorded, with the files Python's `datasets` picked for the split.
    repo = dataset["path"]
    commit = fake_hub.commits[repo]
    recorded = results_artifact(sdk, run.id)["datasets"][f"{TASK}/dataset"]
    assert recorded["repo"] == repo
    assert recorded["revision"] == dataset.get("revision", "main")
    assert recorded["commit"] == commit, f"{recorded} (the fake Hub printed {commit})"
    assert recorded["config"] == dataset.get("name")
    assert recorded["split"] == dataset.get("split", "train")
    assert [f["path"] for f in recorded["files"]] == want.files, recorded
    assert all(f["revision"] == commit for f in recorded["files"]), recorded
    if want.files[0].endswith(".parquet"):
        # The recorded files, read with pyarrow, hold the rows (the first max_rows of them).
        assert parquet_rows(fake_hub.fixture_dir, want.files)[:n] == want.rows


def test_hub_default_train_split_is_two_parquet_files_of_13_rows(python_reads) -> None:
    """The fixture is what the cases above assume, so a regenerated fixture is noticed."""
    train = python_reads["default_train"]
    assert train.files == ["data/main/train-0.parquet", "data/main/train-1.parquet"]
    assert len(train.rows) == 13
    assert len(python_reads["main_test"].rows) == 4
    assert len(python_reads["jsonl"].rows) == 3
    assert len(python_reads["csv"].rows) == 4
    assert len(python_reads["max_rows"].rows) == 5


def test_hub_private_dataset_is_read_at_its_own_commit(hub_runs, fake_hub) -> None:
    assert fake_hub.commits[PRIVATE] != fake_hub.commits[FIXTURE]
    assert hub_runs["private"].run.status == "completed"


@pytest.mark.parametrize("key", list(FAIL_CASES))
def test_hub_dataset_failure_fails_the_run_saying_what_to_check(key: str, sdk: SDK, hub_runs) -> None:
    dataset, names = FAIL_CASES[key]
    entry = hub_runs[key]
    assert entry.run.status == "failed", f"{dataset}: {entry.raw}"
    error = entry.raw["error"]
    assert isinstance(error, dict) and error == entry.run.error, entry.raw
    assert error.get("type") == "dataset_error", f"{dataset}: {error}"
    message = error.get("message") or ""
    assert f"task {TASK}" in message, message
    for name in names:
        assert name in message, f"{dataset}: the message does not name {name!r}: {message}"
    assert entry.raw["failed_at"] is not None, entry.raw
    assert samples_of(sdk, entry.run.id) == [], "no sample is made of a dataset that cannot be read"


def test_hub_token_comes_from_the_variable_token_env_names(private_servers, tmp_path, fake_hub) -> None:
    """`[huggingface] token_env` names the variable the token is read from: a server told to
    read ``ASSAY_SDK_HUB_TOKEN`` (holding acme/locked's token) opens acme/locked, and no longer
    acme/private, although HF_TOKEN still holds that one's token; a server with no token at
    all is refused the private dataset and told to set one."""
    server = private_servers.start(
        tmp_path / "token-env",
        {"ASSAY_HUGGINGFACE_TOKEN_ENV": "ASSAY_SDK_HUB_TOKEN", "ASSAY_SDK_HUB_TOKEN": fake_hub.tokens[LOCKED]},
    )
    recorder = WireRecorder()
    client = make_sdk(server.base_url, server.admin_key, recorder)
    locked = run_one(client, recorder, hf(LOCKED, name="main", split="test"))
    assert locked["status"] == "completed" and locked["request_counts"]["completed"] == 4, locked
    private = run_one(client, recorder, hf(PRIVATE, name="main", split="test"))
    assert private["status"] == "failed", private
    assert private["error"]["type"] == "dataset_error" and PRIVATE in private["error"]["message"], private

    server = private_servers.start(tmp_path / "no-token", {"HF_TOKEN": ""})
    recorder = WireRecorder()
    client = make_sdk(server.base_url, server.admin_key, recorder)
    private = run_one(client, recorder, hf(PRIVATE, name="main", split="test"))
    assert private["status"] == "failed", private
    error = private["error"]
    assert error["type"] == "dataset_error" and PRIVATE in error["message"], error
    assert "token" in error["message"], f"the message does not say to set a token: {error}"
