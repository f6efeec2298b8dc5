"""Shared helpers for the SDK conformance suite (imported by conftest and the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import httpx
import pytest
from meetkai_mka1 import SDK, errors, utils


# ---------------------------------------------------------------------------
# SDK clients
# ---------------------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    content_type: str
    request_json: Any
    response_json: Any


@dataclass
class WireRecorder:
    """Records every JSON request/response the SDK exchanges (an httpx event hook).

    The SDK fills in defaults (e.g. ``object``) when a response omits them, so the
    tests look at the raw JSON too, to check the server emits what the contract says.
    """

    exchanges: List[Exchange] = field(default_factory=list)

    def on_response(self, response: httpx.Response) -> None:
        req = response.request
        req_json: Any = None
        try:
            if req.headers.get("content-type", "").startswith("application/json"):
                req_json = json.loads(req.content or b"null")
        except Exception:  # pragma: no cover - diagnostic only
            req_json = None
        ctype = response.headers.get("content-type", "")
        resp_json: Any = None
        if ctype.split(";")[0].strip() == "application/json":
            response.read()
            try:
                resp_json = json.loads(response.content or b"null")
            except ValueError:
                resp_json = None
        self.exchanges.append(
            Exchange(req.method, str(req.url), response.status_code, ctype, req_json, resp_json)
        )

    @property
    def last(self) -> Exchange:
        assert self.exchanges, "no HTTP exchange recorded"
        return self.exchanges[-1]


NO_RETRIES = utils.RetryConfig("none", utils.BackoffStrategy(1, 1, 1.0, 1), False)


def make_sdk(base_url: str, key: Optional[str], recorder: Optional[WireRecorder] = None) -> SDK:
    hooks = {"response": [recorder.on_response]} if recorder else {}
    client = httpx.Client(follow_redirects=True, event_hooks=hooks, timeout=60.0)
    # Retries are off so a 5xx fails the test at once instead of being replayed for 15 s.
    return SDK(bearer_auth=key, server_url=base_url, client=client, retry_config=NO_RETRIES, timeout_ms=60_000)


# ---------------------------------------------------------------------------
# Error helpers
# ---------------------------------------------------------------------------


def expect_api_error(status: int, call: Callable[[], Any], cls: type = errors.SDKDefaultError) -> errors.SDKError:
    """Run an SDK call that must fail with HTTP ``status``; return the SDK's exception."""
    with pytest.raises(errors.SDKError) as info:
        call()
    err = info.value
    assert not isinstance(err, errors.ResponseValidationError), (
        f"SDK could not parse the error response (status {err.status_code}): {err.message}\nbody: {err.body}"
    )
    assert err.status_code == status, f"expected HTTP {status}, got {err.status_code}: {err.body}"
    assert isinstance(err, cls), f"expected {cls.__name__}, SDK raised {type(err).__name__}: {err}"
    return err


def error_body(err: errors.SDKError) -> dict:
    """The JSON error body: must be ``{"error": {"message": str, ...}}``."""
    try:
        body = json.loads(err.body)
    except ValueError:
        pytest.fail(f"error body is not JSON: {err.body!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"no error object: {body}"
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], f"no error.message: {body}"
    return body


# ---------------------------------------------------------------------------
# JSON comparison helpers
# ---------------------------------------------------------------------------


def assert_contains(sent: Any, got: Any, path: str = "$") -> None:
    """Everything that was sent comes back unchanged (the server may add keys to objects)."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{path}: expected an object, got {got!r}"
        for key, value in sent.items():
            assert key in got, f"{path}.{key}: missing from the response (sent {value!r})"
            assert_contains(value, got[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(got, list), f"{path}: expected an array, got {got!r}"
        assert len(sent) == len(got), f"{path}: sent {len(sent)} items, got {len(got)}"
        for i, (a, b) in enumerate(zip(sent, got)):
            assert_contains(a, b, f"{path}[{i}]")
    else:
        # bool is an int in Python: compare types too, so True never equals 1.
        assert type(sent) is type(got) or (
            isinstance(sent, (int, float)) and isinstance(got, (int, float)) and not isinstance(sent, bool)
            and not isinstance(got, bool)
        ), f"{path}: sent {sent!r} ({type(sent).__name__}), got {got!r} ({type(got).__name__})"
        assert sent == got, f"{path}: sent {sent!r}, got {got!r}"


def assert_raw_object(raw: Any, object_literal: str, required: List[str]) -> None:
    """The raw JSON carries its ``object`` discriminator and every required key (null allowed)."""
    assert isinstance(raw, dict), f"response is not a JSON object: {raw!r}"
    assert raw.get("object") == object_literal, f"object is {raw.get('object')!r}, want {object_literal!r}"
    missing = [k for k in required if k not in raw]
    assert not missing, f"{object_literal}: missing keys {missing} in {raw}"
