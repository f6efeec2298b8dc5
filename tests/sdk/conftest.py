"""Fixtures for the SDK conformance suite.

A session fixture starts the real Assay server (``assay serve``) on an ephemeral
loopback port with a fresh data directory, mints a second tenant's key with
``assay keys create``, and hands out official ``meetkai-mka1`` SDK clients
pointed at it.

Environment:
  ASSAY_BIN                 path of the server binary (default <repo>/target/debug/assay)
  ASSAY_SDK_STARTUP_TIMEOUT seconds to wait for the "Assay listening on" line (default 60)
  ASSAY_SDK_BASE_URL        use an already running server instead of starting one;
                            then ASSAY_SDK_KEY and ASSAY_SDK_OTHER_KEY must hold the two
                            tenants' keys (the other key from a different org/team)
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest
from meetkai_mka1 import SDK

from sdk_helpers import WireRecorder, make_sdk

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "assay"

# 40+ characters, shaped like a minted key; only ever used against a throwaway data dir.
BOOTSTRAP_KEY = "assay_sk_test_admin_0123456789abcdefghijklmnopqrstuvwxyz"

LISTENING_RE = re.compile(r"Assay listening on (http://\S+)")

# The running server, so a failing test's report can show the server's log.
_RUNNING: Optional["AssayServer"] = None


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


def _start_server(binary: Path, data_dir: Path, stderr_path: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    env["ASSAY_SERVER_BIND"] = "127.0.0.1:0"
    env["ASSAY_BOOTSTRAP_KEY"] = BOOTSTRAP_KEY
    stderr_file = open(stderr_path, "wb")
    try:
        proc = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(data_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            start_new_session=True,
        )
    finally:
        stderr_file.close()  # the child holds its own descriptor

    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        # Keep draining stdout for the whole life of the server so it never blocks on a full pipe.
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", errors="replace"))
        lines.put(None)

    threading.Thread(target=pump, name="assay-stdout", daemon=True).start()

    timeout = float(os.environ.get("ASSAY_SDK_STARTUP_TIMEOUT", "60"))
    deadline = time.monotonic() + timeout
    seen: List[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop(proc)
            pytest.fail(
                f"assay serve printed no 'Assay listening on' line within {timeout:.0f}s\n"
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
                f"assay serve exited with code {proc.returncode} before it was ready\n"
                f"stdout:\n{''.join(seen)}\nstderr:\n{_read_stderr(stderr_path)}",
                pytrace=False,
            )
        seen.append(line)
        m = LISTENING_RE.search(line)
        if m:
            return proc, m.group(1).rstrip("/")


def _create_other_key(binary: Path, data_dir: Path) -> str:
    res = subprocess.run(
        [
            str(binary),
            "keys",
            "create",
            "--data-dir",
            str(data_dir),
            "--org",
            "org_other",
            "--team",
            "team_other",
        ],
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


@pytest.fixture(scope="session")
def assay_server(tmp_path_factory: pytest.TempPathFactory):
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

    binary = Path(os.environ.get("ASSAY_BIN", str(DEFAULT_BIN)))
    if not binary.is_file():
        pytest.fail(
            f"server binary not found at {binary}; build it with `cargo build` or set ASSAY_BIN",
            pytrace=False,
        )
    data_dir = tmp_path_factory.mktemp("assay-data")
    stderr_path = tmp_path_factory.mktemp("assay-logs") / "server.stderr.log"
    proc, base_url = _start_server(binary, data_dir, stderr_path)
    try:
        other_key = _create_other_key(binary, data_dir)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _RUNNING is not None:
        tail = _RUNNING.stderr_tail(4000)
        if tail:
            report.sections.append(("assay server stderr (tail)", tail))
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
def other_sdk(assay_server: AssayServer) -> SDK:
    """Client of the second tenant (org_other / team_other)."""
    return make_sdk(assay_server.base_url, assay_server.other_key)
