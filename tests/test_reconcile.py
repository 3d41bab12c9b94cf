"""Reconciliation of a total over its parts: known inputs, known coherent outputs."""

import numpy as np
import pytest

from forecast.engine.reconcile import mapping, reconcile, shrunk_covariance, summing_matrix


def test_bottom_up_keeps_the_parts_and_sums_them():
    base = np.array([[10.0, 20.0], [3.0, 5.0], [4.0, 6.0]])
    assert np.array_equal(reconcile(base, "bottom-up"), [[7.0, 11.0], [3.0, 5.0], [4.0, 6.0]])
    assert np.array_equal(reconcile(base, "none"), base)


def test_equal_variances_share_the_gap_equally():
    # total 10 against parts 3 + 4: with W = I (OLS) each of the three forecasts moves by a third of the gap of 3
    out = reconcile(np.array([[10.0], [3.0], [4.0]]), "wls", variances=np.ones(3))
    assert np.allclose(out[:, 0], [9.0, 4.0, 5.0])


def test_a_certain_total_is_kept_and_the_parts_take_the_gap_by_their_variance():
    out = reconcile(np.array([[10.0], [3.0], [4.0]]), "wls", variances=np.array([1e-9, 1.0, 2.0]))
    assert np.allclose(out[:, 0], [10.0, 4.0, 6.0], atol=1e-6)  # the gap of 3 split 1:2


def test_mint_with_a_diagonal_covariance_is_wls_and_is_coherent():
    base = np.array([[100.0, 90.0], [30.0, 20.0], [50.0, 60.0], [10.0, 5.0]])
    variances = np.array([40.0, 10.0, 20.0, 5.0])
    wls = reconcile(base, "wls", variances=variances)
    mint = reconcile(base, "mint", covariance=np.diag(variances))
    assert np.allclose(wls, mint)
    assert np.allclose(mint[0], mint[1:].sum(axis=0))
    G = mapping(3, "mint", covariance=np.diag(variances))
    assert np.allclose(G @ summing_matrix(3), np.eye(3))  # unbiased: coherent forecasts are left as they are


def test_negative_parts_are_set_to_zero_and_the_total_resummed():
    out = reconcile(np.array([[0.0], [1.0], [9.0]]), "wls", variances=np.ones(3))
    # OLS would give parts -2.33 and 5.67: the first becomes 0 and the total is the sum
    assert np.allclose(out[:, 0], [17 / 3, 0.0, 17 / 3])


def test_shrinkage_keeps_a_strong_correlation_and_removes_noise():
    rng = np.random.default_rng(0)
    common = rng.normal(size=(200, 1))
    together = np.hstack([common, common * 2 + 0.01 * rng.normal(size=(200, 1))])
    cov = np.cov(together, rowvar=False)
    assert np.allclose(shrunk_covariance(together), cov, rtol=0.01)
    apart = rng.normal(size=(6, 2))  # six samples of unrelated series: their sample correlation is noise
    shrunk = shrunk_covariance(apart)
    assert np.allclose(np.diag(shrunk), np.diag(np.cov(apart, rowvar=False)))
    assert abs(shrunk[0, 1]) < abs(np.cov(apart, rowvar=False)[0, 1])


def test_methods_need_what_they_estimate_from():
    with pytest.raises(ValueError, match="needs each base forecast's variance"):
        reconcile(np.ones((3, 1)), "wls")
    with pytest.raises(ValueError, match="must be one of"):
        reconcile(np.ones((3, 1)), "middle-out")


def test_top_down_paths_add_up_keep_the_total_and_each_part_its_own_spread():
    from forecast.engine.reconcile import reconcile_paths

    rng = np.random.default_rng(0)
    base = np.array([[1000.0, 900.0], [300.0, 200.0], [500.0, 600.0]])  # parts add to 800, not the total's 1000
    sd = np.array([40.0, 30.0, 20.0])
    paths = base[:, None, :] + sd[:, None, None] * rng.standard_normal((3, 20000, 2))
    means, out = reconcile_paths(base, paths, "top-down")
    assert np.allclose(means, [[1000, 900], [375, 225], [625, 675]])  # the total shared 3:5, then 2:6
    assert np.allclose(out[0], out[1:].sum(axis=0))  # every path adds up
    assert np.allclose(out[0], paths[0])  # the total keeps its own distribution (no part went below zero)
    assert np.allclose(out.mean(axis=1), means, rtol=0.01)
    # a part keeps roughly its own spread: sd 30 becomes sqrt(30^2 (1 - 2 * 3/8) + (3/8)^2 (40^2 + 30^2 + 20^2))
    expected = np.sqrt(30 ** 2 * (1 - 2 * 3 / 8) + (3 / 8) ** 2 * (40 ** 2 + 30 ** 2 + 20 ** 2))
    assert out[1, :, 0].std() == pytest.approx(expected, rel=0.03)
    from forecast.engine.reconcile import reconciled_spread

    spread = reconciled_spread(base, np.repeat(sd[:, None], 2, axis=1), "top-down")
    assert spread[1, 0] == pytest.approx(expected) and spread[0, 0] == 40
    assert np.allclose(spread, out.std(axis=1), rtol=0.03)  # the formula is the paths' spread


def test_linear_methods_map_every_path_and_stay_coherent():
    from forecast.engine.reconcile import reconcile_paths

    base = np.array([[10.0], [3.0], [4.0]])
    paths = np.array([[[10.0], [12.0]], [[3.0], [2.0]], [[4.0], [5.0]]])
    means, out = reconcile_paths(base, paths, "wls", variances=np.ones(3))
    assert np.allclose(means[:, 0], [9.0, 4.0, 5.0])
    assert np.allclose(out[:, 0, 0], [9.0, 4.0, 5.0])  # the path equal to the base maps to the reconciled means
    assert np.allclose(out[0], out[1:].sum(axis=0))


def test_backtest_reconciles_every_origin_and_scores_the_reconciled_forecasts(tmp_path, invoke):
    import pandas as pd

    from conftest import backtest_mase
    from forecast.io import datasets

    out = tmp_path / "backtest.csv"
    args = ("backtest", "--crime", "drugs", "--force-totals", "--models", "snaive,theta", "--last", "60",
            "--origins", "2", "--min-months", "0", "--no-track", "--jobs", "1")
    result = invoke(*args, "-o", out)
    assert result.exit_code == 0, result.output
    assert "reconciled (top-down): the forecasts add up to their totals at 6 origin(s) x model(s)" in \
        result.stdout  # 2 origins x (snaive, theta, auto)
    p = pd.read_csv(out)
    for _, frame in p.groupby(["model", "origin"]):
        total = frame[frame["area"] == "All areas"].set_index("month")["mean"]
        areas = frame[frame["area"] != "All areas"].groupby("month")["mean"].sum()
        assert np.allclose(areas, total.reindex(areas.index))
    assert (p[["lo_80", "lo_95"]] >= 0).all().all()
    panel = datasets.load("met-major").with_totals(all_crime=False).last_months(60)
    theta = backtest_mase(p, lambda area: panel.series("Drugs", area), "theta")
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("theta "))
    assert float(row[2]) == pytest.approx(theta, abs=5e-4)  # the table scores what was written: reconciled
    assert invoke(*args, "--reconcile", "none", "-o", tmp_path / "plain.csv").exit_code == 0
    unreconciled = pd.read_csv(tmp_path / "plain.csv")
    plain = unreconciled[(unreconciled["origin"] == p["origin"].max()) & (unreconciled["model"] == "theta")]
    assert not np.isclose(plain[plain["area"] != "All areas"].groupby("month")["mean"].sum(),
                          plain[plain["area"] == "All areas"].set_index("month")["mean"]).all()


def _grouped_series():
    """2 crime types x 2 areas, with each type's force total, each area's All crime and the force's All crime."""
    import pandas as pd

    months = pd.period_range("2020-01", periods=6, freq="M")
    bottom = {("Burglary", "A"): 10.0, ("Burglary", "B"): 20.0, ("Robbery", "A"): 5.0, ("Robbery", "B"): 15.0}
    series = {k: pd.Series(v + np.arange(6), months) for k, v in bottom.items()}
    for crime in ("Burglary", "Robbery"):
        series[(crime, "All areas")] = series[(crime, "A")] + series[(crime, "B")]
    for area in ("A", "B", "All areas"):
        series[("All crime", area)] = series[("Burglary", area)] + series[("Robbery", area)]
    return series


def test_grouped_plan_shares_top_down_and_every_total_adds_up():
    import pandas as pd

    from forecast.engine.reconcile import plan, reconcile_predictions

    series = _grouped_series()
    steps = plan(series, "top-down")
    assert steps[0] == ("top-down", ("All crime", "All areas"), [("Burglary", "All areas"), ("Robbery", "All areas")])
    assert [s[0] for s in steps] == ["top-down"] * 3 + ["sum"] * 2
    base = {("All crime", "All areas"): 100.0, ("Burglary", "All areas"): 40.0, ("Robbery", "All areas"): 40.0,
            ("Burglary", "A"): 10.0, ("Burglary", "B"): 30.0, ("Robbery", "A"): 30.0, ("Robbery", "B"): 10.0,
            ("All crime", "A"): 1.0, ("All crime", "B"): 1.0}
    frame = pd.DataFrame([{"crime_type": c, "area": a, "model": "theta", "origin": "2020-06", "month": "2020-07",
                           "step": 1, "actual": 0.0, "mean": m, "lo_80": m - 1, "hi_80": m + 1, "lo_95": m - 2,
                           "hi_95": m + 2} for (c, a), m in base.items()])
    out, done, left = reconcile_predictions(frame, steps)
    got = out.set_index(["crime_type", "area"])["mean"]
    assert (done, left) == (1, 0)
    assert got[("Burglary", "All areas")] == got[("Robbery", "All areas")] == pytest.approx(50)  # 100 shared 1:1
    assert got[("Burglary", "A")] == pytest.approx(12.5) and got[("Robbery", "A")] == pytest.approx(37.5)
    assert got[("All crime", "A")] == pytest.approx(50) and got[("All crime", "B")] == pytest.approx(50)
    assert got[("All crime", "A")] + got[("All crime", "B")] == pytest.approx(got[("All crime", "All areas")])
    with pytest.raises(ValueError, match="areas and crime types together take top-down or bottom-up"):
        plan(series, "wls")
    one_level = plan({k: v for k, v in series.items() if k[0] != "All crime"}, "wls")
    assert [s[1] for s in one_level] == [("Burglary", "All areas"), ("Robbery", "All areas")]


def test_top_down_paths_of_skewed_parts_cut_at_zero_keep_their_means_and_add_up():
    """Parts like Fraud's areas: a few crimes a month forecast, paths far wider and skewed (cut at zero). Cutting
    the shared paths at zero alone lifts every part above its forecast and the total above its own paths."""
    from forecast.engine.reconcile import reconcile_paths

    rng = np.random.default_rng(1)
    base = np.array([[100.0], [5.0], [15.0], [80.0]])
    total = 100 + 10 * rng.standard_normal((1, 4000, 1))
    skewed = np.clip(base[1:, None, :] * rng.lognormal(0.0, 1.5, (3, 4000, 1)) - base[1:, None, :], 0, None)
    paths = np.concatenate([total, skewed])
    means, out = reconcile_paths(base, paths, "top-down")
    assert np.allclose(means[:, 0], [100, 5, 15, 80])
    assert (out >= 0).all()
    assert np.allclose(out[0], total[0]) and np.allclose(out[1:].sum(axis=0), out[0])  # the total's own paths
    assert np.allclose(out[1:].mean(axis=1)[:, 0], np.array([5, 15, 80]) * total.mean() / 100, rtol=1e-6)
    lo, hi = np.quantile(out[1:].sum(axis=2), [0.1, 0.9], axis=1)
    assert ((lo <= means[1:, 0]) & (means[1:, 0] <= hi)).all()  # each part's 80% interval holds its forecast
