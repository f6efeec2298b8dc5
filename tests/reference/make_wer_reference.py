"""Builds the transcription error-rate reference fixture with Python jiwer.

Assay's built-in `wer` and `cer` normalize the hypothesis and the reference, then divide the
Levenshtein distance (over words, or characters) by the reference length
(`crates/assay-scoring/src/normalize.rs`, `normalize_transcript`). This script expresses that
normalization as a jiwer pipeline (`TRANSFORM_WORDS` / `TRANSFORM_CHARS` below), computes with
jiwer the per-pair wer and cer (and the edit counts behind them) of varied (reference,
hypothesis) pairs — identical, all wrong, insertions, deletions, substitutions, case and
punctuation, accents, CJK, emoji, Unicode whitespace, empty references, long sentences,
seeded random edits of a paragraph — and the corpus-level wer and cer over all pairs
(`jiwer.wer(references, hypotheses)`: total edits over total reference length), and writes
`crates/assay-scoring/tests/fixtures/jiwer_reference.json`.
`crates/assay-scoring/tests/wer_reference.rs` checks the Rust values against it, and
`test_wer_reference.py` checks that the committed fixture is what this script writes.

    python tests/reference/make_wer_reference.py   # rewrites the fixture

jiwer 4.0 scores an empty reference as the number of inserted words or characters (0 when the
hypothesis is empty too) instead of raising as jiwer 3 did; Assay does the same.
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from importlib import metadata
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-scoring/tests/fixtures/jiwer_reference.json"


class NFKC(jiwer.AbstractTransform):
    """Unicode NFKC normalization (jiwer has no transform for it)."""

    def process_string(self, s: str) -> str:
        return unicodedata.normalize("NFKC", s)


def _normalize() -> list:
    return [
        NFKC(),
        jiwer.ToLowerCase(),
        # Every character of general category P, replaced by nothing ("don't" -> "dont").
        jiwer.RemovePunctuation(),
        # Python's \s (str.isspace): Unicode whitespace and U+001C-U+001F. jiwer's
        # RemoveMultipleSpaces only collapses runs of two or more, and its word split is on
        # " " alone, so a lone tab or no-break space would otherwise join two words.
        jiwer.SubstituteRegexes({r"\s+": " "}),
        jiwer.Strip(),
    ]


TRANSFORM_WORDS = jiwer.Compose(_normalize() + [jiwer.ReduceToListOfListOfWords()])
TRANSFORM_CHARS = jiwer.Compose(_normalize() + [jiwer.ReduceToListOfListOfChars()])

NORMALIZATION = [
    "NFKC",
    "ToLowerCase",
    "RemovePunctuation",
    "SubstituteRegexes({'\\\\s+': ' '})",
    "Strip",
    "ReduceToListOfListOfWords (wer) / ReduceToListOfListOfChars (cer)",
]

PARAGRAPH = (
    "Automatic speech recognition systems are usually compared by their word error rate, "
    "the number of substituted, deleted and inserted words divided by the number of words "
    "in the reference transcript. A system that hallucinates long passages during silence "
    "can score far above one hundred percent, while a system that drops every other word "
    "stays near fifty percent, which is why the character error rate is often reported "
    "alongside it for languages written without spaces between words."
)

# (reference, hypothesis)
PAIRS = [
    ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy dog"),
    ("one two three", "four five six"),
    ("hello world", "hello big wide world"),
    ("the cat sat on the mat", "cat sat mat"),
    ("i like green apples", "i like red apples"),
    ("Hello World", "hello world"),
    ("Hello, world!", "hello world"),
    ("It's fine, don't worry.", "its fine dont worry"),
    ("a well-known state-of-the-art model", "a well known state of the art model"),
    ("café déjà vu", "cafe deja vu"),
    ("Cafe\u0301 au lait", "café au lait"),
    ("Straße und Grüße", "strasse und grüße"),
    ("今天天气很好", "今天天气不好"),
    ("我们去公园散步吧。", "我们去公园散步"),
    ("東京タワーへ行きましょう！", "東京タワーに行きましょう"),
    ("한국어 문장도 토큰으로 나뉩니다.", "한국어 문장은 토큰으로 나뉩니다"),
    ("ＡＢＣ　１２３", "abc 123"),
    ("ﬁnance ﬂow", "finance flow"),
    ("I love 🦀 and 🐍", "i love 🦀 and 🐍🐍"),
    ("family 👨\u200d👩\u200d👧 👍🏽", "family 👨\u200d👩\u200d👦 👍"),
    ("  the   cat\tsat\n\non  the mat  ", "the cat sat on the mat"),
    ("a\u00a0b\u2003c\u3000d\u2028e", "a b c d e"),
    ("x\x1fy\x1cz", "x y z"),
    ("tab\tseparated\twords", "tab separated words"),
    ("some words here", ""),
    ("", ""),
    ("", "uh um hello"),
    ("...", "okay"),
    ("yes", "!!!"),
    ("ΟΔΟΣ ΣΟΦΟΣ", "οδος σοφος"),
    ("İstanbul", "istanbul"),
    ("Привет, мир!", "привет мир"),
    ("مرحبا، بالعالم", "مرحبا بالعالم!"),
    ("नमस्ते दुनिया", "नमस्ते दुनीया"),
    ("\u201cQuoted\u201d \u2014 text\u2026", "quoted text"),
    ("$5 + 3 = 8", "5 plus 3 equals 8"),
    ("in 2024 there were 1,000 people", "in twenty twenty four there were 1000 people"),
    ("the the the", "the"),
    ("a b c d", "d c b a"),
    ("a", "b"),
    ("hello [noise] world <unk>", "hello world"),
    ("snake_case and kebab-case", "snakecase and kebabcase"),
    ("q\u0307 ḉ", "q ç"),
    (PARAGRAPH, PARAGRAPH.lower().replace(",", "").replace(".", "")),
]


def seeded_edits(count: int = 4) -> list[tuple[str, str]]:
    """The paragraph against copies with seeded random word substitutions, deletions and
    insertions (and a few character slips inside words)."""
    rng = random.Random(20261215)
    words = PARAGRAPH.split()
    vocabulary = ["speech", "model", "the", "error", "rate", "um", "silence", "über", "词"]
    pairs = []
    for _ in range(count):
        out = []
        for word in words:
            roll = rng.random()
            if roll < 0.08:
                continue  # deletion
            if roll < 0.16:
                out.append(rng.choice(vocabulary))  # substitution
            elif roll < 0.22 and len(word) > 2:
                i = rng.randrange(len(word))
                out.append(word[:i] + rng.choice("aeiou") + word[i + 1 :])  # a slip
            else:
                out.append(word)
            if rng.random() < 0.06:
                out.append(rng.choice(vocabulary))  # insertion
        pairs.append((PARAGRAPH, " ".join(out)))
    return pairs


def counts(output) -> dict:
    """Edits and reference length from jiwer's alignment counts."""
    return {
        "edits": output.substitutions + output.deletions + output.insertions,
        "reference_len": output.hits + output.substitutions + output.deletions,
    }


def build() -> dict:
    pairs = PAIRS + seeded_edits()
    cases = []
    for reference, hypothesis in pairs:
        words = jiwer.process_words(reference, hypothesis, TRANSFORM_WORDS, TRANSFORM_WORDS)
        chars = jiwer.process_characters(reference, hypothesis, TRANSFORM_CHARS, TRANSFORM_CHARS)
        wer = jiwer.wer(reference, hypothesis, TRANSFORM_WORDS, TRANSFORM_WORDS)
        cer = jiwer.cer(reference, hypothesis, TRANSFORM_CHARS, TRANSFORM_CHARS)
        assert (wer, cer) == (words.wer, chars.cer)
        cases.append(
            {
                "reference": reference,
                "hypothesis": hypothesis,
                "wer": float(wer),
                "cer": float(cer),
                "wer_counts": counts(words),
                "cer_counts": counts(chars),
            }
        )
    references = [r for r, _ in pairs]
    hypotheses = [h for _, h in pairs]
    corpus_words = jiwer.process_words(references, hypotheses, TRANSFORM_WORDS, TRANSFORM_WORDS)
    corpus_chars = jiwer.process_characters(
        references, hypotheses, TRANSFORM_CHARS, TRANSFORM_CHARS
    )
    corpus = {
        "wer": float(jiwer.wer(references, hypotheses, TRANSFORM_WORDS, TRANSFORM_WORDS)),
        "cer": float(jiwer.cer(references, hypotheses, TRANSFORM_CHARS, TRANSFORM_CHARS)),
        "wer_counts": counts(corpus_words),
        "cer_counts": counts(corpus_chars),
    }
    return {
        "generated_by": "tests/reference/make_wer_reference.py",
        "jiwer": metadata.version("jiwer"),
        "rapidfuzz": metadata.version("rapidfuzz"),
        "unicode": unicodedata.unidata_version,
        "normalization": NORMALIZATION,
        "corpus": corpus,
        "cases": cases,
    }


def render(data: dict) -> str:
    """One case per line (ASCII-only JSON), so a changed value shows as a one-line diff."""
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
