"""The charts a run draws, timed in this process: one series' SPC chart with its forecast fan, and the small
multiples of a full page (60 panels), each drawn and saved as the run saves them (PNG, 150 dpi, 256 colours).

The panels are the first 60 series of the bundled met-minor data, analysed by the SPC core and forecast by the
seasonal naive (drawing, not fitting, is timed). Each figure: a first pass (fonts and caches warm up), then the
best of 3 passes, CPU beside wall and the reference workload.

Run: python benchmarks/bench_charts.py
"""

import tempfile
from pathlib import Path

from forecast.control import xmr as spc
from forecast.io import datasets
from forecast.models import make
from forecast.present import plots
from timing import Clock, best_of, conditions


def warm_then_best(draw) -> Clock:
    """A first pass (fonts and caches warm up), then the best of 3."""
    draw()
    return best_of(draw, 3)


def main() -> None:
    import forecast

    print(conditions())
    print(f"package: {Path(forecast.__file__).parent}")
    series = list(datasets.load("met-minor").iter_series())[:plots.MAX_MULTIPLES]
    results = spc.analyse_panel(series)
    forecasts = [make("snaive").fit(y).predict(3) for _, y in series]
    panels = [(f"{r.crime_type} / {r.area}", r.points, f) for r, f in zip(results, forecasts)]
    with tempfile.TemporaryDirectory() as tmp:
        one = warm_then_best(lambda: plots.save(plots.spc_chart(results[0].points, forecasts[0], title="one series",
                                                         status=results[0].status, icon=results[0].icon,
                                                         caption="bench"), Path(tmp) / "one.png"))
        print(f"one series' SPC chart, drawn and saved: {one}")
        many = warm_then_best(lambda: plots.save(plots.small_multiples(panels, title="bench", caption="bench"),
                                          Path(tmp) / "multiples.png"))
        print(f"small multiples of {len(panels)} series, drawn and saved: {many}")


if __name__ == "__main__":
    main()
