"""The committed Hugging Face dataset fixtures are what `make_hub_reference.py` writes: rebuild
the repositories and the `datasets` reference in a temporary directory and compare every file
byte for byte (and that no other file is there)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import make_hub_reference as ref


def files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_fixture_is_what_datasets_reads():
    with tempfile.TemporaryDirectory() as tmp:
        built = ref.render(ref.build(Path(tmp)))
        assert ref.REFERENCE.read_text() == built
        for repo in ref.REPOS:
            rebuilt = files_under(Path(tmp) / repo)
            committed = files_under(ref.FIXTURES / repo)
            assert sorted(committed) == sorted(rebuilt), repo
            for path, data in rebuilt.items():
                assert committed[path] == data, f"{repo}/{path}"


def test_fixture_covers_the_selection_and_type_cases():
    cases = json.loads(ref.REFERENCE.read_text())["cases"]
    by_key = {(c["repo"], c["name"], c["split"], json.dumps(c["data_files"])): c for c in cases}
    train = by_key[("hub_repo", None, "train", "null")]
    assert train["files"] == ["data/main/train-0.parquet", "data/main/train-1.parquet"]
    row = train["rows"][2]
    assert isinstance(row["meta"], dict) and isinstance(row["steps"][0], dict)
    assert any(r["score"] is None for r in train["rows"]), "nulls and a NaN"
    audio = by_key[("hub_repo", "audio", "test", "null")]["rows"][0]["audio"]
    assert set(audio) == {"bytes", "path"} and audio["path"] == "clip_0.wav"
    assert any("error" in c for c in cases)
    assert sum(1 for f in (ref.FIXTURES / "hub_repo").rglob("*.parquet")) >= 4
    size = sum(p.stat().st_size for p in ref.FIXTURES.rglob("*") if p.is_file())
    assert size < 200_000, size
