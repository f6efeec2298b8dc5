"""Property-based fuzzing of the whole HTTP API with schemathesis.

The schema is the server's own ``/openapi.json`` (generated from the route table), loaded
from the session server that ``conftest.py`` starts. schemathesis turns every operation in
it into a Hypothesis test and sends requests, valid ones and garbage alike (positive and
negative generation, in the examples, coverage and fuzzing phases), to that loopback server,
every one of them with the admin key. Each response must pass:

- ``not_a_server_error``: no 5xx, whatever the request;
- ``status_code_conformance``: the status code is one the operation documents;
- ``content_type_conformance``: the Content-Type is one documented for that status;
- ``response_schema_conformance``: a JSON body matches the schema documented for it;
- ``response_headers_conformance``: documented response headers are present and match.

``positive_data_acceptance`` and ``negative_data_rejection`` are deliberately off: the
server validates more than the schema can say (a manifest must reference existing files of
the right kind, ...), so schema-valid requests are legitimately refused with a 4xx, and
those checks would say nothing about the server.

Random ids never name an existing object, so on their own the fuzzer would only ever see
the 404s of ``/files/{file_id}``, ``/suites/{suite_id}`` and the rest. Before fuzzing,
``fuzz_objects`` therefore creates real files (one of each kind the server serves) and
suites, and schemathesis dictionaries put their ids, at the given probability, into path
parameters and into the manifest's ``file_id`` fields, so the 200 responses (and the body
validation behind a successful lookup) are fuzzed and checked too. DELETE operations get
their own objects, so deleting them does not starve the operations that run after them, and
``create_suite_version`` has its suite id pinned (see ``api_schema``).

Deterministic (``derandomize=True``, no example database) and bounded: at most
``MAX_EXAMPLES`` fuzzing-phase cases per operation, plus the fixed examples/coverage cases.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any, Dict

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Fuzzing-phase cases per operation. The coverage phase adds its own fixed set on top (about
# 1,400 for each of the two manifest-taking POSTs); see the README for the measured runtime.
MAX_EXAMPLES = 40

# How often a bound dictionary value (a real id) replaces the generated one.
REAL_ID_PROBABILITY = 0.5

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Requests sent per operation, for the summary line at the end of the module.
_SENT: Counter = Counter()

# One file of each kind the server serves with its own content type.
SEED_FILES = [
    ("fuzz_rows.jsonl", "evals", b'{"question": "2 + 2?", "answer": "4", "text": "t", "label": "a"}\n'),
    ("fuzz_rows.csv", "evals", b"question,answer,text,label\n2 + 2?,4,t,a\n"),
    ("fuzz_grader.py", "evals", b"def grade(sample, item):\n    return 1.0\n"),
    ("fuzz_notes.json", "user_data", b'{"note": "not a dataset", "n": [1, 2, 3]}\n'),
    ("fuzz_notes.txt", "user_data", b"plain text\n"),
]


def _manifest(file_id: str) -> Dict[str, Any]:
    return {
        "tasks": [
            {
                "id": "qa",
                "type": "qa",
                "dataset": {"file_id": file_id, "format": "jsonl"},
                "prompt_template": "Question: {{question}}\nAnswer:",
                "target_template": "{{answer}}",
            }
        ]
    }


@pytest.fixture(scope="session")
def fuzz_objects(assay_server) -> SimpleNamespace:
    """Real objects of the admin tenant whose ids the fuzzer mixes into its requests."""
    headers = {"Authorization": f"Bearer {assay_server.admin_key}"}
    with httpx.Client(base_url=assay_server.base_url, headers=headers, timeout=30) as http:

        def upload(name: str, purpose: str, data: bytes) -> str:
            res = http.post("/api/v1/llm/files", data={"purpose": purpose}, files={"file": (name, data)})
            assert res.status_code == 200, f"seed upload {name}: {res.status_code} {res.text}"
            return res.json()["id"]

        def create_suite(name: str, file_id: str) -> str:
            res = http.post("/api/v1/llm/evals/suites", json={"name": name, "manifest": _manifest(file_id)})
            assert res.status_code == 200, f"seed suite {name}: {res.status_code} {res.text}"
            return res.json()["id"]

        files = {name: upload(name, purpose, data) for name, purpose, data in SEED_FILES}
        jsonl = files["fuzz_rows.jsonl"]
        suite = create_suite("fuzz-suite", jsonl)
        # A second version, so version numbers 1 and 2 both exist.
        res = http.post(f"/api/v1/llm/evals/suites/{suite}/versions", json={"manifest": _manifest(jsonl)})
        assert res.status_code == 200, f"seed version: {res.status_code} {res.text}"
        res = http.get(f"/api/v1/llm/evals/suites/{suite}/versions")
        assert res.status_code == 200, f"seed versions: {res.status_code} {res.text}"
        return SimpleNamespace(
            suite_names=["fuzz-named-suite", "ñandú suite"],
            file_ids=list(files.values()),
            dataset_file_ids=[jsonl, files["fuzz_rows.csv"]],
            python_file_ids=[files["fuzz_grader.py"]],
            suite_ids=[suite],
            versions=[1, 2],
            version_ids=[v["id"] for v in res.json()["data"]],
            # Victims of the DELETE operations only.
            doomed_file_ids=[upload(f"doomed_{i}.jsonl", "evals", SEED_FILES[0][2]) for i in range(3)],
            doomed_suite_ids=[create_suite(f"doomed-{i}", jsonl) for i in range(3)],
        )


def _bind(dictionary: str, probability: float = REAL_ID_PROBABILITY) -> Dict[str, Any]:
    return {"dictionary": dictionary, "probability": probability}


@pytest.fixture(scope="session")
def api_schema(assay_server, fuzz_objects: SimpleNamespace):
    """The served OpenAPI document, with an explicit config (nothing is auto-discovered)."""
    config = schemathesis.Config.from_dict(
        {
            # Requests go to the session server on the loopback interface, and nowhere else.
            "base-url": assay_server.base_url,
            "generation": {
                # Valid and invalid data alike.
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # No example database: nothing is replayed from, or saved to, earlier runs.
                "database": "none",
                # Every request carries the admin key (sent by the test): schemathesis must not
                # treat Authorization as a parameter to drop or garble. Missing and bad keys are
                # covered by the SDK suite's auth tests.
                "with-security-parameters": False,
            },
            "dictionaries": {
                name: {"values": getattr(fuzz_objects, name)}
                for name in (
                    "file_ids",
                    "dataset_file_ids",
                    "python_file_ids",
                    "suite_ids",
                    "versions",
                    "version_ids",
                    "suite_names",
                    "doomed_file_ids",
                    "doomed_suite_ids",
                )
            },
            "parameters": {
                "path.file_id": _bind("file_ids"),
                "path.suite_id": _bind("suite_ids"),
                "path.version": _bind("versions"),
                "query.after": _bind("file_ids", 0.25),
                # `name` must be non-empty (the schema cannot say so): let manifests get past it.
                "body.name": _bind("suite_names"),
                "body.manifest.tasks[*].dataset.file_id": _bind("dataset_file_ids", 0.9),
                "body.manifest.tasks[*].grader.file_id": _bind("python_file_ids", 0.9),
                "body.manifest.tasks[*].preprocess.file_id": _bind("python_file_ids", 0.9),
            },
            "operations": [
                {"include-operation-id": "delete_file", "parameters": {"path.file_id": _bind("doomed_file_ids")}},
                {"include-operation-id": "delete_suite", "parameters": {"path.suite_id": _bind("doomed_suite_ids")}},
                {"include-operation-id": "list_suites", "parameters": {"query.after": _bind("suite_ids", 0.25)}},
                {
                    "include-operation-id": "list_suite_versions",
                    "parameters": {"query.after": _bind("version_ids", 0.25)},
                },
                # Pinned, not bound: the coverage phase (about 1,400 fixed manifests here) ignores
                # dictionaries, and with a random suite id every one of them would stop at the 404
                # of the suite lookup instead of reaching manifest validation. Random suite ids are
                # fuzzed by the four other `{suite_id}` operations, which share the lookup.
                {
                    "include-operation-id": "create_suite_version",
                    "parameters": {"path.suite_id": fuzz_objects.suite_ids[0]},
                },
            ],
        }
    )
    return schemathesis.openapi.from_url(assay_server.base_url + "/openapi.json", config=config, timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hypothesis keeps caches (unicode tables, collected constants) in ``./.hypothesis``; keep
    them in pytest's temporary directory instead of the working tree. Not reset afterwards:
    Hypothesis may still write its caches after this module is done."""
    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis-home"))


class _SentSummary:
    """Adds one line to pytest's terminal summary: how many requests the fuzzer sent."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if _SENT:
            terminalreporter.write_line(
                f"test_api_fuzz: schemathesis sent {sum(_SENT.values())} requests "
                f"over {len(_SENT)} operations"
            )


@pytest.fixture(scope="module", autouse=True)
def _report_sent(request: pytest.FixtureRequest):
    if not request.config.pluginmanager.has_plugin("assay-fuzz-summary"):
        request.config.pluginmanager.register(_SentSummary(), "assay-fuzz-summary")
    yield


@pytest.fixture(autouse=True)
def _schemathesis_nodeid_shim(request: pytest.FixtureRequest) -> None:
    """Compatibility shim: schemathesis 4.32.5 vs pytest 9.2.

    schemathesis' lazy-schema runner reads and rewrites ``request.node._nodeid`` to name the
    operation it is running; pytest 9.2 replaced that attribute with ``_id`` (a ``NodeId``),
    so every ``from_fixture`` test dies with ``AttributeError: 'Function' object has no
    attribute '_nodeid'``. A plain attribute holding the node id is all it needs; each
    operation's subtest still carries its ``label``. A no-op where pytest still has the
    attribute; drop it once schemathesis supports pytest 9.2.
    """
    node = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    derandomize=True,
    database=None,
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # Timing-based, so it could fail a run on a loaded machine for no fault of the server.
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
def test_api_fuzz(case: schemathesis.Case, assay_server: Any) -> None:
    _SENT[case.operation.label] += 1
    case.call_and_validate(
        headers={"Authorization": f"Bearer {assay_server.admin_key}"},
        checks=CHECKS,
        timeout=30,
    )
