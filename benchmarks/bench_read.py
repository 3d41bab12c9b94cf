"""How long reading the full Met file (139k rows) into a validated panel takes. Run: python benchmarks/bench_read.py"""

import time
from pathlib import Path

from forecast.load import load_panel

MET = Path(__file__).resolve().parents[1] / "tests" / "data" / "met_borough_monthly_2008_2018.csv.gz"


def main(repeats: int = 5) -> None:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        panel = load_panel(MET)
        times.append(time.perf_counter() - start)
    print(f"read + validate {MET.name}: {len(panel.frame):,} rows, {len(panel.keys()):,} series")
    print(f"best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s over {repeats} runs")


if __name__ == "__main__":
    main()
