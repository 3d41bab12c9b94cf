"""`forecast run --crime robbery` on the bundled data: wall time untracked and tracked (MLflow overhead).

Run: python benchmarks/bench_run.py [REPEATS]
Each run is a fresh process, as a planner would start it. The store is created first by one
untimed tracked run (creating a new SQLite store, a one-off, costs about 2.5 s more; that first
run's time is printed too); then untracked and tracked runs alternate.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "forecast", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main(repeats: int = 3) -> None:
    plain, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        first = timed(["run", "--crime", "robbery", "--out", f"{tmp}/first"], tmp)
        for _ in range(repeats):
            plain.append(timed(["run", "--crime", "robbery", "--no-track", "--out", f"{tmp}/plain"], tmp))
            tracked.append(timed(["run", "--crime", "robbery", "--out", f"{tmp}/tracked"], tmp))
        size = Path(tmp, "mlruns", "mlflow.db").stat().st_size / 1e6
    p, t = statistics.median(plain), statistics.median(tracked)
    print(f"forecast run --crime robbery (34 series: backtest, forecast, outlook, charts, report), median of {repeats}:")
    print(f"  untracked {p:.1f} s   runs: {', '.join(f'{x:.1f}' for x in plain)}")
    print(f"  tracked   {t:.1f} s   runs: {', '.join(f'{x:.1f}' for x in tracked)}")
    print(f"  MLflow overhead {t - p:+.1f} s ({(t / p - 1) * 100:+.1f}%); first run on a new store {first:.1f} s; "
          f"store {size:.1f} MB after {repeats + 1} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
