"""SDK conformance: eval schedules (E30–E36), through meetkai-mka1's own schedule calls.

``create_schedule``, ``list_schedules``, ``get_schedule``, ``update_schedule``,
``delete_schedule``, ``trigger_schedule`` and ``list_schedule_runs``: every response is parsed
by the SDK's typed models, and the raw JSON (``wire``) is checked for every key of the
contract's EvalScheduleObject (§3.18) — nullable ones as explicit nulls — and for the
write-only ``webhook_secret`` never coming back.

Schedules here fire only when triggered: their cadences (an hourly interval, a weekly or daily
cron) do not come due during a session. Triggered runs execute against the fake model (every
row answers ``[[answer:TEXT]]``), so their outcome is known: ``ROWS`` has two right answers and
a wrong one, an ``exact_match`` mean of 2/3. Next fire times are recomputed here from the
cadence (cron times with ``zoneinfo``). Waits poll with deadlines (``wait_until`` /
``wait_for_run``), never a fixed sleep.

One request goes out as plain HTTP (``test_patch_refuses_nulls_the_sdk_cannot_send``): the SDK
drops ``None`` for the PATCH fields that are not nullable (``name``, ``timezone``, ...), so
the 400 for an explicit null there cannot be reached through it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

import httpx
import pytest
from meetkai_mka1 import SDK, models

from sdk_helpers import WireRecorder, assert_contains, assert_raw_object, error_body, expect_api_error
from test_runs import fake  # noqa: F401  (a fixture)
from test_runs import RUN_KEYS, check_recent, unique, upload, wait_for_run, wait_until

SCHEDULE_KEYS = [
    "id", "object", "name", "description", "suite_id", "suite_version", "cron", "interval_seconds", "timezone",
    "overlap_policy", "enabled", "webhook_url", "webhook_configured", "run", "metadata", "last_run_id",
    "last_run_at", "last_run_status", "next_run_at", "created_at", "updated_at",
]
NULLABLE_KEYS = [
    "description", "suite_version", "cron", "interval_seconds", "webhook_url", "last_run_id", "last_run_at",
    "last_run_status", "next_run_at",
]
LIST_KEYS = ["object", "data", "has_more"]
HOUR = 3600
MISSING_SCHEDULE = "eval_sched_" + "0" * 32
# A loopback address the session server accepts as a webhook target (conftest's
# ASSAY_WEBHOOKS_ALLOW_NETWORKS) where nothing listens; these schedules are never fired.
IDLE_WEBHOOK = "http://127.0.0.1:9/hooks/idle"

# (prompt directive, target): the fake answers the directive's text; two of three are right.
ROWS = [("[[answer:A0]]", "A0"), ("[[answer:A1]]", "A1"), ("[[answer:wrong]]", "A2")]
EXACT_MATCH_MEAN = 2 / 3


# ---------------------------------------------------------------------------
# Helpers (also used by test_schedule_webhooks.py)
# ---------------------------------------------------------------------------


def make_suite(sdk: SDK, prefix: str) -> SimpleNamespace:
    """A one-task suite (task ``t``, ``exact_match``) over ``ROWS``, with prompts unique to it."""
    tag = unique(prefix)
    rows = "".join(json.dumps({"q": f"{tag} row {i} {d}", "a": a}) + "\n" for i, (d, a) in enumerate(ROWS))
    data = upload(sdk, f"{tag}.jsonl", rows.encode())
    manifest = {"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data.id, "format": "jsonl"},
                           "prompt_template": "{{q}}", "target_template": "{{a}}",
                           "metrics": [{"id": "exact_match"}]}]}
    suite = sdk.llm.evals.create_suite(name=tag, manifest=manifest)
    return SimpleNamespace(id=suite.id, manifest=manifest, tag=tag)


def schedule_raw(wire: WireRecorder, method: str = "") -> Dict[str, Any]:
    """The last response's raw schedule: every §3.18 key, and no secret."""
    ex = wire.last
    if method:
        assert ex.method == method, f"last exchange is {ex.method} {ex.url}"
    raw = ex.response_json
    check_raw_schedule(raw)
    return raw


def check_raw_schedule(raw: Any) -> None:
    assert_raw_object(raw, "eval.schedule", SCHEDULE_KEYS)
    assert "webhook_secret" not in raw, f"the write-only secret came back: {raw}"
    assert isinstance(raw["webhook_configured"], bool)
    assert isinstance(raw["metadata"], dict) and isinstance(raw["run"], dict)
    assert (raw["cron"] is None) != (raw["interval_seconds"] is None), f"exactly one cadence: {raw}"
    if not raw["enabled"]:
        assert raw["next_run_at"] is None, f"a paused schedule has no next fire: {raw}"


def raw_list(wire: WireRecorder) -> Dict[str, Any]:
    raw = wire.last.response_json
    assert isinstance(raw, dict) and raw.get("object") == "list", raw
    missing = [k for k in LIST_KEYS if k not in raw]
    assert not missing, f"list without {missing}: {raw}"
    return raw


def next_local(after: int, tz: str, hour: int, minute: int, weekday: Optional[int] = None) -> int:
    """The first HH:MM (on ``weekday``, Monday = 0, if given) in ``tz`` strictly after ``after``."""
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(after, zone).date()
    for i in range(9):
        d = day + timedelta(days=i)
        if weekday is not None and d.weekday() != weekday:
            continue
        t = int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=zone).timestamp())
        if t > after:
            return t
    raise AssertionError("no slot within 9 days")


def assert_interval_next(obj: Any, seconds: int, since: int) -> None:
    """An interval's first slot is one interval after the change (``since`` is the stored
    timestamp of it, taken within a second of the server's clock reading)."""
    assert obj.next_run_at is not None, "an enabled schedule has a next fire time"
    assert abs(obj.next_run_at - (since + seconds)) <= 2, (obj.next_run_at, since, seconds)


def param_of(err) -> Optional[str]:
    return (error_body(err)["error"].get("details") or {}).get("param")


def bad(call, param: str, status: int = 400) -> Dict[str, Any]:
    """The call fails with ``status`` and ``error.details.param`` naming ``param``."""
    err = expect_api_error(status, call)
    body = error_body(err)
    assert param_of(err) == param, f"expected param {param!r}: {body}"
    return body


@pytest.fixture(scope="module")
def suite(sdk: SDK, fake) -> SimpleNamespace:
    return make_suite(sdk, "sched")


# ---------------------------------------------------------------------------
# E30 / E32: create and read
# ---------------------------------------------------------------------------


def test_create_cron_schedule_with_every_field(sdk: SDK, wire: WireRecorder, suite: SimpleNamespace) -> None:
    secret = "whsec_" + "c2VjcmV0LWtleS1vZi10aGUtY3Jvbi1zY2hlZHVsZQ=="
    run = {"models": ["fake"], "task_ids": ["t"], "generation": {"max_output_tokens": 16, "temperature": 0.0},
           "generation_concurrency": 2, "max_samples_per_task": 2}
    sent = dict(
        name=unique("weekly"), description="Mondays before standup", suite_id=suite.id, suite_version=1,
        cron="15 9 * * 1", timezone="US/Pacific", overlap_policy="allow_all", enabled=True,
        webhook_url=IDLE_WEBHOOK, webhook_secret=secret, metadata={"owner": "qa", "tier": "gold"}, run=run,
    )
    created = sdk.llm.evals.create_schedule(**sent)
    assert isinstance(created, models.CreateEvalScheduleResponse)
    exchange = wire.last
    assert exchange.request_json["webhook_secret"] == secret, "the SDK sends the secret"
    raw = schedule_raw(wire, "POST")
    assert secret not in json.dumps(raw) and "c2VjcmV0" not in json.dumps(raw)

    assert created.id.startswith("eval_sched_"), created.id
    assert created.object == "eval.schedule"
    for key in ("name", "description", "suite_id", "suite_version", "cron", "timezone", "overlap_policy",
                "enabled", "webhook_url", "metadata"):
        assert raw[key] == sent[key], f"{key}: sent {sent[key]!r}, got {raw[key]!r}"
    assert raw["interval_seconds"] is None and created.interval_seconds is None
    assert created.webhook_configured is True
    assert_contains(run, raw["run"], "run")
    assert created.run.models == ["fake"] and created.run.task_ids == ["t"]
    assert created.run.generation.max_output_tokens == 16
    assert (raw["last_run_id"], raw["last_run_at"], raw["last_run_status"]) == (None, None, None)
    check_recent(created.created_at)
    assert created.updated_at >= created.created_at

    # Next Monday 09:15 in Los Angeles.
    assert created.next_run_at == next_local(created.created_at, "US/Pacific", 9, 15, weekday=0)
    local = datetime.fromtimestamp(created.next_run_at, ZoneInfo("US/Pacific"))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 15)

    got = sdk.llm.evals.get_schedule(schedule_id=created.id)
    assert isinstance(got, models.GetEvalScheduleResponse)
    assert schedule_raw(wire, "GET") == raw, "GET returns what POST returned"


def test_create_interval_schedule_with_server_defaults(sdk: SDK, wire: WireRecorder, suite: SimpleNamespace) -> None:
    # The SDK fills in timezone="UTC" and enabled=True unless told None; None leaves them out,
    # so the server's own defaults are what comes back.
    created = sdk.llm.evals.create_schedule(
        name=unique("hourly"), suite_id=suite.id, interval_seconds=HOUR, run={"models": ["fake"]},
        timezone=None, enabled=None,
    )
    sent = wire.last.request_json
    assert set(sent) == {"name", "suite_id", "interval_seconds", "run"}, sent
    raw = schedule_raw(wire, "POST")
    assert raw["timezone"] == "UTC"
    assert raw["overlap_policy"] == "skip"
    assert raw["enabled"] is True
    for key in ("description", "suite_version", "cron", "webhook_url"):
        assert raw[key] is None, f"{key} is {raw[key]!r}, want an explicit null"
    assert raw["webhook_configured"] is False
    assert raw["metadata"] == {}
    assert raw["run"] == {"models": ["fake"]}
    assert created.interval_seconds == HOUR
    assert_interval_next(created, HOUR, created.created_at)


def test_create_paused(sdk: SDK, wire: WireRecorder, suite: SimpleNamespace) -> None:
    created = sdk.llm.evals.create_schedule(
        name=unique("paused"), suite_id=suite.id, cron="0 4 * * *", run={"models": ["fake"]}, enabled=False,
    )
    raw = schedule_raw(wire, "POST")
    assert raw["enabled"] is False and created.enabled is False
    assert raw["next_run_at"] is None and created.next_run_at is None
    assert sdk.llm.evals.get_schedule(schedule_id=created.id).next_run_at is None
    assert schedule_raw(wire, "GET")["next_run_at"] is None


def test_webhook_secret_is_write_only(sdk: SDK, wire: WireRecorder, suite: SimpleNamespace) -> None:
    # Any string is a secret (its UTF-8 bytes are the key); it never comes back on any read.
    secret = "correct horse battery staple"
    created = sdk.llm.evals.create_schedule(
        name=unique("secret"), suite_id=suite.id, interval_seconds=HOUR, run={"models": ["fake"]},
        webhook_url=IDLE_WEBHOOK, webhook_secret=secret,
    )
    assert created.webhook_configured is True
    reads = [
        lambda: sdk.llm.evals.get_schedule(schedule_id=created.id),
        lambda: sdk.llm.evals.list_schedules(suite_id=suite.id, limit=100),
        lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, description="still secret"),
    ]
    for read in reads:
        read()
        assert secret not in json.dumps(wire.last.response_json), wire.last.url
        assert "webhook_secret" not in json.dumps(wire.last.response_json), wire.last.url
    # A new secret keeps it configured; null removes it (the URL stays).
    sdk.llm.evals.update_schedule(schedule_id=created.id, webhook_secret="whsec_" + "QUJDREVGR0hJSktMTU5PUA==")
    assert schedule_raw(wire, "PATCH")["webhook_configured"] is True
    cleared = sdk.llm.evals.update_schedule(schedule_id=created.id, webhook_secret=None)
    assert wire.last.request_json == {"webhook_secret": None}
    assert cleared.webhook_configured is False and cleared.webhook_url == IDLE_WEBHOOK


# ---------------------------------------------------------------------------
# E31: list
# ---------------------------------------------------------------------------


def test_list_filters_and_paging(sdk: SDK, wire: WireRecorder, fake) -> None:
    mine = make_suite(sdk, "listing")
    ids = []
    for i, enabled in enumerate([True, False, True]):
        s = sdk.llm.evals.create_schedule(name=f"{mine.tag}-{i}", suite_id=mine.id, interval_seconds=HOUR * (i + 1),
                                          run={"models": ["fake"]}, enabled=enabled)
        ids.append(s.id)
    newest_first = list(reversed(ids))

    page = sdk.llm.evals.list_schedules(suite_id=mine.id, limit=100)
    assert isinstance(page, models.ListEvalSchedulesResponse)
    raw = raw_list(wire)
    for item in raw["data"]:
        check_raw_schedule(item)
    assert [s.id for s in page.data] == newest_first
    assert page.has_more is False
    assert (raw.get("first_id"), raw.get("last_id")) == (newest_first[0], newest_first[-1])
    assert {s.suite_id for s in page.data} == {mine.id}

    assert [s.id for s in sdk.llm.evals.list_schedules(suite_id=mine.id, enabled="false").data] == [ids[1]]
    assert [s.id for s in sdk.llm.evals.list_schedules(suite_id=mine.id, enabled="true").data] == [ids[2], ids[0]]
    everything = [s.id for s in sdk.llm.evals.list_schedules(limit=100).data]
    assert set(ids) <= set(everything), "unfiltered, the caller's schedules of every suite"

    first = sdk.llm.evals.list_schedules(suite_id=mine.id, limit=2)
    raw = raw_list(wire)
    assert [s.id for s in first.data] == newest_first[:2]
    assert first.has_more is True and raw["has_more"] is True
    assert (first.first_id, first.last_id) == (newest_first[0], newest_first[1])
    rest = sdk.llm.evals.list_schedules(suite_id=mine.id, limit=2, after=first.last_id)
    assert [s.id for s in rest.data] == newest_first[2:]
    assert rest.has_more is False
    assert (rest.first_id, rest.last_id) == (newest_first[2], newest_first[2])

    empty = sdk.llm.evals.list_schedules(suite_id="eval_suite_" + "0" * 32)
    assert empty.data == [] and empty.has_more is False

    bad(lambda: sdk.llm.evals.list_schedules(enabled="maybe"), "enabled")
    bad(lambda: sdk.llm.evals.list_schedules(limit=0), "limit")
    bad(lambda: sdk.llm.evals.list_schedules(limit=101), "limit")
    bad(lambda: sdk.llm.evals.list_schedules(after="eval_sched_nope"), "after")


# ---------------------------------------------------------------------------
# E33: patch
# ---------------------------------------------------------------------------


def test_patch_switches_cadence_and_clears_with_explicit_nulls(
    sdk: SDK, wire: WireRecorder, suite: SimpleNamespace
) -> None:
    created = sdk.llm.evals.create_schedule(
        name=unique("patch"), description="nightly", suite_id=suite.id, suite_version=1, cron="0 3 * * *",
        webhook_url=IDLE_WEBHOOK, webhook_secret="s3cret", metadata={"k": "v"},
        run={"models": ["fake"], "task_ids": ["t"], "generation": {"max_output_tokens": 8}},
    )
    created_raw = schedule_raw(wire, "POST")
    assert created.next_run_at == next_local(created.created_at, "UTC", 3, 0)

    # cron -> interval: the SDK sends the null (OptionalNullable set to None), nothing else.
    up = sdk.llm.evals.update_schedule(schedule_id=created.id, cron=None, interval_seconds=900)
    assert isinstance(up, models.UpdateEvalScheduleResponse)
    assert wire.last.request_json == {"cron": None, "interval_seconds": 900}, wire.last.request_json
    raw = schedule_raw(wire, "PATCH")
    assert raw["cron"] is None and raw["interval_seconds"] == 900
    assert_interval_next(up, 900, up.updated_at)
    # Absent keys are unchanged.
    for key in ("name", "description", "suite_version", "timezone", "overlap_policy", "enabled", "webhook_url",
                "webhook_configured", "metadata", "run", "created_at"):
        assert raw[key] == created_raw[key], f"{key} changed: {created_raw[key]!r} -> {raw[key]!r}"
    assert up.updated_at >= created.updated_at

    # interval -> cron in another time zone.
    back = sdk.llm.evals.update_schedule(schedule_id=created.id, interval_seconds=None, cron="30 6 * * *",
                                         timezone="US/Pacific")
    assert wire.last.request_json == {"interval_seconds": None, "cron": "30 6 * * *", "timezone": "US/Pacific"}
    raw = schedule_raw(wire, "PATCH")
    assert raw["interval_seconds"] is None and raw["cron"] == "30 6 * * *" and raw["timezone"] == "US/Pacific"
    assert back.next_run_at == next_local(back.updated_at, "US/Pacific", 6, 30)

    # Nulls clear every nullable field.
    cleared = sdk.llm.evals.update_schedule(schedule_id=created.id, description=None, suite_version=None,
                                            webhook_url=None, webhook_secret=None)
    assert wire.last.request_json == {"description": None, "suite_version": None, "webhook_url": None,
                                      "webhook_secret": None}
    raw = schedule_raw(wire, "PATCH")
    assert (raw["description"], raw["suite_version"], raw["webhook_url"]) == (None, None, None)
    assert raw["webhook_configured"] is False and cleared.webhook_configured is False

    # Non-nullable fields; `run` is replaced as a whole.
    new_run = {"models": ["fake"], "generation_concurrency": 2}
    renamed = sdk.llm.evals.update_schedule(schedule_id=created.id, name="renamed", metadata={"a": "b"},
                                            overlap_policy="buffer_one", run=new_run)
    raw = schedule_raw(wire, "PATCH")
    assert (renamed.name, renamed.metadata, renamed.overlap_policy) == ("renamed", {"a": "b"}, "buffer_one")
    assert_contains(new_run, raw["run"], "run")
    assert raw["run"].get("task_ids") is None and raw["run"].get("generation") in (None, {}), raw["run"]

    # An empty patch changes nothing.
    same = sdk.llm.evals.update_schedule(schedule_id=created.id)
    assert wire.last.request_json == {}
    after_empty = schedule_raw(wire, "PATCH")
    assert {k: v for k, v in after_empty.items() if k != "updated_at"} == {
        k: v for k, v in raw.items() if k != "updated_at"}
    assert same.cron == "30 6 * * *"

    # The exactly-one rule holds after the patch, or the patch is refused (and changes nothing).
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, cron=None), "cron")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, interval_seconds=HOUR), "interval_seconds")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, cron="61 * * * *"), "cron")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, timezone="Nowhere/Land"), "timezone")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, run={"models": ["nope"]}), "run.models[0]")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, webhook_url="http://10.0.0.1/x"),
        "webhook_url")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, webhook_secret="whsec_***"),
        "webhook_secret")
    bad(lambda: sdk.llm.evals.update_schedule(schedule_id=created.id, suite_version=7), "suite_version")
    sdk.llm.evals.get_schedule(schedule_id=created.id)
    unchanged = schedule_raw(wire, "GET")
    assert unchanged == after_empty, "refused patches changed the schedule"


def test_patch_refuses_nulls_the_sdk_cannot_send(sdk: SDK, assay_server, suite: SimpleNamespace) -> None:
    """``null`` for a field that is not nullable is a 400 naming it. The SDK drops ``None`` for
    these fields (it would send an empty patch), so the PATCH goes out as plain HTTP."""
    created = sdk.llm.evals.create_schedule(name=unique("nulls"), suite_id=suite.id, interval_seconds=HOUR,
                                            run={"models": ["fake"]})
    assert sdk.llm.evals.update_schedule(schedule_id=created.id, name=None).name == created.name
    url = f"{assay_server.base_url}/api/v1/llm/evals/schedules/{created.id}"
    headers = {"Authorization": f"Bearer {assay_server.admin_key}"}
    for key in ("name", "timezone", "enabled", "overlap_policy", "run", "metadata"):
        res = httpx.patch(url, headers=headers, json={key: None}, timeout=60)
        assert res.status_code == 400, f"{key}: null -> {res.status_code} {res.text}"
        assert res.json()["error"]["details"]["param"] == key, res.text
    got = sdk.llm.evals.get_schedule(schedule_id=created.id)
    assert (got.name, got.timezone, got.enabled, got.overlap_policy) == (created.name, "UTC", True, "skip")


def test_pause_and_resume(sdk: SDK, wire: WireRecorder, suite: SimpleNamespace) -> None:
    created = sdk.llm.evals.create_schedule(name=unique("pause"), suite_id=suite.id, interval_seconds=2 * HOUR,
                                            run={"models": ["fake"]})
    assert_interval_next(created, 2 * HOUR, created.created_at)

    paused = sdk.llm.evals.update_schedule(schedule_id=created.id, enabled=False)
    assert wire.last.request_json == {"enabled": False}
    raw = schedule_raw(wire, "PATCH")
    assert raw["enabled"] is False and raw["next_run_at"] is None and paused.next_run_at is None
    assert sdk.llm.evals.get_schedule(schedule_id=created.id).next_run_at is None
    assert created.id in [s.id for s in sdk.llm.evals.list_schedules(suite_id=suite.id, enabled="false",
                                                                      limit=100).data]
    assert created.id not in [s.id for s in sdk.llm.evals.list_schedules(suite_id=suite.id, enabled="true",
                                                                          limit=100).data]
    # Other changes while paused keep it paused.
    still = sdk.llm.evals.update_schedule(schedule_id=created.id, interval_seconds=HOUR)
    assert still.enabled is False and still.next_run_at is None

    resumed = sdk.llm.evals.update_schedule(schedule_id=created.id, enabled=True)
    schedule_raw(wire, "PATCH")
    assert resumed.enabled is True
    assert_interval_next(resumed, HOUR, resumed.updated_at)
    assert created.id in [s.id for s in sdk.llm.evals.list_schedules(suite_id=suite.id, enabled="true",
                                                                      limit=100).data]


# ---------------------------------------------------------------------------
# E35 / E36 / E34: trigger, the schedule's runs, delete
# ---------------------------------------------------------------------------


def test_trigger_runs_list_and_delete(sdk: SDK, wire: WireRecorder, fake, suite: SimpleNamespace) -> None:
    mine = make_suite(sdk, "trigger")
    sched = sdk.llm.evals.create_schedule(name=unique("trigger"), suite_id=mine.id, interval_seconds=HOUR,
                                          run={"models": ["fake"]}, metadata={"team": "qa"})
    assert sdk.llm.evals.list_schedule_runs(schedule_id=sched.id).data == []

    fired = sdk.llm.evals.trigger_schedule(schedule_id=sched.id)
    assert isinstance(fired, models.TriggerEvalScheduleResponse)
    assert wire.last.request_json is None, "trigger has no body"
    raw = schedule_raw(wire, "POST")
    assert fired.id == sched.id
    run1 = fired.last_run_id
    assert run1 and run1.startswith("eval_run_"), raw
    assert fired.last_run_status in ("queued", "in_progress", "finalizing", "completed"), raw
    check_recent(fired.last_run_at)
    assert fired.next_run_at == sched.next_run_at, "a trigger is besides the cadence"

    listed = sdk.llm.evals.list_schedule_runs(schedule_id=sched.id)
    assert isinstance(listed, models.ListEvalScheduleRunsResponse)
    raw_runs = raw_list(wire)
    assert [r.id for r in listed.data] == [run1]
    assert_raw_object(raw_runs["data"][0], "eval.run", RUN_KEYS)

    done = wait_for_run(sdk, run1)
    assert done.status == "completed"
    assert done.metadata == {"schedule_id": sched.id}, "a fire's run carries its schedule"
    assert (done.suite_id, done.suite_version, done.models) == (mine.id, 1, ["fake"])
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (3, 3, 0)
    assert done.metrics["by_model"]["fake"]["t"]["metrics"]["exact_match"]["mean"] == pytest.approx(EXACT_MATCH_MEAN)
    after = sdk.llm.evals.get_schedule(schedule_id=sched.id)
    assert (after.last_run_id, after.last_run_status) == (run1, "completed")
    assert after.last_run_at == fired.last_run_at
    # An ordinary run: in the runs list of its suite too.
    assert run1 in [r.id for r in sdk.llm.evals.list_runs(suite_id=mine.id, limit=100).data]

    # Unpinned: the next fire resolves the suite's new active version.
    v2 = sdk.llm.evals.create_suite_version(suite_id=mine.id, manifest=mine.manifest, make_active=True)
    assert v2.version == 2
    run2 = sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
    assert run2 and run2 != run1
    second = wait_for_run(sdk, run2)
    assert (second.status, second.suite_version, second.metadata) == ("completed", 2, {"schedule_id": sched.id})

    # E36 filters, newest first.
    def ids(**q: Any) -> List[str]:
        return [r.id for r in sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, **q).data]

    assert ids() == [run2, run1]
    assert ids(suite_version=1) == [run1], "suite_version without suite_id"
    assert ids(suite_version=2) == [run2]
    assert ids(suite_version=3) == []
    assert ids(status="completed") == [run2, run1]
    assert ids(status="failed") == [] and ids(status="in_progress") == []
    assert ids(suite_id=mine.id) == [run2, run1]
    assert ids(suite_id=mine.id, suite_version=2, status="completed") == [run2]
    first = sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, limit=1)
    raw_page = raw_list(wire)
    assert [r.id for r in first.data] == [run2] and first.has_more is True and raw_page["has_more"] is True
    assert (raw_page.get("first_id"), raw_page.get("last_id")) == (run2, run2)
    rest = sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, limit=1, after=first.last_id)
    assert [r.id for r in rest.data] == [run1] and rest.has_more is False
    body = bad(lambda: sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, suite_id=suite.id), "suite_id")
    assert mine.id in body["error"]["message"]
    bad(lambda: sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, suite_version=0), "suite_version")
    bad(lambda: sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, limit=0), "limit")

    # E34: soft delete; the runs stay.
    deleted = sdk.llm.evals.delete_schedule(schedule_id=sched.id)
    assert isinstance(deleted, models.EvalScheduleDeletedObject)
    assert wire.last.response_json == {"id": sched.id, "object": "eval.schedule.deleted", "deleted": True}
    assert deleted.id == sched.id and deleted.deleted is True
    expect_api_error(404, lambda: sdk.llm.evals.get_schedule(schedule_id=sched.id))
    expect_api_error(404, lambda: sdk.llm.evals.update_schedule(schedule_id=sched.id, name="x"))
    expect_api_error(404, lambda: sdk.llm.evals.trigger_schedule(schedule_id=sched.id))
    expect_api_error(404, lambda: sdk.llm.evals.list_schedule_runs(schedule_id=sched.id))
    expect_api_error(404, lambda: sdk.llm.evals.delete_schedule(schedule_id=sched.id))
    assert sched.id not in [s.id for s in sdk.llm.evals.list_schedules(suite_id=mine.id, limit=100).data]
    kept = sdk.llm.evals.get_run(run_id=run1)
    assert kept.status == "completed" and kept.metadata == {"schedule_id": sched.id}
    assert {run1, run2} <= {r.id for r in sdk.llm.evals.list_runs(suite_id=mine.id, limit=100).data}


def test_trigger_follows_the_overlap_policy(sdk: SDK, fake) -> None:
    """``skip`` drops a fire while the last run is unfinished, ``buffer_one`` keeps one fire
    until it ends, ``allow_all`` starts every fire. The first run's single row hangs (the fake
    holds ``[[hang times=1]]`` the first time it sees the prompt), later runs of the same
    prompt are answered at once."""
    tag = unique("overlap")
    prompt = f"{tag} [[hang times=1]] [[answer:x]]"
    data = upload(sdk, f"{tag}.jsonl", (json.dumps({"q": prompt, "a": "x"}) + "\n").encode())
    suite_id = sdk.llm.evals.create_suite(name=tag, manifest={"tasks": [{
        "id": "t", "type": "qa", "dataset": {"file_id": data.id}, "prompt_template": "{{q}}",
        "target_template": "{{a}}", "metrics": [{"id": "exact_match"}]}]}).id
    sched = sdk.llm.evals.create_schedule(name=tag, suite_id=suite_id, interval_seconds=HOUR,
                                          run={"models": ["fake"]})
    assert sched.overlap_policy == "skip"

    def runs() -> List[Any]:
        return sdk.llm.evals.list_schedule_runs(schedule_id=sched.id, limit=100).data

    try:
        run1 = sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
        assert run1
        wait_until("the first run's call to hang", lambda: fake.requests()["by_prompt"].get(prompt, 0) >= 1)
        # skip: nothing new.
        again = sdk.llm.evals.trigger_schedule(schedule_id=sched.id)
        assert again.last_run_id == run1
        assert [r.id for r in runs()] == [run1]

        # buffer_one: one fire waits for the run to end; a further one is dropped.
        buffering = sdk.llm.evals.update_schedule(schedule_id=sched.id, overlap_policy="buffer_one")
        assert buffering.overlap_policy == "buffer_one"
        assert sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id == run1
        assert sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id == run1
        assert [r.id for r in runs()] == [run1]
        sdk.llm.evals.cancel_run(run_id=run1)
        assert wait_for_run(sdk, run1).status == "cancelled"
        buffered = wait_until("the buffered fire's run", lambda: [r.id for r in runs() if r.id != run1])
        assert len(buffered) == 1
        assert wait_for_run(sdk, buffered[0]).status == "completed"
        assert len(runs()) == 2, "the second buffered trigger was dropped"

        # allow_all: every fire starts a run.
        sdk.llm.evals.update_schedule(schedule_id=sched.id, overlap_policy="allow_all")
        run3 = sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
        run4 = sdk.llm.evals.trigger_schedule(schedule_id=sched.id).last_run_id
        assert len({run1, buffered[0], run3, run4}) == 4
        for run_id in (run3, run4):
            assert wait_for_run(sdk, run_id).status == "completed"
        assert [r.id for r in runs()][:2] == [run4, run3]
        assert len(runs()) == 4
    finally:
        for r in runs():
            if r.status in ("queued", "in_progress"):
                sdk.llm.evals.cancel_run(run_id=r.id)


# ---------------------------------------------------------------------------
# Isolation and validation
# ---------------------------------------------------------------------------


def test_other_tenant_sees_404(sdk: SDK, other_sdk: SDK, suite: SimpleNamespace) -> None:
    sched = sdk.llm.evals.create_schedule(name=unique("private"), suite_id=suite.id, interval_seconds=HOUR,
                                          run={"models": ["fake"]})
    expect_api_error(404, lambda: other_sdk.llm.evals.get_schedule(schedule_id=sched.id))
    expect_api_error(404, lambda: other_sdk.llm.evals.update_schedule(schedule_id=sched.id, enabled=False))
    expect_api_error(404, lambda: other_sdk.llm.evals.trigger_schedule(schedule_id=sched.id))
    expect_api_error(404, lambda: other_sdk.llm.evals.list_schedule_runs(schedule_id=sched.id))
    expect_api_error(404, lambda: other_sdk.llm.evals.delete_schedule(schedule_id=sched.id))
    assert sched.id not in [s.id for s in other_sdk.llm.evals.list_schedules(limit=100).data]
    assert other_sdk.llm.evals.list_schedules(suite_id=suite.id).data == []
    # Another tenant's suite cannot be scheduled.
    bad(lambda: other_sdk.llm.evals.create_schedule(name="theirs", suite_id=suite.id, interval_seconds=HOUR,
                                                     run={"models": ["fake"]}), "suite_id")
    # Nothing of the owner's changed.
    got = sdk.llm.evals.get_schedule(schedule_id=sched.id)
    assert got.enabled is True and got.last_run_id is None
    assert sdk.llm.evals.list_schedule_runs(schedule_id=sched.id).data == []


# An unknown overlap_policy passes the SDK's open enum, with a serializer warning.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
def test_validation_errors_name_the_field(sdk: SDK, suite: SimpleNamespace) -> None:
    before = {s.id for s in sdk.llm.evals.list_schedules(suite_id=suite.id, limit=100).data}
    base: Dict[str, Any] = dict(name="invalid", suite_id=suite.id, interval_seconds=HOUR, run={"models": ["fake"]})

    def create(**changes: Any):
        kwargs = {**base, **changes}
        return lambda: sdk.llm.evals.create_schedule(**{k: v for k, v in kwargs.items() if v is not None})

    cases = [
        ("cron", dict(interval_seconds=None)),  # neither cadence
        ("interval_seconds", dict(cron="0 * * * *")),  # both
        ("cron", dict(interval_seconds=None, cron="* * *")),
        ("cron", dict(interval_seconds=None, cron="0 25 * * *")),
        ("interval_seconds", dict(interval_seconds=59)),
        ("interval_seconds", dict(interval_seconds=31622401)),
        ("timezone", dict(interval_seconds=None, cron="0 9 * * *", timezone="Mars/Olympus")),
        ("overlap_policy", dict(overlap_policy="sometimes")),
        ("name", dict(name="")),
        ("run.models", dict(run={"models": []})),
        ("run.models", dict(run={"models": ["fake"] * 21})),
        ("run.models[0]", dict(run={"models": ["no-such-model"]})),
        ("run.models[1]", dict(run={"models": ["fake", "no-such-model"]})),
        ("run.task_ids[1]", dict(run={"models": ["fake"], "task_ids": ["t", "no-such-task"]})),
        ("run.generation_concurrency", dict(run={"models": ["fake"], "generation_concurrency": 0})),
        ("run.generation.temperature", dict(run={"models": ["fake"], "generation": {"temperature": -1}})),
        ("suite_id", dict(suite_id="eval_suite_" + "0" * 32)),
        ("suite_version", dict(suite_version=9)),
        ("webhook_url", dict(webhook_url="ftp://example.com/hook")),
        ("webhook_url", dict(webhook_url="not a url")),
        ("webhook_url", dict(webhook_url="http://10.0.0.1/hook")),  # private
        ("webhook_url", dict(webhook_url="http://169.254.169.254/latest")),  # link-local
        ("webhook_secret", dict(webhook_url=IDLE_WEBHOOK, webhook_secret="whsec_!!!not-base64")),
    ]
    for param, changes in cases:
        bad(create(**changes), param)

    # The range bounds themselves are accepted (created paused, so they never fire).
    for seconds in (60, 31622400):
        s = sdk.llm.evals.create_schedule(**{**base, "interval_seconds": seconds, "enabled": False})
        assert s.interval_seconds == seconds
        sdk.llm.evals.delete_schedule(schedule_id=s.id)

    # Unknown schedules.
    for call in (
        lambda: sdk.llm.evals.get_schedule(schedule_id=MISSING_SCHEDULE),
        lambda: sdk.llm.evals.update_schedule(schedule_id=MISSING_SCHEDULE, enabled=False),
        lambda: sdk.llm.evals.delete_schedule(schedule_id=MISSING_SCHEDULE),
        lambda: sdk.llm.evals.trigger_schedule(schedule_id=MISSING_SCHEDULE),
        lambda: sdk.llm.evals.list_schedule_runs(schedule_id=MISSING_SCHEDULE),
    ):
        error_body(expect_api_error(404, call))

    assert {s.id for s in sdk.llm.evals.list_schedules(suite_id=suite.id, limit=100).data} == before, \
        "a refused request created a schedule"
