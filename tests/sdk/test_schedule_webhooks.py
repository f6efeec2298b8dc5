"""SDK conformance: the webhooks of scheduled runs, received and verified in the test.

A receiver (``http.server.ThreadingHTTPServer`` on 127.0.0.1:0, in a thread; the session
server allows loopback targets, see conftest's ``WEBHOOK_ENV``) checks EVERY request it gets
with the official Standard Webhooks library (``standardwebhooks.webhooks.Webhook.verify``,
with the schedule's ``whsec_…`` secret: headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), records each one (``webhook-id``, body) and deduplicates by
``webhook-id``, as a receiver of an at-least-once sender must.

* ``test_every_transition_is_delivered_signed_and_in_order`` (session server): a triggered
  run's four transitions arrive in order, once each after dedup, with the right data.
* ``test_delivery_cut_by_a_kill_is_sent_again_after_restart`` (a private server on its own
  data directory, the session's fake model): the receiver holds the first ``completed``
  delivery open, the test SIGKILLs the server's process group, restarts it on the same data
  directory, and the same message (same ``webhook-id``) arrives again once its lease runs out.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

import pytest
from meetkai_mka1 import SDK
from standardwebhooks.webhooks import Webhook

from sdk_helpers import make_sdk
from test_runs import fake, wait_for_run  # noqa: F401  (fake: fixture)
from test_schedules import EXACT_MATCH_MEAN, HOUR, ROWS, make_suite

# Bound on every wait for deliveries. A redelivery after a kill waits for the lease (attempt
# timeout 2 s + 5 s) and a server start.
DELIVERY_TIMEOUT = 90.0
TRANSITIONS = ["queued", "in_progress", "finalizing", "completed"]
PREVIOUS = [None, "queued", "in_progress", "finalizing"]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Hit:
    """One request the receiver got and verified."""

    webhook_id: str
    webhook_timestamp: str
    signature: str
    path: str
    content_type: str
    body: bytes
    payload: Dict[str, Any]
    arrived: float  # time.monotonic()


class Receiver:
    """A webhook endpoint: verifies every request, records it, answers 204. With ``hold``,
    the first request of that event ``type`` is left unanswered until ``release`` is set
    (``held`` is set when it arrives)."""

    def __init__(self, secret: str, hold: Optional[str] = None) -> None:
        self.webhook = Webhook(secret)
        self.hold = hold
        self.held = threading.Event()
        self.release = threading.Event()
        self.cond = threading.Condition()
        self.hits: List[Hit] = []
        self.rejected: List[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="webhook-receiver", daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        headers = dict(h.headers.items())
        try:
            payload = self.webhook.verify(body, headers)
        except Exception as e:  # WebhookVerificationError, or a body that is not JSON
            with self.cond:
                self.rejected.append(f"{h.headers.get('webhook-id')}: {type(e).__name__}: {e}; body {body[:200]!r}")
                self.cond.notify_all()
            self._answer(h, 400)
            return
        get = h.headers.get  # case-insensitive
        hit = Hit(get("webhook-id", ""), get("webhook-timestamp", ""), get("webhook-signature", ""), h.path,
                  get("content-type", ""), body, payload, time.monotonic())
        hold = False
        with self.cond:
            self.hits.append(hit)
            if self.hold is not None and payload.get("type") == self.hold and not self.held.is_set():
                hold = True
                self.held.set()
            self.cond.notify_all()
        if hold:
            self.release.wait(timeout=DELIVERY_TIMEOUT)
        self._answer(h, 204)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Length", "0")
            h.end_headers()
        except OSError:
            pass  # the sender is gone (killed while this request was held)

    def snapshot(self) -> List[Hit]:
        with self.cond:
            return list(self.hits)

    def unique(self, run_id: str) -> List[Hit]:
        """The run's messages, first arrival of each ``webhook-id``, in arrival order."""
        seen: Dict[str, Hit] = {}
        for hit in self.snapshot():
            if hit.payload["data"]["run_id"] == run_id and hit.webhook_id not in seen:
                seen[hit.webhook_id] = hit
        return list(seen.values())

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = DELIVERY_TIMEOUT) -> Any:
        """Waits (on the receiver's condition, woken by every request) until ``predicate``;
        fails at once when a request did not verify."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.rejected:
                    pytest.fail(f"waiting for {what}: requests whose signature did not verify: {self.rejected}")
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [(h.webhook_id, h.payload.get("type")) for h in self.hits]
                    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; received {got}, "
                                f"rejected {self.rejected}")
                self.cond.wait(remaining)


def statuses(hits: List[Hit]) -> List[str]:
    return [h.payload["data"]["status"] for h in hits]


def check_messages(rx: Receiver, run_id: str, schedule_id: str, suite_id: str, path: str) -> List[Hit]:
    """The run's messages after dedup: the four transitions, once each, in order, each with
    its data; and every request the receiver got verified and was a retry of one of them."""
    assert rx.rejected == [], f"requests whose signature did not verify: {rx.rejected}"
    messages = rx.unique(run_id)
    assert statuses(messages) == TRANSITIONS, f"transitions after dedup: {statuses(messages)}"
    for hit in rx.snapshot():
        assert hit.path == path, hit.path
        assert hit.content_type.split(";")[0].strip() == "application/json", hit.content_type
        assert hit.webhook_id.startswith("msg_"), hit.webhook_id
        assert hit.signature.startswith("v1,"), hit.signature
        assert abs(int(hit.webhook_timestamp) - time.time()) < 300, hit.webhook_timestamp
        first = next(m for m in messages if m.webhook_id == hit.webhook_id)
        assert hit.body == first.body, f"a retry of {hit.webhook_id} changed the body"

    occurred = []
    for hit, status, previous in zip(messages, TRANSITIONS, PREVIOUS):
        payload = hit.payload
        assert set(payload) == {"type", "timestamp", "data"}, payload
        assert payload["type"] == f"eval.run.{status}"
        data = payload["data"]
        assert set(data) == {"schedule_id", "run_id", "suite_id", "suite_version", "previous_status", "status",
                             "occurred_at", "request_counts", "metrics"}, data
        assert (data["schedule_id"], data["run_id"], data["suite_id"], data["suite_version"]) == (
            schedule_id, run_id, suite_id, 1), data
        assert (data["previous_status"], data["status"]) == (previous, status), data
        assert isinstance(data["occurred_at"], int) and abs(data["occurred_at"] - time.time()) < 600, data
        stamp = datetime.strptime(payload["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert int(stamp.timestamp()) == data["occurred_at"], payload
        occurred.append(data["occurred_at"])
        counts = data["request_counts"]
        assert set(counts) == {"total", "completed", "failed"}, counts
        if status == "completed":
            assert counts == {"total": len(ROWS), "completed": len(ROWS), "failed": 0}, counts
            assert data["metrics"].keys() == {"fake"} and data["metrics"]["fake"].keys() == {"t"}, data["metrics"]
            assert data["metrics"]["fake"]["t"] == {"exact_match": pytest.approx(EXACT_MATCH_MEAN)}
        else:
            assert data["metrics"] is None, data
            assert counts["total"] in (0, len(ROWS)) and counts["failed"] == 0, counts
            assert 0 <= counts["completed"] <= len(ROWS), counts
    assert occurred == sorted(occurred), f"occurred_at goes back: {occurred}"
    assert len({m.webhook_id for m in messages}) == 4
    return messages


def test_every_transition_is_delivered_signed_and_in_order(sdk: SDK, fake) -> None:
    suite = make_suite(sdk, "webhook")
    secret = new_secret()
    path = f"/hooks/{suite.tag}"
    with Receiver(secret) as rx:
        sched = sdk.llm.evals.create_schedule(
            name=suite.tag, suite_id=suite.id, interval_seconds=HOUR, run={"models": ["fake"]},
            webhook_url=rx.url(path), webhook_secret=secret,
        )
        assert sched.webhook_configured is True and sched.webhook_url == rx.url(path)
        run_id = sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
        assert run_id
        run = wait_for_run(sdk, run_id)
        assert run.status == "completed"
        rx.wait_for("the completed transition", lambda: "completed" in statuses(rx.unique(run_id)))
        messages = check_messages(rx, run_id, sched.id, suite.id, path)
        # The headline metrics are the run's own means.
        by_model = run.metrics["by_model"]
        assert messages[-1].payload["data"]["metrics"] == {
            m: {t: {k: v["mean"] for k, v in e["metrics"].items()} for t, e in tasks.items()}
            for m, tasks in by_model.items()}
        assert messages[-1].payload["data"]["request_counts"] == {
            "total": run.request_counts.total, "completed": run.request_counts.completed,
            "failed": run.request_counts.failed}


def test_delivery_cut_by_a_kill_is_sent_again_after_restart(private_servers, tmp_path, fake) -> None:
    data_dir = tmp_path / "assay-data"
    data_dir.mkdir()
    secret = new_secret()
    path = "/hooks/restart"
    try:
        with Receiver(secret, hold="eval.run.completed") as rx:
            first = private_servers.start(data_dir)
            client = make_sdk(first.base_url, first.admin_key)
            suite = make_suite(client, "restart")
            sched = client.llm.evals.create_schedule(
                name=suite.tag, suite_id=suite.id, interval_seconds=HOUR, run={"models": ["fake"]},
                webhook_url=rx.url(path), webhook_secret=secret,
            )
            run_id = client.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
            assert run_id
            if not rx.held.wait(DELIVERY_TIMEOUT):
                pytest.fail(f"no completed delivery within {DELIVERY_TIMEOUT:.0f}s; got "
                            f"{[(h.webhook_id, h.payload.get('type')) for h in rx.snapshot()]}, "
                            f"rejected {rx.rejected}")
            # The first server has sent `completed` and is waiting for the answer: kill it.
            private_servers.kill(first)
            killed_at = time.monotonic()
            rx.release.set()
            held = next(h for h in rx.snapshot() if h.payload["type"] == "eval.run.completed")
            before_kill = [h for h in rx.snapshot() if h.webhook_id == held.webhook_id and h.arrived < killed_at]
            assert len(before_kill) == 1, "the first server sent `completed` once before it died"

            second = private_servers.start(data_dir)
            rx.wait_for(f"{held.webhook_id} to be sent again by the restarted server",
                        lambda: any(h.webhook_id == held.webhook_id and h.arrived > killed_at for h in rx.hits))
            redelivered = [h for h in rx.snapshot() if h.webhook_id == held.webhook_id and h.arrived > killed_at]
            assert redelivered[0].body == held.body, "the same message"
            assert int(redelivered[0].webhook_timestamp) >= int(held.webhook_timestamp)
            check_messages(rx, run_id, sched.id, suite.id, path)

            # The restarted server has the run and the schedule as they were.
            client = make_sdk(second.base_url, second.admin_key)
            assert client.llm.evals.get_run(run_id=run_id).status == "completed"
            got = client.llm.evals.get_schedule(schedule_id=sched.id)
            assert (got.last_run_id, got.last_run_status) == (run_id, "completed")
    finally:
        private_servers.stop_all()
