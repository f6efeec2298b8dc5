"""The committed wer/cer fixture is what Python jiwer computes with Assay's transcript
normalization: rebuild it in memory and compare byte for byte."""

from __future__ import annotations

import json

import jiwer
import pytest

import make_wer_reference as ref


def test_fixture_matches_jiwer():
    assert ref.FIXTURE.read_text() == ref.render(ref.build())


def test_fixture_covers_the_hard_cases():
    cases = json.loads(ref.FIXTURE.read_text())["cases"]
    assert len(cases) >= 40
    references = [c["reference"] for c in cases]
    hypotheses = [c["hypothesis"] for c in cases]
    texts = references + hypotheses
    assert "" in references and "" in hypotheses, "empty reference and hypothesis"
    assert any(c["wer_counts"]["reference_len"] == 0 and c["wer"] > 0 for c in cases)
    assert any(c["wer"] > 1 for c in cases), "more insertions than reference words"
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts), "CJK"
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in texts), "astral-plane emoji"
    assert any("\u00a0" in t or "\t" in t for t in texts), "non-space whitespace"
    assert max(c["wer_counts"]["reference_len"] for c in cases) >= 50, "long sentences"


def test_normalization_is_what_the_docs_say():
    words = ref.TRANSFORM_WORDS("  Hello,   WORLD! It's  \uff46\uff49\uff4e\uff45. ")
    assert words == [["hello", "world", "its", "fine"]]
    # Punctuation is deleted, not replaced by a space; symbols and emoji stay.
    assert ref.TRANSFORM_WORDS("well-known $5 \U0001f980!") == [["wellknown", "$5", "\U0001f980"]]
    assert ref.TRANSFORM_CHARS(" a\u00a0b ") == [["a", " ", "b"]]


@pytest.mark.parametrize("hypothesis, expected", [("", 0), ("uh hello", 2)])
def test_jiwer_4_counts_insertions_into_an_empty_reference(hypothesis, expected):
    # jiwer 3 raised on an empty reference; Assay follows jiwer 4.
    assert jiwer.wer(" ... ", hypothesis, ref.TRANSFORM_WORDS, ref.TRANSFORM_WORDS) == expected
