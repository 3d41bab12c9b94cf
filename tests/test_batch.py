"""The sparse series' batch path (forecast.engine.batch) against the path a series at a time it replaces: every
prediction, score, choice, model and forecast equal to the last bit, on the bundled sparse panels, on short and
sparse panels hypothesis makes, and through a whole run."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy import stats

import forecast as fc
from forecast.engine import batch
from forecast.engine.backtest import BacktestSettings, PanelForecasts, forecast_series, panel_forecasts, run_batches
from forecast.io import datasets
from forecast.jobs.run import QUARTER_PATHS, fit_series, fit_sparse_series
from forecast.models import BASELINE, GlobalSeries
from forecast.models.intermittent import count_bounds

SPARSE = BacktestSettings(models=(BASELINE, "sparse"))


def assert_same(a, b) -> None:
    """Two SeriesForecasts equal to the last bit: frames, choice, notes and the fitted model's state."""
    assert (a.crime_type, a.area, a.chosen, a.scored_as, a.notes, a.failures) == \
        (b.crime_type, b.area, b.chosen, b.scored_as, b.notes, b.failures)
    for name in ("predictions", "metrics", "forecast"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert type(a.model) is type(b.model)
    assert a.model.fitted_params() == b.model.fitted_params()
    assert np.array_equal(getattr(a.model, "panel_mean_", None), getattr(b.model, "panel_mean_", None))


def one_at_a_time(items, given=None, plan=SPARSE) -> list:
    return [forecast_series(key, y, plan, "sparse", 3, (given or {}).get(key)) for key, y in items]


def test_count_bounds_of_many_series_are_each_series_own_poisson_or_negative_binomial_quantiles():
    rates = np.array([[2.0, 0.5, 0.0], [2.0, 0.5, 0.0], [4.0, 4.0, 1.0]])
    dispersion = np.array([1.0, 3.0, 0.7])
    low, high = count_bounds(rates, dispersion, 80)
    # Poisson(2): P(X <= 0) = 0.135 >= 0.10, P(X <= 3) = 0.857 < 0.90 <= P(X <= 4) = 0.947
    assert low[0].tolist() == [0.0, 0.0, 0.0] and high[0].tolist() == [4.0, 1.0, 0.0]
    size = 2.0 / (3.0 - 1)                    # negative binomial with mean 2 and variance 3 x 2
    assert high[1, 0] == stats.nbinom.ppf(0.9, size, size / (size + 2.0)) == 5.0
    assert high[1, 2] == 0.0                  # no crime expected, none in the interval
    assert high[2].tolist() == stats.poisson.ppf(0.9, [4.0, 4.0, 1.0]).tolist()  # under-dispersed: Poisson
    for i in range(3):
        one = count_bounds(rates[i], dispersion[i], 95)
        many = count_bounds(rates, dispersion, 95)
        assert one[0].tolist() == many[0][i].tolist() and one[1].tolist() == many[1][i].tolist()


def test_the_batch_path_equals_a_series_at_a_time_on_the_city_neighbourhoods_with_the_global_model():
    panel = datasets.load("city-of-london-lsoa")
    items = list(panel.iter_series())
    # trained as a run trains it (on the panel with its totals), so that the run below finds these models
    fit = panel_forecasts(panel.with_totals(), dict(items), BacktestSettings(), 3, 2)
    assert len(fit.series) > 100                       # the global model's forecasts are blended in
    batched = batch.forecast_sparse(items, SPARSE, 3, fit.series)
    for a, b in zip(one_at_a_time(items, fit.series), batched):
        assert_same(a, b)
    assert [(f.crime_type, f.area) for f in batched] == [key for key, _ in items]
    assert {f.model.pattern_ for f in batched if f.model.constant_ is None} == \
        {"smooth", "erratic", "intermittent", "lumpy", "none"}


def test_the_batch_path_equals_a_series_at_a_time_on_met_minor_with_short_series_among_them():
    items = list(datasets.load("met-minor").iter_series())
    lengths = pd.Series([len(y) for _, y in items])
    items = [items[i] for i in sorted({*range(0, len(items), 12), *lengths[lengths < 27].index[:10]})]
    alone = one_at_a_time(items)
    for a, b in zip(alone, batch.forecast_sparse(items, SPARSE)):
        assert_same(a, b)
    short = sum(len(y) < 27 for _, y in items)          # too short for 4 origins: each went the series' own way
    assert short >= 10 and sum("backtest limited to" in " ".join(f.notes) for f in alone) == short


def panels():
    """Short, small and sparse panels: 1 to 6 series of 9 to 40 months, starting in different months, of counts
    from none to a few a month; some flat, some empty; with or without the global model's forecasts; backtests of
    the default windows or others (fewer origins, shorter horizons, training windows down to 6 months)."""
    def series(draw, i):
        n = draw(st.integers(9, 40))
        kind = draw(st.sampled_from(["counts", "zeros", "flat", "one"]))
        if kind == "counts":
            values = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        elif kind == "one":
            values = [0] * n
            values[draw(st.integers(0, n - 1))] = draw(st.integers(1, 6))
        else:
            values = [0 if kind == "zeros" else 2] * n
        start = pd.Period("2019-01", "M") + draw(st.integers(0, 3))
        return ("Crime", f"Area {i}"), pd.Series(np.array(values, dtype=float),
                                                 index=pd.period_range(start, periods=n, freq="M"))

    @st.composite
    def panel(draw):
        items = [series(draw, i) for i in range(draw(st.integers(1, 6)))]
        given = {}
        for key, y in items:
            if draw(st.booleans()):
                origins = {str(y.index[n - 1]): GlobalSeries.holding(y.iloc[:n], (0.1, 0.5, 0.9), np.array(
                    [[draw(st.floats(0, 3))] * 3] * 3)) for n in range(3, len(y))}
                given[key] = PanelForecasts(origins, GlobalSeries.holding(y, (0.1, 0.5, 0.9), np.full((3, 3), 1.5)))
        plan = draw(st.sampled_from([SPARSE, BacktestSettings(models=SPARSE.models, origins=2, horizon=1, step=1),
                                     BacktestSettings(models=SPARSE.models, horizon=2, min_train=12),
                                     BacktestSettings(models=SPARSE.models, origins=1, min_train=6)]))
        return items, given, plan

    return panel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels())
def test_the_batch_path_equals_a_series_at_a_time_on_short_small_and_sparse_panels(case):
    items, given_, plan = case
    for a, b in zip(one_at_a_time(items, given_, plan), batch.forecast_sparse(items, plan, 3, given_)):
        assert_same(a, b)



def test_a_series_whose_fit_fails_goes_the_series_own_way_alone_or_with_its_whole_group(monkeypatch):
    """A count model's numerical failure (a ValueError from its library becomes a ModelFitError) is counted and
    said, and the seasonal naive forecasts the series, as a series at a time; the others of its group keep the
    batch's results. Here the series starting with 9 crimes fail, every fit of them."""
    from forecast.models.intermittent import Sparse

    rate = Sparse._rate

    def failing(self, y):
        if y[0] == 9:
            raise ValueError("a singular matrix")
        return rate(self, y)

    monkeypatch.setattr(Sparse, "_rate", failing)
    rng = np.random.default_rng(3)
    months = pd.period_range("2018-01", periods=30, freq="M")
    counts = rng.poisson(0.8, (4, 30)).astype(float)
    counts[1, 0] = counts[2, 0] = 9                     # two of four series of one group fail
    items = [(("Crime", f"Area {i}"), pd.Series(c, index=months)) for i, c in enumerate(counts)]
    items += [(("Crime", "Alone"), pd.Series(counts[1], index=months + 3))]     # a group of one, which fails
    alone, batched = one_at_a_time(items), batch.forecast_sparse(items, SPARSE)
    for a, b in zip(alone, batched):
        assert_same(a, b)
    assert [f.failures for f in batched] == [0, 5, 5, 0, 5]            # 4 origins and the final fit
    assert [f.chosen for f in batched] == ["sparse", "snaive", "snaive", "sparse", "snaive"]
    assert "sparse failed on the full series (sparse: a singular matrix); seasonal naive used" in batched[1].notes

def test_the_batch_path_refuses_a_plan_it_does_not_make():
    with pytest.raises(ValueError, match="backtests snaive and sparse, not snaive, croston"):
        batch.forecast_sparse([], BacktestSettings(models=(BASELINE, "croston")))
    assert not batch.batches(SPARSE, "croston") and batch.batches(SPARSE, "sparse")


def test_batches_of_series_in_worker_processes_give_each_series_its_own_frames_paths_and_decomposition():
    items = list(datasets.load("city-of-london-lsoa").select(crime="Robbery").iter_series())[:40]
    # a series too short for any backtest origin, with empty frames, in the same job as others and in one alone
    items[35:35] = [(("Robbery", f"Short {i}"), items[i][1].iloc[:14]) for i in range(2)]
    items.append((("Robbery", "Short 2"), items[0][1].iloc[:12]))
    seen = []
    out = run_batches(fit_sparse_series, items, 3, QUARTER_PATHS, 7, SPARSE, n_jobs=2, progress=seen.append)
    assert [(f.crime_type, f.area) for f in out] == [key for key, _ in items]
    assert sorted((f.crime_type, f.area) for f in seen) == sorted(key for key, _ in items)
    for (key, y), f in zip(items, out):
        alone = fit_series(key, y, 3, QUARTER_PATHS, 7, (SPARSE, "sparse"))
        assert_same(alone.forecast, f.forecast)
        assert np.array_equal(alone.paths, f.paths) and f.paths.shape == (QUARTER_PATHS, 3)
        assert len(f.forecast.predictions) == (0 if key[1].startswith("Short") else 4 * 3 * 3)
        pd.testing.assert_frame_equal(alone.decomposition.components, f.decomposition.components, check_exact=True)


def test_a_run_of_neighbourhoods_is_the_same_with_the_batch_path_as_without(monkeypatch):
    panel = datasets.load("city-of-london-lsoa")
    batched = fc.run(panel, crime="Theft from the person", n_paths=500, n_jobs=2)
    monkeypatch.setattr(batch, "batches", lambda settings, model: False)
    alone = fc.run(panel, crime="Theft from the person", n_paths=500, n_jobs=2)
    assert (batched.summary["model"] == "sparse").sum() > 20
    for name in ("forecast", "spc", "backtest", "summary"):
        pd.testing.assert_frame_equal(getattr(batched, name), getattr(alone, name), check_exact=True)
    assert batched.sentences == alone.sentences
    for key in batched.result.keys:
        assert np.array_equal(batched.result.paths[key], alone.result.paths[key])
