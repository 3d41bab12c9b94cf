"""Families for intermittent counts: Croston-SBA, TSB and ADIDA on series worked out by hand, their count
intervals, and a backtest of them through the real CLI on sparse real series."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from forecast.io import datasets
from forecast.cli import cli
from forecast.models import SPARSE, make
from forecast.models.intermittent import ALPHAS, adida, croston_sba, demand_intervals, demand_pattern, tsb


def monthly(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range("2016-01", periods=len(values), freq="M"))


SPARSE_Y = np.array([0, 0, 3, 0, 1, 0, 0, 0, 2, 0, 0, 1], dtype=float)


def test_croston_sba_smooths_sizes_and_intervals_and_corrects_the_bias():
    assert demand_intervals(SPARSE_Y).tolist() == [3, 2, 4, 3]
    rate, fitted = croston_sba(SPARSE_Y, 0.1)
    size = 3 + 0.1 * (1 - 3)            # sizes 3, 1, 2, 1 smoothed from the first
    size += 0.1 * (2 - size)
    size += 0.1 * (1 - size)
    gap = 3 + 0.1 * (2 - 3)             # intervals 3, 2, 4, 3
    gap += 0.1 * (4 - gap)
    gap += 0.1 * (3 - gap)
    assert rate == pytest.approx((1 - 0.05) * size / gap)
    assert np.isnan(fitted[:3]).all()   # nothing to forecast from before the first demand is seen
    assert fitted[3] == pytest.approx(0.95 * 3 / 3) and fitted[5] == pytest.approx(0.95 * 2.8 / 2.9)


@pytest.mark.parametrize("values, pattern, adi, cv2", [
    ([2, 3, 2, 3, 2, 3], "smooth", 1.0, (0.5 / 2.5) ** 2),            # crime every month, steady counts
    ([1, 6, 1, 6, 1, 6], "erratic", 1.0, (2.5 / 3.5) ** 2),           # every month, counts vary widely
    ([0, 2, 0, 2, 0, 3], "intermittent", 2.0, (np.std([2, 2, 3]) / (7 / 3)) ** 2),
    ([0, 1, 0, 0, 9, 0], "lumpy", 3.0, (4 / 5) ** 2),                 # rare, and sizes vary
    ([0, 0, 4, 0, 0, 0], "none", np.nan, np.nan),                     # a single month with crime: too few to tell
])
def test_the_demand_pattern_is_the_syntetos_boylan_croston_class(values, pattern, adi, cv2):
    got = demand_pattern(np.array(values, dtype=float))
    assert got[0] == pattern
    np.testing.assert_allclose(got[1:], [adi, cv2])


def test_sparse_takes_crostons_method_for_a_smooth_window_and_sba_for_the_others():
    smooth = make("sparse").fit(monthly([2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3]))
    alpha = smooth.params()["alpha"]
    assert smooth.params()["pattern"] == "smooth" and smooth.params()["method"] == "croston"
    assert smooth.rate_ == pytest.approx(croston_sba(smooth.y_.to_numpy(), alpha, corrected=False)[0])
    lumpy = make("sparse").fit(monthly(SPARSE_Y))
    alpha = lumpy.params()["alpha"]
    assert lumpy.params()["pattern"] == "intermittent" and lumpy.params()["method"] == "sba"
    assert lumpy.rate_ == pytest.approx(croston_sba(SPARSE_Y, alpha)[0])
    assert lumpy.rate_ == pytest.approx(make("croston").fit(monthly(SPARSE_Y)).rate_)


def test_sparse_blends_the_global_models_forecast_into_its_rate_and_keeps_count_intervals():
    from forecast.models import GlobalSeries

    y = monthly(SPARSE_Y)
    local = make("sparse").fit(y)
    panel = GlobalSeries.holding(y, (0.1, 0.5, 0.9), np.array([[0, 0, 0], [1.0, 2.0, 3.0], [3, 4, 5]]))
    joined = local.joined(panel)
    frame = joined.predict(4)
    expected = (local.rate_ + np.array([1.0, 2.0, 3.0])) / 2
    np.testing.assert_allclose(frame["mean"], [*expected, local.rate_])   # the global model covers 3 months
    for rate, (_, row) in zip(frame["mean"], frame.iterrows()):
        assert [row["lo_95"], row["hi_95"]] == local.distribution(rate).ppf([0.025, 0.975]).tolist()
    assert local.predict(4)["mean"].tolist() == [local.rate_] * 4     # the local model is left as it was
    paths = joined.simulate(4, 20000, np.random.default_rng(1))
    np.testing.assert_allclose(paths.mean(axis=0), frame["mean"], rtol=0.05)
    assert joined.params()["global"] and not local.params()["global"]


def test_tsb_lets_the_demand_probability_decay_through_zeros():
    rate, fitted = tsb(np.array([0, 2, 0], dtype=float), 0.5, 0.5)
    # probability from 1/3: 1/6 after the zero, 7/12 after the demand, 7/24 after the last zero; size stays 2
    assert rate == pytest.approx(7 / 24 * 2)
    assert fitted.tolist() == pytest.approx([2 / 3, 1 / 3, 7 / 6])


def test_adida_smooths_sums_over_the_mean_interval_and_shares_them_out():
    y = np.array([0, 1, 0, 0, 2, 0], dtype=float)  # intervals 2 and 3: buckets of round(2.5) = 2 months
    rate, fitted, bucket = adida(y, 0.5)
    assert bucket == 2
    assert rate == pytest.approx(((1 + 0.5 * (0 - 1)) + 0.5 * (2 - 0.5)) / 2)  # sums 1, 0, 2 smoothed, per month
    assert fitted.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.25, 0.25])


@pytest.mark.parametrize("name", SPARSE)
def test_intervals_are_a_count_distributions_integer_quantiles_and_the_weight_is_the_best_in_sample(name):
    model = make(name).fit(monthly(np.tile(SPARSE_Y, 3)))
    frame = model.predict(3)
    dist = model.distribution()
    assert frame["mean"].tolist() == pytest.approx([model.rate_] * 3)
    for level in (80, 95):
        lo, hi = dist.ppf([0.5 - level / 200, 0.5 + level / 200])
        assert frame[f"lo_{level}"].tolist() == [lo] * 3 and frame[f"hi_{level}"].tolist() == [hi] * 3
        assert (frame[f"lo_{level}"] >= 0).all() and (frame[f"hi_{level}"] % 1 == 0).all()
    paths = model.simulate(3, 4000, np.random.default_rng(0))
    assert (paths >= 0).all() and (paths % 1 == 0).all()
    assert paths.mean() == pytest.approx(model.rate_, rel=0.08)
    assert model.params()["alpha"] in ALPHAS


@pytest.mark.parametrize("name", SPARSE)
def test_a_window_with_no_crime_forecasts_zero_with_no_spread(name):
    frame = make(name).fit(monthly([0] * 24)).predict(3)
    assert (frame.to_numpy() == 0).all()


def test_over_dispersed_errors_give_a_negative_binomial_and_others_a_poisson():
    bursty = make("croston").fit(monthly([0, 0, 9, 0, 0, 0, 1, 0, 0, 8, 0, 0, 0, 1, 0, 0, 10, 0, 0, 1]))
    assert bursty.params()["distribution"] == "negative binomial"
    assert isinstance(bursty.distribution().dist, type(stats.nbinom))
    steady = make("croston").fit(monthly([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]))
    assert steady.params()["distribution"] == "poisson"


def test_a_backtest_of_sparse_real_series_scores_the_intermittent_families_beside_the_baseline(tmp_path):
    frame = datasets.load("met-minor").frame
    frame = frame[(frame["crime_type"] == "Arson") & frame["area"].isin(["Camden", "Barnet"])]
    path = tmp_path / "arson.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(path, index=False)
    out = tmp_path / "backtest.csv"
    result = CliRunner().invoke(cli, ["backtest", "--data", path, "--crime", "arson", "--models",
                                      "snaive,croston,tsb,adida", "--no-track", "--jobs", "1", "-o", out],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert {"snaive", "croston", "tsb", "adida"} <= set(scored["model"])
    counts = scored[scored["model"].isin(SPARSE)]
    assert (counts[["lo_80", "hi_80", "lo_95", "hi_95"]] % 1 == 0).all().all()


NEIGHBOURHOODS = ["City of London 001F", "City of London 001G", "City of London 001E"]


def test_run_forecasts_the_sparse_neighbourhoods_with_counts_and_records_their_pattern(tmp_path):
    """Real LSOA series (the bundled City of London street files): 001F averages 6.6 burglaries a month, 001G 4.5
    and 001E 1.5; the two under 5 get the sparse model, the others the ensemble, and MLflow says which and why."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "--data", "city-of-london-lsoa", "--crime", "burglary", "--area",
                                      ",".join(NEIGHBOURHOODS), "--reconcile", "none", "--jobs", "1", "--paths", "0",
                                      "--out", out, "--tracking-uri", uri],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("2 series with too few crimes a month for SPC signals (current average under 5) forecast with the "
            "sparse model") in result.output
    forecast = pd.read_csv(out / "forecast.csv")
    models = forecast.drop_duplicates("area").set_index("area")["model"].to_dict()
    assert models == {"City of London 001F": "ensemble", "City of London 001G": "sparse",
                      "City of London 001E": "sparse"}
    panel = datasets.load("city-of-london-lsoa")
    for area in ("City of London 001G", "City of London 001E"):
        # the local count model, fitted here alone; the run's rate is the mean of its rate and the global model's
        local = make("sparse").fit(panel.series("Burglary", area))
        rows = forecast[forecast["area"] == area]
        assert (rows["mean"] != local.rate_).all() and (rows["mean"] > local.rate_ / 2).all()
        for rate, lo, hi in zip(rows["mean"], rows["lo_80"], rows["hi_80"]):
            assert [lo, hi] == local.distribution(rate).ppf([0.1, 0.9]).tolist()   # integer count quantiles
    backtest = pd.read_csv(out / "backtest.csv")
    models_of = backtest.groupby("area")["model"].agg(lambda m: sorted(set(m)))
    # a sparse series is scored against the baseline only; the others by every family of the run
    assert models_of["City of London 001E"] == ["auto", "snaive", "sparse"]
    assert set(models_of["City of London 001F"]) == {"snaive", "ets", "theta", "global", "ensemble", "sparse", "auto"}
    mlflow.set_tracking_uri(uri)
    children = mlflow.search_runs(experiment_names=["forecast/burglary"],
                                  filter_string="tags.mlflow.parentRunId != ''")
    by_area = children.set_index("tags.area")
    assert by_area.loc["City of London 001E", "params.model"] == "sparse"
    pattern, adi, cv2 = demand_pattern(panel.series("Burglary", "City of London 001E").to_numpy())
    assert pattern == "erratic" and by_area.loc["City of London 001E", "params.fit.pattern"] == pattern
    assert float(by_area.loc["City of London 001E", "params.fit.adi"]) == pytest.approx(adi)
    assert by_area.loc["City of London 001E", "params.fit.global"] == "true"
    assert by_area.loc["City of London 001F", "params.model"] == "ensemble"
