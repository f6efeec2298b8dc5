"""Builds the McNemar reference fixture with Python statsmodels.

Assay's `assay_scoring::paired::mcnemar(b_only, a_only)` tests two runs' 0/1 scores on the
same samples from the discordant counts b (only run b right) and c (only run a right). This
script computes, for a spread of (b, c) — none, a few, equal, lopsided, hundreds, tens of
thousands and a million discordant pairs, p-values from 1 down to ~1e-301 and underflowing
to 0 — the two p-values of `statsmodels.stats.contingency_tables.mcnemar` on the table
[[0, b], [c, 0]]:

- `exact=True`: statistic min(b, c), p = min(1, 2 * scipy.stats.binom.cdf(min(b, c), b + c, 0.5));
- `exact=False, correction=True`: statistic (|b - c| - 1)^2 / (b + c), p = chi2(1).sf(statistic);

and writes `crates/assay-scoring/tests/fixtures/mcnemar_reference.json`.
`crates/assay-scoring/tests/mcnemar_reference.rs` checks the Rust values against it, and
`test_mcnemar_reference.py` checks that the committed fixture is what this script writes.

    python tests/reference/make_mcnemar_reference.py   # rewrites the fixture

With no discordant pair statsmodels divides by zero in the chi-square branch (a
RuntimeWarning) and reports an infinite statistic with p = 0; JSON has no infinity, so the
fixture writes that statistic as null (and keeps statsmodels' p = 0). Assay reports no
chi-square statistic there.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from importlib import metadata
from pathlib import Path

from statsmodels.stats.contingency_tables import mcnemar

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-scoring/tests/fixtures/mcnemar_reference.json"

# (b, c): b samples only run b got right, c samples only run a got right.
PAIRS = [
    (0, 0),
    (0, 1),
    (1, 1),
    (0, 5),
    (5, 0),
    (5, 5),
    (1, 4),
    (2, 9),
    (3, 17),
    (7, 3),
    (12, 30),
    (24, 26),
    (25, 25),
    (40, 60),
    (100, 130),
    (300, 200),
    (300, 700),
    (500, 560),
    (999, 1001),
    (10, 990),
    (0, 1000),
    (1000, 0),
    (1, 1000),
    (10000, 10250),
    (100000, 105000),
    (123456, 124567),
    (400000, 410000),
    (500000, 501000),
    (1000000, 998000),
    (1000000, 1000000),
    (0, 1000000),
]


def finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def case(b: int, c: int) -> dict:
    table = [[0, b], [c, 0]]
    exact = mcnemar(table, exact=True)
    with warnings.catch_warnings():
        # (0, 0): statsmodels divides by zero; the infinite statistic is written as null.
        warnings.simplefilter("ignore", RuntimeWarning)
        chi2 = mcnemar(table, exact=False, correction=True)
    return {
        "b": b,
        "c": c,
        "exact_statistic": float(exact.statistic),
        "exact_pvalue": float(exact.pvalue),
        "chi2_statistic": finite_or_none(chi2.statistic),
        "chi2_pvalue": float(chi2.pvalue),
    }


def build() -> dict:
    return {
        "generated_by": "tests/reference/make_mcnemar_reference.py",
        "statsmodels": metadata.version("statsmodels"),
        "scipy": metadata.version("scipy"),
        "numpy": metadata.version("numpy"),
        "function": "statsmodels.stats.contingency_tables.mcnemar([[0, b], [c, 0]], ...)",
        "cases": [case(b, c) for b, c in PAIRS],
    }


def render(data: dict) -> str:
    """One case per line, so a changed value shows as a one-line diff."""
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = [json.dumps(case, sort_keys=True, allow_nan=False) for case in data["cases"]]
    header = json.dumps(head, sort_keys=True)[:-1]
    return header + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(render(build()))
    print(f"wrote {FIXTURE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
