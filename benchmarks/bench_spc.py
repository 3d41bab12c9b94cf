"""Time `forecast spc` over every series of the bundled met-major data (with force totals and All crime).

Run: python benchmarks/bench_spc.py
"""

import time

from click.testing import CliRunner

from forecast import datasets, spc
from forecast.cli import cli


def main() -> None:
    panel = datasets.load("met-major").with_totals()
    start = time.perf_counter()
    results = spc.analyse_panel(panel.iter_series())
    core = time.perf_counter() - start
    changes = sum(len(r.step_changes) for r in results)
    print(f"spc core: {len(results)} series, {changes} step changes, {core:.2f} s")
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["spc", "--format", "json"])
    assert result.exit_code == 0, result.output
    print(f"forecast spc --format json (load + totals + SPC + JSON), all series: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
