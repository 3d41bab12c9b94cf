"""Full-panel accuracy: every Met borough x major-category series, last 96 months, 4 origins x 3 months, step 3.

Run: python benchmarks/bench_backtest.py [MODELS] [--members NAMES]   (default: all families, sarima included;
     the ensemble's default members)
Prints the per-model table of `forecast backtest` (with `auto`, the nested model choice: at each origin the
family with the lowest mean MASE over the earlier origins, the ensemble at the first), and wall and CPU time.
"""

import sys

from timing import conditions, run_forecast


def main() -> None:
    args = sys.argv[1:]
    members = args[args.index("--members") + 1:args.index("--members") + 2] if "--members" in args else []
    models = next((a for a in args if not a.startswith("--") and a not in members), "all")
    print(conditions())
    result = run_forecast("backtest", "--data", "met-major", "--last", "96", "--models", models, "--origins", "4",
                          "--horizon", "3", "--step", "3", "--min-months", "36", "-o", "out/bench_backtest.csv",
                          "--no-track", *(["--members", *members] if members else []))
    print(result.stdout)
    print(result.line(f"forecast backtest, {models} models" + (f", the ensemble of {members[0]}" if members else "")))
    if result.returncode:
        print(result.stderr)
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
