"""Builds the webhook-signature reference fixture with the official `standardwebhooks` package.

Assay signs outgoing webhooks the way the Standard Webhooks specification does
(`crates/assay-webhooks`, `sign`). This script signs a set of messages (a `whsec_` secret with
and without base64 padding, raw-string secrets, an empty body, a unicode body, a large body,
the specification's own example) with the Python package's `Webhook.sign` and writes
`crates/assay-webhooks/tests/fixtures/standardwebhooks_reference.json`;
`crates/assay-webhooks/tests/standardwebhooks_reference.rs` checks the Rust signatures against
it, and `test_webhook_reference.py` checks that the committed fixture is what this script
writes and that `Webhook.verify` accepts every case.

    python tests/reference/make_webhook_reference.py   # rewrites the fixture

Secrets are given as a user configures them in Assay: `whsec_<base64>` stands for the decoded
bytes, any other string for its UTF-8 bytes. The Python `Webhook(str)` base64-decodes every
string, prefixed or not, so a raw secret is passed to it as bytes (`key()` below).
"""

from __future__ import annotations

import base64
import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path

import standardwebhooks
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-webhooks/tests/fixtures/standardwebhooks_reference.json"
PREFIX = "whsec_"


def seeded_secret(seed: int, size: int) -> str:
    rng = random.Random(seed)
    return PREFIX + base64.b64encode(bytes(rng.randrange(256) for _ in range(size))).decode()


def large_body() -> str:
    """About 64 KiB of JSON: past every buffer and block size on the way to the HMAC."""
    rng = random.Random(20260301)
    samples = [
        {
            "sample_id": f"s{i:05d}",
            "score": round(rng.random(), 6),
            "output": "".join(rng.choice("abcdefghij klmnopqrst éü中🦀") for _ in range(40)),
        }
        for i in range(700)
    ]
    return json.dumps({"type": "run.completed", "samples": samples}, ensure_ascii=False)


# (name, secret as configured, msg_id, timestamp, body)
CASES = [
    (
        # The example in the Standard Webhooks specification.
        "specification_example",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    ),
    (
        "whsec_padded",
        seeded_secret(1, 32),
        "msg_0f3c5a1e9b7d4c2a8e6f1b3d5c7a9e0f",
        1767225600,
        '{"type":"run.completed","run_id":"run_01","status":"succeeded"}',
    ),
    (
        "whsec_unpadded",
        seeded_secret(1, 32).rstrip("="),
        "msg_0f3c5a1e9b7d4c2a8e6f1b3d5c7a9e0f",
        1767225600,
        '{"type":"run.completed","run_id":"run_01","status":"succeeded"}',
    ),
    (
        "whsec_long_key",
        seeded_secret(2, 100),
        "msg_2",
        1767225601,
        '{"type":"run.failed"}',
    ),
    (
        "raw_ascii_secret",
        "my-webhook-secret",
        "msg_3b1f",
        1767225602,
        '{"type":"run.completed"}',
    ),
    (
        "raw_secret_looking_like_base64",
        "aGVsbG8gd29ybGQ=",
        "msg_4",
        1767225603,
        '{"a":1}',
    ),
    (
        "raw_unicode_secret",
        "clé secrète 🔑",
        "msg_5",
        1767225604,
        '{"a":2}',
    ),
    (
        "empty_body",
        seeded_secret(3, 24),
        "msg_6",
        1767225605,
        "",
    ),
    (
        "unicode_body",
        seeded_secret(4, 32),
        "msg_7",
        1767225606,
        '{"text":"Grüße, 世界! Ελληνικά, עברית, emoji 🦀👍🏽, nbsp\u00a0and\u200bzero-width"}',
    ),
    (
        "whitespace_and_newlines_body",
        "secret with spaces ",
        "msg_8",
        1767225607,
        '{\n  "indented": true,\r\n  "tab": "\\t"\n}\n',
    ),
    (
        "timestamp_past_2038",
        seeded_secret(5, 32),
        "msg_9",
        4102444800,
        '{"year":2100}',
    ),
    (
        "large_body",
        seeded_secret(6, 32),
        "msg_10",
        1767225608,
        large_body(),
    ),
]


def key(secret: str) -> str | bytes:
    """What to hand `Webhook`: a `whsec_` secret as is, any other as its UTF-8 bytes."""
    return secret if secret.startswith(PREFIX) else secret.encode("utf-8")


def build() -> dict:
    cases = []
    for name, secret, msg_id, timestamp, body in CASES:
        when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        signature = Webhook(key(secret)).sign(msg_id, when, body.encode("utf-8"))
        cases.append(
            {
                "name": name,
                "secret": secret,
                "msg_id": msg_id,
                "timestamp": timestamp,
                "body": body,
                "signature": signature,
            }
        )
    return {
        "generated_by": "tests/reference/make_webhook_reference.py",
        "standardwebhooks": standardwebhooks.__version__,
        "cases": cases,
    }


def render(data: dict) -> str:
    """One case per line (ASCII-only JSON), so a changed signature shows as a one-line diff."""
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = [json.dumps(case, sort_keys=True) for case in data["cases"]]
    header = json.dumps(head, sort_keys=True)[:-1]
    return header + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(render(build()))
    print(f"wrote {FIXTURE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
