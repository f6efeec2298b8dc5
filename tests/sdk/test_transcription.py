"""SDK conformance: transcription tasks, through meetkai-mka1.

Real WAV clips are made here (Python's ``wave`` module: sine tones of distinct pitches, and
speech from ``espeak-ng -w`` for the first clip when it is installed), their transcripts are
registered with the fake model server (``POST /_fake/transcripts``), and a JSONL dataset
holds every audio form the server reads: a base64 ``data:`` URI, an http(s) URL served by a
``ThreadingHTTPServer`` on 127.0.0.1 in this module, and a Hugging Face Audio value
``{"bytes", "path"}``; plus a row whose audio is not audio and a URL that answers 404.

The suite is run on ``fake-asr`` (the session registry's ``transcriptions`` entry, upstream
model ``fake-whisper``) and on ``auto`` (``[models.auto] transcription = fake-asr``). Every
expected transcript, score, mean and corpus value is derived from ``ROWS`` with a
normalization and Levenshtein distance written here, checked against ``jiwer`` when it is
importable (same pipeline: NFKC, lowercase, punctuation removed, whitespace collapsed).

Every call to the Assay API goes through the SDK; the other HTTP traffic is the fake's own
endpoints and the clip server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
import uuid
import wave
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import fmean
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import httpx
import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, error_body, expect_api_error

RUN_TIMEOUT = 60.0
POLL_INTERVAL = 0.2
TERMINAL = {"completed", "failed", "cancelled"}
ASR_MODEL = "fake-asr"
UPSTREAM_MODEL = "fake-whisper"
LANGUAGE = "en"


# ---------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------


def tone_wav(pitch: float, seconds: float = 0.25, rate: int = 16_000) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone; distinct pitches make distinct clips."""
    frames = bytearray()
    for i in range(int(rate * seconds)):
        v = int(math.sin(2 * math.pi * pitch * i / rate) * 8000)
        frames += v.to_bytes(2, "little", signed=True)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def speech_wav(text: str) -> Optional[bytes]:
    """``espeak-ng -w`` speaking ``text``, or None without espeak-ng (or if it fails)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "speech.wav"
        try:
            subprocess.run([exe, "-w", str(out), text], check=True, capture_output=True, timeout=30)
            data = out.read_bytes()
        except (OSError, subprocess.SubprocessError):
            return None
    # It must be a WAV file the `wave` module reads.
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getnframes() == 0:
                return None
    except (wave.Error, EOFError):
        return None
    return data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_uri(data: bytes) -> str:
    return "data:audio/wav;base64," + b64(data)


# ---------------------------------------------------------------------------
# Scoring, by hand
# ---------------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC, lowercase, Unicode punctuation (categories P*) removed, whitespace collapsed."""
    s = unicodedata.normalize("NFKC", text).lower()
    s = "".join(c for c in s if not unicodedata.category(c).startswith("P"))
    return " ".join(s.split())


def levenshtein(a: List[Any], b: List[Any]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def word_counts(hyp: str, ref: str) -> tuple[int, int]:
    h, r = normalize(hyp).split(), normalize(ref).split()
    return levenshtein(h, r), len(r)


def char_counts(hyp: str, ref: str) -> tuple[int, int]:
    h, r = list(normalize(hyp)), list(normalize(ref))
    return levenshtein(h, r), len(r)


# ---------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------


@dataclass
class Row:
    form: str  # "data_uri" | "url" | "hf_audio" | "bad" | "missing_url"
    reference: str
    clip: Optional[bytes]  # None: the row holds no readable clip
    registered: Optional[str]  # what the clip is registered to transcribe to (None: not registered)
    transcript: Optional[str]  # the output the sample must store (None: failed)
    word_edits: Optional[int]  # by hand
    char_edits: Optional[int]  # by hand (None: only computed)
    error_type: Optional[str]
    audio: Any = None  # the row's audio value, set once the clip server runs

    @property
    def sha256(self) -> Optional[str]:
        return hashlib.sha256(self.clip).hexdigest() if self.clip is not None else None


def make_rows() -> List[Row]:
    first = speech_wav("hello world") or tone_wav(220.0)
    unknown = tone_wav(550.0)
    unknown_text = f"unknown clip {hashlib.sha256(unknown).hexdigest()[:8]}"
    return [
        # 0: punctuation and case are normalized away: no edit.
        Row("data_uri", "Hello, world!", first, "hello world", "hello world", 0, 0, None),
        # 1: one 500 first (retried), then a split word: 1 substitution + 1 insertion of 3
        # words; 1 inserted space of 21 characters.
        Row("url", "Good morning, everyone.", tone_wav(330.0), "[[status:500 times=1]] good morning every one",
            "good morning every one", 2, 1, None),
        # 2: fox -> box, "jumps" inserted: 2 of 4 words; f->b and " jumps": 7 of 19 characters.
        Row("hf_audio", "The quick brown fox", tone_wav(440.0), "the quick brown box jumps",
            "the quick brown box jumps", 2, 7, None),
        # 3: never registered: the fake answers "unknown clip <hash8>"; 1 substitution and 2
        # insertions against one reference word (a rate above 1).
        Row("data_uri", "Silence", unknown, None, unknown_text, 3, None, None),
        # 4: not audio in any form the server reads.
        Row("bad", "nothing", None, None, None, None, None, "audio_error"),
        # 5: a URL that answers 404.
        Row("missing_url", "nothing", None, None, None, None, None, "audio_unavailable"),
    ]


class ClipServer:
    """Serves ``/clip/<name>.wav`` on 127.0.0.1 (404 for anything else); counts the GETs."""

    def __init__(self) -> None:
        self.clips: Dict[str, bytes] = {}
        self.hits: Dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                body = outer.clips.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fill_audio(rows: List[Row], clips: ClipServer) -> None:
    for i, row in enumerate(rows):
        if row.form == "data_uri":
            row.audio = data_uri(row.clip)
        elif row.form == "url":
            path = f"/clip/{i}.wav"
            clips.clips[path] = row.clip
            row.audio = clips.url + path
        elif row.form == "hf_audio":
            row.audio = {"bytes": b64(row.clip), "path": f"clips/{i}.wav"}
        elif row.form == "bad":
            row.audio = "not audio at all"
        elif row.form == "missing_url":
            row.audio = clips.url + "/clip/missing.wav"


# ---------------------------------------------------------------------------
# SDK helpers
# ---------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for_run(sdk: SDK, wire: WireRecorder, run_id: str) -> tuple[models.GetEvalRunResponse, dict]:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = sdk.llm.evals.get_run(run_id=run_id)
        assert isinstance(run, models.GetEvalRunResponse)
        if run.status in TERMINAL:
            return run, wire.last.response_json
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.status!r} after {RUN_TIMEOUT:.0f}s")
        time.sleep(POLL_INTERVAL)


def all_samples(sdk: SDK, run_id: str, **filters: Any) -> List[models.EvalSampleObject]:
    page = sdk.llm.evals.list_samples(run_id=run_id, limit=500, **filters)
    assert isinstance(page, models.EvalSampleList)
    assert page.has_more is False
    return sorted(page.data, key=lambda s: (s.task_id, s.model, s.sample_index))


def upload_jsonl(sdk: SDK, name: str, rows: List[dict]) -> models.File:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return sdk.llm.files.upload(file={"file_name": name, "content": data}, purpose="evals")


def task(task_id: str, file_id: str) -> Dict[str, Any]:
    return {
        "id": task_id,
        "type": "transcription",
        "language": LANGUAGE,
        "dataset": {"file_id": file_id, "format": "jsonl", "audio_column": "audio"},
        "target_template": "{{text}}",
    }


def register(fake, clip: bytes, text: str) -> None:
    res = httpx.post(fake.url + "/_fake/transcripts", json={"audio_base64": b64(clip), "text": text}, timeout=30)
    res.raise_for_status()


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake(fake_model):
    if fake_model is None:
        pytest.skip("external server without ASSAY_SDK_FAKE_MODEL_URL: runs need the fake model server")
    return fake_model


@pytest.fixture(scope="module")
def clip_server():
    server = ClipServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def asr(sdk: SDK, wire: WireRecorder, fake, clip_server: ClipServer) -> SimpleNamespace:
    """The suite over ``ROWS`` run on ``fake-asr`` and on ``auto``, both polled to the end."""
    rows = make_rows()
    fill_audio(rows, clip_server)
    for row in rows:
        if row.registered is not None:
            register(fake, row.clip, row.registered)
    dataset = upload_jsonl(sdk, "asr.jsonl", [{"audio": r.audio, "text": r.reference} for r in rows])
    suite = sdk.llm.evals.create_suite(name=unique("asr"), manifest={"tasks": [task("asr", dataset.id)]})
    log_before = fake.requests()["total"]
    runs = {}
    for model in (ASR_MODEL, "auto"):
        created = sdk.llm.evals.create_run(suite_id=suite.id, models=[model])
        runs[model] = created.id
    finished = {}
    for model, run_id in runs.items():
        run, raw = wait_for_run(sdk, wire, run_id)
        finished[model] = SimpleNamespace(id=run_id, run=run, raw=raw, samples=all_samples(sdk, run_id))
    log = fake.requests()
    return SimpleNamespace(
        rows=rows, dataset=dataset, suite=suite, runs=finished,
        log=log, log_before=log_before, clips=clip_server,
    )


# ---------------------------------------------------------------------------
# Expected values
# ---------------------------------------------------------------------------


def completed(rows: List[Row]) -> List[Row]:
    return [r for r in rows if r.transcript is not None]


def expected_metrics(rows: List[Row]) -> Dict[str, float]:
    done = completed(rows)
    wc = [word_counts(r.transcript, r.reference) for r in done]
    cc = [char_counts(r.transcript, r.reference) for r in done]
    return {
        "wer": fmean(e / n for e, n in wc),
        "cer": fmean(e / n for e, n in cc),
        "wer_edits": sum(e for e, _ in wc),
        "wer_len": sum(n for _, n in wc),
        "cer_edits": sum(e for e, _ in cc),
        "cer_len": sum(n for _, n in cc),
    }


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_hand_counts_match_the_table() -> None:
    """The edit counts written in ROWS are what the local Levenshtein computes."""
    for row in completed(make_rows()):
        assert word_counts(row.transcript, row.reference)[0] == row.word_edits, row
        if row.char_edits is not None:
            assert char_counts(row.transcript, row.reference)[0] == row.char_edits, row
    assert normalize("  Hello,   WORLD! It's  ｆｉｎｅ. ") == "hello world its fine"


def test_manifest_round_trips(sdk: SDK, wire: WireRecorder, asr: SimpleNamespace) -> None:
    version = sdk.llm.evals.get_suite_version(suite_id=asr.suite.id, version=1)
    assert version is not None
    t = wire.last.response_json["manifest"]["tasks"][0]
    assert (t["id"], t["type"], t["language"], t["target_template"]) == ("asr", "transcription", LANGUAGE, "{{text}}")
    assert t["dataset"]["file_id"] == asr.dataset.id
    assert t["dataset"]["audio_column"] == "audio"


@pytest.mark.parametrize("model", [ASR_MODEL, "auto"])
def test_run_completes_with_per_sample_transcripts_and_scores(asr: SimpleNamespace, model: str) -> None:
    r = asr.runs[model]
    rows = asr.rows
    assert r.run.status == "completed", r.raw
    n_ok = len(completed(rows))
    assert r.raw["request_counts"] == {"total": len(rows), "completed": n_ok, "failed": len(rows) - n_ok}
    assert [s.sample_index for s in r.samples] == list(range(len(rows)))
    for row, s in zip(rows, r.samples):
        assert s.task_id == "asr"
        assert s.target == row.reference, s
        if row.transcript is None:
            assert s.status == "failed", s
            assert s.error is not None
            err = s.error if isinstance(s.error, dict) else s.error.model_dump()
            assert err["type"] == row.error_type, s.error
            assert err.get("message"), s.error
            assert not s.scores, s.scores
            continue
        assert s.status == "completed", (s.status, s.error)
        assert s.output_text == row.transcript, s
        we, wn = word_counts(row.transcript, row.reference)
        ce, cn = char_counts(row.transcript, row.reference)
        assert s.scores["wer"] == pytest.approx(we / wn, abs=1e-12), (row.reference, s.scores)
        assert s.scores["cer"] == pytest.approx(ce / cn, abs=1e-12), (row.reference, s.scores)
    # Row 3's rate is above 1 (insertions outnumber the reference).
    assert r.samples[3].scores["wer"] == 3.0


@pytest.mark.parametrize("model", [ASR_MODEL, "auto"])
def test_run_metrics_means_and_corpus_values(asr: SimpleNamespace, model: str) -> None:
    r = asr.runs[model]
    want = expected_metrics(asr.rows)
    by_model = r.raw["metrics"]["by_model"]
    assert list(by_model) == [model], list(by_model)
    task = by_model[model]["asr"]
    n_ok = len(completed(asr.rows))
    assert task["samples"] == {"total": len(asr.rows), "completed": n_ok, "failed": len(asr.rows) - n_ok}
    m = task["metrics"]
    for metric in ("wer", "cer"):
        assert m[metric]["mean"] == pytest.approx(want[metric], abs=1e-12), (metric, m[metric])
        assert m[metric]["n"] == n_ok
        assert m[metric]["higher_is_better"] is False, m[metric]
        corpus = m[f"{metric}_corpus"]
        assert corpus["aggregation"] == "corpus", corpus
        assert corpus["higher_is_better"] is False, corpus
        assert corpus["edits"] == want[f"{metric}_edits"], corpus
        assert corpus["reference_len"] == want[f"{metric}_len"], corpus
        assert corpus["mean"] == pytest.approx(want[f"{metric}_edits"] / want[f"{metric}_len"], abs=1e-12)
        assert r.raw["metrics"]["by_task"]["asr"][metric] == pytest.approx(want[metric], abs=1e-12)
        assert r.raw["metrics"]["by_task"]["asr"][f"{metric}_corpus"] == pytest.approx(
            want[f"{metric}_edits"] / want[f"{metric}_len"], abs=1e-12
        )
    # By hand: words 0+2+2+3 = 7 edits over 2+3+4+1 = 10 reference words.
    assert (want["wer_edits"], want["wer_len"]) == (7, 10)
    assert want["wer"] == pytest.approx((0 + 2 / 3 + 2 / 4 + 3 / 1) / 4)
    # Characters (spaces included): 11 + 21 + 19 + 7 reference characters; rows 0-2 take
    # 0 + 1 + 7 edits, row 3 (its text depends on the clip's hash) whatever it takes.
    assert want["cer_len"] == 58
    assert want["cer_edits"] == 8 + char_counts(asr.rows[3].transcript, "Silence")[0]
    # The SDK parsed the same metrics object.
    assert r.run.metrics is not None


def test_scores_agree_with_jiwer(asr: SimpleNamespace) -> None:
    jiwer = pytest.importorskip("jiwer")

    class NFKC(jiwer.AbstractTransform):
        def process_string(self, s: str) -> str:
            return unicodedata.normalize("NFKC", s)

    common = [NFKC(), jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.SubstituteRegexes({r"\s+": " "}), jiwer.Strip()]
    words = jiwer.Compose(common + [jiwer.ReduceToListOfListOfWords()])
    chars = jiwer.Compose(common + [jiwer.ReduceToListOfListOfChars()])
    done = completed(asr.rows)
    refs = [r.reference for r in done]
    hyps = [r.transcript for r in done]
    samples = {s.sample_index: s for s in asr.runs[ASR_MODEL].samples}
    for i, row in enumerate(asr.rows):
        if row.transcript is None:
            continue
        w = jiwer.process_words(row.reference, row.transcript, reference_transform=words, hypothesis_transform=words)
        c = jiwer.process_characters(row.reference, row.transcript, reference_transform=chars, hypothesis_transform=chars)
        assert samples[i].scores["wer"] == pytest.approx(w.wer, abs=1e-12), (row.reference, w.wer)
        assert samples[i].scores["cer"] == pytest.approx(c.cer, abs=1e-12), (row.reference, c.cer)
    m = asr.runs[ASR_MODEL].raw["metrics"]["by_model"][ASR_MODEL]["asr"]["metrics"]
    w = jiwer.process_words(refs, hyps, reference_transform=words, hypothesis_transform=words)
    c = jiwer.process_characters(refs, hyps, reference_transform=chars, hypothesis_transform=chars)
    assert m["wer_corpus"]["mean"] == pytest.approx(w.wer, abs=1e-12)
    assert m["wer_corpus"]["edits"] == w.substitutions + w.deletions + w.insertions
    assert m["cer_corpus"]["mean"] == pytest.approx(c.cer, abs=1e-12)
    assert m["cer_corpus"]["edits"] == c.substitutions + c.deletions + c.insertions


def test_fake_was_asked_in_english_with_the_upstream_model(asr: SimpleNamespace) -> None:
    ours = {r.sha256 for r in asr.rows if r.clip is not None}
    asked = [
        rec for rec in asr.log["recent"]
        if rec["endpoint"] == "transcriptions" and rec["seq"] > asr.log_before and rec["body"].get("sha256") in ours
    ]
    assert asked, asr.log["by_endpoint"]
    assert all(rec["body"]["language"] == LANGUAGE for rec in asked), asked
    assert all(rec["body"]["model"] == UPSTREAM_MODEL and rec["model"] == UPSTREAM_MODEL for rec in asked), asked
    # Every readable clip reached the model, as the bytes the row holds.
    assert {rec["body"]["sha256"] for rec in asked} == ours
    for rec in asked:
        clip = next(r.clip for r in asr.rows if r.sha256 == rec["body"]["sha256"])
        assert rec["body"]["bytes"] == len(clip)
    # The URL clip's first attempt got the 500 and was retried.
    url_row = next(r for r in asr.rows if r.form == "url")
    url_calls = [rec for rec in asked if rec["body"]["sha256"] == url_row.sha256]
    assert len(url_calls) >= 2, url_calls
    # The server fetched the URL clip from the clip server, and tried the missing one.
    assert asr.clips.hits.get("/clip/1.wav", 0) >= 1, asr.clips.hits
    assert asr.clips.hits.get("/clip/missing.wav", 0) >= 1, asr.clips.hits


def test_a_chat_model_cannot_transcribe(sdk: SDK, asr: SimpleNamespace) -> None:
    err = expect_api_error(400, lambda: sdk.llm.evals.create_run(suite_id=asr.suite.id, models=["fake"]))
    body = error_body(err)
    assert body["error"].get("param") == "models[0]" or "models[0]" in body["error"]["message"], body
    assert "transcription" in body["error"]["message"], body
    err = expect_api_error(400, lambda: sdk.llm.evals.create_run(suite_id=asr.suite.id, models=[ASR_MODEL, "fake-embeddings"]))
    body = error_body(err)
    assert body["error"].get("param") == "models[1]" or "models[1]" in body["error"]["message"], body


def test_sample_lists_redact_inline_clips(sdk: SDK, wire: WireRecorder, asr: SimpleNamespace) -> None:
    run_id = asr.runs[ASR_MODEL].id
    page = sdk.llm.evals.list_samples(run_id=run_id, limit=500, include_dataset_row=True)
    raw = {s["sample_index"]: s for s in wire.last.response_json["data"]}
    assert len(page.data) == len(asr.rows)
    for i, row in enumerate(asr.rows):
        listed = raw[i]["dataset_row"]
        assert listed["text"] == row.reference
        if row.form == "data_uri":
            assert listed["audio"] == f"data:audio/wav;[redacted {len(row.audio)} bytes]", listed["audio"]
        elif row.form == "hf_audio":
            assert listed["audio"] == {"bytes": f"[redacted {len(row.audio['bytes'])} bytes]", "path": row.audio["path"]}
        else:  # URLs and the bad value are short and not inline clips: kept as they are
            assert listed["audio"] == row.audio
    # No clip's base64 leaks anywhere in the listing.
    text = json.dumps(wire.last.response_json)
    for row in asr.rows:
        if row.clip is not None:
            assert b64(row.clip)[:200] not in text
    # Without the row, no dataset_row at all.
    sdk.llm.evals.list_samples(run_id=run_id, limit=500, include_dataset_row=False)
    assert all(s.get("dataset_row") is None for s in wire.last.response_json["data"])


@pytest.mark.parametrize("model", [ASR_MODEL, "auto"])
def test_sample_audio_returns_each_form_whole(sdk: SDK, wire: WireRecorder, asr: SimpleNamespace, model: str) -> None:
    run_id = asr.runs[model].id
    for i, row in enumerate(asr.rows):
        if row.form == "bad":
            err = expect_api_error(404, lambda: sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=i))
            error_body(err)
            continue
        got = sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=i)
        raw = wire.last.response_json
        assert isinstance(got, models.EvalSampleAudioObject)
        assert raw["object"] == "eval.sample.audio"
        assert (got.sample_index, got.task_id, got.model) == (i, "asr", model), raw
        if row.form in ("data_uri", "hf_audio"):
            assert got.audio == data_uri(row.clip), (i, got.audio[:80])
            assert base64.b64decode(got.audio.split(",", 1)[1]) == row.clip
        else:
            assert got.audio == row.audio
        # task_id and model narrow to the same sample.
        again = sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=i, task_id="asr", model=model)
        assert again.audio == got.audio
    for bad in (len(asr.rows), 999):
        err = expect_api_error(404, lambda: sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=bad))
        error_body(err)
    err = expect_api_error(404, lambda: sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=0, task_id="nope"))
    error_body(err)


def test_sample_audio_of_another_tenant_is_404(other_sdk: SDK, asr: SimpleNamespace) -> None:
    run_id = asr.runs[ASR_MODEL].id
    expect_api_error(404, lambda: other_sdk.llm.evals.get_sample_audio(run_id=run_id, sample_index=0))


def test_sample_audio_needs_task_id_when_the_index_is_in_several_tasks(
    sdk: SDK, wire: WireRecorder, fake
) -> None:
    clip = tone_wav(660.0)
    register(fake, clip, "two tasks")
    dataset = upload_jsonl(sdk, "asr_two.jsonl", [{"audio": data_uri(clip), "text": "two tasks"}])
    suite = sdk.llm.evals.create_suite(
        name=unique("asr2"), manifest={"tasks": [task("a", dataset.id), task("b", dataset.id)]}
    )
    created = sdk.llm.evals.create_run(suite_id=suite.id, models=[ASR_MODEL])
    run, raw = wait_for_run(sdk, wire, created.id)
    assert run.status == "completed", raw
    samples = all_samples(sdk, created.id)
    assert [(s.task_id, s.sample_index, s.output_text) for s in samples] == [
        ("a", 0, "two tasks"), ("b", 0, "two tasks")
    ]
    assert all(s.scores["wer"] == 0 for s in samples)
    err = expect_api_error(400, lambda: sdk.llm.evals.get_sample_audio(run_id=created.id, sample_index=0))
    body = error_body(err)
    assert body["error"].get("param") == "task_id" or "task_id" in body["error"]["message"], body
    for t in ("a", "b"):
        got = sdk.llm.evals.get_sample_audio(run_id=created.id, sample_index=0, task_id=t)
        assert (got.task_id, got.model, got.audio) == (t, ASR_MODEL, data_uri(clip))
