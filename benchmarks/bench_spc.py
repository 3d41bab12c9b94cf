"""Time `forecast spc` over every series of the bundled met-major data (with force totals and All crime): the SPC
core in this process (a first pass, then the best of 5, per series), and the command as a fresh process.

Run: python benchmarks/bench_spc.py
"""

from forecast.io import datasets
from forecast.control import xmr as spc
from timing import Clock, best_of, conditions, run_forecast


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    series = list(panel.iter_series())
    with Clock() as clock:
        results = spc.analyse_panel(series)
    changes = sum(len(r.step_changes) for r in results)
    print(f"spc core: {len(results)} series, {changes} step changes, {clock} (the first pass)")
    best = best_of(lambda: spc.analyse_panel(series), 5)
    print(f"  then the best of 5 passes: {best}; {best.cpu / len(series) * 1000:.3f} ms of CPU a series")
    result = run_forecast("spc", "--format", "json")
    assert result.returncode == 0, result.stderr
    print(result.line("forecast spc --format json (start, load, totals, SPC, JSON), all series"))


if __name__ == "__main__":
    main()
