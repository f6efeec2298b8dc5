"""The committed embedding-metric fixture is what scipy, scikit-learn and pytrec_eval
compute: rebuild it in memory and compare (numbers within 1e-9)."""

from __future__ import annotations

import json
import math

import make_embedding_reference as ref

TOLERANCE = 1e-9


def assert_same(expected, actual, path="$"):
    if isinstance(expected, bool) or isinstance(actual, bool):
        assert expected == actual, path
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        assert math.isfinite(actual), path
        assert abs(expected - actual) <= TOLERANCE, f"{path}: {expected} != {actual}"
    elif isinstance(expected, dict) and isinstance(actual, dict):
        assert sorted(expected) == sorted(actual), f"{path}: keys differ"
        for key in expected:
            assert_same(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        assert len(expected) == len(actual), f"{path}: lengths differ"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{path}[{i}]")
    else:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"


def test_fixture_matches_the_python_libraries():
    committed = json.loads(ref.FIXTURE.read_text())
    rebuilt = json.loads(ref.render(ref.build()))
    assert_same(committed, rebuilt)


def test_comparison_detects_a_change():
    data = json.loads(ref.render(ref.build()))
    changed = json.loads(json.dumps(data))
    changed["retrieval"]["runs"]["cosine"]["metrics"]["q0"]["ndcg_at_10"] += 1e-6
    try:
        assert_same(data, changed)
    except AssertionError:
        return
    raise AssertionError("a 1e-6 change went unnoticed")
