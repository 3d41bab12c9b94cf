"""Step-change outlook: its cost inside `forecast run`, and its calibration on the Met major-category series.

Run: python benchmarks/bench_outlook.py [--skip-evaluation] [--adjust seasonal]
The evaluation replays, every 3 months of every series' history, exactly what `forecast outlook` does (the
default model, sample paths through the SPC rules) and scores it with the Brier score next to two baselines:
the base rate, and the run-length baseline (how often a run of that length was followed by a step change in
the other series). Prints wall and CPU time.
"""

import json
import sys
import time

from forecast.io import datasets
from forecast.engine.outlook import run_outlooks
from forecast.jobs.run import run_forecast
from timing import conditions, run_forecast as timed

def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    result = run_forecast(panel, "Robbery", n_paths=2000)
    start, cpu = time.perf_counter(), time.process_time()
    outlooks = run_outlooks(result, n_paths=2000)
    print(f"outlook for {len(outlooks)} Robbery series x 2000 paths: wall {time.perf_counter() - start:.2f} s, "
          f"CPU {time.process_time() - cpu:.2f} s added to run")
    if "--skip-evaluation" in sys.argv:
        return
    adjust = sys.argv[sys.argv.index("--adjust") + 1] if "--adjust" in sys.argv else "none"
    out = timed("outlook", "--evaluate", "--data", "met-major", "--paths", "1000", "--format", "json",
                "--adjust", adjust)
    if out.returncode:
        print(out.stderr)
        sys.exit(out.returncode)
    c = json.loads(out.stdout)
    print(f"replayed {c['series']} series, {c['quarters']} past quarters (model {c['model']}); "
          f"{c['base_rate']:.3f} of quarters brought a step change")
    print(f"  Brier base rate      {c['brier_base_rate']:.4f}")
    print(f"  Brier run length     {c['brier_run_length']:.4f}")
    print(f"  Brier outlook        {c['brier']:.4f}")
    print(f"  skill against the run-length baseline {c['skill_run_length']:+.3f}, against the base rate "
          f"{c['skill']:+.3f}")
    print("  reliability: " + "; ".join(f"{r['bin']}: n={r['n']} predicted {r['predicted']:.2f} observed "
                                         f"{r['observed']:.2f}" for r in c["reliability"]))
    print(out.line(f"forecast outlook --evaluate --adjust {adjust}"))

if __name__ == "__main__":
    main()
