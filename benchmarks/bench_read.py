"""How long reading the full Met file (139k rows) into a validated panel takes. Run: python benchmarks/bench_read.py"""

from pathlib import Path

from forecast.io.load import load_panel
from timing import Clock, conditions

MET = Path(__file__).resolve().parents[1] / "tests" / "data" / "met_borough_monthly_2008_2018.csv.gz"


def main(repeats: int = 5) -> None:
    print(conditions())
    clocks = []
    for _ in range(repeats):
        with Clock() as clock:
            panel = load_panel(MET)
        clocks.append(clock)
    clocks.sort(key=lambda c: c.wall)
    print(f"read + validate {MET.name}: {len(panel.frame):,} rows, {len(panel.keys()):,} series")
    print(f"best {clocks[0]}; median {clocks[len(clocks) // 2]} over {repeats} runs")


if __name__ == "__main__":
    main()
