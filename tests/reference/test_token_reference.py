"""The committed token-count fixture is what Python tiktoken gives: rebuild it in memory (from
the o200k_base file tiktoken-rs ships, hash-checked by tiktoken) and compare byte for byte."""

from __future__ import annotations

import json

import make_token_reference as ref


def test_fixture_matches_python_tiktoken():
    assert ref.FIXTURE.read_text() == ref.render(ref.build())


def test_fixture_covers_the_hard_cases():
    cases = json.loads(ref.FIXTURE.read_text())["cases"]
    texts = [c["text"] for c in cases]
    assert "" in texts and "<|endoftext|>" in texts
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts), "CJK"
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in texts), "astral-plane emoji"
    assert any("\n\n\n" in t or "     " in t for t in texts), "whitespace runs"
    assert max(len(c["tokens"]) for c in cases) >= 100
