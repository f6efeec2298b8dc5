#!/usr/bin/env python3
"""Writes the lm-evaluation-harness output fixture that crates/assay-lmeval reads.

Runs the real `lm_eval` (pinned in requirements-lmeval.txt) twice against Assay's fake
OpenAI-compatible model server (`assay-fake-model`, loopback only), over three small custom
`generate_until` tasks whose data are local JSONL files, with `--log_samples`, and copies
lm-eval's own output (`<output_path>/<model_name_sanitized>/results_<ts>.json` and
`samples_<task>_<ts>.jsonl`) into crates/assay-lmeval/tests/fixtures/, keeping that layout.

The fake model answers what a prompt's `[[answer:TEXT]]` directive says, so each data row
carries the reply it gets (`reply`), chosen to give a mix of right and wrong answers:

- `assay_capitals`: exact_match (case and punctuation ignored), no filter (key `none`);
- `assay_arith`: gsm8k-style, one-shot, exact_match under two regex filters
  (`strict-match`, `flexible-extract`);
- `assay_translate`: exact_match and corpus BLEU (an aggregation that is not a mean, whose
  standard error lm-eval bootstraps).

The two runs are two "models": `fake-model-a` with the tasks' own generation settings and
`fake-model-b` with `max_gen_toks=3`, which cuts the longer replies short (the fake server
keeps the first N whitespace-separated words), so the two results files differ.

No network: the datasets library is put offline (HF_DATASETS_OFFLINE, HF_HUB_OFFLINE, a
private HF_HOME), the data are local files and the model is a loopback server.

Usage: python tests/reference/make_lmeval_fixture.py [--fake-model BIN] [--out DIR]
(BIN defaults to $ASSAY_FAKE_MODEL_BIN, else $CARGO_TARGET_DIR or target/ + debug/assay-fake-model).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "crates" / "assay-lmeval" / "tests" / "fixtures"

# The two runs: (model name, extra lm_eval arguments).
RUNS = [
    ("fake-model-a", []),
    ("fake-model-b", ["--gen_kwargs", "max_gen_toks=3"]),
]

TASKS = ["assay_arith", "assay_capitals", "assay_translate"]

# ---------------------------------------------------------------------------------------------
# Data: every row says what the fake model replies (`reply`).

CAPITALS = [
    ("France", "Paris", "Paris"),
    ("Germany", "Berlin", "Berlin"),
    ("Italy", "Rome", "rome"),  # right once case is ignored
    ("Spain", "Madrid", "Barcelona"),  # wrong
    ("Japan", "Tokyo", "Tokyo."),  # right once punctuation is ignored
    ("Canada", "Ottawa", "Toronto"),  # wrong
    ("Australia", "Canberra", "Sydney"),  # wrong
    ("Egypt", "Cairo", "Cairo"),
    ("Kenya", "Nairobi", "Nairobi"),
    ("Brazil", "Brasilia", "Rio de Janeiro"),  # wrong
    ("Peru", "Lima", "Lima"),
    ("Norway", "Oslo", "The capital is Oslo"),  # wrong for exact_match
]

# (question, numeric answer, reply)
ARITH = [
    ("What is 3 plus 4?", "7", "3 plus 4 is 7. #### 7"),
    ("What is 10 minus 6?", "4", "#### 4"),
    ("What is 6 times 7?", "42", "The answer is 42."),  # flexible only
    ("What is 81 divided by 9?", "9", "#### 8"),  # wrong
    ("What is 12 plus 30?", "42", "12 plus 30 makes 42 #### 42"),
    ("What is 100 minus 1?", "99", "I think it is 98"),  # wrong
    ("What is 15 times 3?", "45", "#### 45"),
    ("What is 7 plus 8?", "15", "Seven plus eight is 15"),  # flexible only
    ("What is 2 to the power 10?", "1024", "#### 1,024"),  # commas are ignored
    ("What is 50 divided by 2?", "25", "I do not know."),  # nothing to extract
    ("What is 9 plus 9?", "18", "#### 18"),
    ("What is 11 times 11?", "121", "11 times 11 is 121. #### 121"),
    ("What is 1000 minus 999?", "1", "#### 1"),
    ("What is 5 times 5?", "25", "The result: $25"),  # flexible only ($ is ignored)
    ("What is 64 divided by 8?", "8", "#### 8."),
    ("What is 13 plus 29?", "42", "#### 41"),  # wrong
]

ARITH_TRAIN = [
    {"question": "What is 1 plus 1?", "answer": "1 plus 1 is 2. #### 2", "reply": ""},
]

# (English, French, reply)
TRANSLATE = [
    ("good morning", "bonjour", "bonjour"),
    ("thank you very much", "merci beaucoup", "merci beaucoup"),
    ("the black cat", "le chat noir", "le chat noir"),
    ("I am hungry", "j'ai faim", "je suis faim"),  # wrong
    ("see you tomorrow", "à demain", "à demain"),
    ("the house is big", "la maison est grande", "la maison est grande"),
    ("where is the station", "où est la gare", "où est la station"),  # wrong
    ("I love reading books", "j'aime lire des livres", "j'aime lire les livres"),  # wrong
    ("it is raining today", "il pleut aujourd'hui", "il pleut aujourd'hui"),
    ("good night", "bonne nuit", "bonsoir"),  # wrong
]

# ---------------------------------------------------------------------------------------------
# Task configurations (lm-eval YAML; JSON is valid YAML, so no YAML writer is needed).

DIRECTIVE = "{% if reply %} [[answer:{{reply}}]]{% endif %}"


def task_configs() -> dict[str, dict]:
    return {
        "assay_capitals": {
            "task": "assay_capitals",
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": "data/capitals_test.jsonl"}},
            "output_type": "generate_until",
            "test_split": "test",
            "doc_to_text": "What is the capital of {{country}}? Answer with the city name only."
            + DIRECTIVE,
            "doc_to_target": "{{answer}}",
            "generation_kwargs": {"until": ["\n"], "do_sample": False, "temperature": 0.0},
            "metric_list": [
                {
                    "metric": "exact_match",
                    "aggregation": "mean",
                    "higher_is_better": True,
                    "ignore_case": True,
                    "ignore_punctuation": True,
                }
            ],
            "metadata": {"version": 1.0},
        },
        "assay_arith": {
            "task": "assay_arith",
            "dataset_path": "json",
            "dataset_kwargs": {
                "data_files": {
                    "train": "data/arith_train.jsonl",
                    "test": "data/arith_test.jsonl",
                }
            },
            "output_type": "generate_until",
            "training_split": "train",
            "fewshot_split": "train",
            "test_split": "test",
            "num_fewshot": 1,
            "doc_to_text": "Question: {{question}}\nAnswer:" + DIRECTIVE,
            "doc_to_target": "{{answer}}",
            "generation_kwargs": {
                "until": ["Question:", "</s>", "<|im_end|>"],
                "do_sample": False,
                "temperature": 0.0,
            },
            "metric_list": [
                {
                    "metric": "exact_match",
                    "aggregation": "mean",
                    "higher_is_better": True,
                    "ignore_case": True,
                    "ignore_punctuation": False,
                    "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"],
                }
            ],
            "filter_list": [
                {
                    "name": "strict-match",
                    "filter": [
                        {"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"},
                        {"function": "take_first"},
                    ],
                },
                {
                    "name": "flexible-extract",
                    "filter": [
                        {
                            "function": "regex",
                            "group_select": -1,
                            "regex_pattern": "(-?[$0-9.,]{2,})|(-?[0-9]+)",
                        },
                        {"function": "take_first"},
                    ],
                },
            ],
            "metadata": {"version": 2.0},
        },
        "assay_translate": {
            "task": "assay_translate",
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": "data/translate_test.jsonl"}},
            "output_type": "generate_until",
            "test_split": "test",
            "doc_to_text": "Translate into French: {{english}}" + DIRECTIVE,
            "doc_to_target": "{{french}}",
            "generation_kwargs": {"until": ["\n"], "do_sample": False, "temperature": 0.0},
            "metric_list": [
                {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True},
                {"metric": "bleu", "higher_is_better": True},
            ],
            "metadata": {"version": 1.0},
        },
    }


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_tasks(dir: Path) -> None:
    write_jsonl(
        dir / "data" / "capitals_test.jsonl",
        [{"country": c, "answer": a, "reply": r} for c, a, r in CAPITALS],
    )
    write_jsonl(
        dir / "data" / "arith_test.jsonl",
        [{"question": q, "answer": f"#### {a}", "reply": r} for q, a, r in ARITH],
    )
    write_jsonl(dir / "data" / "arith_train.jsonl", ARITH_TRAIN)
    write_jsonl(
        dir / "data" / "translate_test.jsonl",
        [{"english": e, "french": f, "reply": r} for e, f, r in TRANSLATE],
    )
    for name, config in task_configs().items():
        (dir / "tasks" / f"{name}.yaml").parent.mkdir(parents=True, exist_ok=True)
        (dir / "tasks" / f"{name}.yaml").write_text(json.dumps(config, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# The fake model server and lm_eval.


def fake_model_bin(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("ASSAY_FAKE_MODEL_BIN"):
        return Path(os.environ["ASSAY_FAKE_MODEL_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "assay-fake-model"


def start_fake_model(binary: Path) -> tuple[subprocess.Popen, str]:
    if not binary.exists():
        sys.exit(
            f"{binary} not found: build it with `cargo build -p assay-testkit --bin assay-fake-model`"
        )
    proc = subprocess.Popen(
        [str(binary), "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    prefix = "fake model listening on "
    if not line.startswith(prefix):
        proc.kill()
        sys.exit(f"unexpected first line from assay-fake-model: {line!r}")
    return proc, line[len(prefix) :]


def lm_eval_command(url: str, model: str, output: Path, extra: list[str]) -> list[str]:
    lm_eval = Path(sys.executable).parent / "lm_eval"
    return [
        str(lm_eval),
        "run",
        "--model",
        "local-chat-completions",
        "--model_args",
        f"model={model},base_url={url}/v1/chat/completions,num_concurrent=1,max_retries=1",
        "--include_path",
        "tasks",
        "--tasks",
        ",".join(TASKS),
        "--apply_chat_template",
        "--log_samples",
        "--output_path",
        str(output),
        "--seed",
        "0,1234,1234,1234",
        *extra,
    ]


def offline_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(home / "hf"),
            "HF_DATASETS_CACHE": str(home / "hf" / "datasets"),
            "TOKENIZERS_PARALLELISM": "false",
            # No proxy may send loopback requests elsewhere.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            # Bootstrapped standard errors in-process (same numbers, no worker pool).
            "DISABLE_MULTIPROC": "1",
        }
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake-model", help="path of the assay-fake-model binary")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="fixture directory")
    args = parser.parse_args()
    out = Path(args.out)

    proc, url = start_fake_model(fake_model_bin(args.fake_model))
    try:
        with tempfile.TemporaryDirectory(prefix="lmeval-fixture-") as tmp:
            work = Path(tmp)
            write_tasks(work)
            output = work / "output"
            for model, extra in RUNS:
                cmd = lm_eval_command(url, model, output, extra)
                print("+", " ".join(cmd), flush=True)
                subprocess.run(cmd, cwd=work, env=offline_env(work), check=True)
            for model, _ in RUNS:
                produced = output / model
                files = sorted(produced.glob("results_*.json")) + sorted(
                    produced.glob("samples_*.jsonl")
                )
                if len(files) != 1 + len(TASKS):
                    sys.exit(f"expected one results and {len(TASKS)} samples files in {produced}")
                dest = out / model
                if dest.exists():
                    shutil.rmtree(dest)
                dest.mkdir(parents=True)
                for f in files:
                    shutil.copyfile(f, dest / f.name)
                    print(f"wrote {dest / f.name}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
