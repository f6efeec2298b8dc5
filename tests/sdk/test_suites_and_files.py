"""SDK conformance: files and eval suites/versions, driven through meetkai-mka1 0.12.128.

Every call goes through the official SDK (``sdk.llm.files.*`` / ``sdk.llm.evals.*``), so
each success response is parsed by the SDK's typed pydantic models; a response the SDK
cannot parse raises ``errors.ResponseValidationError`` and fails the test. The one
exception is ``test_unknown_manifest_keys_are_preserved``: the SDK's request models drop
keys they do not know, so that test writes with plain HTTP and reads back with the SDK.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List

import httpx
import pytest
from meetkai_mka1 import SDK, errors, models

from sdk_helpers import (
    WireRecorder,
    assert_contains,
    assert_raw_object,
    error_body,
    expect_api_error,
    make_sdk,
)

# ---------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------

JSONL_ROWS = [
    {
        "question": "What is 2 + 2?",
        "answer": "4",
        "choice_a": "3",
        "choice_b": "4",
        "choice_c": "5",
        "choice_d": "22",
        "correct_letter": "B",
        "passage": "Two plus two makes four, as every schoolchild learns.",
        "summary": "2 + 2 = 4.",
        "sentence1": "A cat sits on the mat.",
        "sentence2": "A cat is sitting on a mat.",
        "score": 4.6,
    },
    {
        "question": "¿Cuál es la capital de España?",
        "answer": "Madrid",
        "choice_a": "Lisboa",
        "choice_b": "Sevilla",
        "choice_c": "Madrid",
        "choice_d": "Roma",
        "correct_letter": "C",
        "passage": "Madrid es la capital y la ciudad más poblada de España.",
        "summary": "Madrid es la capital de España.",
        "sentence1": "El sol brilla.",
        "sentence2": "Hace un día soleado.",
        "score": 3.8,
    },
    {
        "question": "How many legs does a spider have?",
        "answer": "8",
        "choice_a": "6",
        "choice_b": "10",
        "choice_c": "4",
        "choice_d": "8",
        "correct_letter": "D",
        "passage": "Spiders are arachnids with eight legs and no antennae.",
        "summary": "Spiders have eight legs.",
        "sentence1": "A man plays guitar.",
        "sentence2": "The stock market fell today.",
        "score": 0.2,
    },
]
# Non-ASCII content on purpose: `bytes` must count bytes, not characters.
JSONL_BYTES = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in JSONL_ROWS).encode("utf-8")

CSV_BYTES = (
    "text,label\n"
    "I loved every minute of it,positive\n"
    '"Slow, dull and far too long",negative\n'
    "Una película maravillosa,positive\n"
    "Would not watch again,negative\n"
).encode("utf-8")

GRADER_PY_BYTES = (
    b"def grade(sample, item):\n"
    b"    \"\"\"Exact match after whitespace normalisation.\"\"\"\n"
    b"    got = (sample.get('extracted_output') or '').strip().lower()\n"
    b"    want = (item.get('target') or '').strip().lower()\n"
    b"    return float(got == want)\n"
)

INLINE_GRADER = (
    "def grade(sample, item):\n"
    "    return float(sample['extracted_output'].strip() == item['target'].strip())\n"
)
BATCH_GRADER = (
    "def grade_batch(samples):\n"
    "    return [{'acc': float(s['extracted_output'] == s['target'])} for s in samples]\n"
)
PREPROCESS = "def transform(row):\n    row['question'] = row['question'].strip()\n    return row\n"

BAD_REGEX_PATH = "manifest.tasks[0].output_extraction.pattern"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(client: SDK, name: str, data: bytes, content_type: str | None = None) -> models.File:
    file: Dict[str, Any] = {"file_name": name, "content": data}
    if content_type is not None:
        file["content_type"] = content_type
    return client.llm.files.upload(file=file, purpose="evals")


def minimal_manifest(file_id: str) -> Dict[str, Any]:
    return {
        "tasks": [
            {
                "id": "qa",
                "type": "qa",
                "dataset": {"file_id": file_id, "format": "jsonl"},
                "prompt_template": "Question: {{question}}\nAnswer:",
                "target_template": "{{answer}}",
                "grader": {"type": "python", "source": INLINE_GRADER},
            }
        ]
    }


def rich_manifest(f: SimpleNamespace) -> Dict[str, Any]:
    jsonl = {"file_id": f.jsonl.id, "format": "jsonl"}
    csv = {"source": "file", "file_id": f.csv.id, "format": "csv"}
    return {
        "schema_version": "2026-05-27",
        "metadata": {"project": "sdk-conformance", "owner": {"team": "evals", "tags": ["nightly", "gold"]}},
        "tasks": [
            {
                "id": "qa.regex",
                "name": "QA with regex extraction",
                "type": "qa",
                "dataset": jsonl,
                "prompt_template": "Question: {{question}}\nAnswer:",
                "target_template": "{{answer}}",
                "output_extraction": {"type": "regex", "pattern": r"Answer:\s*(.+)", "group": 1, "flags": "i"},
                "metrics": [{"id": "exact_match", "aggregation": "mean", "higher_is_better": True}],
                "grader": {"type": "python", "contract": "sample", "metric_id": "exact_match", "source": INLINE_GRADER},
                "preprocess": {"type": "python", "contract": "row", "source": PREPROCESS, "timeout_seconds": 30},
                # Free-form task metadata is a map<string, any>: nested values must survive.
                "metadata": {"x_conformance": {"nested": [1, {"deep": True}, None], "unicode": "ñandú", "ratio": 0.5}},
            },
            {
                "id": "mcq",
                "type": "multiple_choice",
                "dataset": jsonl,
                "prompt_template": (
                    "Q: {{question}}\nA) {{choice_a}}\nB) {{choice_b}}\nC) {{choice_c}}\nD) {{choice_d}}\nAnswer:"
                ),
                "target_template": "{{correct_letter}}",
                "choices": ["A", "B", "C", "D"],
                "num_fewshot": 0,
                "output_extraction": {"type": "label_set", "labels": ["A", "B", "C", "D"], "case_sensitive": False},
                "metrics": [{"id": "accuracy"}],
            },
            {
                "id": "sentiment",
                "type": "classification",
                "dataset": csv,
                "prompt_template": "Text: {{text}}\nSentiment:",
                "target_template": "{{label}}",
                "choices": ["positive", "negative"],
                "output_extraction": {
                    "type": "regex_last",
                    "pattern": r"(?P<label>positive|negative)",
                    "group": "label",
                    "flags": "i",
                },
            },
            {
                "id": "arith",
                "type": "numeric",
                "dataset": jsonl,
                "prompt_template": "{{question}} Reply with a number.",
                "target_template": "{{answer}}",
                "output_extraction": {"type": "number"},
                "metrics": [
                    {"id": "exact_match", "aggregation": "mean", "higher_is_better": True, "description": "numeric equality"}
                ],
            },
            {
                "id": "summ",
                "type": "summarization",
                "dataset": jsonl,
                "prompt_template": "Summarize: {{passage}}",
                "target_template": "{{summary}}",
                "fewshot": {
                    "count": 2,
                    "dataset": jsonl,
                    "prompt_template": "Summarize: {{passage}}",
                    "target_template": "{{summary}}",
                    "example_template": "{{prompt}} {{target}}",
                    "separator": "\n---\n",
                    "strategy": "random",
                    "seed": 7,
                },
                "output_extraction": {"type": "take_first", "lines": 2},
            },
            {
                "id": "sts",
                "type": "embedding",
                "dataset": jsonl,
                "embedding": {
                    "kind": "sts",
                    "text1_column": "sentence1",
                    "text2_column": "sentence2",
                    "score_column": "score",
                    "max_chars": 8000,
                },
            },
            {
                "id": "custom.inline",
                "type": "custom",
                "dataset": jsonl,
                "prompt_template": "{{question}}",
                "target_template": "{{answer}}",
                "output_extraction": {"type": "none"},
                "grader": {
                    "type": "python",
                    "contract": "batch",
                    "execution": "aggregate",
                    "model_access": "none",
                    "metric_id": "acc",
                    "source": BATCH_GRADER,
                    "timeout_seconds": 60,
                    "max_model_calls": 0,
                },
            },
            {
                "id": "custom.file",
                "type": "custom",
                "dataset": csv,
                "prompt_template": "{{text}}",
                "target_template": "{{label}}",
                "grader": {"type": "python", "file_id": f.py.id, "metric_id": "score", "timeout_seconds": 30},
            },
        ],
    }


SUITE_KEYS = [
    "id", "object", "name", "description", "org_id", "team_id", "access",
    "active_version", "latest_version", "metadata", "created_at", "updated_at",
]
VERSION_KEYS = ["id", "object", "suite_id", "version", "manifest", "dataset_file_ids", "metadata", "created_at"]
FILE_KEYS = ["id", "object", "bytes", "created_at", "filename", "purpose"]
LIST_KEYS = ["object", "data", "has_more"]


def check_recent(ts: int) -> None:
    assert isinstance(ts, int)
    # unix seconds, not milliseconds
    assert abs(ts - time.time()) < 3600, f"timestamp {ts} is not a current unix-seconds value"


def check_list_page(page: Any, raw: Any) -> None:
    assert_raw_object(raw, "list", LIST_KEYS)
    if page.data:
        assert page.first_id == page.data[0].id, f"first_id {page.first_id!r} != first item {page.data[0].id!r}"
        assert page.last_id == page.data[-1].id, f"last_id {page.last_id!r} != last item {page.data[-1].id!r}"


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(sdk: SDK, wire: WireRecorder) -> SimpleNamespace:
    """Three evals files of the first tenant: a JSONL and a CSV dataset and a Python grader."""
    # The JSONL part goes without a content type (the SDK then sends application/octet-stream);
    # the CSV part carries one.
    jsonl = upload(sdk, "qa_dataset.jsonl", JSONL_BYTES)
    jsonl_raw = wire.last.response_json
    csv = upload(sdk, "sentiment.csv", CSV_BYTES, "text/csv")
    csv_raw = wire.last.response_json
    py = upload(sdk, "exact_match_grader.py", GRADER_PY_BYTES)
    py_raw = wire.last.response_json
    return SimpleNamespace(
        jsonl=jsonl,
        csv=csv,
        py=py,
        raw={jsonl.id: jsonl_raw, csv.id: csv_raw, py.id: py_raw},
        content={jsonl.id: JSONL_BYTES, csv.id: CSV_BYTES, py.id: GRADER_PY_BYTES},
    )


@pytest.fixture(scope="module")
def rich_suite(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> SimpleNamespace:
    name = unique("rich-suite")
    suite = sdk.llm.evals.create_suite(
        name=name,
        description="Every task type the SDK can express, backed by uploaded files.",
        metadata={"owner": "sdk-conformance", "tier": "gold"},
        manifest=rich_manifest(files),
    )
    sent = wire.last.request_json
    raw = wire.last.response_json
    assert sent is not None and "manifest" in sent, "could not capture the create-suite request body"
    return SimpleNamespace(suite=suite, name=name, sent_manifest=sent["manifest"], raw=raw)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def test_upload_returns_file_objects(files: SimpleNamespace) -> None:
    expected = [
        (files.jsonl, "qa_dataset.jsonl", JSONL_BYTES),
        (files.csv, "sentiment.csv", CSV_BYTES),
        (files.py, "exact_match_grader.py", GRADER_PY_BYTES),
    ]
    ids = set()
    for f, filename, data in expected:
        assert isinstance(f, models.File)
        assert f.id.startswith("file-"), f.id
        ids.add(f.id)
        assert f.object == "file"
        assert f.filename == filename
        assert f.purpose == "evals"
        assert f.bytes_ == len(data)
        assert f.sha256 == sha256_hex(data)
        check_recent(f.created_at)
        assert_raw_object(files.raw[f.id], "file", FILE_KEYS)
    assert len(ids) == 3


def test_get_file(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    for f in (files.jsonl, files.csv, files.py):
        got = sdk.llm.files.get(file_id=f.id)
        assert_raw_object(wire.last.response_json, "file", FILE_KEYS)
        assert got.id == f.id
        assert got.filename == f.filename
        assert got.bytes_ == f.bytes_
        assert got.purpose == "evals"
        assert got.sha256 == f.sha256
        assert got.created_at == f.created_at


def test_download_content(sdk: SDK, files: SimpleNamespace) -> None:
    # The SDK only accepts a 200 whose content type is one of 28 listed types (no
    # application/octet-stream); these are the natural ones for each extension.
    wanted_types = {
        files.jsonl.id: {"application/jsonl", "application/x-ndjson"},
        files.csv.id: {"text/csv"},
        files.py.id: {"text/x-python"},
    }
    for file_id, data in files.content.items():
        res = sdk.llm.files.content(file_id=file_id)
        try:
            assert res.status_code == 200
            body = res.read()
            media_type = res.headers.get("content-type", "").split(";")[0].strip().lower()
        finally:
            res.close()
        assert body == data, f"{file_id}: downloaded bytes differ from the upload"
        assert media_type in wanted_types[file_id], f"{file_id}: served as {media_type!r}"


def test_list_files_filters_and_order(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    ours = {files.jsonl.id, files.csv.id, files.py.id}

    # Defaults (the SDK always sends limit=10000&order=desc).
    everything = sdk.llm.files.list()
    check_list_page(everything, wire.last.response_json)
    assert ours <= {f.id for f in everything.data}
    assert everything.has_more is False

    by_purpose = sdk.llm.files.list(purpose="evals")
    check_list_page(by_purpose, wire.last.response_json)
    assert ours <= {f.id for f in by_purpose.data}
    assert all(f.purpose == "evals" for f in by_purpose.data)

    other_purpose = sdk.llm.files.list(purpose="fine-tune")
    check_list_page(other_purpose, wire.last.response_json)
    assert not ours & {f.id for f in other_purpose.data}

    by_hash = sdk.llm.files.list(sha256=files.csv.sha256)
    check_list_page(by_hash, wire.last.response_json)
    assert [f.id for f in by_hash.data] == [files.csv.id]
    assert by_hash.data[0].sha256 == sha256_hex(CSV_BYTES)

    by_hash_and_purpose = sdk.llm.files.list(sha256=files.py.sha256, purpose="evals")
    assert [f.id for f in by_hash_and_purpose.data] == [files.py.id]

    no_match = sdk.llm.files.list(sha256="0" * 64)
    check_list_page(no_match, wire.last.response_json)
    assert no_match.data == []
    assert no_match.has_more is False

    desc = sdk.llm.files.list(order="desc", purpose="evals")
    asc = sdk.llm.files.list(order="asc", purpose="evals")
    asc_ids = [f.id for f in asc.data]
    assert asc_ids == [f.id for f in reversed(desc.data)], "asc must be the exact reverse of desc"
    created = [f.created_at for f in asc.data]
    assert created == sorted(created), "asc must be ordered by created_at"
    # Our uploads were made in this order.
    positions = [asc_ids.index(i) for i in (files.jsonl.id, files.csv.id, files.py.id)]
    assert positions == sorted(positions)

    # Cursor paging one file at a time, oldest first.
    seen: List[str] = []
    after = None
    for _ in range(len(asc_ids) + 2):
        page = sdk.llm.files.list(order="asc", purpose="evals", limit=1, after=after)
        check_list_page(page, wire.last.response_json)
        assert len(page.data) <= 1
        seen.extend(f.id for f in page.data)
        if not page.has_more:
            break
        assert page.data, "has_more is true on an empty page"
        after = page.last_id
    else:
        pytest.fail("paging did not terminate")
    assert seen == asc_ids


def test_files_require_auth(assay_server, files: SimpleNamespace) -> None:
    anonymous = make_sdk(assay_server.base_url, None)
    err = expect_api_error(401, lambda: anonymous.llm.files.get(file_id=files.jsonl.id))
    error_body(err)
    wrong = make_sdk(assay_server.base_url, "assay_sk_not_a_real_key_000000000000000000000000")
    err = expect_api_error(401, lambda: wrong.llm.files.list())
    error_body(err)
    err = expect_api_error(401, lambda: wrong.llm.evals.list_suites())
    error_body(err)


def test_delete_file(sdk: SDK, wire: WireRecorder) -> None:
    data = f"{{\"q\": \"throwaway {uuid.uuid4().hex}\"}}\n".encode()
    f = upload(sdk, "throwaway.jsonl", data, "application/jsonl")
    assert f.sha256 == sha256_hex(data)

    deleted = sdk.llm.files.delete(file_id=f.id)
    assert_raw_object(wire.last.response_json, "file", ["id", "object", "deleted"])
    assert isinstance(deleted, models.FileDeletionStatus)
    assert deleted.id == f.id
    assert deleted.deleted is True
    assert deleted.object == "file"

    err = expect_api_error(404, lambda: sdk.llm.files.get(file_id=f.id))
    error_body(err)
    err = expect_api_error(
        404, lambda: sdk.llm.files.content(file_id=f.id), errors.GetFileContentNotFoundError
    )
    error_body(err)
    assert f.id not in {x.id for x in sdk.llm.files.list().data}
    assert sdk.llm.files.list(sha256=f.sha256).data == []
    expect_api_error(404, lambda: sdk.llm.files.delete(file_id=f.id))


def test_upload_with_placeholder_filename_is_rejected(sdk: SDK) -> None:
    # The upload contract: the file part needs a non-blank filename, and the WHATWG
    # placeholder "blob" counts as missing.
    err = expect_api_error_in((400, 422), lambda: upload(sdk, "blob", b"{}\n"))
    error_body(err)


def test_unknown_file_is_404(sdk: SDK) -> None:
    missing = "file-" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.files.get(file_id=missing)))
    error_body(
        expect_api_error(404, lambda: sdk.llm.files.content(file_id=missing), errors.GetFileContentNotFoundError)
    )
    error_body(expect_api_error(404, lambda: sdk.llm.files.delete(file_id=missing)))


# ---------------------------------------------------------------------------
# Suites and versions
# ---------------------------------------------------------------------------


def test_create_suite(rich_suite: SimpleNamespace) -> None:
    s = rich_suite.suite
    assert isinstance(s, models.EvalSuiteObject)
    assert_raw_object(rich_suite.raw, "eval.suite", SUITE_KEYS)
    assert "manifest" not in rich_suite.raw, "the suite object does not carry the manifest"
    assert s.id.startswith("eval_suite_"), s.id
    assert s.object == "eval.suite"
    assert s.name == rich_suite.name
    assert s.description == "Every task type the SDK can express, backed by uploaded files."
    assert s.metadata == {"owner": "sdk-conformance", "tier": "gold"}
    assert s.access == "owner"
    assert s.active_version == 1
    assert s.latest_version == 1
    assert s.org_id and s.team_id
    check_recent(s.created_at)
    assert s.updated_at >= s.created_at


def test_suite_without_description_has_null_description(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    s = sdk.llm.evals.create_suite(name=unique("no-description"), manifest=minimal_manifest(files.jsonl.id))
    raw = wire.last.response_json
    assert_raw_object(raw, "eval.suite", SUITE_KEYS)
    assert raw["description"] is None
    assert raw["metadata"] == {}
    assert s.description is None
    assert s.metadata == {}


def test_get_suite(sdk: SDK, wire: WireRecorder, rich_suite: SimpleNamespace) -> None:
    got = sdk.llm.evals.get_suite(suite_id=rich_suite.suite.id)
    assert_raw_object(wire.last.response_json, "eval.suite", SUITE_KEYS)
    created = rich_suite.suite
    for attr in ("id", "name", "description", "org_id", "team_id", "access", "metadata", "created_at"):
        assert getattr(got, attr) == getattr(created, attr), attr
    assert got.active_version == 1
    assert got.latest_version == 1


def test_get_first_version_echoes_manifest(
    sdk: SDK, wire: WireRecorder, files: SimpleNamespace, rich_suite: SimpleNamespace
) -> None:
    v = sdk.llm.evals.get_suite_version(suite_id=rich_suite.suite.id, version=1)
    raw = wire.last.response_json
    assert_raw_object(raw, "eval.suite.version", VERSION_KEYS)
    assert v.id.startswith("eval_sver_"), v.id
    assert v.object == "eval.suite.version"
    assert v.suite_id == rich_suite.suite.id
    assert v.version == 1
    assert v.metadata == {}
    check_recent(v.created_at)

    # The manifest comes back as the SDK sent it (including the defaults the SDK fills in,
    # e.g. grader.timeout_seconds=120 and embedding column names) and with the free-form
    # task metadata intact.
    assert_contains(rich_suite.sent_manifest, raw["manifest"], "manifest")
    assert [t["id"] for t in v.manifest.tasks] == [t["id"] for t in rich_suite.sent_manifest["tasks"]]
    assert v.manifest.schema_version == "2026-05-27"
    assert v.manifest.metadata == {"project": "sdk-conformance", "owner": {"team": "evals", "tags": ["nightly", "gold"]}}
    assert v.manifest.tasks[0]["metadata"]["x_conformance"] == {
        "nested": [1, {"deep": True}, None],
        "unicode": "ñandú",
        "ratio": 0.5,
    }
    # Spot-check the JSON key names (format, not format_; group stays int vs str).
    dataset = v.manifest.tasks[0]["dataset"]
    assert dataset["file_id"] == files.jsonl.id and dataset["format"] == "jsonl" and "format_" not in dataset
    assert v.manifest.tasks[0]["output_extraction"]["group"] == 1
    assert v.manifest.tasks[2]["output_extraction"]["group"] == "label"

    # Dataset files are listed once each; nothing outside the manifest's files.
    assert len(v.dataset_file_ids) == len(set(v.dataset_file_ids))
    assert {files.jsonl.id, files.csv.id} <= set(v.dataset_file_ids)
    assert set(v.dataset_file_ids) <= {files.jsonl.id, files.csv.id, files.py.id}


def test_suite_versions(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    suite = sdk.llm.evals.create_suite(name=unique("versioned"), manifest=minimal_manifest(files.jsonl.id))
    v1 = sdk.llm.evals.get_suite_version(suite_id=suite.id, version=1)

    manifest_v2 = rich_manifest(files)
    manifest_v2["tasks"] = manifest_v2["tasks"][1:4]
    v2 = sdk.llm.evals.create_suite_version(
        suite_id=suite.id, manifest=manifest_v2, metadata={"change": "mcq+classification"}, make_active=False
    )
    sent_v2 = wire.last.request_json
    raw_v2 = wire.last.response_json
    assert sent_v2["make_active"] is False
    assert_raw_object(raw_v2, "eval.suite.version", VERSION_KEYS)
    assert v2.version == 2
    assert v2.suite_id == suite.id
    assert v2.id != v1.id
    assert v2.metadata == {"change": "mcq+classification"}
    assert_contains(sent_v2["manifest"], raw_v2["manifest"], "manifest")
    assert {files.jsonl.id, files.csv.id} <= set(v2.dataset_file_ids)

    after_v2 = sdk.llm.evals.get_suite(suite_id=suite.id)
    assert after_v2.active_version == 1, "make_active=false must keep the active version"
    assert after_v2.latest_version == 2
    assert after_v2.updated_at >= suite.updated_at

    got_v2 = sdk.llm.evals.get_suite_version(suite_id=suite.id, version=2)
    assert_raw_object(wire.last.response_json, "eval.suite.version", VERSION_KEYS)
    assert got_v2.id == v2.id
    assert got_v2.manifest.tasks == v2.manifest.tasks
    assert_contains(sent_v2["manifest"], wire.last.response_json["manifest"], "manifest")

    versions = sdk.llm.evals.list_suite_versions(suite_id=suite.id)
    check_list_page(versions, wire.last.response_json)
    for raw_item in wire.last.response_json["data"]:
        assert_raw_object(raw_item, "eval.suite.version", VERSION_KEYS)
    assert sorted(v.version for v in versions.data) == [1, 2]
    assert versions.has_more is False
    by_number = {v.version: v for v in versions.data}
    assert by_number[1].id == v1.id and by_number[2].id == v2.id
    assert by_number[2].manifest.tasks == v2.manifest.tasks

    # make_active defaults to true.
    manifest_v3 = minimal_manifest(files.csv.id)
    manifest_v3["tasks"][0].update(
        dataset={"file_id": files.csv.id, "format": "csv"}, prompt_template="{{text}}", target_template="{{label}}"
    )
    v3 = sdk.llm.evals.create_suite_version(suite_id=suite.id, manifest=manifest_v3)
    assert wire.last.request_json.get("make_active", True) is True
    assert v3.version == 3
    after_v3 = sdk.llm.evals.get_suite(suite_id=suite.id)
    assert after_v3.active_version == 3
    assert after_v3.latest_version == 3

    # Paging through versions one at a time.
    seen: List[int] = []
    after = None
    for _ in range(6):
        page = sdk.llm.evals.list_suite_versions(suite_id=suite.id, limit=1, after=after)
        check_list_page(page, wire.last.response_json)
        assert len(page.data) <= 1
        seen.extend(v.version for v in page.data)
        if not page.has_more:
            break
        after = page.last_id
    else:
        pytest.fail("version paging did not terminate")
    assert sorted(seen) == [1, 2, 3] and len(seen) == 3

    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_suite_version(suite_id=suite.id, version=4)))


def test_unknown_manifest_keys_are_preserved(sdk: SDK, assay_server, files: SimpleNamespace) -> None:
    """Unknown manifest/task keys survive a round trip.

    The SDK's request models silently drop keys they do not know, so this one write
    goes through plain HTTP; the read-back is through the SDK, whose persisted-manifest
    model keeps extra keys.
    """
    suite = sdk.llm.evals.create_suite(name=unique("unknown-keys"), manifest=minimal_manifest(files.jsonl.id))
    manifest = minimal_manifest(files.jsonl.id)
    manifest["x_future_top_level"] = {"keep": ["me", 1]}
    manifest["tasks"][0]["x_future_task_field"] = {"answer_style": "short", "weights": [0.25, 0.75]}
    res = httpx.post(
        f"{assay_server.base_url}/api/v1/llm/evals/suites/{suite.id}/versions",
        headers={"Authorization": f"Bearer {assay_server.admin_key}"},
        json={"manifest": manifest, "make_active": False},
        timeout=60,
    )
    assert res.status_code == 200, res.text
    assert res.json()["version"] == 2

    v2 = sdk.llm.evals.get_suite_version(suite_id=suite.id, version=2)
    assert v2.manifest.tasks[0]["x_future_task_field"] == {"answer_style": "short", "weights": [0.25, 0.75]}
    assert (v2.manifest.model_extra or {}).get("x_future_top_level") == {"keep": ["me", 1]}
    assert_contains(manifest, res.json()["manifest"], "manifest")

    listed = sdk.llm.evals.list_suite_versions(suite_id=suite.id)
    v2_listed = next(v for v in listed.data if v.version == 2)
    assert v2_listed.manifest.tasks[0]["x_future_task_field"]["answer_style"] == "short"


def test_list_suites_paging(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    created = [
        sdk.llm.evals.create_suite(name=unique(f"paging-{i}"), manifest=minimal_manifest(files.jsonl.id)).id
        for i in range(3)
    ]

    full = sdk.llm.evals.list_suites(limit=100)
    check_list_page(full, wire.last.response_json)
    for raw_item in wire.last.response_json["data"]:
        assert_raw_object(raw_item, "eval.suite", SUITE_KEYS)
    assert full.has_more is False
    full_ids = [s.id for s in full.data]
    assert len(full_ids) == len(set(full_ids))
    assert set(created) <= set(full_ids)
    assert all(s.access == "owner" for s in full.data)

    owned = sdk.llm.evals.list_suites(limit=100, owned_only=True)
    assert set(created) <= {s.id for s in owned.data}

    for limit in (1, 2):
        seen: List[str] = []
        after = None
        pages = 0
        while True:
            page = sdk.llm.evals.list_suites(limit=limit, after=after)
            check_list_page(page, wire.last.response_json)
            pages += 1
            assert pages <= len(full_ids) + 2, "paging did not terminate"
            assert len(page.data) <= limit
            seen.extend(s.id for s in page.data)
            if not page.has_more:
                break
            assert len(page.data) == limit, "a page with has_more=true must be full"
            after = page.last_id
        assert len(seen) == len(set(seen)), f"duplicates while paging with limit={limit}"
        assert seen == full_ids, f"paging with limit={limit} must visit every suite once, in list order"
        assert pages >= 2


def test_delete_suite(sdk: SDK, wire: WireRecorder, files: SimpleNamespace) -> None:
    suite = sdk.llm.evals.create_suite(name=unique("doomed"), manifest=minimal_manifest(files.jsonl.id))
    deleted = sdk.llm.evals.delete_suite(suite_id=suite.id)
    assert_raw_object(wire.last.response_json, "eval.suite.deleted", ["id", "object", "deleted", "deleted_runs"])
    assert isinstance(deleted, models.EvalSuiteDeletedObject)
    assert deleted.id == suite.id
    assert deleted.deleted is True
    assert deleted.deleted_runs == 0
    assert deleted.object == "eval.suite.deleted"

    err = expect_api_error(404, lambda: sdk.llm.evals.get_suite(suite_id=suite.id))
    error_body(err)
    expect_api_error(404, lambda: sdk.llm.evals.get_suite_version(suite_id=suite.id, version=1))
    expect_api_error(404, lambda: sdk.llm.evals.list_suite_versions(suite_id=suite.id))
    expect_api_error(
        404,
        lambda: sdk.llm.evals.create_suite_version(suite_id=suite.id, manifest=minimal_manifest(files.jsonl.id)),
    )
    expect_api_error(404, lambda: sdk.llm.evals.delete_suite(suite_id=suite.id))
    assert suite.id not in {s.id for s in sdk.llm.evals.list_suites(limit=100).data}


def test_unknown_suite_is_404(sdk: SDK) -> None:
    missing = "eval_suite_" + "0" * 32
    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_suite(suite_id=missing)))
    error_body(expect_api_error(404, lambda: sdk.llm.evals.delete_suite(suite_id=missing)))
    error_body(expect_api_error(404, lambda: sdk.llm.evals.get_suite_version(suite_id=missing, version=1)))


# ---------------------------------------------------------------------------
# Validation errors
# ---------------------------------------------------------------------------


def bad_regex_manifest(file_id: str) -> Dict[str, Any]:
    m = minimal_manifest(file_id)
    m["tasks"][0]["output_extraction"] = {"type": "regex", "pattern": "("}
    return m


def test_bad_regex_is_400_with_field_path(sdk: SDK, files: SimpleNamespace) -> None:
    name = unique("bad-regex")
    err = expect_api_error(
        400, lambda: sdk.llm.evals.create_suite(name=name, manifest=bad_regex_manifest(files.jsonl.id))
    )
    body = error_body(err)
    assert BAD_REGEX_PATH in json.dumps(body), f"error does not name {BAD_REGEX_PATH}: {body}"
    assert name not in {s.name for s in sdk.llm.evals.list_suites(limit=100).data}, "a rejected suite was created"

    suite = sdk.llm.evals.create_suite(name=unique("good-then-bad"), manifest=minimal_manifest(files.jsonl.id))
    err = expect_api_error(
        400,
        lambda: sdk.llm.evals.create_suite_version(suite_id=suite.id, manifest=bad_regex_manifest(files.jsonl.id)),
    )
    body = error_body(err)
    assert BAD_REGEX_PATH in json.dumps(body), f"error does not name {BAD_REGEX_PATH}: {body}"
    assert sdk.llm.evals.get_suite(suite_id=suite.id).latest_version == 1


def test_unknown_dataset_file_is_rejected(sdk: SDK) -> None:
    err = expect_api_error_in(
        (400, 404, 422),
        lambda: sdk.llm.evals.create_suite(name=unique("ghost-file"), manifest=minimal_manifest("file-" + "0" * 32)),
    )
    error_body(err)


# ---------------------------------------------------------------------------
# Dataset mistakes caught at suite creation, before any model call
# ---------------------------------------------------------------------------


def refusal(sdk: SDK, manifest: Dict[str, Any]) -> tuple[str, str]:
    """Create a suite that must be refused with a 400, and a version of a good suite that must
    be refused the same way; return the error's field path and message."""
    name = unique("refused")
    body = error_body(expect_api_error(400, lambda: sdk.llm.evals.create_suite(name=name, manifest=manifest)))
    param, message = body["error"]["details"]["param"], body["error"]["message"]
    assert message.startswith(param + ": "), body
    assert name not in {s.name for s in sdk.llm.evals.list_suites(limit=100).data}, "a refused suite was created"
    return param, message


def qa_task(file_id: str, **fields: Any) -> Dict[str, Any]:
    return {"tasks": [{"id": "qa", "type": "qa", "dataset": {"file_id": file_id}, **fields}]}


def test_a_broken_jsonl_line_is_refused_with_its_number(sdk: SDK, files: SimpleNamespace) -> None:
    broken = upload(sdk, "broken.jsonl", b'{"question": "a", "answer": "b"}\n{"question": "c", "answer": \n')
    param, message = refusal(sdk, qa_task(broken.id, prompt_template="{{question}}"))
    assert param == "manifest.tasks[0].dataset.file_id"
    assert "line 2 of broken.jsonl is not valid JSON" in message, message

    # Not an object on line 3 (after a blank line, still counted).
    listy = upload(sdk, "listy.jsonl", b'{"question": "a"}\n\n[1, 2]\n')
    param, message = refusal(sdk, qa_task(listy.id, prompt_template="{{question}}"))
    assert param == "manifest.tasks[0].dataset.file_id"
    assert "line 3 of listy.jsonl is not a JSON object" in message, message

    # The same refusal for a new version of an existing suite.
    suite = sdk.llm.evals.create_suite(name=unique("then-broken"), manifest=qa_task(files.jsonl.id))
    body = error_body(
        expect_api_error(
            400,
            lambda: sdk.llm.evals.create_suite_version(
                suite_id=suite.id, manifest=qa_task(broken.id, prompt_template="{{question}}")
            ),
        )
    )
    assert body["error"]["details"]["param"] == "manifest.tasks[0].dataset.file_id", body
    assert sdk.llm.evals.get_suite(suite_id=suite.id).latest_version == 1


def test_a_broken_csv_record_is_refused_with_its_line(sdk: SDK) -> None:
    ragged = upload(sdk, "ragged.csv", b"question,answer\n2+2?,4\n3+3?,6,extra\n")
    param, message = refusal(sdk, qa_task(ragged.id, prompt_template="{{question}}"))
    assert param == "manifest.tasks[0].dataset.file_id"
    assert "line 3 of ragged.csv is not valid CSV: it has 3 fields where the header has 2" in message, message


def test_a_template_variable_no_row_has_is_refused_with_the_columns(sdk: SDK, files: SimpleNamespace) -> None:
    param, message = refusal(sdk, qa_task(files.jsonl.id, prompt_template="Q: {{questoin}}\nA:"))
    assert param == "manifest.tasks[0].prompt_template"
    assert "prompt_template uses {{questoin}}, which the row does not have" in message, message
    assert "answer" in message and "question" in message, message
    assert message.endswith("did you mean question?"), message

    param, message = refusal(
        sdk, qa_task(files.csv.id, prompt_template="{{text}}", target_template="{{ Label }}")
    )
    assert param == "manifest.tasks[0].target_template"
    assert "its columns are label, text; did you mean label?" in message, message

    # `choices` without the task's choices or a column says where choices come from.
    param, message = refusal(sdk, qa_task(files.csv.id, prompt_template="{{text}} {% for c in choices %}{{c}} {% endfor %}"))
    assert param == "manifest.tasks[0].prompt_template"
    assert "give the task choices" in message, message

    # Few-shot templates are rendered over their own dataset.
    param, message = refusal(
        sdk,
        qa_task(
            files.jsonl.id,
            prompt_template="{{question}}",
            fewshot={"count": 1, "dataset": {"file_id": files.csv.id}, "prompt_template": "{{txt}}"},
        ),
    )
    assert param == "manifest.tasks[0].fewshot.prompt_template"
    assert "fewshot.dataset row 0" in message and "did you mean text?" in message, message

    # A variable guarded with `is defined` is fine, and so is one a preprocessor may add.
    sdk.llm.evals.create_suite(
        name=unique("guarded"),
        manifest=qa_task(files.jsonl.id, prompt_template="{% if hint is defined %}{{hint}} {% endif %}{{question}}"),
    )
    sdk.llm.evals.create_suite(
        name=unique("preprocessed"),
        manifest=qa_task(
            files.jsonl.id,
            prompt_template="{{added}}",
            preprocess={"type": "python", "source": "def transform(row):\n    return {'added': row['question']}\n"},
        ),
    )


def test_a_missing_embedding_column_is_refused_at_its_field(sdk: SDK, files: SimpleNamespace) -> None:
    def embedding(dataset: str, **config: Any) -> Dict[str, Any]:
        return {"tasks": [{"id": "emb", "type": "embedding", "dataset": {"file_id": dataset}, "embedding": config}]}

    param, message = refusal(sdk, embedding(files.jsonl.id, kind="sts", text2_column="sentence_2"))
    assert param == "manifest.tasks[0].embedding.text2_column"
    assert "task emb row 0: the row has no column sentence_2" in message, message
    assert "did you mean sentence2?" in message, message

    # Auxiliary datasets: a classification task's training rows need the label column.
    train = upload(sdk, "train.jsonl", b'{"text": "good", "lable": "positive"}\n')
    param, message = refusal(
        sdk, embedding(files.csv.id, kind="classification", train_dataset={"file_id": train.id})
    )
    assert param == "manifest.tasks[0].embedding.label_column"
    assert "task emb embedding.train_dataset row 0: the row has no column label" in message, message
    assert "did you mean lable?" in message, message

    # An empty text to embed cannot work either.
    blank = upload(sdk, "blank.jsonl", b'{"text": "  ", "label": "x"}\n')
    param, message = refusal(sdk, embedding(files.csv.id, kind="classification", train_dataset={"file_id": blank.id}))
    assert param == "manifest.tasks[0].embedding.text_column"
    assert "column text is empty" in message, message


def expect_api_error_in(statuses: tuple, call) -> errors.SDKError:
    with pytest.raises(errors.SDKError) as info:
        call()
    err = info.value
    assert not isinstance(err, errors.ResponseValidationError), err.message
    assert isinstance(err, errors.SDKDefaultError), type(err).__name__
    assert err.status_code in statuses, f"expected one of {statuses}, got {err.status_code}: {err.body}"
    return err


# ---------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------


def test_other_tenant_cannot_see_suite(
    sdk: SDK, other_sdk: SDK, files: SimpleNamespace, rich_suite: SimpleNamespace
) -> None:
    suite_id = rich_suite.suite.id
    error_body(expect_api_error(404, lambda: other_sdk.llm.evals.get_suite(suite_id=suite_id)))
    expect_api_error(404, lambda: other_sdk.llm.evals.get_suite_version(suite_id=suite_id, version=1))
    expect_api_error(404, lambda: other_sdk.llm.evals.list_suite_versions(suite_id=suite_id))
    expect_api_error(404, lambda: other_sdk.llm.evals.delete_suite(suite_id=suite_id))
    assert suite_id not in {s.id for s in other_sdk.llm.evals.list_suites(limit=100).data}

    # The other tenant's own suite is invisible to the first tenant, too.
    other_file = upload(other_sdk, "other.jsonl", JSONL_BYTES)
    theirs = other_sdk.llm.evals.create_suite(name=unique("other-tenant"), manifest=minimal_manifest(other_file.id))
    assert theirs.org_id != rich_suite.suite.org_id
    assert theirs.access == "owner"
    expect_api_error(404, lambda: sdk.llm.evals.get_suite(suite_id=theirs.id))
    assert theirs.id not in {s.id for s in sdk.llm.evals.list_suites(limit=100).data}

    # Still there for its owner after the foreign delete attempt.
    assert sdk.llm.evals.get_suite(suite_id=suite_id).id == suite_id


def test_other_tenant_cannot_see_files(sdk: SDK, other_sdk: SDK, files: SimpleNamespace) -> None:
    file_id = files.csv.id
    error_body(expect_api_error(404, lambda: other_sdk.llm.files.get(file_id=file_id)))
    expect_api_error(404, lambda: other_sdk.llm.files.content(file_id=file_id), errors.GetFileContentNotFoundError)
    expect_api_error(404, lambda: other_sdk.llm.files.delete(file_id=file_id))
    assert file_id not in {f.id for f in other_sdk.llm.files.list().data}
    assert other_sdk.llm.files.list(sha256=files.csv.sha256).data == []

    # The same bytes uploaded by the other tenant: each tenant's hash filter sees only its own file.
    theirs = upload(other_sdk, "same_bytes.csv", CSV_BYTES, "text/csv")
    assert theirs.sha256 == files.csv.sha256
    assert [f.id for f in other_sdk.llm.files.list(sha256=files.csv.sha256).data] == [theirs.id]
    assert [f.id for f in sdk.llm.files.list(sha256=files.csv.sha256).data] == [files.csv.id]
    expect_api_error(404, lambda: sdk.llm.files.get(file_id=theirs.id))

    # Still there for its owner after the foreign delete attempt.
    assert sdk.llm.files.get(file_id=file_id).id == file_id


def test_other_tenant_cannot_use_foreign_file(other_sdk: SDK, files: SimpleNamespace) -> None:
    err = expect_api_error_in(
        (400, 404, 422),
        lambda: other_sdk.llm.evals.create_suite(name=unique("foreign-file"), manifest=minimal_manifest(files.jsonl.id)),
    )
    error_body(err)
