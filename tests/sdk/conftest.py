"""Fixtures for the SDK conformance suite.

A session fixture starts the fake OpenAI-compatible model server (``assay-fake-model``) on
an ephemeral loopback port, then the real Assay server (``assay serve``) on another one with
a fresh data directory and a model registry whose every entry points at that fake; it mints
a second tenant's key with ``assay keys create`` and hands out official ``meetkai-mka1`` SDK
clients pointed at the server.

Model registry of the session server (environment variables, nothing else: inherited
``ASSAY_MODELS_*`` / ``ASSAY_CONFIG`` variables are dropped and the server runs in an empty
working directory, so no ``assay.toml`` is read):

  fake              chat_completions  http://127.0.0.1:PORT/v1
  fake-responses    responses         http://127.0.0.1:PORT/v1
  fake-completions  completions       http://127.0.0.1:PORT/v1
  fake-embeddings   embeddings        http://127.0.0.1:PORT/v1
  fake-asr          transcriptions    http://127.0.0.1:PORT/v1  (model = fake-whisper)
  auto: generation -> fake, judge -> fake-responses, embedding -> fake-embeddings,
        transcription -> fake-asr

Webhooks (``WEBHOOK_ENV``; inherited ``ASSAY_WEBHOOKS_*`` variables are dropped): loopback
targets allowed (``ASSAY_WEBHOOKS_ALLOW_NETWORKS=["127.0.0.0/8","::1/128"]``, for the
schedule tests' receivers), 2 s per delivery attempt, 1 s backoff base; transcription audio
URLs may point at loopback (``ASSAY_AUDIO_ALLOW_NETWORKS``, inherited ``ASSAY_AUDIO_*`` dropped).

Hugging Face Hub (``hub_env``; inherited ``ASSAY_HUGGINGFACE_*`` and ``HF_TOKEN`` are
dropped): the session also starts the fake Hub (``assay-fake-hub``) serving the fixture
repository crates/assay-hub/tests/fixtures/hub_repo three times, as ``acme/fixture``
(public), ``acme/private`` (private, readable with ``HUB_TOKEN``) and ``acme/locked``
(private, readable only with ``HUB_LOCKED_TOKEN``), and the lm-eval output fixture
crates/assay-lmeval/tests/fixtures (written by real lm-eval with
tests/reference/make_lmeval_fixture.py) as ``meetkai/lm-eval-harness-result`` — the historical
import's default repository — private to ``HUB_IMPORT_TOKEN``, a caller's token the server is
never given; the server gets
``ASSAY_HUGGINGFACE_ENDPOINT`` = the fake's URL and ``HF_TOKEN`` = ``HUB_TOKEN``, so it can
read the first two and is refused the third, and no run ever reaches the real Hub.

The ``private_servers`` fixture starts further servers the same way, on a test's own data
directory.

Environment:
  ASSAY_BIN                 path of the server binary (default <repo>/target/debug/assay)
  ASSAY_FAKE_MODEL_BIN      path of the fake model server (default <repo>/target/debug/assay-fake-model)
  ASSAY_FAKE_HUB_BIN        path of the fake Hugging Face Hub (default <repo>/target/debug/assay-fake-hub)
  ASSAY_SDK_STARTUP_TIMEOUT seconds to wait for each process's "listening on" line (default 60)
  ASSAY_SDK_BASE_URL        use an already running server instead of starting one;
                            then ASSAY_SDK_KEY and ASSAY_SDK_OTHER_KEY must hold the two
                            tenants' keys (the other key from a different org/team), and
                            ASSAY_SDK_FAKE_MODEL_URL may name the fake model server that
                            server's registry (entries as above) points at; without it the
                            run tests are skipped; the Hub dataset tests are always skipped
                            (the fake Hub's commits are only known to the process that
                            started it)
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import httpx
import pytest
from meetkai_mka1 import SDK

from sdk_helpers import WireRecorder, make_sdk

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "assay"
DEFAULT_FAKE_MODEL_BIN = REPO_ROOT / "target" / "debug" / "assay-fake-model"
DEFAULT_FAKE_HUB_BIN = REPO_ROOT / "target" / "debug" / "assay-fake-hub"
# The dataset repository written by tests/reference/make_hub_reference.py with Python
# `datasets`/pyarrow (configs `main`, the default, and `audio`; raw/qa.jsonl; raw/scores.csv).
HUB_FIXTURE_REPO = REPO_ROOT / "crates" / "assay-hub" / "tests" / "fixtures" / "hub_repo"
# lm-eval's own output (results and samples files of two runs), for the historical import.
LMEVAL_FIXTURE_DIR = REPO_ROOT / "crates" / "assay-lmeval" / "tests" / "fixtures"
# The session server's Hub token (HF_TOKEN), another one only `acme/locked` accepts, and a
# caller's token for historical imports (sent in X-HuggingFace-Token; the server never has it).
HUB_TOKEN = "hf_assay_sdk_server_token"
HUB_LOCKED_TOKEN = "hf_assay_sdk_someone_elses_token"
HUB_IMPORT_TOKEN = "hf_assay_sdk_callers_import_token"
# Repository -> the token it is private to (None: public); the `acme/` ones hold the fixture
# repository.
HUB_REPOS: Dict[str, Optional[str]] = {
    "acme/fixture": None,
    "acme/private": HUB_TOKEN,
    "acme/locked": HUB_LOCKED_TOKEN,
    "meetkai/lm-eval-harness-result": HUB_IMPORT_TOKEN,
}
# Repository -> the directory it serves.
HUB_REPO_DIRS: Dict[str, Path] = {
    "acme/fixture": HUB_FIXTURE_REPO,
    "acme/private": HUB_FIXTURE_REPO,
    "acme/locked": HUB_FIXTURE_REPO,
    "meetkai/lm-eval-harness-result": LMEVAL_FIXTURE_DIR,
}

# 40+ characters, shaped like a minted key; only ever used against a throwaway data dir.
BOOTSTRAP_KEY = "assay_sk_test_admin_0123456789abcdefghijklmnopqrstuvwxyz"

LISTENING_RE = re.compile(r"Assay listening on (http://\S+)")
FAKE_LISTENING_RE = re.compile(r"fake model listening on (http://\S+)")
FAKE_HUB_LISTENING_RE = re.compile(r"fake hub listening on (http://\S+)")
FAKE_HUB_COMMIT_RE = re.compile(r"^repo (\S+) commit ([0-9a-f]{40})$")

# Registry entry -> API kind, all served by the session's fake model server.
FAKE_MODEL_KINDS = {
    "fake": "chat_completions",
    "fake-responses": "responses",
    "fake-completions": "completions",
    "fake-embeddings": "embeddings",
    "fake-asr": "transcriptions",
}
# Upstream model names sent as `model` where it is not the entry's own name.
FAKE_MODEL_NAMES = {"fake-asr": "fake-whisper"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

# The running server and fake model, so a failing test's report can show their logs.
_RUNNING: Optional["AssayServer"] = None
_RUNNING_FAKE: Optional["FakeModel"] = None
_RUNNING_HUB: Optional["FakeHub"] = None
# Servers a test started for itself (``private_servers``), for the same reason.
_PRIVATE: List["AssayServer"] = []


@dataclass
class FakeModel:
    """The fake OpenAI-compatible model server every registry entry points at."""

    url: str
    stderr_path: Optional[Path] = None
    process: Optional[subprocess.Popen] = None

    def requests(self) -> dict:
        """The fake's request log (``GET /_fake/requests``): ``total``, ``in_flight``,
        ``by_endpoint``, ``by_prompt`` and the ``recent`` requests with their bodies."""
        res = httpx.get(self.url + "/_fake/requests", timeout=30)
        res.raise_for_status()
        return res.json()

    def stderr_tail(self, limit: int = 8000) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")[-limit:]


@dataclass
class FakeHub:
    """The fake Hugging Face Hub the session server reads datasets from."""

    url: str
    # Repository -> the commit of its `main` branch, as the fake printed it.
    commits: Dict[str, str]
    fixture_dir: Path = HUB_FIXTURE_REPO
    # The session server's token, and which token each repository is private to (None: public).
    token: str = HUB_TOKEN
    tokens: Dict[str, Optional[str]] = field(default_factory=lambda: dict(HUB_REPOS))
    stderr_path: Optional[Path] = None
    process: Optional[subprocess.Popen] = None

    def stderr_tail(self, limit: int = 8000) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")[-limit:]


@dataclass
class AssayServer:
    base_url: str
    admin_key: str
    other_key: str
    data_dir: Optional[Path] = None
    stderr_path: Optional[Path] = None
    process: Optional[subprocess.Popen] = None

    def stderr_tail(self, limit: int = 8000) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        text = self.stderr_path.read_text(errors="replace")
        return text[-limit:]


def _read_stderr(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-8000:]
    except OSError:
        return ""


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # The server runs in its own session, so a wrapper script's children are reached too.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)


def _spawn(
    what: str,
    argv: List[str],
    env: dict,
    cwd: Optional[Path],
    stderr_path: Path,
    ready: "re.Pattern[str]",
) -> tuple[subprocess.Popen, str]:
    """Starts ``argv`` in its own session and waits for the stdout line matching ``ready``;
    returns the process and the URL the line names."""
    proc, url, _ = _spawn_reading(what, argv, env, cwd, stderr_path, ready)
    return proc, url


def _spawn_reading(
    what: str,
    argv: List[str],
    env: dict,
    cwd: Optional[Path],
    stderr_path: Path,
    ready: "re.Pattern[str]",
    then: int = 0,
) -> tuple[subprocess.Popen, str, List[str]]:
    """:func:`_spawn`, also waiting (within the same deadline) for the ``then`` lines that
    follow the ready line, which it returns."""
    stderr_file = open(stderr_path, "wb")
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            start_new_session=True,
        )
    finally:
        stderr_file.close()  # the child holds its own descriptor

    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        # Keep draining stdout for the whole life of the process so it never blocks on a full pipe.
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", errors="replace"))
        lines.put(None)

    threading.Thread(target=pump, name=f"{what}-stdout", daemon=True).start()

    timeout = float(os.environ.get("ASSAY_SDK_STARTUP_TIMEOUT", "60"))
    deadline = time.monotonic() + timeout
    seen: List[str] = []
    url: Optional[str] = None
    after: List[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop(proc)
            missing = (
                f"no ready line ({ready.pattern!r})"
                if url is None
                else f"{len(after)} of the {then} lines after its ready line"
            )
            pytest.fail(
                f"{what} printed {missing} within {timeout:.0f}s\n"
                f"stdout so far:\n{''.join(seen)}\nstderr:\n{_read_stderr(stderr_path)}",
                pytrace=False,
            )
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                line = None
            else:
                continue
        if line is None:
            proc.wait(timeout=10)
            pytest.fail(
                f"{what} exited with code {proc.returncode} before it was ready\n"
                f"stdout:\n{''.join(seen)}\nstderr:\n{_read_stderr(stderr_path)}",
                pytrace=False,
            )
        seen.append(line)
        if url is not None:
            after.append(line.rstrip("\n"))
        else:
            m = ready.search(line)
            if m:
                url = m.group(1).rstrip("/")
        if url is not None and len(after) >= then:
            return proc, url, after


def _check_loopback(url: str) -> None:
    host = httpx.URL(url).host
    if host not in LOOPBACK_HOSTS:
        pytest.fail(f"refusing to point the server at a non-loopback endpoint: {url}", pytrace=False)


def _start_fake_model(binary: Path, stderr_path: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_FAKE_MODEL_")}
    proc, url = _spawn(
        "assay-fake-model",
        [str(binary), "--bind", "127.0.0.1:0"],
        env,
        None,
        stderr_path,
        FAKE_LISTENING_RE,
    )
    _check_loopback(url)
    return proc, url


def _start_fake_hub(binary: Path, stderr_path: Path) -> tuple[subprocess.Popen, str, Dict[str, str]]:
    """Starts ``assay-fake-hub`` with every repository of HUB_REPOS; returns the process, its
    URL and each repository's commit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_FAKE_HUB_")}
    argv = [str(binary), "--bind", "127.0.0.1:0"]
    for repo, token in HUB_REPOS.items():
        argv += ["--repo", f"{repo}={HUB_REPO_DIRS[repo]}"]
        if token is not None:
            argv += ["--private", f"{repo}={token}"]
    proc, url, lines = _spawn_reading(
        "assay-fake-hub", argv, env, None, stderr_path, FAKE_HUB_LISTENING_RE, then=len(HUB_REPOS)
    )
    _check_loopback(url)
    commits: Dict[str, str] = {}
    for line in lines:
        m = FAKE_HUB_COMMIT_RE.match(line)
        if not m:
            _stop(proc)
            pytest.fail(f"assay-fake-hub printed {line!r}, not `repo REPO commit SHA`", pytrace=False)
        commits[m.group(1)] = m.group(2)
    if set(commits) != set(HUB_REPOS):
        _stop(proc)
        pytest.fail(f"assay-fake-hub committed {sorted(commits)}, not {sorted(HUB_REPOS)}", pytrace=False)
    return proc, url, commits


def hub_env(hub_url: str) -> dict:
    """The server's Hugging Face settings: the fake Hub, read with HUB_TOKEN."""
    _check_loopback(hub_url)
    return {"ASSAY_HUGGINGFACE_ENDPOINT": hub_url, "HF_TOKEN": HUB_TOKEN}


def _registry_env(fake_url: str) -> dict:
    """``ASSAY_MODELS_*`` variables: every entry of FAKE_MODEL_KINDS at the fake, auto -> fake."""
    _check_loopback(fake_url)
    env = {}
    for name, kind in FAKE_MODEL_KINDS.items():
        key = name.upper()
        env[f"ASSAY_MODELS_{key}__KIND"] = kind
        env[f"ASSAY_MODELS_{key}__BASE_URL"] = fake_url + "/v1"
        if name in FAKE_MODEL_NAMES:
            env[f"ASSAY_MODELS_{key}__MODEL"] = FAKE_MODEL_NAMES[name]
    env["ASSAY_MODELS_AUTO__GENERATION"] = "fake"
    env["ASSAY_MODELS_AUTO__JUDGE"] = "fake-responses"
    env["ASSAY_MODELS_AUTO__EMBEDDING"] = "fake-embeddings"
    env["ASSAY_MODELS_AUTO__TRANSCRIPTION"] = "fake-asr"
    return env


# Webhook delivery settings of every server the suite starts. The schedule tests' receivers
# listen on loopback, which the server refuses as a webhook target unless an operator allows
# it (`[webhooks] allow_networks`; figment reads the environment value as a TOML-style list).
# Short attempt timeout and backoff keep retries and redeliveries within a test's deadline.
WEBHOOK_ENV = {
    "ASSAY_WEBHOOKS_ALLOW_NETWORKS": '["127.0.0.0/8","::1/128"]',
    "ASSAY_WEBHOOKS_TIMEOUT_SECONDS": "2",
    "ASSAY_WEBHOOKS_BACKOFF_BASE_SECONDS": "1",
    # Transcription tests serve their audio on loopback.
    "ASSAY_AUDIO_ALLOW_NETWORKS": '["127.0.0.0/8","::1/128"]',
}


def _start_server(
    binary: Path,
    data_dir: Path,
    work_dir: Path,
    stderr_path: Path,
    fake_url: str,
    hub_url: str,
    extra_env: Optional[dict] = None,
) -> tuple[subprocess.Popen, str]:
    """Starts ``assay serve`` on ``data_dir`` (an existing one is reopened) and returns the
    process and its base URL. ``extra_env`` is applied last (e.g. other webhook settings)."""
    # Only the registry and Hub built here: no inherited model entries, Hub settings or
    # config file can add an endpoint that is not a loopback fake (the fuzzer sends whatever
    # it likes), nor a developer's own Hub token.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(
            ("ASSAY_MODELS_", "ASSAY_WEBHOOKS_", "ASSAY_HUGGINGFACE_", "ASSAY_AUDIO_")
        )
        and k.upper() not in ("ASSAY_CONFIG", "HF_TOKEN")
    }
    env.update(_registry_env(fake_url))
    env.update(WEBHOOK_ENV)
    env.update(hub_env(hub_url))
    env["ASSAY_SERVER_BIND"] = "127.0.0.1:0"
    # A tiny response ceiling, so the leaderboard-runs tests see a truncated feed.
    env["ASSAY_SERVER_LEADERBOARD_RUNS_MAX"] = "2"
    env["ASSAY_BOOTSTRAP_KEY"] = BOOTSTRAP_KEY
    env.update(extra_env or {})
    return _spawn(
        "assay serve",
        [str(binary), "serve", "--data-dir", str(data_dir)],
        env,
        work_dir,  # empty: no ./assay.toml
        stderr_path,
        LISTENING_RE,
    )


def _create_key(binary: Path, data_dir: Path, org: str, team: str, admin: bool = False) -> str:
    res = subprocess.run(
        [
            str(binary),
            "keys",
            "create",
            "--data-dir",
            str(data_dir),
            "--org",
            org,
            "--team",
            team,
        ]
        + (["--admin"] if admin else []),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    out = res.stdout.decode("utf-8", errors="replace")
    if res.returncode != 0:
        pytest.fail(
            f"assay keys create failed with code {res.returncode}\nstdout:\n{out}\n"
            f"stderr:\n{res.stderr.decode('utf-8', errors='replace')[-8000:]}",
            pytrace=False,
        )
    non_empty = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if not non_empty:
        pytest.fail("assay keys create printed nothing on stdout", pytrace=False)
    return non_empty[-1]


def _binary(env_var: str, default: Path, hint: str) -> Path:
    binary = Path(os.environ.get(env_var, str(default)))
    if not binary.is_file():
        pytest.fail(f"{binary} not found; {hint} or set {env_var}", pytrace=False)
    # Absolute: the server runs in its own (empty) working directory.
    return binary.resolve()


@pytest.fixture(scope="session")
def fake_model(tmp_path_factory: pytest.TempPathFactory):
    """The fake model server the session server's registry points at (``None`` when testing
    an external server without ASSAY_SDK_FAKE_MODEL_URL)."""
    global _RUNNING_FAKE
    if os.environ.get("ASSAY_SDK_BASE_URL"):
        url = os.environ.get("ASSAY_SDK_FAKE_MODEL_URL")
        yield FakeModel(url=url.rstrip("/")) if url else None
        return
    binary = _binary(
        "ASSAY_FAKE_MODEL_BIN",
        DEFAULT_FAKE_MODEL_BIN,
        "build it with `cargo build -p assay-testkit --bins`",
    )
    stderr_path = tmp_path_factory.mktemp("fake-model-logs") / "fake-model.stderr.log"
    proc, url = _start_fake_model(binary, stderr_path)
    try:
        fake = FakeModel(url=url, stderr_path=stderr_path, process=proc)
        _RUNNING_FAKE = fake
        yield fake
    finally:
        _RUNNING_FAKE = None
        _stop(proc)


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory: pytest.TempPathFactory):
    """The fake Hugging Face Hub the session server reads datasets from (``None`` when
    testing an external server)."""
    global _RUNNING_HUB
    if os.environ.get("ASSAY_SDK_BASE_URL"):
        yield None
        return
    binary = _binary(
        "ASSAY_FAKE_HUB_BIN",
        DEFAULT_FAKE_HUB_BIN,
        "build it with `cargo build -p assay-testkit --bins`",
    )
    stderr_path = tmp_path_factory.mktemp("fake-hub-logs") / "fake-hub.stderr.log"
    proc, url, commits = _start_fake_hub(binary, stderr_path)
    try:
        hub = FakeHub(url=url, commits=commits, stderr_path=stderr_path, process=proc)
        _RUNNING_HUB = hub
        yield hub
    finally:
        _RUNNING_HUB = None
        _stop(proc)


@pytest.fixture(scope="session")
def assay_server(
    tmp_path_factory: pytest.TempPathFactory,
    fake_model: Optional[FakeModel],
    fake_hub: Optional[FakeHub],
):
    """The running server: base URL, the bootstrap (org 1) key and a second tenant's key."""
    global _RUNNING
    external = os.environ.get("ASSAY_SDK_BASE_URL")
    if external:
        admin = os.environ.get("ASSAY_SDK_KEY")
        other = os.environ.get("ASSAY_SDK_OTHER_KEY")
        if not admin or not other:
            pytest.fail("ASSAY_SDK_BASE_URL needs ASSAY_SDK_KEY and ASSAY_SDK_OTHER_KEY", pytrace=False)
        yield AssayServer(base_url=external.rstrip("/"), admin_key=admin, other_key=other)
        return

    binary = _binary("ASSAY_BIN", DEFAULT_BIN, "build it with `cargo build`")
    assert fake_model is not None and fake_hub is not None
    data_dir = tmp_path_factory.mktemp("assay-data")
    work_dir = tmp_path_factory.mktemp("assay-cwd")
    stderr_path = tmp_path_factory.mktemp("assay-logs") / "server.stderr.log"
    proc, base_url = _start_server(binary, data_dir, work_dir, stderr_path, fake_model.url, fake_hub.url)
    try:
        other_key = _create_key(binary, data_dir, "org_other", "team_other")
        server = AssayServer(
            base_url=base_url,
            admin_key=BOOTSTRAP_KEY,
            other_key=other_key,
            data_dir=data_dir,
            stderr_path=stderr_path,
            process=proc,
        )
        _RUNNING = server
        yield server
    finally:
        _RUNNING = None
        _stop(proc)


class PrivateServers:
    """Further ``assay serve`` processes a test starts for itself: the registry on the
    session's fake model and fake Hub, the same environment as the session server."""

    def __init__(self, binary: Path, fake_url: str, hub_url: str, tmp_path_factory: pytest.TempPathFactory):
        self._binary = binary
        self._fake_url = fake_url
        self._hub_url = hub_url
        self._tmp = tmp_path_factory
        self.started: List[AssayServer] = []

    def start(self, data_dir: Path, extra_env: Optional[dict] = None) -> AssayServer:
        """Starts a server on ``data_dir`` (starting again on the same directory reopens it)
        and waits until it listens; ``extra_env`` overrides the environment. The server
        knows only the bootstrap key (``other_key`` is empty)."""
        logs = self._tmp.mktemp("private-server-logs")
        work_dir = self._tmp.mktemp("private-server-cwd")
        stderr_path = logs / f"server-{len(self.started) + 1}.stderr.log"
        proc, base_url = _start_server(
            self._binary, data_dir, work_dir, stderr_path, self._fake_url, self._hub_url, extra_env
        )
        server = AssayServer(
            base_url=base_url,
            admin_key=BOOTSTRAP_KEY,
            other_key="",
            data_dir=data_dir,
            stderr_path=stderr_path,
            process=proc,
        )
        self.started.append(server)
        _PRIVATE.append(server)
        return server

    @staticmethod
    def kill(server: AssayServer) -> None:
        """SIGKILLs the server's process group (no shutdown of any kind) and reaps it."""
        assert server.process is not None
        _signal_group(server.process, signal.SIGKILL)
        server.process.wait(timeout=30)

    def stop_all(self) -> None:
        """Stops every process started (SIGTERM, then SIGKILL); their logs stay readable."""
        for server in self.started:
            assert server.process is not None
            _stop(server.process)


@pytest.fixture
def private_servers(
    tmp_path_factory: pytest.TempPathFactory,
    fake_model: Optional[FakeModel],
    fake_hub: Optional[FakeHub],
):
    """:class:`PrivateServers`; every process started is stopped when the test ends, and a
    failing test's report shows their stderr. Skipped against an external server."""
    if os.environ.get("ASSAY_SDK_BASE_URL") or fake_model is None or fake_hub is None:
        pytest.skip("external server: cannot start a private server")
    binary = _binary("ASSAY_BIN", DEFAULT_BIN, "build it with `cargo build`")
    servers = PrivateServers(binary, fake_model.url, fake_hub.url, tmp_path_factory)
    try:
        yield servers
    finally:
        servers.stop_all()
        for server in servers.started:
            _PRIVATE.remove(server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _RUNNING is not None:
        tail = _RUNNING.stderr_tail(4000)
        if tail:
            report.sections.append(("assay server stderr (tail)", tail))
    if report.failed:
        for i, server in enumerate(_PRIVATE, 1):
            tail = server.stderr_tail(4000)
            if tail:
                report.sections.append((f"private assay server {i} stderr (tail)", tail))
    if report.failed and _RUNNING_FAKE is not None:
        tail = _RUNNING_FAKE.stderr_tail(2000)
        if tail:
            report.sections.append(("assay-fake-model stderr (tail)", tail))
    if report.failed and _RUNNING_HUB is not None:
        tail = _RUNNING_HUB.stderr_tail(2000)
        if tail:
            report.sections.append(("assay-fake-hub stderr (tail)", tail))
    return report


# ---------------------------------------------------------------------------
# SDK clients
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wire() -> WireRecorder:
    return WireRecorder()


@pytest.fixture(scope="session")
def sdk(assay_server: AssayServer, wire: WireRecorder) -> SDK:
    """Client of the first tenant (the bootstrap key)."""
    return make_sdk(assay_server.base_url, assay_server.admin_key, wire)


@pytest.fixture(scope="session")
def key_sdk(assay_server: AssayServer):
    """Mints a key with ``assay keys create`` (org, team, admin) and returns an SDK client
    for it; skips against an external server, whose data directory is not ours."""
    if assay_server.data_dir is None:
        pytest.skip("external server: cannot mint keys")
    binary = _binary("ASSAY_BIN", DEFAULT_BIN, "build it with `cargo build`")

    def mint(org: str, team: str, admin: bool = False) -> SDK:
        key = _create_key(binary, assay_server.data_dir, org, team, admin)
        return make_sdk(assay_server.base_url, key)

    return mint


@pytest.fixture(scope="session")
def other_sdk(assay_server: AssayServer) -> SDK:
    """Client of the second tenant (org_other / team_other)."""
    return make_sdk(assay_server.base_url, assay_server.other_key)
