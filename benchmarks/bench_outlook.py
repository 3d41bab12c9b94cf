"""Step-change outlook: its cost inside `forecast run`, and its calibration on the Met major-category series.

Run: python benchmarks/bench_outlook.py [--skip-evaluation]
"""

import sys
import time

from click.testing import CliRunner

from forecast import datasets
from forecast.cli import cli
from forecast.outlook import run_outlooks
from forecast.run import run_forecast


def main() -> None:
    panel = datasets.load("met-major").with_totals()
    result = run_forecast(panel, "Robbery", n_paths=0)
    start = time.perf_counter()
    outlooks = run_outlooks(result, n_paths=2000, seed=0)
    print(f"outlook for {len(outlooks)} Robbery series x 2000 paths: {time.perf_counter() - start:.2f} s added to run")
    if "--skip-evaluation" in sys.argv:
        return
    start = time.perf_counter()
    out = CliRunner().invoke(cli, ["outlook", "--evaluate", "--data", "met-major", "--paths", "1000"])
    print(out.stdout)
    print(f"evaluation wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
