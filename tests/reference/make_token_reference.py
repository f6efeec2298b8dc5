"""Builds the token-count reference fixture with OpenAI's Python tiktoken.

Assay counts tokens with tiktoken-rs (`o200k_base`) wherever a provider reports no usage and in
the token backfill. This script encodes a set of varied texts (ASCII, accents, CJK, emoji, code,
whitespace runs, text that looks like special tokens, seeded random mixes) with Python tiktoken
and writes `crates/assay-models/tests/fixtures/o200k_reference.json`;
`crates/assay-models/tests/token_reference.rs` checks the Rust counts (and token ids) against it,
and `test_token_reference.py` checks that the committed fixture is what this script writes.

Python tiktoken normally downloads `o200k_base.tiktoken` on first use, and this machine reaches
no such host. tiktoken-rs ships the same file, so it is copied to where tiktoken's cache looks
for the download (`TIKTOKEN_CACHE_DIR/<sha1 of the download URL>`); tiktoken checks the file's
sha256 against the hash it expects before using it, so the encoding is OpenAI's genuine one.

    python tests/reference/make_token_reference.py   # rewrites the fixture

The BPE file is found through `cargo metadata` (the tiktoken-rs version in Cargo.lock);
`ASSAY_O200K_FILE` names another copy of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tiktoken

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-models/tests/fixtures/o200k_reference.json"
ENCODING = "o200k_base"
BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"

CODE_PY = '''def mean(xs: list[float]) -> float:
    """Arithmetic mean; 0.0 for an empty list."""
    if not xs:
        return 0.0
    return sum(xs) / len(xs)  # TODO: fsum?
'''

CODE_RS = """impl<T: Ord + Clone> Heap<T> {
    pub fn push(&mut self, item: T) -> Result<(), Box<dyn std::error::Error>> {
        self.items.push(item); self.sift_up(self.items.len() - 1); Ok(())
    }
}"""

PARAGRAPH = (
    "Evaluation harnesses compare models on the same prompts, but token counts differ between "
    "tokenizers: a verbosity measure needs one ruler for every model. Counting with o200k_base "
    "gives that ruler, even though it is not the billing count of any particular provider."
)

TEXTS = [
    "",
    "hello world",
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine; you've seen what we'd do. DON'T SHOUT, WE'RE HERE.",
    "3.14159265358979 1234567890 -42 1e-9 0x1F 2024-06-01T12:34:56Z 1,000,000 007",
    "Café déjà vu, naïve façade, Straße, Ærøskøbing, São Paulo, Kraków, İstanbul",
    "Ελληνικά κείμενα και Русский текст с ёлкой",
    "今天天气很好，我们去公园散步吧。",
    "日本語のテキスト：東京タワーへ行きましょう！カタカナとひらがな。",
    "한국어 문장도 토큰으로 나뉩니다.",
    "مرحبا بالعالم — שלום עולם",
    "नमस्ते दुनिया, สวัสดีชาวโลก, ሰላም ለዓለም",
    "👍🏽 family: 👨‍👩‍👧‍👦, flags: 🇫🇷🇯🇵, faces 😀😂🤖",
    "🦀 Rust + 🐍 Python = ❤️",
    CODE_PY,
    CODE_RS,
    '{"id": "eval_run_0123", "scores": {"exact_match": 1.0, "f1": 0.5}, "tags": ["a", "b"], "n": null}',
    "SELECT s.id, COUNT(*) AS n FROM samples s WHERE s.run_id = $1 AND s.seq > $2 GROUP BY s.id;",
    '<div class="card"><a href="/docs?page=2&amp;q=x">Next &raquo;</a></div>',
    "a  b   c    d     e",
    "\t\tindented\n\n\n\nblank lines\r\nwindows line\r\n",
    "   leading and trailing   ",
    " " * 17,
    "\n" * 9,
    "tabs\t\t\tand\u00a0nbsp\u2003em space\u3000ideographic space",
    "<|endoftext|>",
    "text <|endoftext|> more <|endofprompt|> then <|im_start|>user\nhi<|im_end|>",
    "<|fim_prefix|>def f(<|fim_suffix|>):<|fim_middle|>",
    "!!!???...---___===***///\\\\\\",
    "http://example.com/path/to/page?query=1&x=y#frag and user.name+tag@example.co.uk",
    "mixedCase camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case PascalCase",
    "\\frac{1}{2} + \\sqrt{x^2} = \\boxed{42}; ∑ᵢ xᵢ² ≤ ∞ ∀ε>0 ∃δ",
    "e\u0301 vs \u00e9; Zalgo: Z\u0337\u0322a\u0338l\u0336g\u0334o\u0335",
    "zero\u200bwidth\u200djoiner\ufeffbom\u2060word joiner",
    "control \x00\x01\x07\x1b[31mred\x1b[0m \x7f end",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "abc" * 300,
    "a" * 1000,
    "ha" * 64 + "!" * 40,
    PARAGRAPH,
    "Answer: Paris\n\nReasoning: the capital of France is Paris, so the answer is Paris.",
    "Q: Capital of France? [[answer:Paris]]\nA:",
]

# Characters the seeded random texts are drawn from: every script and kind of run above.
POOL = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "      \t\n\r.,;:!?'\"()[]{}<>|/\\-_=+*&^%$#@~`"
    "éüßøçñ中文日本語한국어العربيةहिंदीไทย"
    "😀🦀🐍👍🏽❤️\u200d\u0301"
)


def random_texts(count: int = 12) -> list[str]:
    rng = random.Random(20261201)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 160))) for _ in range(count)]


def bpe_file() -> Path:
    """`o200k_base.tiktoken` as tiktoken-rs ships it (the encoding Assay compiles in)."""
    override = os.environ.get("ASSAY_O200K_FILE")
    if override:
        return Path(override)
    found = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    for package in json.loads(found.stdout)["packages"]:
        if package["name"] == "tiktoken-rs":
            return Path(package["manifest_path"]).parent / "assets" / f"{ENCODING}.tiktoken"
    raise SystemExit("tiktoken-rs is not a dependency in Cargo.lock")


def encoding() -> tiktoken.Encoding:
    """Python tiktoken's `o200k_base`, loaded offline from tiktoken-rs' copy of the BPE file."""
    source = bpe_file()
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    cache = Path(tempfile.mkdtemp(prefix="tiktoken-cache-"))
    try:
        shutil.copyfile(source, cache / hashlib.sha1(BLOB_URL.encode()).hexdigest())
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        try:
            return tiktoken.get_encoding(ENCODING)
        except Exception as e:  # a hash mismatch makes tiktoken try (and fail) to download
            raise SystemExit(
                f"tiktoken did not accept {source} as {ENCODING} (its sha256 must be the one "
                f"tiktoken expects): {e}"
            ) from e
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous
        shutil.rmtree(cache, ignore_errors=True)


def build() -> dict:
    enc = encoding()
    texts = TEXTS + random_texts()
    cases = []
    for text in texts:
        # Special-token text counts as ordinary text, as in Assay (encode_ordinary).
        tokens = enc.encode_ordinary(text)
        assert tokens == enc.encode(text, disallowed_special=())
        assert enc.decode(tokens) == text
        cases.append({"text": text, "tokens": tokens})
    return {
        "generated_by": "tests/reference/make_token_reference.py",
        "encoding": ENCODING,
        "tiktoken": tiktoken.__version__,
        "cases": cases,
    }


def render(data: dict) -> str:
    """One case per line (ASCII-only JSON), so a changed count shows as a one-line diff."""
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
