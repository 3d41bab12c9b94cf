"""The panel's global model (forecast.models.gbm) and how backtests, ensembles and runs use it."""

import pickle

import numpy as np
import pandas as pd
import pytest

from forecast.engine.backtest import MIN_GLOBAL_SERIES, BacktestSettings, backtest_panel, panel_forecasts
from forecast.errors import ModelFitError
from forecast.models import GlobalModel, GlobalSeries, combine, make
from forecast.models.ensemble import Ensemble, blend
from forecast.present.tables import accuracy_rows

MONTHS = pd.period_range("2012-01", periods=84, freq="M")
SEASON = 1 + 0.3 * np.sin(2 * np.pi * np.arange(12) / 12)
LEVELS = np.linspace(20, 200, 30)


def synthetic_panel(seed: int = 0) -> tuple[dict, dict]:
    """30 series (3 crime types x 10 areas) sharing one seasonal shape at levels 20 to 200, Poisson noise;
    returns the series and their true monthly means."""
    rng = np.random.default_rng(seed)
    truth, panel = {}, {}
    for i, level in enumerate(LEVELS):
        key = (f"type {i % 3}", f"area {i // 3}")
        truth[key] = level * SEASON[MONTHS.month.to_numpy() - 1]
        panel[key] = pd.Series(rng.poisson(truth[key]).astype(float), index=MONTHS)
    return panel, truth


@pytest.fixture(scope="module")
def fitted():
    panel, truth = synthetic_panel()
    train = {k: s.iloc[:81] for k, s in panel.items()}
    model = GlobalModel().fit(train)
    return panel, truth, model, model.predict(train, 3)


def test_global_model_learns_the_shape_the_series_share(fitted):
    panel, truth, model, forecasts = fitted
    assert model.n_series_ == 30 and model.n_rows_ == 30 * 3 * 59  # ends from month 12 to 81 - h, h = 1..3
    frames = {k: f.predict(3) for k, f in forecasts.items()}
    # error against the true mean, relative to each series' level: about 3%, a third of last year's months'
    global_error = np.mean([np.abs(frames[k]["mean"].to_numpy() - truth[k][81:]) / LEVELS[i]
                            for i, k in enumerate(panel)])
    snaive_error = np.mean([np.abs(panel[k].to_numpy()[69:72] - truth[k][81:]) / LEVELS[i]
                            for i, k in enumerate(panel)])
    assert global_error < 0.04 and global_error < 0.4 * snaive_error
    inside = np.mean([((panel[k].to_numpy()[81:] >= frames[k]["lo_80"]) & (panel[k].to_numpy()[81:] <= frames[k]["hi_80"]))
                      .mean() for k in panel])
    assert 0.6 <= inside <= 0.95
    for f in frames.values():
        assert (f["lo_95"] <= f["lo_80"]).all() and (f["lo_80"] <= f["mean"]).all()
        assert (f["mean"] <= f["hi_80"]).all() and (f["hi_80"] <= f["hi_95"]).all() and (f["lo_95"] >= 0).all()
        assert [str(m) for m in f.index] == ["2018-10", "2018-11", "2018-12"]


def test_the_global_models_predictions_run_on_one_openmp_thread_and_give_the_same_numbers(fitted, monkeypatch):
    """On one thread a crime type's predictions cost about half the CPU, and OpenMP's threads spin when other
    processes share the cores (benchmarks/bench_predict.py)."""
    import contextlib

    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_info, threadpool_limits

    import forecast.models.gbm as gbm

    panel, _, model, _ = fitted
    train = {k: s.iloc[:81] for k, s in panel.items()}

    def openmp() -> set:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"}

    seen, real = [], HistGradientBoostingRegressor.predict
    monkeypatch.setattr(HistGradientBoostingRegressor, "predict", lambda self, X: seen.append(openmp()) or real(self, X))
    with threadpool_limits(user_api="openmp", limits=2):
        one = model.quantile_forecasts(train, 3)
        assert openmp() == {2}
        assert len(seen) == 3 and all(threads == {1} for threads in seen)
        monkeypatch.setattr(gbm, "one_thread", contextlib.nullcontext)
        two = model.quantile_forecasts(train, 3)
        assert seen[3:] == [{2}] * 3
    assert sorted(one) == sorted(two) == sorted(train)
    assert all(np.array_equal(one[k], two[k]) for k in one)


def test_a_series_forecast_holds_numbers_not_the_model(fitted):
    _, _, model, forecasts = fitted
    one = forecasts[("type 0", "area 0")]
    assert len(pickle.dumps(one)) < 10_000 < len(pickle.dumps(model))
    with pytest.raises(ModelFitError, match="forecasts 3 months ahead, not 4"):
        one.predict(4)
    with pytest.raises(ModelFitError, match="trained on a whole panel"):
        make("global").fit(pd.Series([1.0, 2, 3], index=MONTHS[:3]))



def test_a_series_forecast_travels_with_its_months_as_arrays_and_gives_them_back_whole():
    """A run sends each series five of these; their months went as a pandas series each, most of their cost."""
    y = pd.Series(np.arange(1.0, 25.0), index=MONTHS[:24], name="count")
    held = GlobalSeries.holding(y, (0.1, 0.5, 0.9), np.array([[8.0, 9.0], [10.0, 11.0], [13.0, 15.0]]))
    state = held.__getstate__()
    assert "_y" not in state and not any(isinstance(v, (pd.Series, pd.Index)) for v in state.values())
    ordinals, values, name = state["_months"]
    assert ordinals.tolist() == MONTHS[:24].asi8.tolist() and values.tolist() == y.tolist() and name == "count"
    back = pickle.loads(pickle.dumps(held))
    assert back.median().tolist() == [10.0, 11.0] and "_y" not in vars(back)   # the quantiles alone: no series made
    pd.testing.assert_frame_equal(back.predict(2), held.predict(2), check_exact=True)
    pd.testing.assert_series_equal(back.y_, held.y_, check_exact=True)
    assert len(pickle.dumps(held)) < len(pickle.dumps(vars(held)))
    old = GlobalSeries()
    old.__setstate__({"y_": y, "_forecasts": {}, "constant_": None, "quantiles_": held.quantiles_})
    pd.testing.assert_frame_equal(old.predict(2), held.predict(2), check_exact=True)   # pickled before this
    assert "y_" not in vars(old) and "_months" in old.__getstate__()                   # and sent as arrays since
    with pytest.raises(AttributeError):
        GlobalSeries().y_

def test_the_95_interval_stretches_the_80_interval_by_the_normal_ratio():
    y = pd.Series(np.arange(1.0, 25.0), index=MONTHS[:24])
    f = GlobalSeries.holding(y, (0.1, 0.5, 0.9), np.array([[8.0], [10.0], [13.0]])).predict(1)
    assert f.loc[pd.Period("2014-01", "M")].tolist() == pytest.approx(
        [10.0, 8.0, 13.0, 10 - 2 * 1.959964 / 1.281552, 10 + 3 * 1.959964 / 1.281552], rel=1e-6)


def test_the_median_is_the_forecast_without_a_frame_never_negative():
    y = pd.Series(np.arange(1.0, 25.0), index=MONTHS[:24])
    held = GlobalSeries.holding(y, (0.1, 0.5, 0.9), np.array([[-3.0, 1.0], [-1.0, 2.5], [4.0, 6.0]]))
    assert held.median().tolist() == [0.0, 2.5] == held.predict(2)["mean"].tolist()
    assert held.median(1).tolist() == [0.0]
    flat = GlobalSeries.holding(pd.Series(4.0, index=MONTHS[:24]), (0.1, 0.5, 0.9), np.ones((3, 3)))
    assert flat.median().tolist() == [4.0, 4.0, 4.0] == flat.predict(3)["mean"].tolist()


def test_no_month_after_an_origin_reaches_its_forecast():
    panel, _ = synthetic_panel()
    settings = BacktestSettings(origins=2, horizon=3, step=3, models=("global",))
    changed = {k: s.where(s.index <= pd.Period("2018-06", "M"), s * 10) for k, s in panel.items()}
    first, second = (panel_forecasts(p, p, settings).series for p in (panel, changed))
    key = ("type 1", "area 4")
    assert set(first[key].origins) == {"2018-06", "2018-09"}
    pd.testing.assert_frame_equal(first[key].origins["2018-06"].predict(3), second[key].origins["2018-06"].predict(3))
    assert not first[key].origins["2018-09"].predict(3).equals(second[key].origins["2018-09"].predict(3))


def test_the_ensemble_is_the_mean_of_the_local_median_and_the_global_forecast():
    index = pd.period_range("2019-01", periods=2, freq="M")
    local = pd.DataFrame({"mean": [10.0, 20.0], "lo_80": [8.0, 16.0]}, index=index)
    panel = pd.DataFrame({"mean": [20.0, np.nan], "lo_80": [12.0, np.nan]}, index=index)
    assert blend(local, panel).to_dict("list") == {"mean": [15.0, 20.0], "lo_80": [10.0, 16.0]}
    assert blend(local, None) is local


def test_backtest_blends_the_global_model_into_the_ensemble_on_a_panel_and_not_on_a_few_series():
    panel = dict(list(synthetic_panel()[0].items())[:15])
    settings = BacktestSettings(origins=1, horizon=3, step=3, models=("ets", "theta", "global", "ensemble"))
    result = backtest_panel(panel.items(), settings, n_jobs=2)
    p = result.predictions.set_index(["crime_type", "area", "origin", "month", "model"])["mean"].unstack("model")
    local = p[["ets", "theta"]].mean(axis=1)
    assert np.allclose(p["ensemble"], (local + p["global"]) / 2)
    assert sorted(result.global_fit.models) == ["2018-09"]
    scores = result.summary().set_index("model")["mase"]
    assert scores["global"] < scores["ets"] and scores["ensemble"] < scores["theta"]

    few = dict(list(panel.items())[:2])
    result = backtest_panel(few.items(), settings, n_jobs=2)
    assert MIN_GLOBAL_SERIES == 3
    assert result.global_fit.note == "2 series: the global model needs a panel of 3 or more"
    p = result.predictions.set_index(["crime_type", "area", "origin", "month", "model"])["mean"].unstack("model")
    assert p["global"].isna().all()
    assert np.allclose(p["ensemble"], p[["ets", "theta"]].mean(axis=1))
    # a model that made no forecast has no scores, and the table says so, not that its intervals never held
    summary = result.summary().set_index("model")
    assert summary.loc["global", ["mase", "coverage_80", "coverage_95"]].isna().all()
    assert summary.loc["ensemble", "coverage_80"] > 0
    rows = {row[0]: row for row in accuracy_rows(result.summary())}
    assert rows["global"] == ("global", 2, "-", "-", "-", "-", "-", "-", "0%")


def test_an_ensemble_beyond_the_global_models_months_uses_its_local_members():
    panel, _ = synthetic_panel()
    train = {k: s.iloc[:81] for k, s in panel.items()}
    key = ("type 2", "area 5")
    one = GlobalModel().fit(train).predict({key: train[key]}, 3)[key]
    ensemble = Ensemble(panel=one).fit(train[key])
    local = combine([m.predict(5) for m in ensemble.models_])
    f = ensemble.predict(5)
    assert np.allclose(f["mean"].iloc[:3], (local["mean"].iloc[:3] + one.predict(3)["mean"]) / 2)
    assert np.allclose(f["mean"].iloc[3:], local["mean"].iloc[3:])
    assert ensemble.params()["members"] == "ets,theta,global"


def test_a_model_is_trained_once_per_process_for_the_same_data(monkeypatch, untrained):
    bt = untrained
    panel, _ = synthetic_panel()
    calls = []
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels(keep=3))
    real = bt._train
    monkeypatch.setattr(bt, "_train", lambda train, *rest: calls.append(len(train)) or real(train, *rest))
    settings = BacktestSettings(origins=2, horizon=3, step=3, models=("global",))
    first = panel_forecasts(panel, panel, settings, horizon=3, n_jobs=1)
    assert calls == [30, 30, 30] and sorted(first.models) == ["2018-06", "2018-09", "2018-12"]
    again = panel_forecasts(panel, {k: s for k, s in panel.items() if k[0] == "type 1"}, settings, horizon=3, n_jobs=1)
    assert calls == [30, 30, 30] and all(again.models[c] is first.models[c] for c in first.models)
    changed = {**panel, ("type 0", "area 0"): panel[("type 0", "area 0")] + 1}
    panel_forecasts(changed, changed, settings, horizon=3, n_jobs=1)  # other data: trained again, and kept
    assert calls == [30] * 6 and len(bt.TRAINED) == 3


def test_the_quantiles_trained_apart_join_into_the_model_trained_whole(fitted):
    panel, _, model, forecasts = fitted
    train = {k: s.iloc[:81] for k, s in panel.items()}
    parts = [GlobalModel(quantiles=(q,)).fit(train) for q in (0.1, 0.5, 0.9)]
    joined = GlobalModel.joined(parts)
    assert joined.quantiles == (0.1, 0.5, 0.9) and joined.params() == model.params()
    again = joined.predict(train, 3)
    assert all(np.array_equal(again[k].quantiles_[q], forecasts[k].quantiles_[q])
               for k in train for q in (0.1, 0.5, 0.9))
    fewer = GlobalModel(quantiles=(0.5,)).fit(dict(list(train.items())[1:]))
    with pytest.raises(ValueError, match="trained on the same series"):
        GlobalModel.joined([parts[0], fewer])


def test_cut_offs_train_whole_on_every_process_then_a_quantile_a_job():
    from forecast.engine.backtest import training_jobs

    assert training_jobs(["a", "b", "c", "d", "e"], 2) == [("a", None), ("b", None), ("c", None), ("d", None),
                                                           ("e", (0.1,)), ("e", (0.5,)), ("e", (0.9,))]
    assert training_jobs(["a", "b", "c", "d"], 2) == [(c, None) for c in "abcd"]
    assert training_jobs(["a", "b", "c"], 1) == [(c, None) for c in "abc"]
    assert training_jobs(["a"], 4) == [("a", (0.1,)), ("a", (0.5,)), ("a", (0.9,))]


def test_models_trained_a_quantile_a_process_forecast_as_those_trained_whole_in_one(untrained, monkeypatch,
                                                                                   tmp_path):
    panel, _ = synthetic_panel()
    settings = BacktestSettings(origins=2, horizon=3, step=3, models=("global",))
    apart = panel_forecasts(panel, panel, settings, horizon=3, n_jobs=2)  # 3 cut-offs: 2 whole, 1 split
    untrained.TRAINED.clear()
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(tmp_path / "none kept"))
    whole = panel_forecasts(panel, panel, settings, horizon=3, n_jobs=1)
    assert sorted(apart.models) == ["2018-06", "2018-09", "2018-12"]
    for key in panel:
        for q in (0.1, 0.5, 0.9):
            assert np.array_equal(apart.series[key].final.quantiles_[q], whole.series[key].final.quantiles_[q])
            assert all(np.array_equal(apart.series[key].origins[c].quantiles_[q],
                                      whole.series[key].origins[c].quantiles_[q]) for c in whole.series[key].origins)


def test_a_panel_past_the_row_cap_trains_once_on_a_fixed_sample_whichever_series_are_forecast(monkeypatch,
                                                                                              untrained):
    from forecast.engine import backtest
    from forecast.engine.backtest import BacktestSettings, panel_forecasts
    from forecast.models import GlobalModel

    months = pd.period_range("2015-01", periods=48, freq="M")
    rng = np.random.default_rng(5)
    train = {("Robbery" if i < 3 else "Burglary", f"Area {i:02d}"): pd.Series(rng.poisson(30, 48).astype(float), months)
             for i in range(20)}
    robbery = {k: v for k, v in train.items() if k[0] == "Robbery"}
    per_series = GlobalModel(horizon=3).training_rows([48])
    monkeypatch.setattr(backtest, "MAX_GLOBAL_ROWS", 8 * per_series)
    calls = []
    real = backtest._train
    monkeypatch.setattr(backtest, "_train", lambda data, *rest: calls.append(sorted(data)) or real(data, *rest))
    fit = panel_forecasts(train, robbery, BacktestSettings(origins=1), horizon=3, n_jobs=1)
    model = fit.final_model()
    # 8 series taken in the fixed digest order, the rows within the cap; the series forecast need not be among them
    assert model.n_series_ == 8 and model.n_rows_ == 8 * per_series
    assert calls[0] == [("Burglary", f"Area {i:02d}") for i in (5, 8, 10, 11, 16, 17, 18)] + [("Robbery", "Area 00")]
    assert fit.note == ("the global model learns from a sample of 8 of 20 series at 2 cut-offs (at most "
                        f"{8 * per_series:,} training rows), the same whichever series are forecast")
    assert set(fit.series) == set(robbery)
    # another crime type's run trains nothing: the same sample, so the same models, and forecasts as before
    burglary = {k: v for k, v in train.items() if k[0] == "Burglary"}
    other = panel_forecasts(train, burglary, BacktestSettings(origins=1), horizon=3, n_jobs=1)
    assert len(calls) == 2 and all(other.models[c] is fit.models[c] for c in fit.models)
    again = panel_forecasts(train, robbery, BacktestSettings(origins=1), horizon=3, n_jobs=1)
    key = ("Robbery", "Area 00")
    pd.testing.assert_frame_equal(again.series[key].final.predict(3), fit.series[key].final.predict(3))


def test_a_series_forecast_is_the_same_alone_or_among_others_and_reads_its_last_window(fitted):
    """The forecasts are built for every series at once; each series' rows are its own: alone, among others, cut
    to the model's 24-month window or shorter than it (the window padded), the quantiles are the same."""
    panel, _, model, _ = fitted
    train = {k: s.iloc[:81] for k, s in panel.items()}
    together = model.quantile_forecasts(train, 3)
    key = ("type 2", "area 5")
    alone = model.quantile_forecasts({key: train[key]}, 3)[key]
    windowed = model.quantile_forecasts({key: train[key].iloc[-24:]}, 3)[key]
    assert np.array_equal(together[key], alone) and np.array_equal(alone, windowed)
    assert alone.shape == (3, 3) and (np.diff(alone, axis=0) >= 0).all()
    short = {k: s.iloc[-15:] for k, s in list(train.items())[:4]}
    mixed = model.quantile_forecasts({**short, **{key: train[key]}}, 2)
    assert all(np.array_equal(mixed[k], model.quantile_forecasts({k: short[k]}, 2)[k]) for k in short)
    assert np.array_equal(mixed[key], together[key][:, :2])  # fewer months ahead: the same first months
