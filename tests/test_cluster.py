"""The fits on a Dask cluster (forecast.engine.cluster): the same numbers as local processes."""

import pandas as pd

import forecast.engine.backtest as bt

ARGS = ["backtest", "--data", "city-of-london", "--crime", "burglary", "--models", "snaive,theta,global",
        "--origins", "1", "--no-track"]


def test_a_local_dask_cluster_gives_the_same_forecasts_as_local_processes(tmp_path, invoke, monkeypatch):
    # the global model is trained on the cluster too, not reused from this process or the disk
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(tmp_path / "local-models"))
    local = invoke(*ARGS, "-o", tmp_path / "local.csv")
    assert local.exit_code == 0, local.output
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(tmp_path / "dask-models"))
    remote = invoke(*ARGS, "--workers", "2", "-o", tmp_path / "dask.csv")
    assert remote.exit_code == 0, remote.output
    assert "fitting on a local Dask cluster of 2 workers (2 workers connected)" in remote.stderr
    a, b = (pd.read_csv(tmp_path / f"{name}.csv") for name in ("local", "dask"))
    assert len(a) == 6 * 3 * 4 and set(a["model"]) == {"snaive", "theta", "global", "auto"}
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path, invoke, monkeypatch):
    import forecast.engine.cluster

    monkeypatch.setattr(forecast.engine.cluster, "CONNECT_TIMEOUT", "1s")
    result = invoke(*ARGS, "--scheduler", "tcp://127.0.0.1:9", "-o", tmp_path / "x.csv")
    assert result.exit_code != 0
    assert result.stderr.startswith("Error: --scheduler tcp://127.0.0.1:9: no Dask scheduler answered (Timed out trying to connect to tcp://127.0.0.1:9 after 1 s)")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.csv").exists()


def test_a_cluster_of_one_worker_does_the_fits_itself():
    """joblib's Dask backend runs every task in the calling process when the cluster has one worker thread; the
    fits must go to the worker all the same."""
    from dask.distributed import get_client

    from forecast.io import datasets
    from forecast.engine.cluster import connected, fitting_on

    panel = datasets.load("city-of-london").select(crime="Burglary")
    series = {k: panel.series(*k) for k in panel.keys()}
    with connected(workers=1) as where, fitting_on(where):
        done = bt.run_parallel(bt.forecast_series, series.items(), bt.BacktestSettings(origins=1, models=("snaive",)),
                               "snaive")
        executed = get_client().run(lambda dask_worker: dask_worker.state.executed_count)
    assert [(f.crime_type, f.area) for f in done] == list(series)
    assert len(series) == 6 and list(executed.values()) == [6]



def test_the_sparse_series_batches_go_to_the_cluster_and_come_back_the_same():
    """`run` sends a neighbourhood panel's sparse series in batches (forecast.engine.batch); on a cluster each batch
    is one task, and its series come back with the frames, paths and decomposition a local job gives."""
    import numpy as np
    from dask.distributed import get_client

    from forecast.engine.cluster import connected, fitting_on
    from forecast.io import datasets
    from forecast.jobs.run import fit_sparse_series

    items = list(datasets.load("city-of-london-lsoa").select(crime="Robbery").iter_series())[:12]
    plan = bt.BacktestSettings(models=("snaive", "sparse"))
    local = bt.run_batches(fit_sparse_series, items, 3, 200, 0, plan, n_jobs=1)
    with connected(workers=1) as where, fitting_on(where):
        done = bt.run_batches(fit_sparse_series, items, 3, 200, 0, plan)
        executed = get_client().run(lambda dask_worker: dask_worker.state.executed_count)
    assert list(executed.values()) == [4]       # 12 series in 4 tasks of 3 (about four a worker process)
    for a, b in zip(local, done):
        for name in ("predictions", "metrics", "forecast"):
            pd.testing.assert_frame_equal(getattr(a.forecast, name), getattr(b.forecast, name), check_exact=True)
        assert np.array_equal(a.paths, b.paths) and a.decomposition.components.equals(b.decomposition.components)
    assert [(f.crime_type, f.area) for f in done] == [key for key, _ in items]

#: run in a fresh process, so that no pool of workers exists yet: which of its workers have the SPC rules imported
#: when the first tasks reach them, after a large input was read with (warm) or without (cold) started_while
FIRST_TASKS = """
import sys
from joblib import Parallel, delayed
from forecast.engine import workers
workers.WARM_BYTES = 1000
n_jobs = 2 if sys.argv[2] == "warm" else 1
with workers.started_while([sys.argv[1]], n_jobs=n_jobs):
    pass
print(Parallel(n_jobs=2)(delayed(lambda: "forecast.control.xmr" in sys.modules)() for _ in range(6)))
"""


def test_the_workers_start_while_a_large_input_is_read(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "panel.csv"
    path.write_text("month,count\n" + "2020-01,1\n" * 200)
    found = {how: subprocess.run([sys.executable, "-c", FIRST_TASKS, str(path), how], capture_output=True, text=True,
                                 check=True).stdout.strip() for how in ("warm", "cold")}
    assert found == {"warm": str([True] * 6), "cold": str([False] * 6)}


def test_no_workers_start_for_a_small_input_or_one_job(tmp_path, monkeypatch):
    import threading

    from forecast.engine import workers

    path = tmp_path / "panel.csv"
    path.write_text("month,count\n" + "2020-01,1\n" * 200)
    starting = lambda: any(t.name == "forecast-workers" for t in threading.enumerate())  # noqa: E731
    with workers.started_while([path], n_jobs=2):
        assert not starting()  # 2 KB: read in no time
    monkeypatch.setattr(workers, "WARM_BYTES", 1000)
    with workers.started_while([path], n_jobs=1):
        assert not starting()
    with workers.started_while([tmp_path / "missing.csv"], n_jobs=2):
        assert not starting()
    with workers.started_while([path], n_jobs=2):
        assert starting()
    assert not starting()  # ready on leaving


def _echo(key, y, horizon, plan, given=None) -> bt.SeriesForecast:
    out = bt.SeriesForecast(*key, pd.DataFrame(), pd.DataFrame())
    out.notes += [str(horizon), repr(plan), repr(given), str(len(y))]
    return out


def test_each_series_is_sent_its_own_entry_of_each_mapping_in_input_order():
    """A run sends each series its plan and its global forecast, never the mappings of every series: those grow
    with the panel, and a panel of 35,000 series spent 36 ms a job pickling its plans."""
    series = {("Burglary", area): pd.Series(range(n), dtype=float) for area, n in (("B", 5), ("A", 6), ("C", 7))}
    plans = {key: (f"settings of {key[1]}", "sparse") for key in series}
    done = bt.run_parallel(_echo, series.items(), 3, n_jobs=2, plan=plans, given={("Burglary", "A"): "its forecast"})
    assert [(f.area, f.notes) for f in done] == [
        ("B", ["3", "('settings of B', 'sparse')", "None", "5"]),
        ("A", ["3", "('settings of A', 'sparse')", "'its forecast'", "6"]),
        ("C", ["3", "('settings of C', 'sparse')", "None", "7"])]
