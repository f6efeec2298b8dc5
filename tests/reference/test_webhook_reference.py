"""The committed webhook-signature fixture is what the official `standardwebhooks` package
gives: rebuild it in memory and compare byte for byte, and verify every case with
`Webhook.verify` as a receiver would."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import standardwebhooks.webhooks
from standardwebhooks import Webhook, WebhookVerificationError

import make_webhook_reference as ref


def test_fixture_matches_python_standardwebhooks():
    assert ref.FIXTURE.read_text() == ref.render(ref.build())


def test_specification_example_signature():
    # The signature published with the specification's example message.
    cases = {c["name"]: c for c in json.loads(ref.FIXTURE.read_text())["cases"]}
    assert cases["specification_example"]["signature"] == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def frozen_clock(monkeypatch: pytest.MonkeyPatch, timestamp: int) -> None:
    """`Webhook.verify` refuses timestamps more than 5 minutes from now: set now to the case's."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return cls.fromtimestamp(timestamp, tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Frozen)


def headers(case: dict, signature: str) -> dict[str, str]:
    return {
        "webhook-id": case["msg_id"],
        "webhook-timestamp": str(case["timestamp"]),
        "webhook-signature": signature,
    }


@pytest.mark.parametrize("case", json.loads(ref.FIXTURE.read_text())["cases"], ids=lambda c: c["name"])
def test_every_case_verifies(case: dict, monkeypatch: pytest.MonkeyPatch):
    frozen_clock(monkeypatch, case["timestamp"])
    webhook = Webhook(ref.key(case["secret"]))
    body = case["body"].encode("utf-8")
    webhook.verify(body, headers(case, case["signature"]), json_parse=False)

    # Not vacuous: a changed body, id or signature fails.
    with pytest.raises(WebhookVerificationError):
        webhook.verify(body + b" ", headers(case, case["signature"]), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(body, headers({**case, "msg_id": case["msg_id"] + "x"}, case["signature"]), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(body, headers(case, case["signature"][:-4] + "AAA="), json_parse=False)


def test_fixture_covers_the_cases():
    cases = json.loads(ref.FIXTURE.read_text())["cases"]
    secrets = [c["secret"] for c in cases]
    bodies = [c["body"] for c in cases]
    assert any(s.startswith("whsec_") and s.endswith("=") for s in secrets), "padded whsec_"
    assert any(s.startswith("whsec_") and not s.endswith("=") for s in secrets), "unpadded whsec_"
    assert any(not s.startswith("whsec_") for s in secrets), "raw secret"
    assert any(any(ord(ch) > 0x7F for ch in s) for s in secrets), "non-ASCII raw secret"
    assert "" in bodies
    assert any(any(ord(ch) > 0xFFFF for ch in b) for b in bodies), "astral-plane body"
    assert max(len(b.encode()) for b in bodies) >= 64 * 1024
