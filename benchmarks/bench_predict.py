"""The global model's predictions in the run's own process: on one OpenMP thread (forecast/threads.py) against the
threads OpenMP would use by default (one a core), with the same numbers.

A run predicts every series of a crime type from each cut-off's model in its own process. The model is trained
once here, on the first 1,000 series of bench_sparse_scale's synthetic panel of N (60 months), and then asked for
the next 3 months of all N series, and of a crime type's share of them (N/14), five times each (a run's 5
cut-offs): on one thread, then on OpenMP's default, the best of 3 passes of each, CPU (this process, OpenMP's
threads included) beside wall.

With --busy, other processes keep every core busy meanwhile (one a core, each a Python loop), as a run's fits, a second
run or the test suite's other process do: OpenMP's threads wait for each other by spinning, and that is where one
thread pays.

Run: python benchmarks/bench_predict.py [N] [--busy]   (default 5000, an otherwise idle machine)
"""

import contextlib
import os
import subprocess
import sys
import warnings

import numpy as np
from bench_sparse_scale import synthetic_panel
from threadpoolctl import threadpool_info

import forecast.models.gbm as gbm
from forecast.models import GlobalModel
from timing import best_of, conditions


def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    n = int(numbers[0]) if numbers else 5000
    print(conditions())
    series = dict(synthetic_panel(n).iter_series())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GlobalModel(horizon=3).fit(dict(list(series.items())[:1000]))
    threads = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"})
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)] \
        if "--busy" in sys.argv else []
    print(f"OpenMP's default here: {threads} threads; "
          f"{f'{len(busy)} other processes busy meanwhile' if busy else 'no other process busy'}")
    try:
        compare(model, series, n)
    finally:
        for process in busy:
            process.kill()
            process.wait()


def compare(model, series: dict, n: int) -> None:
    """Each way timed on all the series and on a crime type's share of them, and their forecasts compared."""
    limited = gbm.one_thread
    for label, keys in ((f"all {n} series", list(series)), (f"a crime type's {len(series) // 14}", list(series)[:n // 14])):
        asked = {k: series[k] for k in keys}
        forecasts, clocks = {}, {}
        for name, limit in (("one thread", limited), ("OpenMP's default", contextlib.nullcontext)):
            gbm.one_thread = limit

            def predict():
                for _ in range(5):
                    forecasts[name] = model.quantile_forecasts(asked, 3)

            predict()
            clocks[name] = best_of(predict, 3)
        gbm.one_thread = limited
        one, default = forecasts.values()
        same = all(np.array_equal(one[k], default[k]) for k in asked)
        print(f"{label}, 5 predictions of 3 months: " + "; ".join(f"{name} {clock}" for name, clock in clocks.items())
              + f"; the same numbers: {same}")


if __name__ == "__main__":
    main()
