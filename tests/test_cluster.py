"""The fits on a Dask cluster (forecast.engine.cluster): the same numbers as local processes."""

import pandas as pd

import forecast.engine.backtest as bt

ARGS = ["backtest", "--data", "city-of-london", "--crime", "burglary", "--models", "snaive,theta,global",
        "--origins", "1", "--no-track"]


def test_a_local_dask_cluster_gives_the_same_forecasts_as_local_processes(tmp_path, invoke, monkeypatch):
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())  # the global model is trained on the cluster too, not reused
    local = invoke(*ARGS, "-o", tmp_path / "local.csv")
    assert local.exit_code == 0, local.output
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())
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
