"""Full-panel accuracy: every Met borough x major-category series, last 96 months, 4 origins x 3 months, step 3.

Run: python benchmarks/bench_backtest.py [MODELS]   (default: all families, sarima included)
Prints the per-model table of `forecast backtest` (with `auto`, the nested model choice: at each origin the
family with the lowest mean MASE over the earlier origins, the ensemble at the first), and wall and CPU time.
"""

import sys

from timing import conditions, run_forecast


def main() -> None:
    models = sys.argv[1] if len(sys.argv) > 1 else "all"
    print(conditions())
    result = run_forecast("backtest", "--data", "met-major", "--last", "96", "--models", models, "--origins", "4",
                          "--horizon", "3", "--step", "3", "--min-months", "36", "-o", "out/bench_backtest.csv",
                          "--no-track")
    print(result.stdout)
    print(result.line(f"forecast backtest, {models} models"))
    if result.returncode:
        print(result.stderr)
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
