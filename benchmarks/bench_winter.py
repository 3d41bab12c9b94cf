"""`forecast winter` on the whole bundled Met major panel (9 crime types, 33 areas, their force totals and All
crime: 340 series), planned from the data's last month (December 2018: the rest of winter 2018/19) and from
September 2018 (`--end 2018-09`: the whole winter, 5 months ahead).

Printed for each: wall and CPU time of the command (a fresh process, untracked), and the backtest of the past
winters, each forecast from the same month of its year (one origin a year, every winter the data allows), per
model beside the seasonal naive ("last winter's months"): MASE of the forecast months, mean and median absolute
error of the winter total in %, and how often the total's 80% and 95% intervals (from sample paths) held it.

Run: python benchmarks/bench_winter.py [END ...]   (default: the last month, then 2018-09)
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

from timing import conditions, run_forecast


def main(ends) -> None:
    print(conditions())
    with tempfile.TemporaryDirectory() as tmp:
        for end in ends:
            out = Path(tmp) / (end or "last")
            args = ["winter", "--no-track", "--out", str(out), *(["--end", end] if end else [])]
            timed = run_forecast(*args, cwd=tmp)
            assert timed.returncode == 0, timed.stderr
            print()
            print(timed.stdout.splitlines()[0])
            print(timed.line(f"forecast {' '.join(args[:1] + args[4:])} (340 series)"))
            kept = Path("out") / f"bench_winter-{end or 'last'}.txt"
            kept.parent.mkdir(exist_ok=True)
            kept.write_text(timed.stdout)
            print(f"  its output: {kept}")
            summary = pd.read_csv(out / "backtest_summary.csv")
            for level, rows in summary.groupby("level", sort=False):
                print(f"  {level}: {rows['series'].iloc[0]} series, {rows['winters'].max()} series x winters")
                print("  model                 MASE  mean |error| %  median |error| %  80% held  95% held")
                for r in rows.itertuples():
                    print(f"  {r.model:<20} {r.mase:5.3f}  {r.error_pct:14.1f}  {r.median_error_pct:16.1f}  "
                          f"{r.coverage_80:8.1%}  {r.coverage_95:8.1%}")


if __name__ == "__main__":
    main(sys.argv[1:] or [None, "2018-09"])
