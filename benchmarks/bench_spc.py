"""Time `forecast spc` over every series of the bundled met-major data (with force totals and All crime).

Run: python benchmarks/bench_spc.py
"""

from forecast.io import datasets
from forecast.control import xmr as spc
from timing import Clock, conditions, run_forecast


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    with Clock() as clock:
        results = spc.analyse_panel(panel.iter_series())
    changes = sum(len(r.step_changes) for r in results)
    print(f"spc core: {len(results)} series, {changes} step changes, {clock}")
    result = run_forecast("spc", "--format", "json")
    assert result.returncode == 0, result.stderr
    print(result.line("forecast spc --format json (start, load, totals, SPC, JSON), all series"))


if __name__ == "__main__":
    main()
