"""An ensemble of other local members (`--members`): what it forecasts, that only its members are fitted, that it is
recorded, and that `outlook` given the same members repeats the run's probability."""

import json

import numpy as np
import pandas as pd
import pytest

import forecast as fc
from forecast.engine.backtest import BacktestSettings
from forecast.errors import SelectionError
from forecast.models import DEFAULT_RUN, parse_members, run_families


def test_the_default_members_give_the_default_run_and_others_replace_them():
    assert run_families() == DEFAULT_RUN == ("snaive", "ets", "theta", "global", "ensemble")
    assert run_families(("ets", "theta", "stl-arima")) == ("snaive", "ets", "theta", "stl-arima", "global", "ensemble")
    assert run_families(("theta",)) == ("snaive", "theta", "global", "ensemble")
    assert run_families(parse_members(" ets , theta ")) == ("snaive", "ets", "theta", "global", "ensemble")
    assert parse_members(None) == parse_members("") == ("ets", "theta")
    for bad, said in (("global", "'global' is not a family fitted on each series"),
                      ("ensemble", "'ensemble' is not a family"), ("ets,ets", "a family named twice")):
        with pytest.raises(SelectionError, match=said):
            parse_members(bad)
    with pytest.raises(ValueError, match="at least one member"):
        BacktestSettings(members=())


@pytest.fixture(scope="module")
def three_members(tmp_path_factory, met_major_models):
    from click.testing import CliRunner

    from forecast.cli import cli

    out = tmp_path_factory.mktemp("members") / "robbery"
    result = CliRunner().invoke(cli, ["run", "--crime", "robbery", "--area", "camden,westminster", "--members",
                                      "ets,theta,stl-arima", "--out", str(out), "--no-track", "--jobs", "1",
                                      "--paths", "200"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_a_run_of_three_members_fits_them_and_blends_their_median_with_the_global_model(three_members):
    backtest = pd.read_csv(three_members / "backtest.csv")
    assert set(backtest["model"]) == {"snaive", "ets", "theta", "stl-arima", "global", "ensemble", "auto"}
    wide = backtest.pivot_table(index=["area", "origin", "month"], columns="model", values="mean")
    assert len(wide) == 2 * 4 * 3
    # the global model's forecast is given half the weight (the CSV's figures are rounded to 2 decimals, so the
    # blend of them is within 0.01)
    blended = (wide[["ets", "theta", "stl-arima"]].median(axis=1) + wide["global"]) / 2
    assert np.abs(wide["ensemble"] - blended).max() <= 0.01
    default = ((wide["ets"] + wide["theta"]) / 2 + wide["global"]) / 2
    assert np.abs(wide["ensemble"] - default).max() > 1  # not the default members' forecast
    assert json.loads((three_members / "run.json").read_text())["ensemble_members"] == ["ets", "theta", "stl-arima"]
    summary = pd.read_csv(three_members / "summary.csv")
    assert set(summary["model"]) == {"ensemble"}


def test_the_api_backtest_of_one_member_is_that_member_blended_with_the_global_model(met_major_models):
    panel = fc.load("met-major")
    done = fc.backtest(panel.select(crime="robbery", area="camden,westminster,sutton,merton"), models="theta,ensemble",
                       members=["theta"], reconcile="none", n_jobs=1)
    p = done.predictions.pivot_table(index=["area", "origin", "month"], columns="model", values="mean")
    assert set(p.columns) == {"theta", "ensemble", "auto"} and len(p) == 4 * 4 * 3
    given = done.result.global_fit.series
    assert len(given) == 4  # the four areas are a panel: the global model forecast each at every origin
    for (area, origin, month), row in p.iterrows():
        global_mean = given[("Robbery", area)].origins[origin].forecast_columns(3)["mean"]
        step = (pd.Period(month, "M") - pd.Period(origin, "M")).n - 1
        assert row["ensemble"] == pytest.approx((row["theta"] + global_mean[step]) / 2, rel=1e-12)


def test_outlook_given_the_runs_members_gives_the_runs_probability(met_major_models):
    panel = fc.load("met-major")
    areas = ["Camden", "Westminster"]
    ran = fc.run(panel, "robbery", areas=areas, members=("theta",), reconcile="none", n_paths=300, n_jobs=1)
    assert set(ran.backtest["model"]) == {"snaive", "theta", "global", "ensemble", "auto"}
    columns = ["p_step_up", "p_step_down", "p_above_ucl"]
    published = ran.summary.set_index("area").loc[areas, columns]

    def outlook(**members):
        found = fc.outlook(panel, "robbery", areas, **members, reconcile="none", n_paths=300, n_jobs=1)
        return found.table.set_index("area").loc[areas, columns]

    again = outlook(members=("theta",))
    # the summary gives 4 decimals
    assert again.to_numpy() == pytest.approx(published.to_numpy(), abs=0.00005)
    # 106 of the 300 paths (the table gives 6 decimals)
    assert again.loc["Westminster", "p_above_ucl"] == pytest.approx(106 / 300, abs=5e-7)
    # the default members' forecast gives another chance: the members were not ignored
    assert outlook().loc["Westminster", "p_above_ucl"] == pytest.approx(101 / 300, abs=5e-7)


def test_the_outlook_replayed_on_history_uses_the_members_given(met_major_models):
    panel = fc.load("met-major")

    def replayed(**members) -> list[float]:
        found = fc.evaluate_outlook(panel, "robbery", "westminster", **members, every=6, n_paths=300, n_jobs=1)
        return [round(p, 3) for p in found.records["p_step"] if p]

    # the four origins, of 16, where Westminster's Robbery had a run under way
    assert replayed(members=["theta"]) == [0.703, 0.71, 0.563, 0.747]
    assert replayed() == [0.753, 0.737, 0.573, 0.783]


def test_a_winter_plan_of_one_member_blends_it_with_the_global_model(met_major_models):
    plan = fc.winter(fc.load("met-major"), "burglary", "all-areas", winters=1, members=["theta"], n_paths=200,
                     n_jobs=1)
    past = plan.backtest[~plan.backtest["reconciled"]]
    assert set(past["model"]) == {"snaive", "theta", "global", "ensemble", "auto"}
    totals = past.pivot_table(index="origin", columns="model", values="total")
    assert list(totals.index) == ["2017-12"]
    # last winter's total, the recorded months and the forecast ones: the mean of Theta's and the global model's
    assert totals.loc["2017-12", "ensemble"] == pytest.approx(
        (totals.loc["2017-12", "theta"] + totals.loc["2017-12", "global"]) / 2, rel=1e-12)
    assert abs(totals.loc["2017-12", "ensemble"] - totals.loc["2017-12", "theta"]) > 10
    assert plan.plan.settings.members == ("theta",) and plan.plan.manifest(0)["ensemble_members"] == ["theta"]


@pytest.mark.parametrize("members, said", [("global", "'global' is not a family fitted on each series"),
                                           ("ets,ets", "a family named twice"),
                                           ("ets,thta", "'thta' is not a family fitted on each series")])
def test_bad_members_are_a_one_line_error_before_any_work(members, said, tmp_path, invoke, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["run", "--crime", "robbery", "--no-track"], ["backtest", "--crime", "robbery", "--no-track"],
                    ["outlook", "--crime", "robbery", "--area", "camden"]):
        result = invoke(*command, "--members", members)
        assert result.exit_code == 2 and "Invalid value for '--members'" in result.output and said in result.output
        assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
