"""The committed McNemar fixture is what statsmodels computes: rebuild it in memory and
compare byte for byte."""

from __future__ import annotations

import json

import pytest
from scipy import stats

import make_mcnemar_reference as ref


def test_fixture_matches_statsmodels():
    assert ref.FIXTURE.read_text() == ref.render(ref.build())


def test_fixture_covers_the_hard_cases():
    cases = json.loads(ref.FIXTURE.read_text())["cases"]
    pairs = {(c["b"], c["c"]) for c in cases}
    for required in [(0, 0), (0, 5), (5, 5), (3, 17), (40, 60), (500, 560), (10000, 10250), (0, 1000)]:
        assert required in pairs
    assert max(c["b"] + c["c"] for c in cases) >= 1_000_000, "a million discordant pairs"
    assert any(0 < c["exact_pvalue"] < 1e-300 for c in cases), "a p-value near underflow"
    assert any(c["exact_pvalue"] == 0 for c in cases), "an underflowing p-value"
    assert any(c["b"] == c["c"] > 0 for c in cases), "equal counts"


@pytest.mark.parametrize("b, c", [(3, 17), (40, 60), (10000, 10250)])
def test_the_formulas_the_docs_state(b, c):
    # What Assay's doc comments say statsmodels computes.
    case = ref.case(b, c)
    assert case["exact_pvalue"] == min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5))
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert case["chi2_statistic"] == pytest.approx(statistic, rel=1e-15)
    assert case["chi2_pvalue"] == pytest.approx(stats.chi2.sf(statistic, 1), rel=1e-15)


def test_no_discordant_pair():
    # statsmodels' chi-square branch divides by zero: an infinite statistic, p = 0.
    case = ref.case(0, 0)
    assert case["exact_pvalue"] == 1.0
    assert case["chi2_statistic"] is None and case["chi2_pvalue"] == 0.0
