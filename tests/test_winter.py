"""forecast winter: the season's months, past planning months a year apart, winter totals whose intervals come
from sample paths, plans that add up, and the past-winter backtest on the bundled data."""

import re
import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecast.io import datasets
from forecast.data import ALL_AREAS, ALL_CRIME
from forecast.jobs.winter import Season, WinterSettings, _outside, _scored, month_span, plan_winter, winter_name
from forecast.present.winter_page import table_footnote, table_rows


def months(text: str, end: str) -> pd.PeriodIndex:
    return Season.parse(text).coming(pd.Period(end, freq="M"))


def test_seasons_read_as_planners_write_them():
    assert Season.parse("nov-feb").months == (11, 12, 1, 2)
    assert Season.parse("Oct-Mar").months == (10, 11, 12, 1, 2, 3)
    assert Season.parse("11-2") == Season.parse("November-February") == Season.parse("nov-feb")
    assert Season.parse("jun-aug").label == "Jun-Aug"
    for bad, said in (("nox-feb", "'nox' is not a month"), ("nov", "such as nov-feb"), ("13-2", "'13' is not a month")):
        with pytest.raises(ValueError, match=said):
            Season.parse(bad)


def test_the_coming_winter_is_the_first_to_end_after_the_data():
    assert [str(m) for m in months("nov-feb", "2018-12")] == ["2018-11", "2018-12", "2019-01", "2019-02"]
    assert list(months("nov-feb", "2018-09")) == list(months("nov-feb", "2018-12"))
    assert str(months("nov-feb", "2019-02")[0]) == "2019-11"  # the winter just ended: plan the next one
    assert winter_name(months("nov-feb", "2018-09")) == "2018/19" and winter_name(months("jun-aug", "2019-01")) == "2019"
    assert month_span(months("oct-mar", "2018-09")) == "Oct 2018 to Mar 2019"
    settings = WinterSettings(Season.parse("nov-feb"), pd.Period("2018-12", freq="M"))
    assert settings.horizon == 2 and [str(m) for m in settings.recorded] == ["2018-11", "2018-12"]


def test_a_total_outside_its_own_interval_is_flagged():
    assert _outside({"total": 415.0, "lo_80": 539.0, "hi_80": 1647.0, "peak_reliable": False}) == [
        "the expected 415 lies outside its own 80% interval (539 to 1,647): the paths are cut at zero and their "
        "spread is wider than the series now is, so the interval and the peak month are not to be relied on"]
    assert _outside({"total": 540.0, "lo_80": 539.0, "hi_80": 1647.0, "peak_reliable": True}) == []
    assert _outside({"total": 540.0, "lo_80": 539.0, "hi_80": 1647.0, "peak_reliable": False,
                     "peak_month": "2019-02"}) == [
        "the likeliest peak in the paths (2019-02) is not the month of the highest expected count, so the peak "
        "month is not to be relied on"]


def test_the_table_marks_a_total_outside_its_interval_and_says_why_below():
    row = {"crime_type": "Fraud or Forgery", "area": ALL_AREAS, "total": 407.0, "lo_80": 432.0, "hi_80": 855.0,
           "lo_95": 398.0, "hi_95": 1019.0, "last_winter": 416.0, "vs_last_winter_pct": -2.2, "average": 433.0,
           "vs_average_pct": -6.0, "peak_month": "2019-02", "p_peak": 0.65, "backtest_winters": 9,
           "backtest_error_pct": 13.7, "snaive_error_pct": 101.8, "peak_reliable": False}
    fine = {**row, "crime_type": "Robbery", "total": 11814.0, "lo_80": 11190.0, "hi_80": 12336.0, "peak_reliable": True}
    frame = pd.DataFrame([fine, row])
    assert [r[3] for r in table_rows(frame)] == ["11,190-12,336", "432-855 *"]
    assert [r[9] for r in table_rows(frame)] == ["Feb (0.65)", "Feb (0.65) *"]
    assert table_footnote(frame).startswith("* not to be relied on: the expected total lies outside its own 80% "
                                            "interval, or the likeliest peak in the paths is not the month of the "
                                            "highest expected count")
    assert table_footnote(frame.iloc[:1]) == ""


def test_past_planning_months_are_a_year_apart_with_two_years_of_training():
    y = pd.Series(1.0, index=pd.period_range("2014-01", "2018-12", freq="M"))
    settings = WinterSettings(Season.parse("nov-feb"), y.index[-1])
    assert settings.origins(y) == [24, 36, 48]  # 2015-12, 2016-12, 2017-12; 2014-12 had 12 months
    assert WinterSettings(Season.parse("nov-feb"), y.index[-1], winters=2).origins(y) == [36, 48]


def test_a_past_winter_is_scored_on_its_total_with_the_recorded_months_as_they_were():
    y = pd.Series(np.arange(1.0, 61.0), index=pd.period_range("2014-01", "2018-12", freq="M"))
    origin = pd.Period("2017-12", freq="M")
    window = pd.period_range("2017-11", "2018-02", freq="M")  # 47, 48 recorded; 49, 50 to come
    frame = pd.DataFrame({"mean": [49.0, 52.0]}, index=pd.period_range("2018-01", "2018-02", freq="M"))
    rng = np.random.default_rng(0)
    paths = np.column_stack([49 + rng.normal(0, 1, 1000), 52 + rng.normal(0, 1, 1000)])
    row = _scored("x", origin, window, y, frame.index, frame["mean"].to_numpy(), paths, scale=2.0)
    assert row["actual_total"] == 47 + 48 + 49 + 50
    assert row["total"] == 47 + 48 + 49 + 52
    assert row["error_pct"] == pytest.approx(2 / 194 * 100)
    assert row["mase"] == pytest.approx((0 + 2) / 2 / 2.0)  # the forecast months' errors 0 and 2, scale 2
    assert row["recorded_months"] == 2 and row["forecast_months"] == 2
    assert row["covered_95"] == 1.0 and row["covered_80"] == 0.0  # the sum's sd is sqrt(2): 2 off is outside 80%


@pytest.fixture(scope="module")
def small_plan():
    """Burglary and Robbery in three boroughs with their totals (real counts), planned from September 2018."""
    panel = datasets.load("met-major").select(crime="burglary,robbery", area="camden,merton,hillingdon").with_totals()
    panel = replace(panel, frame=panel.frame[panel.frame["month"] <= pd.Period("2018-09", freq="M")])
    settings = WinterSettings(Season.parse("nov-feb"), pd.Period("2018-09", freq="M"), models=("snaive", "theta"),
                              model="theta", winters=3)
    return plan_winter(panel, settings, n_jobs=1)


def test_every_path_of_the_plan_adds_up_areas_to_force_totals_and_crime_types_to_all_crime(small_plan):
    plan = small_plan
    assert plan.reconciliation == "top-down" and len(plan.keys) == 12
    areas = ["Camden", "Hillingdon", "Merton"]
    for crime in ("Burglary", "Robbery", ALL_CRIME):
        parts = sum(plan.paths[(crime, a)] for a in areas)
        assert np.allclose(parts, plan.paths[(crime, ALL_AREAS)])
    for area in [*areas, ALL_AREAS]:
        assert np.allclose(plan.paths[("Burglary", area)] + plan.paths[("Robbery", area)], plan.paths[(ALL_CRIME, area)])
    totals = plan.totals().set_index(["crime_type", "area"])["total"]
    assert totals[(ALL_CRIME, ALL_AREAS)] == pytest.approx(totals.drop((ALL_CRIME, ALL_AREAS))
                                                           .loc[["Burglary", "Robbery"], ALL_AREAS].sum())


def test_past_winters_are_scored_as_printed_reconciled_by_the_plan(small_plan):
    plan = small_plan
    backtest = plan.backtest_frame()
    printed = backtest[backtest["reconciled"].astype(bool)].set_index(["origin", "crime_type", "area"])
    assert set(printed["model"]) == {"theta"} and len(printed) == 12 * 3  # every series, 3 past winters
    for origin in ("2015-09", "2016-09", "2017-09"):
        at = printed.loc[origin]["total"]
        for crime in ("Burglary", "Robbery", ALL_CRIME):  # what was scored adds up as the printed plan does
            assert at.loc[crime].drop(ALL_AREAS).sum() == pytest.approx(at.loc[(crime, ALL_AREAS)])
        assert at.loc[("Burglary", "Camden")] + at.loc[("Robbery", "Camden")] == pytest.approx(
            at.loc[(ALL_CRIME, "Camden")])
    own = backtest[~backtest["reconciled"].astype(bool) & (backtest["model"] == "theta")]
    own = own.set_index(["origin", "crime_type", "area"])["total"]
    assert own.loc[("2017-09", "Burglary", "Camden")] != pytest.approx(printed.loc[("2017-09", "Burglary", "Camden"),
                                                                                   "total"])
    summary = plan.backtest_summary().set_index(["level", "model"])
    assert summary.loc[("every series", "theta reconciled"), "winters"] == 36
    assert summary.loc[("every series", "theta reconciled"), "coverage_80"] == pytest.approx(printed["covered_80"].mean())
    totals = plan.totals().set_index(["crime_type", "area"])
    camden = printed.xs(("Burglary", "Camden"), level=("crime_type", "area"))
    assert totals.loc[("Burglary", "Camden"), "backtest_covered_80"] == pytest.approx(camden["covered_80"].mean())
    assert totals.loc[("Burglary", "Camden"), "backtest_error_pct"] == pytest.approx(camden["error_pct"].abs().mean())


def test_plan_compares_with_the_winters_recorded_before(small_plan):
    plan = small_plan
    row = plan.totals().set_index(["crime_type", "area"]).loc[("Burglary", "Camden")]
    y = plan.history[("Burglary", "Camden")]
    last = y["2017-11":"2018-02"].sum()
    three = np.mean([y[f"{s}-11":f"{s + 1}-02"].sum() for s in (2015, 2016, 2017)])
    assert row["last_winter"] == last and row["average"] == pytest.approx(three) and row["average_winters"] == 3
    assert row["vs_last_winter_pct"] == pytest.approx((row["total"] - last) / last * 100)
    assert row["forecast_months"] == 4 and row["recorded_months"] == 0 and row["backtest_winters"] == 3
    frame = plan.months_frame()
    mine = frame[(frame["crime_type"] == "Burglary") & (frame["area"] == "Camden")]
    assert list(mine["month"]) == ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
    assert list(mine["in_winter"]) == [False, True, True, True, True]  # October is forecast, not counted
    assert row["total"] == pytest.approx(mine.loc[mine["in_winter"], "mean"].sum())


def test_a_small_plan_is_read_in_full_and_a_large_one_by_its_force_totals(small_plan):
    plan = small_plan
    assert plan.headline() == plan.keys and len(plan.sentences()) == 12
    assert "Burglary in Camden this winter" in "\n".join(plan.sentences())
    larger = replace(plan, series={**plan.series, ("Burglary", "Nowhere"): plan.series[("Burglary", "Camden")]})
    assert larger.headline() == [(ALL_CRIME, ALL_AREAS), ("Burglary", ALL_AREAS), ("Robbery", ALL_AREAS)]


def test_sentences_say_when_an_interval_cannot_be_trusted_and_one_past_winter_is_no_average(small_plan):
    plan = replace(small_plan)
    frame = small_plan.totals()
    row = frame.index[(frame["crime_type"] == "Burglary") & (frame["area"] == "Camden")][0]
    total = frame.loc[row, "total"]
    frame.loc[row, ["lo_80", "hi_80", "backtest_winters"]] = [total + 1, total + 100, 1]
    plan.__dict__["_totals"] = frame
    text = next(s for s in plan.sentences() if s.startswith("Based on the forecast, Burglary in Camden"))
    assert f"expected at {total:,.0f} (its 80% interval, {total + 1:,.0f} to {total + 100:,.0f}, does not hold " \
           "that figure and is not to be relied on)" in text
    assert re.search(r"In 1 past winter forecast from September, this total was off by \d+% \(last winter's", text)
    assert "on average" not in text


def test_a_plan_inside_the_winter_counts_its_recorded_months_as_recorded():
    panel = datasets.load("met-major").select(crime="burglary", area="camden,merton,hillingdon").with_totals()
    settings = WinterSettings(Season.parse("nov-feb"), pd.Period("2018-12", freq="M"), models=("snaive",),
                              model="snaive", winters=2)
    plan = plan_winter(panel, settings, n_jobs=1)
    row = plan.totals().set_index(["crime_type", "area"]).loc[("Burglary", "Merton")]
    y = plan.history[("Burglary", "Merton")]
    assert row["recorded_months"] == 2 and row["forecast_months"] == 2
    # seasonal naive: Jan and Feb as last year, so the total is this Nov and Dec plus last Jan and Feb exactly
    expected = y["2018-11":"2018-12"].sum() + y["2018-01":"2018-02"].sum()
    assert row["total"] == expected
    assert row["lo_80"] >= y["2018-11":"2018-12"].sum()


#: the boroughs of the September plan: real counts of every crime type, with the force totals they add up to
SIX_BOROUGHS = ("Camden", "Croydon", "Hillingdon", "Merton", "Sutton", "Westminster")


@pytest.fixture(scope="module")
def september(tmp_path_factory):
    """`forecast winter` on every force total of six boroughs of the bundled data (a CSV of their real counts, every
    crime type), planned in September 2018 (the whole winter ahead), recorded in a real MLflow store. Six boroughs,
    not 33: the same plan and backtest over every past winter, with a global model trained on 70 series instead of
    340 at each of the 9 cut-offs; bench_winter.py plans the whole bundled panel."""
    from click.testing import CliRunner

    from forecast.cli import cli

    folder = tmp_path_factory.mktemp("winter")
    frame = datasets.load("met-major").frame
    data = folder / "six-boroughs.csv"
    frame[frame["area"].isin(SIX_BOROUGHS)].to_csv(data, index=False)
    store = f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
    result = CliRunner().invoke(cli, ["winter", "--data", str(data), "--area", "all-areas", "--end", "2018-09",
                                      "--out", str(folder / "plan"), "--tracking-uri", store], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder, result.output


def test_winter_totals_come_from_paths_narrower_than_summed_monthly_bounds(september):
    folder, out = september
    winter = pd.read_csv(folder / "plan" / "winter.csv")
    monthly = pd.read_csv(folder / "plan" / "winter_months.csv")
    assert len(winter) == 10 and set(winter["area"]) == {ALL_AREAS}
    assert "the whole winter is forecast, and the months from Oct 2018 before it" in out
    for r in winter.itertuples():
        mine = monthly[(monthly["crime_type"] == r.crime_type) & monthly["in_winter"]]
        summed = (mine["hi_80"] - mine["lo_80"]).sum()
        assert r.lo_80 <= r.total < r.hi_80 and r.lo_95 <= r.lo_80 and r.hi_95 > r.hi_80  # Fraud's reach 0
        assert r.hi_80 - r.lo_80 < summed, r.crime_type
        # each figure is written to 2 decimals: the months' sum is within half a cent a figure of the total's
        assert r.total == pytest.approx(mine["mean"].sum(), abs=0.005 * (len(mine) + 1))
    total = winter.set_index("crime_type")["total"]
    assert total[ALL_CRIME] == pytest.approx(total.drop(ALL_CRIME).sum())  # crime types add up to All crime


def test_past_winters_intervals_held_the_total_about_as_often_as_they_say(september):
    folder, out = september
    backtest = pd.read_csv(folder / "plan" / "backtest.csv")
    summary = pd.read_csv(folder / "plan" / "backtest_summary.csv").set_index(["level", "model"])
    assert set(backtest["origin"]) == {f"{y}-09" for y in range(2010, 2018)}  # 8 past winters from September
    ensemble = summary.loc[("force totals", "ensemble")]
    assert ensemble["winters"] == 80
    rows = backtest[(backtest["model"] == "ensemble") & ~backtest["reconciled"]]
    # 62 and 74 of the 80 past winters' totals inside their 80% and 95% intervals (seeded paths: exact)
    assert rows["covered_80"].sum() == 62 and rows["covered_95"].sum() == 74
    assert (ensemble["coverage_80"], ensemble["coverage_95"]) == (np.round(62 / 80, 3), np.round(74 / 80, 3))
    assert ensemble["coverage_80"] == np.round(rows["covered_80"].mean(), 3)
    printed = summary.loc[("force totals", "ensemble reconciled")]  # the intervals the plan prints, as tested
    mine = backtest[backtest["reconciled"] & (backtest["area"] == ALL_AREAS)]
    assert printed["winters"] == len(mine) == 80 and set(mine["model"]) == {"ensemble"}
    assert mine["covered_80"].mean() == 66 / 80 and printed["coverage_80"] == np.round(66 / 80, 3) == 0.825
    recomputed = ((rows["lo_80"] <= rows["actual_total"]) & (rows["actual_total"] <= rows["hi_80"])).mean()
    assert ensemble["coverage_80"] == np.round(recomputed, 3)
    naive = summary.loc[("force totals", "snaive")]
    assert ensemble["median_error_pct"] < naive["median_error_pct"]


def test_the_plan_has_its_board_page_and_mlflow_run(september):
    folder, out = september
    plan = folder / "plan"
    html = (plan / "report.html").read_text()
    assert "Winter 2018/19 (Nov 2018 to Feb 2019): demand plan, six-boroughs" in html
    assert html.count("<img ") == 10 and "largest rises first" in html
    sentences = (plan / "sentences.txt").read_text().splitlines()
    assert len(sentences) == 10
    assert re.match(r"Based on the forecast, Robbery this winter \(Nov 2018 to Feb 2019\) is expected at [\d,]+ "
                    r"\(80%: [\d,]+ to [\d,]+\), \d+% (above|below) last winter", next(s for s in sentences
                                                                                       if "Robbery" in s))
    changes = pd.read_csv(plan / "winter.csv")["vs_last_winter_pct"]
    assert list(changes) == sorted(changes, reverse=True)  # largest rises first
    run_id = re.search(r"recorded MLflow run ([0-9a-f]{32})", out).group(1)
    db = sqlite3.connect(folder / "mlruns" / "mlflow.db")
    metrics = dict(db.execute("select key, value from metrics where run_uuid = ?", (run_id,)).fetchall())
    summary = pd.read_csv(plan / "backtest_summary.csv").set_index(["level", "model"])
    assert metrics["force_coverage_80_ensemble"] == pytest.approx(summary.loc[("force totals", "ensemble"), "coverage_80"])
    children = db.execute("select count(*) from tags where key = 'mlflow.parentRunId' and value = ?", (run_id,))
    assert children.fetchone()[0] == 10


def test_bad_winter_input_is_one_line_and_writes_nothing(tmp_path, invoke, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args, said in ((["--months", "nox-feb"], "'nox' is not a month"),
                       (["--end", "2030-01"], "--end 2030-01: "),
                       (["--end", "soon"], "--end: 'soon' is not a month")):
        result = invoke("winter", "--crime", "robbery", "--no-track", *args)
        assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out").exists()
