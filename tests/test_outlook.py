import json

import numpy as np
import pandas as pd
import pytest

from forecast.io import datasets
from forecast.control import xmr as spc
from forecast.models import make
from forecast.engine.outlook import Calibration, declared_changes, model_paths, outlook, run_completes


def monthly(values, start="2016-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


BASE = [12, 10] * 6  # process average 11


def test_seven_months_above_with_a_forecast_above_is_a_step_change_next_month():
    result = spc.analyse(monthly(BASE + [13] * 7), "Robbery", "Dudley")
    rng = np.random.default_rng(1)
    paths = np.round(np.clip(14 + rng.normal(0, 0.8, size=(2000, 3)), 0, None))
    o = outlook(result, paths)
    assert (o.run_side, o.run_length) == (1, 7)
    assert o.p_step_up > 0.9 and o.p_by_month[0] > 0.9
    assert o.likely_month == pd.Period("2017-08", "M")
    assert o.p_run_completes == pytest.approx(o.p_by_month[0])
    assert o.sentences[0] == ("Robbery in Dudley: 7 months above average; a significant step change up is likely "
                              f"next month (probability {o.p_step_up:.2f}).")


def test_a_long_stable_series_expects_no_step_change():
    rng = np.random.default_rng(2)
    history = np.round(100 + rng.normal(0, 5, size=72))
    result = spc.analyse(monthly(history), "Burglary", "Sandwell")
    model = make("ets").fit(monthly(history))
    paths = model_paths(model, model.predict(3), 2000, np.random.default_rng(3), whole=True)
    o = outlook(result, paths)
    assert o.p_step < 0.05
    assert o.sentences[0].endswith(f"no step change is expected next quarter (probability of a change {o.p_step:.2f}).")


def test_each_probability_is_the_share_of_paths_replayed_one_by_one():
    """Robbery in Bromley at 2018-12: 6 months below its average. Each probability of the outlook is the share of
    400 seeded paths in which the SPC engine itself, run on history + path, declares that change (or a month
    passes that limit): counted here path by path."""
    y = datasets.load("met-major").series("Robbery", "Bromley")
    result = spc.analyse(y, "Robbery", "Bromley")
    model = make("theta").fit(y)
    draw = lambda seed: np.round(model_paths(model, model.predict(3), 400, np.random.default_rng(seed), whole=True))
    paths = draw(7)
    o = outlook(result, paths)
    first = []
    for path in paths:
        changes = [c for c in spc.find_step_changes(np.r_[y.to_numpy(), path]) if c.detected >= len(y)]
        first.append((changes[0].detected - len(y), changes[0].direction) if changes else None)
    ucl, lcl = result.current["ucl"], result.current["lcl"]
    assert (o.run_side, o.run_length) == (-1, 6)
    assert o.p_step_down == sum(f is not None and f[1] == "down" for f in first) / 400 == 0.8225
    assert o.p_step_up == sum(f is not None and f[1] == "up" for f in first) / 400 == 0.0
    assert o.p_by_month == tuple(sum(f is not None and f[0] == h for f in first) / 400 for h in range(3))
    assert o.p_by_month == (0.0, 0.8225, 0.0) and o.likely_month == pd.Period("2019-02", "M")
    assert o.p_above_ucl == np.mean((paths > ucl).any(axis=1)) == 0.0375
    assert o.p_below_lcl == np.mean((paths < lcl).any(axis=1)) == 0.4
    # a step change down in February needs both months below the average: the run completes on exactly those paths
    assert o.p_run_completes == np.mean((paths[:, :2] < result.current["mean"]).all(axis=1)) == 0.8225
    assert outlook(result, draw(7)) == o and outlook(result, draw(8)) != o


@pytest.mark.parametrize("cut", [64, 67, 69, 40, 20])
def test_vectorised_replay_matches_the_spc_engine_path_by_path(cut):
    y = datasets.load("west-midlands").series("All crime", "All areas").to_numpy()
    history, future = y[:cut], y[cut:cut + 3]
    rng = np.random.default_rng(cut)
    paths = np.vstack([future, future + rng.normal(0, 1500, size=(60, 3))])
    declared, direction = declared_changes(history, paths)
    for i, path in enumerate(paths):
        changes = [c for c in spc.find_step_changes(np.r_[history, path]) if c.detected >= len(history)]
        if changes:
            first = changes[0]
            assert declared[i] == first.detected - len(history)
            assert direction[i] == (1 if first.direction == "up" else -1)
        else:
            assert declared[i] == -1, i
    if cut == 67:  # mid-run (2016-03..2016-07 above average): some paths complete the run, others break it
        assert 0 < np.mean(declared >= 0) < 1


def test_the_replay_declares_no_run_that_ended_before_the_paths():
    """Hillingdon Burglary cut at 2018-11: its process began 2018-01 and Feb-Sep were low. Paths far above the
    average would lift a trial average over that old run; only a run ending in a path's own months may count."""
    y = datasets.load("met-major").series("Burglary", "Hillingdon")
    history = y[:"2018-11"].to_numpy()
    paths = np.full((5, 3), 400.0)
    declared, direction = declared_changes(history, paths)
    assert declared.tolist() == [-1] * 5 and direction.tolist() == [0] * 5


def test_run_completes():
    paths = np.array([[12, 12, 12], [12, 9, 12], [9, 12, 12]], dtype=float)
    assert run_completes(paths, 11, 1, 6, 8) == pytest.approx(1 / 3)
    assert run_completes(paths, 11, 1, 7, 8) == pytest.approx(2 / 3)
    assert run_completes(paths, 11, 1, 2, 8) == 0.0
    assert run_completes(paths, 11, 0, 0, 8) is None


def test_calibration_brier_and_reliability():
    records = pd.DataFrame({"p_step": [0.0, 0.0, 0.1, 0.8, 0.9], "step_change": [False, False, False, True, False]})
    c = Calibration(records)
    assert c.base_rate == pytest.approx(0.2)
    assert c.brier == pytest.approx((0 + 0 + 0.01 + 0.04 + 0.81) / 5)
    assert c.brier_base_rate == pytest.approx((0.04 * 4 + 0.64) / 5)
    table = c.reliability()
    assert table["n"].sum() == 5
    assert table.set_index("bin").loc["0.70-0.90", "observed"] == 0.5


def test_outlook_command_json(invoke):
    result = invoke("outlook", "--crime", "burglary", "--area", "merton,all-areas", "--paths", "500", "--seed", "3",
                    "--format", "json", "--jobs", "1", "--reconcile", "none")  # fits 2 series, not 34: the
    # reconciled outlook, the run's own probability, is compared with the run in tests/test_help.py
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["area"] for r in rows] == ["Merton", "All areas"]
    for r in rows:
        assert set(r) >= {"crime_type", "area", "last_month", "current_run", "p_step_up", "p_step_down",
                          "likely_month", "p_above_ucl", "p_below_lcl", "sentences"}
        assert r["last_month"] == "2018-12"
    again = json.loads(invoke("outlook", "--crime", "burglary", "--area", "merton,all-areas", "--paths", "500",
                              "--seed", "3", "--format", "json", "--jobs", "1", "--reconcile", "none").stdout)
    assert again == rows
