"""Builds the Hugging Face dataset fixtures and records what the `datasets` library makes of them.

Assay reads Hub datasets with `assay-hub`, which picks a config's split files and turns rows
into JSON the way `datasets.load_dataset` does. This script writes two small dataset
repositories with pyarrow and plain text:

- `crates/assay-hub/tests/fixtures/hub_repo/`: a README.md whose `configs:` YAML declares
  two configs (`main`, the default, with `train` and `test` Parquet splits; `audio`, whose
  `test` split has an Audio-like `{bytes, path}` struct column), Parquet files of several row
  groups with int, float (float32 too, a NaN and nulls), bool, string, binary, list, struct
  and list-of-struct columns, and a JSON Lines and a CSV file outside the configs (read
  with explicit `data_files`), plus files that must not be picked (a hidden one, a text
  file);
- `crates/assay-hub/tests/fixtures/hub_repo_plain/`: no card configs, so the default split
  patterns decide (split names in directory names win over file names);

then runs `datasets.load_dataset(<dir>, name=…, split=…, data_files=…)` for each case and
writes `crates/assay-hub/tests/fixtures/hub_reference.json`: per case, the files `datasets`
resolved for the split (relative to the repository) and the rows it read, as JSON (bytes as
base64, and a NaN as null, since JSON has neither). `crates/assay-hub/tests/hub_reference.rs`
serves the directories through the fake Hub and checks that assay-hub picks the same files
and reads the same rows; `test_hub_reference.py` checks that the committed fixture is what
this script writes.

    python tests/reference/make_hub_reference.py   # rewrites the fixtures

Everything is local: `datasets` reads the directories and never reaches the Hub
(`HF_HUB_OFFLINE=1`), and its cache goes to a temporary directory.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import datasets  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates/assay-hub/tests/fixtures"
REFERENCE = FIXTURES / "hub_reference.json"
REPOS = ("hub_repo", "hub_repo_plain")

README = """---
license: cc-by-4.0
pretty_name: Assay hub fixture
configs:
- config_name: main
  default: true
  data_files:
  - split: train
    path: data/main/train-*.parquet
  - split: test
    path: data/main/test.parquet
- config_name: audio
  data_files:
  - split: test
    path: data/audio/*.parquet
---

# Assay hub fixture

A tiny dataset for checking that assay-hub picks and reads files as `datasets` does.
"""

QA_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("question", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("answer", pa.int32()),
        ("score", pa.float64()),
        ("weight", pa.float32()),
        ("correct", pa.bool_()),
        ("note", pa.string()),
        ("blob", pa.binary()),
        (
            "meta",
            pa.struct(
                [
                    ("source", pa.string()),
                    ("tags", pa.list_(pa.string())),
                    ("difficulty", pa.int64()),
                ]
            ),
        ),
        ("steps", pa.list_(pa.struct([("n", pa.int64()), ("ok", pa.bool_())]))),
    ]
)

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def qa_rows(start: int, count: int) -> list[dict]:
    rows = []
    for i in range(start, start + count):
        rows.append(
            {
                "id": i,
                "question": f"Q{i}: which word follows {WORDS[i % 8]}? «é» 漢字" if i % 3 == 0 else f"Q{i}",
                "choices": [WORDS[(i + k) % 8] for k in range(i % 4)],
                "answer": i % 4,
                "score": None if i % 5 == 4 else (float("nan") if i == 7 else i / 8 + 0.1),
                "weight": 0.1 * i,
                "correct": i % 2 == 0,
                "note": None if i % 3 == 1 else f"note {i}",
                "blob": bytes([i, 0, 255, i * 7 % 256]) if i % 4 != 3 else None,
                "meta": None
                if i == 5
                else {
                    "source": "synthetic",
                    "tags": [WORDS[i % 8]] * (i % 3),
                    "difficulty": None if i % 4 == 0 else i % 3,
                },
                "steps": [{"n": k, "ok": k % 2 == 0} for k in range(i % 3)],
            }
        )
    return rows


def wav(n: int) -> bytes:
    """A tiny mono 16-bit WAV file with `n` samples."""
    data = bytes((k * 37 + n) % 256 for k in range(2 * n))
    header = (
        b"RIFF"
        + (36 + len(data)).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (16000).to_bytes(4, "little")
        + (32000).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + len(data).to_bytes(4, "little")
    )
    return header + data


AUDIO_SCHEMA = pa.schema(
    [
        ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("transcript", pa.string()),
        ("speaker_id", pa.int64()),
    ]
)


def audio_rows() -> list[dict]:
    return [
        {
            "audio": {"bytes": wav(8 + i), "path": f"clip_{i}.wav"},
            "transcript": ["hello world", "good morning", "assay reads audio", "bye"][i],
            "speaker_id": 100 + i,
        }
        for i in range(4)
    ]


QA_JSONL = [
    {"id": "q1", "question": "2+2?", "answer": "4", "meta": {"level": 1, "tags": ["math"]}, "score": 0.5},
    {"id": "q2", "question": "Capital of France?", "answer": "Paris", "meta": {"level": 2, "tags": []}, "score": 1.0},
    {"id": "q3", "question": "Ünïcödé ✓", "answer": None, "meta": {"level": 3, "tags": ["x", "y"]}, "score": 0.25},
]

SCORES_CSV = (
    "id,text,score,ok,count,note\n"
    '1,"plain",0.5,True,3,hello\n'
    '2,"with, comma",1.25,False,,NA\n'
    '3,"with ""quotes""",,true,5,\n'
    "\n"
    "4,last,2,FALSE,7,n/a\n"
)


def write_parquet(path: Path, schema: pa.Schema, rows: list[dict], row_group_size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, row_group_size=row_group_size, compression="snappy")


def write_repos(into: Path) -> None:
    """Writes both fixture repositories under `into`."""
    repo = into / "hub_repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text(README)
    write_parquet(repo / "data/main/train-0.parquet", QA_SCHEMA, qa_rows(0, 8), 3)
    write_parquet(repo / "data/main/train-1.parquet", QA_SCHEMA, qa_rows(8, 5), 2)
    write_parquet(repo / "data/main/test.parquet", QA_SCHEMA, qa_rows(100, 4), 4)
    write_parquet(repo / "data/audio/clips.parquet", AUDIO_SCHEMA, audio_rows(), 2)
    (repo / "raw").mkdir(exist_ok=True)
    (repo / "raw/qa.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in QA_JSONL)
    )
    (repo / "raw/scores.csv").write_text(SCORES_CSV)
    (repo / "raw/notes.txt").write_text("not data\n")
    (repo / "raw/.hidden.jsonl").write_text('{"id": "hidden"}\n')

    plain = into / "hub_repo_plain"
    (plain / "data/train").mkdir(parents=True, exist_ok=True)
    (plain / "data/dev").mkdir(parents=True, exist_ok=True)
    (plain / "README.md").write_text("# No configs here\n")
    (plain / "data/train/part-0.csv").write_text("x,y\n1,a\n2,b\n")
    (plain / "data/train/part-1.csv").write_text("x,y\n3,c\n")
    (plain / "data/dev/part-0.csv").write_text("x,y\n4,d\n")
    # Split names in directory names win: this file is in no split.
    (plain / "test.csv").write_text("x,y\n5,e\n")


# (repo, name, split, data_files)
CASES = [
    ("hub_repo", None, "train", None),
    ("hub_repo", "main", "test", None),
    ("hub_repo", "audio", "test", None),
    ("hub_repo", None, "validation", {"validation": "raw/*.jsonl"}),
    ("hub_repo", None, "train", "raw/scores.csv"),
    ("hub_repo", None, "train", ["**/*.csv"]),
    ("hub_repo_plain", None, "train", None),
    ("hub_repo_plain", None, "validation", None),
    # Refused: `test.csv` is in no split of the plain repository, `nope` is no config.
    ("hub_repo_plain", None, "test", None),
    ("hub_repo", "nope", "train", None),
]


def jsonable(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def run_case(base: Path, cache: Path, repo: str, name, split: str, data_files) -> dict:
    path = str(base / repo)
    case = {"repo": repo, "name": name, "split": split, "data_files": data_files}
    try:
        ds = datasets.load_dataset(path, name=name, split=split, data_files=data_files, cache_dir=str(cache))
    except ValueError as e:
        # Only the first line: later ones show `datasets`' own usage hints.
        return {**case, "error": str(e).splitlines()[0]}
    builder = datasets.load_dataset_builder(path, name=name, data_files=data_files, cache_dir=str(cache))
    resolved = builder.config.data_files[split]
    files = [Path(f).resolve().relative_to((base / repo).resolve()).as_posix() for f in resolved]
    rows = [jsonable(row) for row in ds]
    return {**case, "files": files, "rows": rows}


def build(repos_dir: Path | None = None) -> dict:
    """Writes the repositories (into `repos_dir`, or a temporary copy) and records the cases."""
    with tempfile.TemporaryDirectory(prefix="hub-reference-") as tmp:
        base = Path(tmp) / "repos"
        write_repos(base)
        cases = [run_case(base, Path(tmp) / "cache", *case) for case in CASES]
        if repos_dir is not None:
            for repo in REPOS:
                shutil.rmtree(repos_dir / repo, ignore_errors=True)
                shutil.copytree(base / repo, repos_dir / repo)
    return {
        "generated_by": "tests/reference/make_hub_reference.py",
        "datasets": datasets.__version__,
        "pyarrow": pa.__version__,
        "cases": cases,
    }


def render(data: dict) -> str:
    """One case per line (ASCII-only JSON), so a changed case shows as a one-line diff."""
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = [json.dumps(case, sort_keys=False) for case in data["cases"]]
    header = json.dumps(head, sort_keys=True)[:-1]
    return header + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(render(build(FIXTURES)))
    print(f"wrote {REFERENCE.relative_to(ROOT)} and {', '.join(REPOS)}", file=sys.stderr)


if __name__ == "__main__":
    main()
