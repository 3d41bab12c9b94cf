"""Full-panel accuracy: every Met borough x major-category series, last 96 months, 4 origins x 3 months, step 3.

Run: python benchmarks/bench_backtest.py [MODELS]   (default: all families; sarima makes it take ~10 min)
Prints the per-model table of `forecast backtest` and its run time.
"""

import sys
import time

from click.testing import CliRunner

from forecast.cli import cli


def main() -> None:
    models = sys.argv[1] if len(sys.argv) > 1 else "all"
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["backtest", "--data", "met-major", "--last", "96", "--models", models,
                                      "--origins", "4", "--horizon", "3", "--step", "3", "--min-months", "36",
                                      "-o", "out/bench_backtest.csv", "--no-track"])
    print(result.stdout)
    print(f"wall time {time.perf_counter() - start:.1f} s")
    if result.exit_code:
        print(result.stderr)
        sys.exit(result.exit_code)


if __name__ == "__main__":
    main()
