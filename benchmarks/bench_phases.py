"""Where the CPU of one `forecast run` goes, phase by phase: the global model, the series' fits, the charts and the
rest of the run's own work, each with the CPU of the run's process and of its worker processes.

The command is run in this process through the real command line (click's runner), untracked, in a temporary
folder, with its global models trained afresh (timing.py's model store). Each phase is one function of the
package, wrapped for the run to read the CPU time of this process and of its live workers (joblib's pool stays up
between phases, so a worker's CPU falls in the phase that gave it work) before and after each call:

- the global model: `forecast.jobs.run.panel_forecasts` (its trainings, `trained_models`, shown on their own too,
  and every series' forecasts from it);
- the fits: `forecast.engine.backtest.run_parallel` (each series' backtest, final fit, sample paths and seasonal
  decomposition, in the workers; the results received in this process), and `run_batches` for the series planned
  with `sparse` (the same, many series a job: forecast/engine/batch.py);
- reconciliation and the step-change outlook: `forecast.jobs.run.reconciled`, `forecast.engine.outlook.run_outlooks`;
- the charts: `forecast.present.plots.crime_charts` (series charts and small multiples, in the workers);
- the rest: reading and checking the data, SPC, the summary and sentences, the CSV files and report.

Run: python benchmarks/bench_phases.py [DATA] [CRIME]   (default met-major all; DATA a bundled name, a CSV, or
     lsoa:N for bench_sparse_run's panel of N synthetic neighbourhood series, written to a CSV first)
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import tempfile
from pathlib import Path

from timing import AllClock, conditions, cpu_with_workers, reference

#: (label, module, function), in the order a run reaches them; the second is inside the first
PHASES = (
    ("the global model: trainings and forecasts", "forecast.jobs.run", "panel_forecasts"),
    ("  of which its trainings", "forecast.engine.backtest", "trained_models"),
    ("the series' fits", "forecast.engine.backtest", "run_parallel"),
    ("the sparse series' fits, in batches", "forecast.engine.backtest", "run_batches"),
    ("reconciliation", "forecast.jobs.run", "reconciled"),
    ("step-change outlook", "forecast.engine.outlook", "run_outlooks"),
    ("charts", "forecast.present.plots", "crime_charts"),
)


def accounted(label: str, module: str, name: str, totals: dict) -> None:
    """Wrap ``module.name`` (and every module that imported it by name) to add each call's own CPU, its workers'
    CPU and its wall time to ``totals[label]``."""
    import time

    import psutil

    me = psutil.Process()
    original = getattr(importlib.import_module(module), name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        own, every, wall = me.cpu_times(), cpu_with_workers(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            after = me.cpu_times()
            used = (after.user + after.system) - (own.user + own.system)
            row = totals.setdefault(label, [0.0, 0.0, 0.0])
            row[0] += used
            row[1] += max(cpu_with_workers() - every - used, 0.0)
            row[2] += time.perf_counter() - wall

    for loaded in list(sys.modules.values()):
        if getattr(loaded, name, None) is original:
            setattr(loaded, name, wrapper)


def main() -> None:
    import pandas as pd
    from click.testing import CliRunner

    import forecast
    from forecast.cli import cli

    args = sys.argv[1:]
    data = args[0] if args else "met-major"
    crime = args[1] if len(args) > 1 else "all"
    data = str(Path(data).resolve()) if Path(data).exists() else data
    shown = data
    print(conditions())
    print(f"package: {Path(forecast.__file__).parent}")
    for module in {module for _, module, _ in PHASES}:
        importlib.import_module(module)
    totals: dict[str, list[float]] = {}
    for label, module, name in PHASES:
        accounted(label, module, name, totals)
    with tempfile.TemporaryDirectory() as tmp:
        if data.startswith("lsoa:"):
            from bench_sparse_scale import synthetic_panel

            frame = synthetic_panel(int(data.split(":", 1)[1])).frame
            data = str(Path(tmp) / "lsoa.csv")
            frame.assign(month=frame["month"].astype(str)).to_csv(data, index=False)
        here = os.getcwd()
        os.chdir(tmp)
        with AllClock() as whole:
            result = CliRunner().invoke(cli, ["run", "--data", data, "--crime", crime, "--no-track"])
        if result.exit_code:
            sys.exit(result.output[-2000:])
        index = "out/*/all/latest/summary.csv" if crime == "all" or "," in crime else "out/*/*/latest/summary.csv"
        series = len(pd.read_csv(next(Path(tmp).glob(index))))
        os.chdir(here)
    print(f"forecast run --data {shown} --crime {crime} --no-track, {series} series, in this "
          f"process: {whole}")
    print(f"{'phase':<44} {'wall s':>7} {'run CPU s':>10} {'workers CPU s':>14} {'CPU s':>7} {'share':>6}")
    inner = {label for label, *_ in PHASES if label.startswith(" ")}
    counted = 0.0
    for label, *_ in PHASES:
        own, workers, wall = totals.get(label, [0.0, 0.0, 0.0])
        if label not in inner:
            counted += own + workers
        print(f"{label:<44} {wall:>7.1f} {own:>10.1f} {workers:>14.1f} {own + workers:>7.1f} "
              f"{(own + workers) / whole.cpu:>6.1%}")
    rest = whole.cpu - counted
    print(f"{'the rest (data, SPC, summary, files, report)':<44} {'':>7} {'':>10} {'':>14} {rest:>7.1f} "
          f"{rest / whole.cpu:>6.1%}")
    print(f"CPU a series: {whole.cpu / series * 1000:.1f} ms ({whole.cpu / series / reference().cpu:.4f} x the "
          f"reference)")


if __name__ == "__main__":
    main()
