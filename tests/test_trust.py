"""Numbers a board can trust: each test feeds the input that exposed a defect and checks the number that must hold."""

import warnings

import numpy as np
import pandas as pd
import pytest

from forecast.io import datasets
from forecast.control import xmr as spc
from forecast.engine.backtest import BacktestSettings, backtest_series, run_parallel
from forecast.models import DEFAULT_RUN, make
from forecast.engine.outlook import Calibration, current_run_of, evaluate_series, run_length_baseline
from forecast.models.paths import model_paths, sample_paths


def monthly(values, start="2010-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


FLAT_THEN_COUNTS = monthly(np.r_[np.zeros(84), [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]])


def test_a_flat_training_window_does_not_silently_fail_later_origins():
    result = backtest_series(("Robbery", "Heathrow"), FLAT_THEN_COUNTS, BacktestSettings(models=DEFAULT_RUN))
    assert result.failures == 0 and result.notes == []
    p = result.predictions
    members = ("ets", "theta")
    differs = []
    for origin in p["origin"].unique():
        ensemble = p[(p["model"] == "ensemble") & (p["origin"] == origin)]["mean"].to_numpy()
        assert np.isfinite(ensemble).all()
        differs.append(all(not np.allclose(ensemble, p[(p["model"] == m) & (p["origin"] == origin)]["mean"])
                           for m in members))
    assert any(differs)  # the ensemble is a real mean of two, not a one-member copy of theta


def test_a_programming_error_in_a_fit_surfaces_instead_of_becoming_a_failed_fit(monkeypatch):
    from forecast.models.theta import Theta

    def broken(self, y):
        raise AttributeError("a bug, not awkward data")

    monkeypatch.setattr(Theta, "_fit", broken)
    y = datasets.load("met-major").series("Robbery", "Camden")
    with pytest.raises(AttributeError, match="a bug"):
        backtest_series(("Robbery", "Camden"), y, BacktestSettings(models=("snaive", "theta")))


def test_paths_of_a_model_with_independent_monthly_errors_are_not_perfectly_correlated():
    # the seasonal naive forecast of each of the next 12 months uses a different month of last year, so its errors
    # are independent: all three months below their means has probability 1/8, not the 1/2 of one shared draw
    y = datasets.load("met-major").series("Robbery", "Camden")
    model = make("snaive").fit(y)
    forecast = model.predict(3)
    paths = model_paths(model, forecast, 40000, np.random.default_rng(0))
    below = np.all(paths < forecast["mean"].to_numpy(), axis=1).mean()
    assert below == pytest.approx(0.125, abs=0.01)
    assert np.corrcoef(paths[:, 0], paths[:, 2])[0, 1] == pytest.approx(0.0, abs=0.02)
    # a bare forecast frame with flat intervals carries no sign of correlation either
    bare = sample_paths(forecast, 40000, seed=1)
    assert np.all(bare < forecast["mean"].to_numpy(), axis=1).mean() == pytest.approx(0.125, abs=0.01)


def test_theta_paths_keep_its_margins_and_the_correlation_of_exponential_smoothing():
    y = datasets.load("met-major").series("Burglary", "Merton")
    model = make("theta").fit(y)
    forecast = model.predict(3)
    paths = model.simulate(3, 40000, np.random.default_rng(0))
    sd = (forecast["hi_95"] - forecast["mean"]).to_numpy() / 1.959964
    assert np.allclose(paths.std(axis=0), sd, rtol=0.02)
    assert np.allclose(paths.mean(axis=0), forecast["mean"], atol=0.02 * sd.max())
    # error at month 2 = e2 + alpha e1, at month 1 = e1: correlation alpha / sqrt(1 + alpha^2)
    alpha = float(model.result_.params["alpha"])
    assert np.corrcoef(paths[:, 0], paths[:, 1])[0, 1] == pytest.approx(alpha / np.sqrt(1 + alpha ** 2), abs=0.02)


@pytest.mark.parametrize("family", ["sarima", "stl-arima", "ets"])
def test_models_with_a_state_space_simulate_their_own_paths(family):
    y = datasets.load("met-major").series("Robbery", "Camden")
    model = make(family).fit(y)
    forecast = model.predict(3)
    paths = model.simulate(3, 8000, np.random.default_rng(0))
    sd = (forecast["hi_95"] - forecast["mean"]).to_numpy() / 1.959964
    assert np.allclose(paths.mean(axis=0), forecast["mean"], atol=0.05 * sd.max())
    # the 95% interval of the paths is the model's own (ETS with a multiplicative season: both by simulation)
    assert np.allclose(np.quantile(paths, [0.025, 0.975], axis=0), forecast[["lo_95", "hi_95"]].to_numpy().T,
                       atol=0.1 * sd.max())
    assert np.corrcoef(paths[:, 0], paths[:, 2])[0, 1] < 0.95  # not one shared draw


@pytest.mark.parametrize("family", ["sarima", "stl-arima"])
def test_arima_paths_have_the_joint_distribution_statsmodels_simulates(family):
    """Paths are drawn at once from the forecast errors' covariance; statsmodels simulates one path at a time."""
    from forecast.models.base import forecast_covariance

    y = datasets.load("met-major").series("Burglary", "Ealing").iloc[-96:]
    result = make(family).fit(y).arima_.arima_res_
    covariance = forecast_covariance(result, 6)
    np.testing.assert_allclose(np.diag(covariance), result.get_forecast(6).var_pred_mean, rtol=1e-9)
    theirs = np.asarray(result.simulate(6, anchor="end", repetitions=20000, rng=np.random.default_rng(0)))
    sd = np.sqrt(np.diag(covariance))
    assert np.abs(np.corrcoef(theirs.reshape(6, -1)) - covariance / np.outer(sd, sd)).max() < 0.03
    # months apart are correlated (0.15 or more here): the paths are not independent draws month by month
    assert (covariance / np.outer(sd, sd))[0, 1:].min() > 0.15


def test_ensemble_paths_keep_its_own_intervals_and_its_members_dependence():
    y = datasets.load("met-major").series("Robbery", "Westminster")
    model = make("ensemble").fit(y)
    forecast = model.predict(3)
    paths = model.simulate(3, 30000, np.random.default_rng(0))
    # each month: the ensemble's own forecast and 95% interval (the medians of its members'), as in forecast.csv
    assert np.allclose(np.median(paths, axis=0), forecast["mean"], rtol=0.01)
    assert np.allclose(np.quantile(paths, [0.025, 0.975], axis=0), forecast[["lo_95", "hi_95"]].to_numpy().T,
                       rtol=0.01)
    # across months: the rank correlation of an equal mixture of the members' own paths
    from scipy.stats import spearmanr

    mixture = np.concatenate([m.simulate(3, 10000, np.random.default_rng(i)) for i, m in enumerate(model.models_)])
    assert spearmanr(paths[:, 0], paths[:, 2])[0] == pytest.approx(spearmanr(mixture[:, 0], mixture[:, 2])[0],
                                                                   abs=0.03)


def test_the_outlook_evaluation_replays_the_runs_procedure_at_past_origins():
    y = datasets.load("west-midlands").series("All crime", "All areas")
    options = spc.SPCOptions()
    records = evaluate_series(("All crime", "All areas"), y, options, DEFAULT_RUN, every=3, min_history=36,
                              horizon=3, n_paths=300, seed=0)
    # origins every 3 months from the 36th month (2013-12) while 3 later months are known (to 2016-09)
    assert records["origin"].tolist() == [str(p) for p in pd.period_range("2013-12", "2016-09", freq="3M")]
    assert records["model"].iloc[0] == "ensemble"  # no earlier score at the first origin
    assert set(records["model"]) <= set(DEFAULT_RUN)
    # the step change up of 2016-03 was declared in 2016-10 (worked by hand in test_spc.py): only the origin of
    # 2016-09 had it within its next quarter, and 2016-06 did not
    hits = records.set_index("origin")["step_change"]
    assert bool(hits["2016-09"]) and not bool(hits["2016-06"])
    # the run state is the one the SPC engine reports at that month
    t = 68  # 2016-09
    result = spc.analyse(y.iloc[:t + 1])
    assert current_run_of(y.to_numpy()[:t + 1], options)[:2] == spc.current_run(result.points)
    row = records.set_index("origin").loc["2016-09"]
    assert (row["run_side"], row["run_length"]) == spc.current_run(result.points)
    # in 3 months only a run already 5 long can reach 8: every shorter run's quarter has no chance of a change
    short = records["run_length"] < options.run_length - 3
    assert short.sum() == 8 and (records.loc[short, "p_step"] == 0).all()
    # the two quarters that opened on a run of 7 were given high chances, and both saw the change
    p = records.set_index("origin")["p_step"]
    assert p["2014-03"] == pytest.approx(0.613, abs=0.02) and p["2016-09"] == pytest.approx(0.97, abs=0.02)
    assert bool(hits["2014-03"])


def test_run_length_baseline_is_cross_validated_by_series():
    records = pd.DataFrame({
        "crime_type": ["A"] * 4 + ["B"] * 4, "area": ["x"] * 4 + ["y"] * 4,
        "run_side": [1, 1, -1, 0, 1, 1, -1, 1], "run_length": [7, 7, 3, 0, 7, 2, 3, 7],
        "step_change": [True, False, False, False, True, False, True, True], "p_step": [0.9, 0.1, 0, 0, 0.8, 0, 0.5, 1],
    })
    p = run_length_baseline(records).to_numpy()
    # series A's first row (7 above) is forecast from B's rows in that state: 2 of 2 led to a change
    assert p[0] == 1.0 and p[1] == 1.0
    # A's 3-below row: B had one such row, and it changed; A's on-average row: B has none, so B's base rate 3/4
    assert p[2] == 1.0 and p[3] == 0.75
    # B's 7-above rows from A's: 1 of 2
    assert p[4] == 0.5 and p[7] == 0.5
    c = Calibration(records)
    outcome = records["step_change"].astype(float).to_numpy()
    assert c.brier_run_length == pytest.approx(np.mean((p - outcome) ** 2))
    assert c.brier == pytest.approx(np.mean((records["p_step"].to_numpy() - outcome) ** 2))
    assert c.skill_run_length == pytest.approx(1 - c.brier / c.brier_run_length)


def test_a_serial_backtest_leaves_numpy_error_state_as_it_was():
    before = np.geterr()
    y = datasets.load("met-major").series("Drugs", "Bexley")
    run_parallel(backtest_series, [(("Drugs", "Bexley"), y)], BacktestSettings(models=("snaive", "theta")), n_jobs=1)
    assert np.geterr() == before


def test_tracking_leaves_warning_filters_and_loggers_as_they_were(tmp_path):
    import logging

    from forecast.record import tracking

    tracking.import_mlflow()  # what mlflow itself sets as it loads (its loggers' level) is mlflow's
    filters = list(warnings.filters)
    level = logging.getLogger("mlflow").level
    with tracking.writing(f"sqlite:///{tmp_path / 'mlflow.db'}") as (c, store):
        tracking.ensure_experiment(c, "forecast/test", store)
    assert warnings.filters == filters and logging.getLogger("mlflow").level == level


def test_metrics_are_logged_in_batches_that_do_not_overlap(tmp_path):
    from forecast.record import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracking.writing(uri) as (c, store):
        experiment = tracking.ensure_experiment(c, "forecast/batches", store)
        run_id = tracking._finished_run(c, experiment, "many", {}, {f"p{i}": i for i in range(250)},
                                        [(f"m{i}", float(i), 0) for i in range(250)])
        run = c.get_run(run_id)
        history = c.get_metric_history(run_id, "m120")
    assert len(run.data.metrics) == 250 and run.data.metrics["m249"] == 249.0
    assert len(run.data.params) == 250
    assert len(history) == 1  # logged once, not once per overlapping batch


def test_spc_command_min_mean_and_low_counts(invoke):
    airports = "london-heathrow-and-london-city-airports"
    low = invoke("spc", "--crime", "robbery", "--area", airports, "--format", "json")
    (result,) = __import__("json").loads(low.stdout)
    assert result["status"] == "too few crimes" and result["step_changes"] == []
    assert {p["point_type"] for p in result["points"]} == {"common_cause"}
    assert all(p["lcl"] is None or p["lcl"] >= 0 for p in result["points"])
    raw = invoke("spc", "--crime", "robbery", "--area", airports, "--min-mean", "0", "--format", "json")
    assert __import__("json").loads(raw.stdout)[0]["status"] != "too few crimes"


def test_outlook_evaluate_reports_all_three_brier_scores(invoke):
    args = ["outlook", "--evaluate", "--crime", "burglary", "--area", "merton,sutton", "--every", "12", "--paths", "200",
            "--jobs", "1"]
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    c = __import__("json").loads(result.stdout)
    # two series, origins every 12 months from the 36th month (2010-12) while 3 later months are known (to 2018-09)
    assert c["quarters"] == 2 * len(pd.period_range("2010-12", "2018-09", freq="12M")) == 16
    assert c["model"] == "ensemble" and c["series"] == 2
    # 3 of the 16 quarters saw a step change; forecasting that base rate every time scores p (1 - p)
    assert c["base_rate"] == 3 / 16 and c["brier_base_rate"] == pytest.approx(3 / 16 * 13 / 16)
    # the seeded outlooks (200 paths, so a probability moves in steps of 0.005) beat both baselines
    assert c["brier"] == pytest.approx(0.1172, abs=1e-3) and c["brier_run_length"] == pytest.approx(0.1445, abs=1e-3)
    assert c["skill"] == pytest.approx(1 - c["brier"] / c["brier_base_rate"]) == pytest.approx(0.231, abs=0.01)
    assert c["skill_run_length"] == pytest.approx(1 - c["brier"] / c["brier_run_length"])
    assert sum(r["n"] for r in c["reliability"]) == 16
    text = invoke(*args[:6], "--every", "24", "--paths", "100", "--jobs", "1")
    assert "run-length baseline (how often a run of this length led to a change)" in text.stdout
    assert "Skill against the run-length baseline" in text.stdout


def test_calibration_takes_records_gathered_with_empty_series():
    empty = evaluate_series(("Robbery", "Heathrow"), monthly([1, 0, 2, 0] * 12), spc.SPCOptions(), ("theta",))
    assert empty.empty  # too few crimes: the outlook makes no claim at any origin
    full = pd.DataFrame({"crime_type": "A", "area": "x", "origin": ["2015-01", "2015-04"], "model": "theta",
                         "run_side": [1, -1], "run_length": [7, 2], "p_step": [0.9, 0.0], "step_change": [True, False]})
    c = Calibration(pd.concat([empty, full], ignore_index=True))
    assert c.brier == pytest.approx((0.1 ** 2 + 0) / 2) and c.base_rate == 0.5
