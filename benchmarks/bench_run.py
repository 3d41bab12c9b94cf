"""`forecast run --crime robbery` on the bundled data: wall and CPU time untracked and tracked (MLflow overhead).

Run: python benchmarks/bench_run.py [REPEATS]
Each run is a fresh process, as a planner would start it. The store is created first by one
untimed tracked run (creating a new SQLite store is a one-off; that first run's time is printed too);
then untracked and tracked runs alternate. CPU time counts the worker processes too. Each trains the global
model afresh; then REPEATS untracked runs read the models an untimed one kept on disk, as the next command on the
same data does (forecast/engine/model_store.py).
"""

import statistics
import sys
import tempfile
from pathlib import Path

from timing import conditions, in_reference, run_forecast


def main(repeats: int = 3) -> None:
    print(conditions())
    plain, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        first = run_forecast("run", "--crime", "robbery", "--out", f"{tmp}/first", cwd=tmp)
        assert first.returncode == 0, first.stderr
        for _ in range(repeats):
            plain.append(run_forecast("run", "--crime", "robbery", "--no-track", "--out", f"{tmp}/plain", cwd=tmp))
            tracked.append(run_forecast("run", "--crime", "robbery", "--out", f"{tmp}/tracked", cwd=tmp))
        size = Path(tmp, "mlruns", "mlflow.db").stat().st_size / 1e6
        kept = f"{tmp}/models"
        assert run_forecast("run", "--crime", "robbery", "--no-track", "--out", f"{tmp}/keep", cwd=tmp,
                            models=kept).returncode == 0
        again = [run_forecast("run", "--crime", "robbery", "--no-track", "--out", f"{tmp}/again", cwd=tmp, models=kept)
                 for _ in range(repeats)]
        same = all(Path(tmp, "plain", f).read_bytes() == Path(tmp, "again", f).read_bytes()
                   for f in ("forecast.csv", "backtest.csv", "summary.csv", "sentences.txt"))
    p, t = (statistics.median(r.wall for r in runs) for runs in (plain, tracked))
    pc, tc = (statistics.median(r.cpu for r in runs) for runs in (plain, tracked))
    print(f"forecast run --crime robbery (34 series: backtest, forecast, outlook, charts, report), median of {repeats}:")
    print(f"  untracked wall {p:.1f} s, CPU {pc:.1f} s ({in_reference(pc)})   runs: {', '.join(f'{r.wall:.1f}' for r in plain)}")
    print(f"  tracked   wall {t:.1f} s, CPU {tc:.1f} s ({in_reference(tc)})   runs: {', '.join(f'{r.wall:.1f}' for r in tracked)}")
    a, ac = statistics.median(r.wall for r in again), statistics.median(r.cpu for r in again)
    print(f"  untracked, the global models read from disk: wall {a:.1f} s, CPU {ac:.1f} s ({in_reference(ac)})   runs: "
          f"{', '.join(f'{r.wall:.1f}' for r in again)}; outputs {'byte-identical' if same else 'DIFFERENT'}")
    print(f"  MLflow overhead {t - p:+.1f} s ({(t / p - 1) * 100:+.1f}%); first run on a new store {first.wall:.1f} s; "
          f"store {size:.1f} MB after {repeats + 1} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
