"""The committed Harbor job fixture is what Harbor's own models write: rebuild it in memory and
compare every file byte for byte (and that no other file is there)."""

from __future__ import annotations

import json

import make_harbor_job as ref


def committed() -> dict[str, str]:
    return {
        path.relative_to(ref.FIXTURE).as_posix(): path.read_text()
        for path in sorted(ref.FIXTURE.rglob("*"))
        if path.is_file()
    }


def test_fixture_is_what_harbor_writes():
    built = ref.build()
    on_disk = committed()
    assert sorted(on_disk) == sorted(built)
    for path, text in built.items():
        assert on_disk[path] == text, path


def test_fixture_covers_the_import_cases():
    results = {
        path: json.loads(text)
        for path, text in ref.build().items()
        if path.endswith("/result.json")
    }
    assert len(results) == 6
    by_trial = {r["trial_name"]: r for r in results.values()}
    timeout = by_trial["fix-bug__Pq8Zs1c"]
    assert timeout["exception_info"]["exception_type"] == "AgentTimeoutError"
    assert timeout["verifier_result"]["rewards"] == {"reward": 0.5}
    assert by_trial["fix-bug__Bn4Vc6d"]["verifier_result"] is None
    assert by_trial["write-docs__Md7Kp3f"]["reward_valid"] is False
    costs = [r["agent_result"]["cost_usd"] for r in results.values() if r["agent_result"]]
    assert None in costs and any(c is not None for c in costs)
