"""Raw against seasonally adjusted SPC on the bundled Met major panel: how many step changes each declares
over the whole history, and how many of them start in the same calendar month
as another step change of the same series in another year, the mark of a season read as a signal, beside how
many would by chance.

Run: python benchmarks/bench_adjust.py
"""

from dataclasses import replace

import pandas as pd

from forecast.io import datasets
from forecast.control import xmr as spc
from timing import Clock, conditions


def recurring(starts: list[pd.Period]) -> int:
    """Step changes that start in the same calendar month as another one of the series in a different year."""
    return sum(any(a.month == b.month and a.year != b.year for b in starts) for a in starts)


def by_chance(n: int) -> float:
    """Expected :func:`recurring` of ``n`` step changes whose months fall at random (in different years)."""
    return n * (1 - (11 / 12) ** (n - 1)) if n > 1 else 0.0


def tally(results: list[spc.SPCResult]) -> dict:
    changes = [r.step_changes.loc[~r.step_changes["manual"].astype(bool)] for r in results]
    starts = [list(c["month"]) for c in changes]
    return {"series": len(results), "step changes": sum(len(c) for c in changes),
            "series with one or more": sum(len(c) > 0 for c in changes),
            "same calendar month as another": sum(recurring(s) for s in starts),
            "  expected by chance": round(sum(by_chance(len(s)) for s in starts)),
            "months": {m: sum(1 for s in starts for p in s if p.month == m) for m in range(1, 13)}}


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    series = [(k, y) for k, y in panel.iter_series() if y.mean() >= spc.MIN_MEAN]
    rows = {}
    for adjust in ("none", "seasonal"):
        options = replace(spc.SPCOptions(), adjust=adjust)
        with Clock() as clock:
            results = [spc.analyse(y, *k, options=options) for k, y in series]
        rows[adjust] = tally(results)
        print(f"{adjust:>8}: {clock}")
    print(f"\nMet major, {len(series)} series with 5 or more crimes a month on average, 2008-01..2018-12, run of 8, "
          "baseline 12:")
    print(f"{'':32}{'raw':>10}{'adjusted':>10}")
    for key in ("step changes", "series with one or more", "same calendar month as another", "  expected by chance"):
        print(f"{key:32}{rows['none'][key]:>10}{rows['seasonal'][key]:>10}")
    print("\nstep changes starting in each calendar month (raw / adjusted):")
    print("  ".join(f"{pd.Period(f'2000-{m:02d}', 'M').strftime('%b')} {rows['none']['months'][m]}/"
                    f"{rows['seasonal']['months'][m]}" for m in range(1, 13)))


if __name__ == "__main__":
    main()
