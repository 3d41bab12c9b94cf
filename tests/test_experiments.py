import pytest

from forecast.jobs.experiments import load_spec

from conftest import write


def test_shipped_specs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "experiments"
    comparison = load_spec(root / "model-comparison.toml")
    assert comparison.models == ("snaive", "stl-arima", "sarima", "ets", "theta", "ensemble")
    assert comparison.last_months == 96 and comparison.origins == 4
    winter = load_spec(root / "winter-demand.toml")
    assert (winter.end, winter.step, winter.horizon) == ("2018-12", 12, 3)


SMALL = """name = "tiny"
data = "met-major"
crime_types = ["drugs"]
areas = ["bexley", "sutton"]
models = ["snaive", "theta"]
min_months = 0

[backtest]
origins = 2
horizon = 3
step = 12
end = "2017-12"
"""


def test_compare_logs_one_run_per_model_with_the_same_metrics(tmp_path, invoke):
    import mlflow

    spec = write(tmp_path / "tiny.toml", SMALL)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    result = invoke("compare", spec, "--tracking-uri", uri, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("tiny: 2 series, origins 2016-09, 2017-09, horizon 3")
    board = [line.split() for line in result.stdout.splitlines() if line.split() and line.split()[0].isdigit()]
    assert sorted(row[1] for row in board) == ["auto", "snaive", "theta"]
    mases = [float(row[3]) for row in board]
    assert mases == sorted(mases)
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["forecast/compare/tiny"])
    assert sorted(runs["params.model"]) == ["auto", "snaive", "theta"]
    for column in ("metrics.mase", "metrics.smape", "metrics.coverage_80", "metrics.coverage_95"):
        assert runs[column].notna().all()
    assert set(runs["params.end"]) == {"2017-12"}
    # each run lasts as long as the comparison that produced it, not the moment it took to record
    took = float(result.stdout.splitlines()[0].rsplit("; ", 1)[1].split()[0])
    assert ((runs["end_time"] - runs["start_time"]).dt.total_seconds() >= took - 0.1).all()


@pytest.mark.parametrize("text,message", [
    ('name = "x"\nmodels = ["prophet"]\n', "key 'models': 'prophet' is not a model family"),
    ('name = "x"\n[backtest]\norigins = "four"\n', "key 'backtest.origins' must be a whole number, got 'four'"),
    ('name = "x"\ncolour = "red"\n', "unknown key 'colour'"),
    ('data = "met-major"\n', "key 'name' is required"),
    ('name = "x"\n[backtest]\nend = "autumn"\n', "key 'backtest.end' must be a month (YYYY-MM), got 'autumn'"),
    ('name = x\n', "not valid TOML"),
])
def test_malformed_spec_names_the_key(tmp_path, invoke, text, message):
    spec = write(tmp_path / "bad.toml", text)
    result = invoke("compare", spec, "--no-track")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {spec}: ") and message in line
    assert "Traceback" not in result.output
