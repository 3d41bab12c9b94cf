import numpy as np
import pandas as pd
import pytest

from forecast.io import datasets
from forecast.engine.backtest import (BacktestSettings, backtest_series, choose_model, coverage, mase, mase_scale, rmsse,
                               rmsse_scale, rolling_origins, scaled_pinball, smape)
from forecast.errors import ModelFitError
from forecast.models import FAMILIES, combine, make
from forecast.models.ensemble import Ensemble
from forecast.control.seasonality import decompose


def monthly(values, start="2015-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


SEASON = np.array([10, 8, 9, 11, 12, 14, 15, 14, 12, 11, 10, 13], dtype=float)


def test_seasonal_naive_repeats_last_year():
    y = monthly(np.concatenate([SEASON * 10, SEASON * 10 + 5, SEASON * 10 + 20]))
    f = make("snaive").fit(y).predict(3)
    assert f["mean"].tolist() == (SEASON[:3] * 10 + 20).tolist()
    assert [str(m) for m in f.index] == ["2018-01", "2018-02", "2018-03"]
    # in-sample seasonal differences are 5 (12 times) and 15 (12 times): sigma = sqrt((25 + 225) / 2)
    sigma = np.sqrt(125)
    assert f["hi_95"].iloc[0] - f["mean"].iloc[0] == pytest.approx(1.959964 * sigma, rel=1e-6)
    assert f["hi_80"].iloc[0] - f["mean"].iloc[0] == pytest.approx(1.281552 * sigma, rel=1e-6)


def test_stl_components_add_back_up_to_the_series():
    y = datasets.load("met-major").series("Burglary", "Camden")
    d = decompose(y, "Burglary", "Camden")
    assert np.allclose(d.trend + d.seasonal + d.resid, y.to_numpy(), atol=1e-9)
    assert 0 <= d.strength <= 1
    idx = d.indices()
    assert idx["month"].tolist()[:3] == ["Jan", "Feb", "Mar"] and len(idx) == 12
    assert idx["effect"].sum() == pytest.approx(d.profile().sum())


def test_the_outlook_from_the_components_arrays_is_the_outlook_from_their_series_to_the_last_bit():
    """A decomposition keeps its components as arrays, and its frame only when asked: every figure of the seasonal
    outlook (strength, change, level) equals what the components' pandas series give, as they did before, on every
    series of two bundled panels, with and without a seasonal part; and a series with missing months too."""
    def from_series(d, horizon=3):
        profile = d._profile_values()
        last = d.observed.index[-1]
        past = [(last - k).month - 1 for k in range(horizon)]
        future = [(last + k).month - 1 for k in range(1, horizon + 1)]
        level = float(d.trend.iloc[-horizon:].mean())
        change = float(profile[future].sum() - profile[past].sum())
        sr = np.var(d.seasonal + d.resid)
        strength = float(max(0.0, 1 - np.var(d.resid) / sr)) if sr > 0 else 0.0
        return {"crime_type": d.crime_type, "area": d.area, "last_month": str(last),
                "next_months": f"{last + 1}..{last + horizon}", "seasonal_change": change / horizon,
                "seasonal_change_pct": 100 * change / (horizon * level) if level > 0 else 0.0, "strength": strength}

    checked = seasonal = 0
    for name in ("met-major", "city-of-london-lsoa"):
        for key, y in datasets.load(name).iter_series():
            for months in (len(y), 20):
                d = decompose(y.iloc[-months:], *key)
                assert d.outlook() == from_series(d), (name, key, months)
                assert d.components.columns.tolist() == ["observed", "trend", "seasonal", "resid"]
                assert d.components.index.equals(y.index[-months:])
                checked, seasonal = checked + 1, seasonal + (d.strength > 0)
    assert checked == 594 + 826 and seasonal == 274 + 237
    gaps = decompose(monthly(np.r_[SEASON * 10, np.nan, SEASON[1:] * 10 + 5, SEASON * 10 + 20]))
    assert np.isnan(gaps.values[0, 12]) and gaps.outlook() == from_series(gaps) and gaps.strength == 0.0


def test_monthly_means_are_pandas_grouped_means_to_the_last_bit():
    """The seasonal profile's means by calendar month, summed with Kahan's compensation as pandas sums a group:
    equal to pandas' grouped mean exactly, on values of very different sizes where a plain sum is not (and
    missing months 0, months of missing values NaN, as the profile's reindexing gives them)."""
    from forecast.control.seasonality import monthly_means

    rng = np.random.default_rng(3)
    values = rng.standard_normal(60) * 10.0 ** rng.integers(-8, 9, 60)
    months = np.tile(np.arange(1, 13), 5)
    expected = pd.Series(values).groupby(months).mean().reindex(range(1, 13), fill_value=0.0).to_numpy()
    assert np.array_equal(monthly_means(values, months), expected)
    plain = np.array([values[months == m].sum() / 5 for m in range(1, 13)])
    assert not np.array_equal(plain, expected)  # the compensation matters on these values
    values[months == 3] = np.nan
    kept = months != 7
    means = monthly_means(values[kept], months[kept])
    assert np.isnan(means[2]) and means[6] == 0.0
    assert np.array_equal(np.delete(means, [2, 6]), np.delete(expected, [2, 6]))


def test_mase_worked_by_hand():
    train = np.arange(1.0, 25.0)  # seasonal differences are all 12
    assert mase_scale(train) == 12.0
    assert mase([25, 26, 27], [24, 24, 24], mase_scale(train)) == pytest.approx(2 / 12)
    assert np.isnan(mase([1, 2], [1, 2], 0.0))  # a flat training window has no scale


def test_rmsse_and_scaled_pinball_worked_by_hand():
    train = np.r_[np.zeros(12), np.full(12, 2.0)]   # seasonal differences all 2: both scales are 2
    assert rmsse_scale(train) == 2.0 and mase_scale(train) == 2.0
    assert rmsse([0, 4], [1, 1], 2.0) == pytest.approx(np.sqrt((1 + 9) / 2) / 2)
    bounds = {"lo_95": [0, 0], "lo_80": [1, 1], "hi_80": [3, 3], "hi_95": [4, 4]}
    # actual 2: above lo_95 by 2 (0.025 x 2) and lo_80 by 1 (0.1), below hi_80 by 1 (0.1) and hi_95 by 2 (0.05)
    # actual 5: above all four, by 5, 4, 2 and 1 (weights 0.025, 0.1, 0.9, 0.975)
    first = (0.05 + 0.1 + 0.1 + 0.05) / 4
    second = (0.125 + 0.4 + 1.8 + 0.975) / 4
    assert scaled_pinball([2, 5], bounds, 2.0) == pytest.approx((first + second) / 2 / 2)
    assert np.isnan(rmsse([1], [1], 0.0)) and np.isnan(scaled_pinball([1], bounds, float("nan")))


def test_smape_and_coverage_counted_right():
    assert smape([100, 0], [110, 0]) == pytest.approx((2 * 10 / 210) / 2 * 100)
    assert coverage([1, 5, 10], [0, 6, 9], [2, 7, 11]) == pytest.approx(2 / 3)
    assert coverage([3], [3], [3]) == 1.0  # bounds are inclusive
    # months without an interval are not counted as missed; with none at all there is no coverage
    assert coverage([1, 5], [0, np.nan], [2, np.nan]) == 1.0
    assert np.isnan(coverage([1, 5], [np.nan, np.nan], [np.nan, np.nan]))


def test_rolling_origins_are_the_last_four_quarters():
    assert rolling_origins(132) == [120, 123, 126, 129]
    assert rolling_origins(24) == [15, 18, 21]  # a 24-month series: only origins with 15+ training months
    assert rolling_origins(17) == []


@pytest.mark.parametrize("name", [n for n in FAMILIES if n not in ("sarima", "global")])
@pytest.mark.parametrize("case", ["zeros", "airports", "step"])
def test_awkward_series_forecast_without_error_and_non_negative(name, case):
    if case == "zeros":
        y = monthly(np.zeros(48))
    elif case == "airports":
        y = datasets.load("met-major").series("Robbery", "London Heathrow and London City Airports")
        assert len(y) == 24
    else:
        y = monthly(np.r_[np.full(60, 100.0) + np.tile(SEASON, 5), np.full(24, 30.0) + np.tile(SEASON, 2)])
    f = make(name).fit(y).predict(3)
    assert f.shape == (3, 5) and np.isfinite(f.to_numpy()).all()
    assert (f.to_numpy() >= 0).all()
    assert (f["lo_95"] <= f["lo_80"]).all() and (f["lo_80"] <= f["mean"]).all()
    assert (f["mean"] <= f["hi_80"]).all() and (f["hi_80"] <= f["hi_95"]).all()
    if case == "zeros":
        assert f["mean"].abs().max() < 1e-6
    if case == "step":
        assert f["mean"].max() < 60  # follows the new level, not the old one


def test_sarima_fits_a_real_series():
    y = datasets.load("met-major").series("Burglary", "Camden").iloc[-60:]
    model = make("sarima").fit(y)
    f = model.predict(3)
    assert set(model.params()) >= {"order", "seasonal_order", "aicc"}
    assert (f.to_numpy() >= 0).all() and (f["lo_95"] < f["hi_95"]).all()


def test_ensemble_is_the_median_of_its_members():
    y = datasets.load("met-major").series("Robbery", "Camden").iloc[-72:]
    members = [make(n).fit(y).predict(3) for n in ("ets", "theta", "stl-arima")]
    ensemble = Ensemble(("ets", "theta", "stl-arima")).fit(y).predict(3)
    expected = np.median(np.stack([m.to_numpy() for m in members]), axis=0)
    assert np.allclose(ensemble.to_numpy(), expected)
    assert np.allclose(combine(members).to_numpy(), expected)


def test_the_default_ensemble_is_the_mean_of_ets_and_theta():
    y = datasets.load("met-major").series("Robbery", "Camden").iloc[-72:]
    ets, theta = (make(n).fit(y).predict(3).to_numpy() for n in ("ets", "theta"))
    ensemble = make("ensemble").fit(y).predict(3).to_numpy()
    assert np.allclose(ensemble, (ets + theta) / 2)
    assert not np.allclose(ets, theta)


@pytest.mark.parametrize("name", ["snaive", "ets", "theta", "stl-arima", "sparse"])
def test_forecast_columns_are_the_forecast_without_its_frame(name):
    model = make(name).fit(datasets.load("met-major").series("Robbery", "Camden").iloc[-72:])
    frame, columns = model.predict(3), model.forecast_columns(3)
    assert list(columns) == list(frame.columns) == ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert all(columns[c].tolist() == frame[c].tolist() for c in columns)


def test_the_ensembles_columns_worked_by_hand():
    from forecast.models.ensemble import blend_columns, combine_columns

    local = combine_columns([{"mean": np.array([1.0, 2.0, 3.0])}, {"mean": np.array([3.0, np.nan, 5.0])},
                             {"mean": np.array([2.0, 4.0, 4.0])}])
    assert local["mean"].tolist() == [2.0, 3.0, 4.0]  # a member's missing month is left out of that month's median
    # the mean with the global model's forecast; the local median alone where that is missing or has ended
    assert blend_columns(local, {"mean": np.array([4.0, np.nan])})["mean"].tolist() == [3.0, 3.0, 4.0]
    assert blend_columns(local, None) is local


def test_thetas_interval_variance_is_its_own_one_step_error_not_the_seasons():
    # 18 months, too short to deseasonalise: the one-step errors of simple exponential smoothing from the first
    # value at the fitted alpha, worked by hand
    y = monthly([20, 23, 19, 25, 22, 24, 21, 26, 23, 22, 27, 24, 25, 23, 28, 26, 24, 27])
    model = make("theta").fit(y)
    alpha, level, errors = model.params()["alpha"], 20.0, []
    for value in y.iloc[1:]:
        level += alpha * (y.iloc[len(errors)] - level)
        errors.append(value - level)
    assert alpha == pytest.approx(0.3194349, rel=1e-6)
    assert model.params()["sigma2"] == pytest.approx(np.mean(np.square(errors)), rel=1e-12)
    assert model.params()["sigma2"] == pytest.approx(5.9995697, rel=1e-6)
    # 4 years of a strong season with 3% noise: the season is not error. statsmodels' own estimate (an ARIMA(0,1,1)
    # with drift on the raw series) counts it, and is 40 times larger
    noise = 1 + 0.03 * np.random.default_rng(1).standard_normal(48)
    y = monthly(np.tile(SEASON * 10, 4) * noise)
    model = make("theta").fit(y)
    # by hand: the series divided by the classical multiplicative decomposition's factors, then the one-step errors
    # of smoothing it
    from statsmodels.tsa.seasonal import seasonal_decompose

    factor = seasonal_decompose(y.to_numpy(), model="multiplicative", period=12).seasonal
    adjusted, alpha = y.to_numpy() / factor, model.params()["alpha"]
    level, errors = adjusted[0], []
    for t in range(1, len(y)):
        level += alpha * (adjusted[t - 1] - level)
        errors.append(adjusted[t] - level)
    assert model.params()["method"] == "multiplicative" and model.params()["deseasonalized"]
    assert model.params()["sigma2"] == pytest.approx(np.mean(np.square(errors)), rel=1e-12)
    assert model.params()["sigma2"] == pytest.approx(8.9200398, rel=1e-6)
    assert float(model.result_.sigma2) == pytest.approx(359.66487, rel=1e-4)
    first = model.predict(1).iloc[0]
    assert first["hi_80"] - first["mean"] == pytest.approx(1.281552 * np.sqrt(8.9200398), rel=1e-6)


def test_predict_before_fit_and_bad_input_are_refused():
    with pytest.raises(ModelFitError, match="predict\\(\\) called before fit\\(\\)"):
        make("ets").predict(3)
    with pytest.raises(ModelFitError, match="at least 3 months"):
        make("ets").fit(monthly([1.0, 2.0]))


def test_ets_reports_its_form_and_aicc():
    y = datasets.load("met-major").series("Burglary", "Camden").iloc[-96:]
    params = make("ets").fit(y).params()
    assert params["form"].startswith("ETS(A,") and np.isfinite(params["aicc"])
    assert 0 < params["smoothing_level"] <= 1


def test_ets_forecasts_equal_statsmodels_without_the_parameter_covariance():
    """The fit skips statsmodels' numerical Hessian; the forecast and interval are statsmodels' own."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    from forecast.models.ets import MAXITER

    y = datasets.load("met-major").series("Burglary", "Camden").iloc[-96:]
    ours = make("ets").fit(y)
    trend, damped, seasonal = ours.result_.model.trend, ours.result_.model.damped_trend, ours.result_.model.seasonal
    theirs = ETSModel(pd.Series(y.to_numpy(), index=y.index.to_timestamp()), error="add", trend=trend,
                      damped_trend=damped, seasonal=seasonal, seasonal_periods=12 if seasonal else None)
    result = theirs.fit(disp=False, maxiter=MAXITER)
    frame = result.get_prediction(start=96, end=98).summary_frame(alpha=0.05)
    forecast = ours.predict(3, levels=(95,))
    np.testing.assert_allclose(forecast["mean"], frame["mean"], rtol=1e-12)
    np.testing.assert_allclose(forecast["hi_95"], frame["pi_upper"], rtol=1e-12)
    assert np.isnan(np.asarray(ours.result_.cov_params())).all() and np.isfinite(np.asarray(result.cov_params())).all()


def test_backtest_series_scores_every_origin_against_the_data():
    y = datasets.load("met-major").series("Robbery", "Camden")
    settings = BacktestSettings(models=("snaive", "theta"))
    result = backtest_series(("Robbery", "Camden"), y, settings)
    p = result.predictions
    assert p.columns.tolist() == ["crime_type", "area", "model", "origin", "month", "step", "actual", "mean",
                                  "lo_80", "hi_80", "lo_95", "hi_95"]
    assert sorted(p["origin"].unique()) == ["2017-12", "2018-03", "2018-06", "2018-09"]
    snaive = p[(p["model"] == "snaive") & (p["origin"] == "2018-09")]
    assert snaive["month"].tolist() == ["2018-10", "2018-11", "2018-12"]
    assert snaive["actual"].tolist() == y.iloc[-3:].tolist()
    assert snaive["mean"].tolist() == y.iloc[-15:-12].tolist()
    scale = mase_scale(y.iloc[:129].to_numpy())
    expected = np.mean(np.abs(y.iloc[-3:].to_numpy() - y.iloc[-15:-12].to_numpy())) / scale
    got = result.metrics.set_index(["model", "origin"]).loc[("snaive", "2018-09"), "mase"]
    assert got == pytest.approx(expected)


def test_choose_model_takes_the_lowest_mean_mase():
    scores = pd.DataFrame({"mase": [0.9, 0.6, np.nan], "mae": [9, 6, 1]}, index=["snaive", "ets", "theta"])
    assert choose_model(scores, ["snaive", "ets", "theta"]) == "ets"
    assert choose_model(scores, ["snaive", "theta"]) == "snaive"
    flat = pd.DataFrame({"mase": [np.nan, np.nan], "mae": [2.0, 1.0]}, index=["snaive", "ets"])
    assert choose_model(flat, ["snaive", "ets"]) == "ets"


def test_nested_choice_takes_each_origin_from_the_earlier_ones_only():
    from forecast.engine.backtest import nested_choices

    # origin 1: the default; 2: ets (0.5 < 0.8); 3: means over 1-2, snaive 0.7, ets 0.75 (NaN left out of theta's
    # MASE, so its mean is 0.9); 4: means over 1-3, ets (0.5 + 1.0 + 0.4) / 3 = 0.633 against snaive's 0.667
    mase = {"snaive": [0.8, 0.6, 0.6], "ets": [0.5, 1.0, 0.4], "theta": [0.9, np.nan, 2.0]}
    rows = [{"model": m, "origin": f"2018-0{i + 1}", "mase": v[i], "mae": 1.0} for m, v in mase.items() for i in range(3)]
    rows += [{"model": m, "origin": "2018-04", "mase": 0.1, "mae": 1.0} for m in mase]
    metrics = pd.DataFrame(rows)
    assert nested_choices(metrics, ["snaive", "ets", "theta"]) == {
        "2018-01": "snaive", "2018-02": "ets", "2018-03": "snaive", "2018-04": "ets"}
    # the same choices as pandas' groupby means make
    for i, origin in enumerate(["2018-02", "2018-03", "2018-04"], start=1):
        earlier = metrics[metrics["origin"] < origin]
        assert nested_choices(metrics, ["snaive", "ets", "theta"])[origin] == choose_model(
            earlier.groupby("model")[["mase", "mae"]].mean(), ["snaive", "ets", "theta"])
    # no MASE at all: the lowest mean absolute error
    flat = pd.DataFrame([{"model": m, "origin": o, "mase": np.nan, "mae": e} for o in ("a", "b")
                         for m, e in (("snaive", 2.0), ("ets", 1.0))])
    assert nested_choices(flat, ["snaive", "ets"]) == {"a": "snaive", "b": "ets"}


def test_a_job_runs_on_one_blas_thread_and_rescans_after_new_imports(monkeypatch):
    import sys

    from threadpoolctl import threadpool_info, threadpool_limits

    from forecast.engine import backtest
    from forecast.threads import OneThread

    def blas_threads(*_):
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(2):
        assert blas_threads() and set(blas_threads()) == {2}
        assert set(backtest._job(blas_threads, ("a", "b"), None)) == {1}
        assert set(blas_threads()) == {2}
    one = OneThread()
    with one.limit():
        first = one.controller
    with one.limit():
        assert one.controller is first
    monkeypatch.setitem(sys.modules, "a_module_imported_since", object())
    with one.limit():
        assert one.controller is not first


def test_ets_template_refits_when_its_form_no_longer_fits():
    """Fraud in Ealing: the form chosen at an early origin is multiplicative; a later window holds a zero."""
    y = datasets.load("met-major").series("Fraud or Forgery", "Ealing").iloc[-96:]
    first = make("ets").fit(y.iloc[:-12])
    later = first.template().fit(y.iloc[:-6])
    assert first.form().endswith(",M)") and (y.iloc[:-6] == 0).any()
    assert not later.form().endswith(",M)")
    assert np.isfinite(later.predict(3).to_numpy()).all()
