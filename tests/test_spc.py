import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.io import datasets
from forecast.control import xmr as spc


def monthly(values, start="2020-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


BASE = [12, 10] * 6  # mean 11, average moving range 2: limits 11 +/- 5.32, near limits 11 +/- 3.5467


def test_west_midlands_step_changes_worked_by_hand():
    """Force total 2011-01..2016-12, run of 8, limits frozen after 12 points.

    Process 1 baseline 2011-01..2011-12 sums to 320,446 (mean 26,703.8); 2011-09 (24,013) starts 8
    months below it, the 8th being 2012-04, so a step change down is declared in 2012-04 with the new
    process starting 2011-09. The old process keeps 2011-01..2011-08 (sum 228,807 / 8 = 28,600.875);
    the new one's baseline 2011-09..2012-08 sums to 265,012 (mean 22,084.33): -22.8%.
    2012-09..2013-04 are all below 22,084.33 -> down, new baseline 2012-09..2013-08 = 250,539 / 12.
    2013-09..2014-04 are all below 20,878.25 -> down, new baseline 2013-09..2014-08 = 243,404 / 12.
    2016-03..2016-10 are all above 20,283.67 -> up in 2016-10; 2016-03..2016-12 = 220,586 / 10 (trial).
    """
    y = datasets.load("west-midlands").series("All crime", "All areas")
    r = spc.analyse(y, "All crime", "All areas")
    sc = r.step_changes
    assert sc["month"].astype(str).tolist() == ["2011-09", "2012-09", "2013-09", "2016-03"]
    assert sc["detected"].astype(str).tolist() == ["2012-04", "2013-04", "2014-04", "2016-10"]
    assert sc["direction"].tolist() == ["down", "down", "down", "up"]
    means = [228807 / 8, 265012 / 12, 250539 / 12, 243404 / 12, 220586 / 10]
    assert r.processes["mean"].tolist() == pytest.approx(means)
    pct = [(b - a) / a * 100 for a, b in zip(means, means[1:])]
    assert sc["pct_change"].tolist() == pytest.approx(pct)
    assert [round(p, 1) for p in pct] == [-22.8, -5.5, -2.8, 8.8]
    assert r.processes["trial"].tolist() == [True, False, False, False, True]
    # declared two months before the data ends: the quarter's news, in the status as in the sentence
    assert r.status == "new process since 2016-03, up" and r.icon == "common_cause"
    assert r.sentences[0].startswith("All crime (force total) has seen a significant step change increase in average "
                                     "monthly levels, starting 2016-03 and declared in 2016-10.")


def test_met_burglary_merton_latest_step_change_worked_by_hand():
    """Burglary in Merton: the process from 2015-03 has baseline 2015-03..2016-02 =
    135+81+104+87+102+102+94+123+146+148+111+146 = 1,379 (mean 114.92). 2018-04 (104) is below it and
    2018-05..2018-12 (122, 118, 117, 116, 117, 170, 151, 150) are all above: 8 months, declared 2018-12.
    New average 1,061 / 8 = 132.625, +15.4%."""
    y = datasets.load("met-major").series("Burglary", "Merton")
    r = spc.analyse(y, "Burglary", "Merton")
    last = r.step_changes.iloc[-1]
    assert (str(last["month"]), str(last["detected"]), last["direction"]) == ("2018-05", "2018-12", "up")
    assert last["old_mean"] == pytest.approx(1379 / 12)
    assert last["new_mean"] == pytest.approx(1061 / 8)
    assert last["pct_change"] == pytest.approx((1061 / 8 - 1379 / 12) / (1379 / 12) * 100)
    assert r.sentences == ("Burglary in Merton has seen a significant step change increase in average monthly levels, "
                           "starting 2018-05 and declared in 2018-12. Average monthly recorded Burglary in Merton is "
                           "now 133, up from 115, which is a percentage change of +15%.",)
    assert len(r.step_changes) == 5


def test_seven_months_above_warns_of_a_step_change():
    r = spc.analyse(monthly(BASE + [13] * 7), "Robbery", "Dudley")
    assert r.sentences == ("Robbery in Dudley has been above average for the last 7 months; another month above "
                           "average will bring about a significant step change up.",)
    assert r.points["rule"].iloc[-1] == "7 Points Above CL" and r.icon == "concern_high"


def test_the_current_run_from_the_arrays_is_the_current_run_of_the_points():
    r = spc.analyse(monthly(BASE + [13] * 7), "Robbery", "Dudley")
    assert r.current_run() == spc.current_run(r.points) == (1, 7)
    ignored = spc.analyse(monthly(BASE + [13] * 7), "Robbery", "Dudley", spc.SPCOptions(ignore=("2021-05",)))
    assert ignored.current_run() == spc.current_run(ignored.points) == (1, 6)  # the ignored month is left out
    adjusted = spc.SPCOptions(adjust="seasonal")
    for key, y in list(datasets.load("met-major").iter_series())[::17]:
        for options in (spc.SPCOptions(), adjusted):
            result = spc.analyse(y, *key, options)
            assert result.current_run() == spc.current_run(result.points), (key, options.adjust)


def test_eighth_month_declares_the_step_change():
    r = spc.analyse(monthly(BASE + [13] * 8), "Robbery", "Dudley")
    assert r.step_changes[["direction", "old_mean", "new_mean"]].iloc[0].tolist() == ["up", 11.0, 13.0]
    assert str(r.step_changes["month"].iloc[0]) == "2021-01" and str(r.step_changes["detected"].iloc[0]) == "2021-08"
    assert r.sentences[0].endswith("is now 13, up from 11, which is a percentage change of +18%.")
    assert r.status == "step change up"


def test_months_on_or_above_the_upper_limit():
    r = spc.analyse(monthly(BASE + [16.32, 20, 21]), "Burglary", "Sandwell")
    assert r.sentences == ("Burglary in Sandwell has seen significant increases in the last 3 months, with monthly "
                           "levels on or above the upper control limit.",)
    assert r.status == "above UCL 3 months"


def test_highest_month_for_years_while_within_limits():
    values = BASE * 3
    values[2] = 14.0
    values.append(13.5)
    r = spc.analyse(monthly(values), "Theft", "Camden")
    assert r.points["rule"].iloc[-1] == "Common Cause"
    assert r.sentences == ("Whilst still just within normal limits, 2023-01 was the highest recording month for Theft in "
                           "Camden since 2020-03.",)


def test_significant_trend():
    r = spc.analyse(monthly(BASE + [9.0, 9.5, 10.0, 10.5, 11.5, 12.0, 12.5]), "Drugs", "Brent")
    assert r.points["rule"].iloc[-7:].tolist() == ["7 Point Trend (Increasing)"] * 7
    assert r.sentences == ("Drugs in Brent has risen for 7 consecutive months (a significant trend).",)


def test_stable_series():
    r = spc.analyse(monthly(BASE * 3), "Drugs", "All areas")
    assert r.sentences == ("Drugs (force total) is stable in its current process (average 11).",)
    assert r.step_changes.empty and set(r.points["rule"]) == {"Common Cause"}


@pytest.mark.parametrize("values,trial,note", [
    ([7.0] * 24, False, None),
    ([5.0], True, "fewer than 2 months"),
    ([5.0, 6.0], True, "trial limits: the current process has 2 of 12"),
    ([5.0, 6.0] * 5 + [5.0], True, "trial limits: the current process has 11 of 12"),
    ([5.0, 6.0] * 6, False, None),
])
def test_degenerate_series_behave_and_say_so(values, trial, note):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = spc.analyse(monthly(values), "Murder", "Sutton")
    assert r.step_changes.empty
    assert set(r.points["rule"]) == {"Common Cause"}
    assert bool(r.processes["trial"].iloc[-1]) is trial
    assert (note is None and r.notes == ()) or note in r.notes[0]
    assert r.status == "stable"


def test_zero_baseline_then_counts_has_no_division_by_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = spc.analyse(monthly([0.0] * 12 + [3.0] * 8), "Murder", "Sutton", spc.SPCOptions(min_mean=0))
    assert r.step_changes["direction"].tolist() == ["up"] and np.isnan(r.step_changes["pct_change"].iloc[0])
    assert r.sentences[0].endswith("is now 3, up from 0.")


def test_all_zero_series_reads_no_crimes_recorded():
    r = spc.analyse(monthly([0.0] * 36), "Murder", "Sutton")
    assert r.status == "no crimes recorded" and r.icon == "common_cause"
    assert r.sentences == ("Murder in Sutton: no crimes recorded in the 36 months to 2022-12.",)
    assert r.step_changes.empty and set(r.points["point_type"]) == {"common_cause"}


POISSONISH = [1, 0, 2, 1, 0, 1, 1, 2, 0, 1, 1, 2]   # mean 1, variance 0.5: no more spread than Poisson


def test_low_counts_get_poisson_limits_and_no_signal_from_single_crimes():
    r = spc.analyse(monthly(POISSONISH * 2), "Robbery", "Heathrow")
    assert r.chart.kind == "c" and r.status == "too few crimes" and r.step_changes.empty
    assert r.current[["mean", "lcl", "ucl"]].tolist() == [1.0, 0.0, 4.0]          # 1 +/- 3 x sqrt(1), floored at 0
    assert set(r.points["point_type"]) == {"common_cause"} and r.icon == "common_cause"
    assert r.sentences == ("Robbery in Heathrow: too few crimes a month (average 1) for an XmR chart; on a Poisson "
                           "c-chart (limits 0 to 4) the latest month is within its limits.",)
    # dispersion: sum((y - 1)^2 / 1) = 12 over 23 degrees of freedom
    assert r.notes == ("low counts: Poisson c-chart limits (counts no more spread than Poisson: dispersion 0.52, "
                       "p = 0.97)",)
    assert spc.analyse(monthly(POISSONISH * 2), "Robbery", "Heathrow", spc.SPCOptions(min_mean=0.5)).chart is None


def test_a_run_of_empty_months_declares_a_step_change_only_where_the_counts_make_it_improbable():
    # at an average of 0.5, eight empty months have a Poisson chance of exp(-4) = 0.018: not enough (RUN_P 0.01),
    # though an XmR chart declares a step change from them
    half = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1] + [0] * 8 + [1, 0]
    assert not spc.analyse(monthly(half), "Robbery", "Heathrow", spc.SPCOptions(min_mean=0)).step_changes.empty
    assert spc.analyse(monthly(half), "Robbery", "Heathrow").step_changes.empty
    # at an average of 1, eight empty months have a chance of exp(-8) = 0.0003: a step change down, at the run's
    # first month, declared at its eighth
    r = spc.analyse(monthly(POISSONISH + [0] * 8 + [5, 1, 0, 1]), "Robbery", "Heathrow")
    (change,) = r.step_changes.itertuples()
    assert (str(change.month), str(change.detected), change.direction) == ("2021-01", "2021-08", "down")
    assert change.old_mean == 1.0 and change.new_mean == pytest.approx(7 / 12)


def test_over_dispersed_low_counts_get_laneys_limits():
    values = np.array([0, 6, 0, 5, 1, 7, 0, 6, 0, 5, 1, 7], dtype=float)
    r = spc.analyse(monthly(values), "Robbery", "Heathrow")
    mean = values.mean()
    z = (values - mean) / np.sqrt(mean)
    sigma_z = np.mean(np.abs(np.diff(z))) / 1.128
    assert r.chart.kind == "laney" and r.chart.sigma_z == pytest.approx(sigma_z)
    assert r.current["ucl"] == pytest.approx(mean + 3 * sigma_z * np.sqrt(mean)) and r.current["lcl"] == 0
    statistic = np.sum((values - mean) ** 2 / mean)
    assert r.chart.dispersion == pytest.approx(statistic / 11)
    # the dispersion test's p-value, exactly as scipy.stats gives it (counts.py computes it without importing that)
    assert r.chart.p_value == stats.chi2.sf(statistic, 11) and r.chart.p_value == pytest.approx(0.000734, abs=1e-6)
    assert r.to_dict()["chart"] == "laney" and "Laney-adjusted c-chart" in r.sentences[0]


def test_a_low_count_month_beyond_the_count_limit_is_said_in_the_boards_words():
    r = spc.analyse(monthly(POISSONISH * 2 + [7]), "Robbery", "Heathrow")
    assert r.status == "Above UCL" and r.points["rule"].iloc[-1] == "Above UCL"
    assert r.sentences == (f"Robbery in Heathrow: 7 crimes in 2022-01, above the upper control limit of "
                           f"{spc.fmt(r.current['ucl'])} on a {r.chart.name} for a process averaging 1 a month.",)
    assert (r.points["rule"].iloc[:-1] == "Common Cause").all()


def test_lower_limit_below_zero_is_reported_as_zero():
    values = [2.0, 9.0] * 6  # mean 5.5, mR-bar 7: lcl 5.5 - 18.62 < 0
    r = spc.analyse(monthly(values), "Robbery", "Camden")
    assert r.current["lcl"] == 0.0 and r.current["ucl"] == pytest.approx(5.5 + 2.66 * 7)
    assert (r.points["lcl"] == 0.0).all()
    unfloored = spc.analyse(monthly(values), "Robbery", "Camden", spc.SPCOptions(floor_at_zero=False))
    assert unfloored.current["lcl"] == pytest.approx(5.5 - 2.66 * 7)


def test_missing_month_is_left_out_and_said():
    y = monthly(BASE * 2).drop(pd.Period("2020-06", "M"))
    r = spc.analyse(y, "Robbery", "Walsall")
    assert r.notes == ("1 missing month(s) left out of the limits and runs",)
    assert r.points.set_index("month").loc[pd.Period("2020-06", "M"), "rule"] == "Ignored"
    assert r.step_changes.empty and len(r.points) == 24


def test_known_step_change_and_ignored_month():
    values = BASE * 2
    values[5] = 40.0  # a one-off, e.g. a data-entry backlog
    options = spc.SPCOptions(step_changes_at=("2021-01",), ignore=("2020-06",))
    r = spc.analyse(monthly(values), options=options)
    assert r.step_changes["manual"].tolist() == [True] and str(r.step_changes["month"].iloc[0]) == "2021-01"
    assert r.processes["mean"].tolist() == [(12 * 6 + 10 * 5) / 11, 11.0]  # 2020-06 (a 10) left out
    assert r.points["rule"].iloc[5] == "Ignored"


def test_run_length_parameter_changes_the_step():
    y = monthly(BASE + [13] * 8)
    assert len(spc.analyse(y).step_changes) == 1
    assert spc.analyse(y, options=spc.SPCOptions(run_length=9)).step_changes.empty


def test_cli_spc_json_and_csv(invoke, tmp_path):
    result = invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "json")
    assert result.exit_code == 0, result.output
    (series,) = json.loads(result.stdout)
    assert set(series) >= {"crime_type", "area", "processes", "step_changes", "points", "icon", "sentences"}
    assert series["step_changes"][-1] == {"month": "2018-05", "detected": "2018-12", "direction": "up",
                                          "old_mean": round(1379 / 12, 6), "new_mean": 132.625,
                                          "pct_change": round((1061 / 8 - 1379 / 12) / (1379 / 12) * 100, 6),
                                          "manual": False}
    assert series["processes"][-1] == {"start": "2018-05", "end": "2018-12", "mean": 132.625,
                                       "lcl": pytest.approx(102.225), "ucl": pytest.approx(163.025), "trial": True}
    assert series["points"][-1]["month"] == "2018-12" and series["points"][-1]["count"] == 150
    out = tmp_path / "points.csv"
    result = invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "csv", "-o", out)
    points = pd.read_csv(out)
    assert points.columns.tolist() == ["crime_type", "area", "month", "count", "process", "declared", "mean", "lcl",
                                       "ucl", "rule", "point_type"]
    assert points["declared"].iloc[-1] == "2018-12" and points["declared"].isna().iloc[0]
    assert len(points) == 132


def test_cli_spc_table_rows_and_sentences(invoke):
    result = invoke("spc", "--crime", "burglary", "--area", "merton,hillingdon")
    lines = result.stdout.splitlines()
    assert lines[0] == "SPC at 2018-12 (2 series; * = trial limits)"
    merton = next(line for line in lines if line.startswith("Burglary    Merton"))
    assert "step change up" in merton and "133*" in merton and "2018-05 up (declared 2018-12): 115 -> 133 (+15%)" in merton
    assert lines[-1].startswith("Burglary in Merton has seen a significant step change increase")


def test_cli_spc_parameters(invoke):
    base = json.loads(invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "json").stdout)[0]
    longer = json.loads(invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "json",
                               "--run-length", "10", "--baseline", "all", "--screen-mr").stdout)[0]
    assert len(base["step_changes"]) == 5 and len(longer["step_changes"]) != 5
    known = json.loads(invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "json",
                              "--step-change-at", "2017-01").stdout)[0]
    assert any(s["manual"] and s["month"] == "2017-01" for s in known["step_changes"])
    bad = invoke("spc", "--baseline", "one")
    assert bad.exit_code == 2 and "--baseline: expected a whole number" in bad.stderr


def test_a_panel_in_processes_gives_the_same_results_in_the_same_order():
    panel = datasets.load("met-major").select(crime=["Burglary", "Robbery"])
    serial = spc.analyse_panel(panel.iter_series())
    parallel = spc.analyse_panel(panel.iter_series(), n_jobs=2, n_series=spc.PARALLEL_SERIES)
    assert [(r.crime_type, r.area) for r in parallel] == [(r.crime_type, r.area) for r in serial] == panel.keys()
    pd.testing.assert_frame_equal(spc.summary_frame(parallel), spc.summary_frame(serial))
    assert [r.sentences for r in parallel] == [r.sentences for r in serial]
    statuses = spc.analyse_panel(panel.iter_series(), n_jobs=2, n_series=spc.PARALLEL_SERIES,
                                 then=spc.SPCResult.summary)
    assert statuses == [r.summary() for r in serial] and len(statuses) == 66
    # the month ordinals and values alone (Panel.iter_arrays: no pandas object made per series), in processes and
    # in this one
    for n_jobs in (2, 1):
        arrays = spc.analyse_panel(panel.iter_arrays(), n_jobs=n_jobs, n_series=spc.PARALLEL_SERIES)
        pd.testing.assert_frame_equal(spc.summary_frame(arrays), spc.summary_frame(serial))
        assert [r.sentences for r in arrays] == [r.sentences for r in serial]


def test_panel_arrays_are_the_series_in_month_order():
    panel = datasets.load("met-major").select(crime="robbery")
    shuffled = type(panel)(panel.frame.sample(frac=1, random_state=3), "shuffled", "test")
    for (key, (months, counts)), (same, y) in zip(shuffled.iter_arrays(), panel.iter_series(), strict=True):
        assert key == same and months.tolist() == y.index.asi8.tolist() and counts.tolist() == y.tolist()
        assert months.dtype == np.int64 and counts.dtype == float
    (key, (months, counts)), *_ = panel.iter_arrays()
    assert key == ("Robbery", "Barking and Dagenham") and str(pd.Period(ordinal=int(months[0]), freq="M")) == "2008-01"
    assert len(months) == 132 and counts[:3].tolist() == [54.0, 52.0, 58.0]


def _register(measure: str) -> dict[str, str]:
    """The board's sentence templates (docs/SPC.md section 5 and 10), one register, as patterns."""
    m, n, month = re.escape(measure), r"[\d,]+(?:\.\d+)?", r"\d{4}-\d\d"
    trial = r"(?:, trial limits)?"
    return {
        "step change": rf"{m} has seen a significant step change (?:increase|reduction) in average monthly levels, "
                       rf"starting {month} and declared in {month}\. Average monthly recorded {m} is now {n}, "
                       rf"(?:up|down) from {n}(?:, which is a percentage change of [+-]\d+%)?\.",
        "beyond limits": rf"{m} has seen significant (?:increases|reductions) in the last \d+ months, with monthly "
                         r"levels on or (?:above the upper|below the lower) control limit\.",
        "near a step": rf"{m} has been (above|below) average for the last \d+ months; another month \1 average will "
                       r"bring about a significant step change (?:up|down)\.",
        "run": rf"{m} has been (?:above|below) average for the last \d+ months\.",
        "highest or lowest": rf"Whilst still just within normal limits, {month} was the (?:highest|lowest) recording "
                             rf"month for {m} (?:since {month}|in \d+ months)\.",
        "trend": rf"{m} has (?:risen|fallen) for \d+ consecutive months \(a significant trend\)\.",
        "special cause": rf"{m} is in its current process \(average {n}{trial}\); the latest month shows special "
                         r"cause variation \(.+\)\.",
        "stable": rf"{m} is stable in its current process \(average {n}{trial}\)\.",
        "count chart": rf"{m}: too few crimes a month \(average {n}\) for an XmR chart; on a .+ \(limits {n} to {n}\) "
                       r"the latest month is within its limits\.",
        "count beyond": rf"{m}: {n} crimes in {month}, (?:above the upper|below the lower) control limit of {n} on a "
                        rf".+ for a process averaging {n} a month\.",
        "none recorded": rf"{m}: no crimes recorded in the \d+ months to {month}\.",
    }


def test_every_sentence_of_two_real_panels_is_in_the_one_register():
    """Every SPC sentence of every series of the bundled Met boroughs (9 crime types) and the City's LSOAs matches
    exactly one template of the register, and the common kinds all occur (so the templates are exercised)."""
    seen = {}
    for name in ("met-major", "city-of-london-lsoa"):
        panel = datasets.load(name).with_totals()
        for result in spc.analyse_panel(panel.iter_series(), n_jobs=1):
            sentence = result.sentences[0]
            kinds = [k for k, p in _register(result.measure).items() if re.fullmatch(p, sentence)]
            assert len(kinds) == 1, sentence
            seen[kinds[0]] = seen.get(kinds[0], 0) + 1
            assert " saw " not in sentence and "  " not in sentence
    assert {"step change", "beyond limits", "near a step", "highest or lowest", "stable", "count chart",
            "count beyond"} <= set(seen), seen


def test_a_run_inside_a_trial_baseline_is_not_declared_when_later_months_move_the_average():
    """Hillingdon's pattern by hand: one high month, seven low, one at 11, then three high. At the ninth month the
    trial average is 10.8 and the ninth point is above it: no run of 8. Three months later the highs lift the
    trial average to 15.6 and months 2-9 lie below it; the old replay declared them then (a process of one month,
    a run completed months earlier). A run counts only in the month it completes."""
    y = np.array([16] + [10] * 7 + [11] + [30] * 3, dtype=float)
    assert spc.find_step_changes(y) == []
    result = spc.analyse(monthly(y))
    assert result.step_changes.empty and result.processes["n"].tolist() == [12]


def test_hillingdon_burglary_keeps_its_history_and_loses_the_late_reduction():
    y = datasets.load("met-major").series("Burglary", "Hillingdon")
    result = spc.analyse(y, "Burglary", "Hillingdon")
    changes = result.step_changes
    assert changes["month"].astype(str).tolist()[-2:] == ["2014-12", "2018-01"]
    assert changes["detected"].astype(str).tolist()[-1] == "2018-08"
    assert not any("2018-02" in sentence for sentence in result.sentences)
    assert result.processes["start"].astype(str).tolist()[-1] == "2018-01"


@pytest.mark.parametrize("name", ["met-major", "met-minor"])
def test_every_step_change_is_declared_as_its_run_completes_and_no_process_is_shorter(name):
    panel = datasets.load(name)
    declared, processes = 0, 0
    for key, y in panel.iter_series():
        result = spc.analyse(y, *key)
        auto = result.step_changes[~result.step_changes["manual"]] if len(result.step_changes) else []
        for start, detected in zip(*(() if not len(auto) else (auto["month"], auto["detected"]))):
            assert (pd.Period(detected, "M") - pd.Period(start, "M")).n == 7, (key, start, detected)
            declared += 1
        lengths = [(pd.Period(e, "M") - pd.Period(s, "M")).n + 1
                   for s, e in zip(result.processes["start"], result.processes["end"])]
        assert all(n >= 8 for n in lengths), (key, lengths)
        processes += len(lengths)
    assert declared > 1000 and processes > declared


def test_a_process_begun_by_a_step_change_this_quarter_says_so_everywhere(invoke):
    """Brent Robbery's step change was declared in 2018-11: in the December report its status, the table, the
    chart title and the sentence all say so, where the status used to read 'stable' beside the board's
    step-change sentence."""
    from forecast.present import plots

    y = datasets.load("met-major").series("Robbery", "Brent")
    result = spc.analyse(y, "Robbery", "Brent")
    assert result.status == "new process since 2018-04, down"
    assert result.sentences == ("Robbery in Brent has seen a significant step change reduction in average monthly "
                                "levels, starting 2018-04 and declared in 2018-11. Average monthly recorded Robbery "
                                "in Brent is now 117, down from 139, which is a percentage change of -16%.",)
    figure = plots.spc_chart(result.points, title=result.measure, status=result.status)
    assert figure.axes[0].get_title(loc="left") == "Robbery in Brent: new process since 2018-04, down"
    table = invoke("spc", "--crime", "robbery", "--area", "brent").stdout
    assert "new process since 2018-04, down" in table and result.sentences[0] in table
    # in the month it is declared the status is the step change itself; after the quarter, the process is stable
    assert spc.analyse(y[:"2018-11"], "Robbery", "Brent").status == "step change down"
    later = pd.concat([y, pd.Series([117.0] * 3, index=pd.period_range("2019-01", periods=3, freq="M"))])
    assert spc.analyse(later, "Robbery", "Brent").status == "stable"
