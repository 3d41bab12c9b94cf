"""`forecast run --crime robbery` on the bundled data: wall time untracked and tracked (MLflow overhead).

Run: python benchmarks/bench_run.py [REPEATS]
Each run is a fresh process, as a planner would start it; the tracked runs write to a new SQLite store.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "forecast", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main(repeats: int = 2) -> None:
    plain, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            plain.append(timed(["run", "--crime", "robbery", "--no-track", "--out", f"{tmp}/plain"], tmp))
            tracked.append(timed(["run", "--crime", "robbery", "--out", f"{tmp}/tracked"], tmp))
        store = Path(tmp, "mlruns", "mlflow.db")
        size = store.stat().st_size / 1e6
    best_plain, best_tracked = min(plain), min(tracked)
    print(f"forecast run --crime robbery (34 series, backtest included), best of {repeats}:")
    print(f"  untracked {best_plain:.1f} s   runs: {', '.join(f'{t:.1f}' for t in plain)}")
    print(f"  tracked   {best_tracked:.1f} s   runs: {', '.join(f'{t:.1f}' for t in tracked)}")
    print(f"  MLflow overhead {best_tracked - best_plain:+.1f} s ({(best_tracked / best_plain - 1) * 100:+.1f}%); "
          f"store {size:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
