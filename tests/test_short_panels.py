"""A force's own data: short panels, few series, areas that start or stop part-way, through the real CLI.

The bundled panel is 132 months of 33 boroughs; planners bring 1 to 3 series of 1 to 5 years. Each test feeds
exactly one such input; the property-based tests at the end generate them (profile "ci" here, "long" from
benchmarks/fuzz_panels.py).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import backtest_mase
from forecast.io import datasets
from forecast.cli import cli
from forecast.models import GlobalModel
from forecast.jobs.run import MIN_FORECAST_MONTHS

settings.register_profile("ci", max_examples=4, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=int(os.environ.get("FORECAST_HYPOTHESIS_EXAMPLES", 60)), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("FORECAST_HYPOTHESIS_PROFILE", "ci"))


def three_areas(tmp_path, months: int = 36, areas=("Camden", "Hackney", "Sutton")):
    """Robbery in three real boroughs, the last ``months`` months of the bundled data, as a plain tidy CSV."""
    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(areas)]
    frame = frame[frame["month"] > frame["month"].max() - months]
    path = tmp_path / "three.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(path, index=False)
    return path, frame


def run_cli(*args):
    """The real CLI, with exceptions caught as a user would meet them (a traceback is a failure)."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        pytest.fail("".join(traceback.format_exception(*result.exc_info)))
    return result


def test_three_areas_of_36_months_run_to_completion(tmp_path):
    path, frame = three_areas(tmp_path)
    out = tmp_path / "out"
    result = run_cli("run", "--data", path, "--crime", "robbery", "--out", out, "--no-track", "--paths", "200")
    assert result.exit_code == 0, result.output + result.stderr
    forecast = pd.read_csv(out / "forecast.csv")
    assert sorted(forecast["area"].unique()) == ["All areas", "Camden", "Hackney", "Sutton"]
    assert forecast.groupby("area").size().tolist() == [3, 3, 3, 3]
    assert (forecast["month"].unique() == ["2019-01", "2019-02", "2019-03"]).all()
    values = forecast[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    # 4 series x 36 months make 4 x (24 + 23 + 22) training rows for 1 to 3 months ahead: too few for the global
    # model, which the ensemble does without (said once)
    assert set(forecast["model"]) == {"ensemble"}
    assert result.stderr.count("note: the global model is left out of the ensemble at every cut-off: it needs 600 "
                               "training rows from 3 or more series of over 12 months, and had at most 276") == 1
    # the baseline's backtest score, written out longhand from the data: 4 origins of 3 months, each against
    # the same months a year before
    summary = pd.read_csv(out / "summary.csv").set_index("area")
    y = frame[frame["area"] == "Camden"].set_index("month")["count"].astype(float)
    backtest = pd.read_csv(out / "backtest.csv")
    assert summary.loc["Camden", "snaive_mase"] == pytest.approx(
        backtest_mase(backtest[backtest["area"] == "Camden"], lambda area: y, "snaive"), abs=5e-4)
    assert sorted(backtest["origin"].unique()) == ["2017-12", "2018-03", "2018-06", "2018-09"]


def test_global_model_trains_on_a_panel_shorter_than_two_years():
    """Under two years no window holds the month two years before: that feature is empty in every row. scikit-learn
    1.9's binning fails on an all-missing column ('window shape cannot be larger than input array shape'); the
    model holds such features constant instead, and names them."""
    months = pd.period_range("2017-01", periods=20, freq="M")
    rng = np.random.default_rng(3)
    panel = {("Robbery", a): pd.Series(rng.poisson(lam, 20).astype(float), index=months)
             for a, lam in (("A", 20), ("B", 50), ("C", 80))}
    model = GlobalModel(horizon=3).fit(panel)
    # the latest training window ends at month 19 - 1 (one ahead is month 20): lags 19 to 23 reach before month 1
    assert model.n_rows_ == GlobalModel(horizon=3).training_rows([20, 20, 20]) == 3 * (8 + 7 + 6)
    assert model.params()["unseen_features"] == "lag_23,lag_22,lag_21,lag_20,lag_19,two_years_ago"
    forecasts = model.quantile_forecasts(panel)
    assert all(np.isfinite(q).all() and (q >= 0).all() and q.shape == (3, 3) for q in forecasts.values())


def test_an_area_of_two_months_is_named_and_left_out_of_the_forecast(tmp_path):
    path, frame = three_areas(tmp_path)
    late = frame["area"].eq("Sutton") & (frame["month"] < frame["month"].max() - 1)
    frame[~late].assign(month=lambda f: f["month"].astype(str))[["month", "area", "crime_type", "count"]] \
        .to_csv(path, index=False)
    out = tmp_path / "out"
    result = run_cli("run", "--data", path, "--crime", "robbery", "--out", out, "--no-track", "--paths", "200")
    assert result.exit_code == 0, result.stderr
    assert (f"note: not forecast, too short (a forecast needs at least {MIN_FORECAST_MONTHS} months): Robbery in "
            "Sutton (2 months)") in result.stderr
    assert "note: the force total of Robbery counts Sutton only from 2018-11" in result.stderr
    assert sorted(pd.read_csv(out / "forecast.csv")["area"].unique()) == ["All areas", "Camden", "Hackney"]


def test_spc_warns_that_a_late_area_moves_the_force_total(tmp_path):
    path, frame = three_areas(tmp_path)
    frame[~(frame["area"].eq("Sutton") & (frame["month"] < pd.Period("2018-11", "M")))] \
        .assign(month=lambda f: f["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(path, index=False)
    result = run_cli("spc", "--data", path, "--crime", "robbery")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:1] == [
        "note: the force total of Robbery counts Sutton only from 2018-11: it jumps where an area joins or leaves, "
        "and a signal there may be that, not a change in crime"]


def test_six_months_is_refused_in_one_line_naming_file_series_and_minimum(tmp_path):
    path, _ = three_areas(tmp_path, months=6)
    result = run_cli("run", "--data", path, "--crime", "robbery", "--no-track")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: no Robbery series is long enough to forecast (All areas (6 months), Camden (6 months), "
        f"Hackney (6 months), Sutton (6 months)); a forecast needs at least {MIN_FORECAST_MONTHS} months"]


@pytest.mark.parametrize("months", [11, 12])
def test_a_year_of_data_is_forecast_without_the_global_model(tmp_path, months):
    path, _ = three_areas(tmp_path, months=months)
    out = tmp_path / "out"
    result = run_cli("run", "--data", path, "--crime", "robbery", "--out", out, "--no-track", "--paths", "200")
    assert result.exit_code == 0, result.stderr
    assert ("note: the global model is left out of the ensemble at every cut-off: it needs 600 training rows from 3 "
            "or more series of over 12 months, and had at most 0") in result.stderr
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == 4 * 3 and (forecast["mean"] > 0).all()
    # a year leaves nothing to backtest against last year's months: said in the title, no MASE shown
    assert "(three); no backtest: the series are too short for one, so no MASE" in result.stdout
    assert pd.read_csv(out / "backtest.csv").empty


def test_a_short_backtest_says_how_many_origins_it_had(tmp_path):
    path, _ = three_areas(tmp_path, months=18)
    out = tmp_path / "out"
    result = run_cli("run", "--data", path, "--crime", "robbery", "--out", out, "--no-track", "--paths", "200",
                     "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    assert "MASE from a backtest of 1 quarter, not 4: the series are short" in result.stdout
    assert pd.read_csv(out / "backtest.csv")["origin"].unique().tolist() == ["2018-09"]


def test_the_global_models_absence_is_recorded_in_mlflow(tmp_path):
    from mlflow.tracking import MlflowClient

    path, _ = three_areas(tmp_path, months=12)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli("run", "--data", path, "--crime", "robbery", "--out", tmp_path / "out", "--tracking-uri", uri,
                     "--paths", "200")
    assert result.exit_code == 0, result.stderr
    run_id = json.loads((tmp_path / "out" / "run.json").read_text())["mlflow_run_id"]
    params = MlflowClient(uri).get_run(run_id).data.params
    assert params["global_model"].startswith("the global model is left out of the ensemble at every cut-off")
    # 12 months leave no year to score against: there is no backtest, so no picture of one
    assert "comparison.png" not in {a.path for a in MlflowClient(uri).list_artifacts(run_id)}


# ------------------------------------------------------------------ generated panels

NAMES = st.sampled_from(["Sandwell", "Birmingham East", "Ynys Môn", "Öland-Süd", "Dudley & Walsall", "Coventry",
                         "Bury St Edmunds", "Ceredigion"])


@st.composite
def panels(draw, min_months: int = MIN_FORECAST_MONTHS, max_months: int = 60):
    """A valid tidy panel: 1 to 3 areas, 1 or 2 crime types, 9 to 60 months, levels from 0 to 300, zeros, spikes,
    areas that start late or stop early (never shorter than the minimum for a forecast, in at least one)."""
    n = draw(st.integers(min_months, max_months))
    areas = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    crimes = draw(st.lists(st.sampled_from(["Robbery", "Burglary"]), min_size=1, max_size=2, unique=True))
    start = pd.Period("2021-01", "M") - draw(st.integers(0, 36))
    months = pd.period_range(start, periods=n, freq="M")
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    rows = []
    for c in crimes:
        for i, a in enumerate(areas):
            level = draw(st.sampled_from([0.0, 0.4, 3.0, 25.0, 300.0]))
            first = draw(st.integers(0, max(0, n - min_months))) if i else 0
            last = n - (draw(st.integers(0, 3)) if i else 0)
            counts = rng.poisson(level * (1 + 0.3 * np.sin(np.arange(n) * np.pi / 6)))
            if draw(st.booleans()):
                counts[rng.integers(n)] *= 5
            rows += [(str(m), a, c, int(v)) for m, v in zip(months[first:last], counts[first:last])]
    return pd.DataFrame(rows, columns=["month", "area", "crime_type", "count"])


def check_run_folder(out, frame: pd.DataFrame) -> None:
    forecast = pd.read_csv(out / "forecast.csv")
    values = forecast[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (forecast["lo_95"] <= forecast["lo_80"] + 1e-9).all() and (forecast["hi_80"] <= forecast["hi_95"] + 1e-9).all()
    assert forecast.groupby("area").size().eq(3).all()
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["area"]) == sorted(forecast["area"].unique())
    assert (out / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert json.loads((out / "run.json").read_text())["areas"]


@given(frame=panels())
def test_generated_panels_run_without_a_traceback(tmp_path_factory, frame):
    tmp = tmp_path_factory.mktemp("panel")
    path = tmp / "panel.csv"
    frame.to_csv(path, index=False)
    crime = frame["crime_type"].iloc[0]
    spc = run_cli("spc", "--data", path, "--crime", crime, "--format", "csv")
    assert spc.exit_code == 0, spc.stderr
    out = tmp / "out"
    run = run_cli("run", "--data", path, "--crime", crime, "--out", out, "--no-track", "--paths", "100",
                  "--jobs", "1")
    assert run.exit_code == 0, run.stderr
    check_run_folder(out, frame)


@given(frame=panels(max_months=36), members=st.lists(st.sampled_from(["snaive", "ets", "theta", "stl-arima"]),
                                                     min_size=1, max_size=2, unique=True))
def test_generated_panels_run_with_fewer_ensemble_members(tmp_path_factory, frame, members):
    """`--members`: the run fits the baseline, those members, the global model (when the panel trains it) and the
    ensemble, whatever the panel; the sparse series their count model."""
    from forecast.models import SPARSE

    tmp = tmp_path_factory.mktemp("members")
    path = tmp / "panel.csv"
    frame.to_csv(path, index=False)
    out = tmp / "out"
    run = run_cli("run", "--data", path, "--crime", frame["crime_type"].iloc[0], "--out", out, "--no-track",
                  "--paths", "100", "--jobs", "1", "--members", ",".join(members))
    assert run.exit_code == 0, run.stderr
    check_run_folder(out, frame)
    assert json.loads((out / "run.json").read_text())["ensemble_members"] == members
    backtest = pd.read_csv(out / "backtest.csv")
    assert set(backtest["model"]) <= {"snaive", *members, "global", "ensemble", "auto", *SPARSE}


@given(frame=panels(min_months=1, max_months=MIN_FORECAST_MONTHS - 1))
def test_generated_panels_too_short_to_forecast_are_refused_in_one_line(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("short") / "panel.csv"
    frame.to_csv(path, index=False)
    result = run_cli("run", "--data", path, "--crime", frame["crime_type"].iloc[0], "--no-track", "--out",
                     path.parent / "out")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: {path}: no ") and lines[-1].endswith(
        f"a forecast needs at least {MIN_FORECAST_MONTHS} months")
    assert not (path.parent / "out").exists()


def test_every_crime_type_of_three_areas_is_enough_for_the_global_model():
    """The run's global model learns from every crime type of the panel: nine of them in three boroughs over 36
    months are enough rows at every cut-off, so the short panel's ensemble keeps it."""
    from forecast.engine.backtest import MIN_GLOBAL_ROWS
    from forecast.jobs.run import run_forecast

    whole = datasets.load("met-major").select(area=["Camden", "Hackney", "Sutton"]).last_months(36).with_totals()
    result = run_forecast(whole, "Robbery", n_jobs=1, train=whole)
    assert result.global_fit.note == ""
    assert sorted(result.global_fit.models) == ["2017-12", "2018-03", "2018-06", "2018-09", "2018-12"]
    final = result.global_fit.final_model()
    assert final.n_series_ == 9 * 4 + 4  # nine crime types and All crime, in three areas and their total
    assert final.n_rows_ == GlobalModel(horizon=3).training_rows([36] * final.n_series_) > MIN_GLOBAL_ROWS
    assert result.forecasts[("Robbery", "Camden")].model.params()["members"] == "ets,theta,global"
