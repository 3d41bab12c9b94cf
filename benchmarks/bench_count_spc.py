"""Count charts against XmR rules on the bundled City of London LSOA panel: of its low-count series (current
process average under 5 crimes a month), how many get the Poisson c-chart and how many Laney's, and how many step
changes the count charts declare where the XmR rules (min_mean 0) would declare.

Run: python benchmarks/bench_count_spc.py
"""

from collections import Counter

from forecast.control import xmr as spc
from forecast.io import datasets
from timing import Clock, conditions


def main() -> None:
    print(conditions())
    panel = datasets.load("city-of-london-lsoa")
    series = list(panel.iter_series())
    with Clock() as counted:
        results = [spc.analyse(y, *k) for k, y in series]
    low = [(r, y) for r, (k, y) in zip(results, series) if spc.is_low_count(r)]
    with Clock() as xmr:
        as_xmr = [spc.analyse(y, r.crime_type, r.area, options=spc.SPCOptions(min_mean=0)) for r, y in low]
    charts = Counter(r.chart.kind for r, _ in low)
    auto = lambda r: int((~r.step_changes["manual"].astype(bool)).sum()) if len(r.step_changes) else 0
    print(f"count charts: {counted} for {len(series)} series; XmR rules again on the low ones: {xmr}")
    print(f"City of London LSOA, {len(series)} series, {len(low)} low-count: {charts.get('c', 0)} c-chart, "
          f"{charts.get('laney', 0)} Laney; step changes declared: {sum(auto(r) for r, _ in low)} by the count "
          f"charts, {sum(auto(r) for r in as_xmr)} by the XmR rules")


if __name__ == "__main__":
    main()
