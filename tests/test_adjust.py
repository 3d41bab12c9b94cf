"""Seasonally adjusted SPC: causal multiplicative factors, the rules on adjusted counts, limits carried back."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecast.control import xmr as spc
from forecast.control.adjust import causal_factors, seasonal_adjustment
from forecast.engine.outlook import outlook

ADJUSTED = replace(spc.SPCOptions(), adjust="seasonal")
MONTHS = pd.period_range("2003-01", periods=192, freq="M")
#: +-15% around the year, highest in July, lowest in January
SEASON = 1 + 0.15 * np.sin(2 * np.pi * (MONTHS.month.to_numpy() - 4) / 12)
SHIFT = 110  # 2012-03: the one real change, from 100 to 130 a month


@pytest.fixture(scope="module")
def shifted():
    rng = np.random.default_rng(1)
    level = np.where(np.arange(MONTHS.size) >= SHIFT, 130.0, 100.0)
    return pd.Series(rng.poisson(level * SEASON).astype(float), MONTHS)


def test_season_alone_makes_raw_step_changes_and_the_adjusted_mode_keeps_only_the_real_one(shifted):
    raw = spc.analyse(shifted, "Burglary", "Merton")
    adjusted = spc.analyse(shifted, "Burglary", "Merton", options=ADJUSTED)
    # the summer of 2008 reads as a step change on raw counts; the corrected replay (a run counts only in the month
    # it completes) no longer finds the 2012-09 and 2018-04 ones, which ran inside trial baselines
    assert [str(m) for m in raw.step_changes["month"]] == ["2008-09", "2012-03"]
    assert [str(m) for m in adjusted.step_changes["month"]] == ["2012-03"]  # the real shift, in its month
    change = adjusted.step_changes.iloc[0]
    assert change["old_mean"] == pytest.approx(100, abs=3) and change["new_mean"] == pytest.approx(130, abs=3)


def test_factors_recover_the_season_and_use_no_later_month():
    values = np.random.default_rng(2).poisson(2000 * SEASON).astype(float)  # noise about 2% a month
    factors = causal_factors(values, MONTHS.month.to_numpy())
    assert np.isnan(factors[34]).all() and np.isfinite(factors[35]).all()  # two full years of ratios: month 36
    true = 1 + 0.15 * np.sin(2 * np.pi * (np.arange(1, 13) - 4) / 12)
    assert np.abs(factors[-1] - true / true.mean()).max() < 0.02
    assert factors[-1].mean() == pytest.approx(1)
    # causal: the factors at month t are the same whatever comes after it
    later = values.copy()
    later[100:] *= 3
    assert np.array_equal(causal_factors(later, MONTHS.month.to_numpy())[:100], factors[:100], equal_nan=True)


def test_adjusted_points_keep_the_counts_and_carry_the_limits_back(shifted):
    result = spc.analyse(shifted, "Burglary", "Merton", options=ADJUSTED)
    p = result.points
    assert np.array_equal(p["count"], shifted.to_numpy())
    raw_months = p["month"] < result.adjustment.first_adjusted
    assert str(result.adjustment.first_adjusted) == "2005-12" and (p.loc[raw_months, "factor"] == 1).all()
    assert np.allclose(p["adjusted"], p["count"] / p["factor"])
    current = result.current
    last = p.iloc[-1]
    assert last["mean"] == pytest.approx(current["mean"] * last["factor"])
    assert last["ucl"] == pytest.approx(current["ucl"] * last["factor"])
    july, january = p[p["month"] == pd.Period("2018-07", "M")].iloc[0], p[p["month"] == pd.Period("2018-01", "M")].iloc[0]
    assert july["ucl"] > current["ucl"] > january["ucl"]  # the limits follow the season
    assert result.sentences[0].startswith("Burglary in Merton (seasonally adjusted) ")
    assert result.notes[0] == ("seasonally adjusted from 2005-12; the months before are raw (factors need two full "
                               "years of history)")


def test_short_series_are_analysed_raw_and_say_so():
    y = pd.Series(100.0 + np.arange(30) % 5, pd.period_range("2020-01", periods=30, freq="M"))
    result = spc.analyse(y, options=ADJUSTED)
    assert result.adjustment is None and "adjusted" not in result.points
    assert result.notes[0].startswith("too short (or with missing months) for seasonal adjustment")
    assert result.sentences == spc.analyse(y).sentences


def test_outlook_replays_adjusted_paths_through_the_adjusted_rules(shifted):
    result = spc.analyse(shifted, "Burglary", "Merton", options=ADJUSTED)
    factors = result.adjustment.ahead(3)
    assert np.allclose(factors, result.adjustment.latest[[0, 1, 2]])  # after 2018-12: January to March
    level = result.current["mean"]
    # a quarter exactly at the adjusted average times the season brings no step change and stays within limits
    seasonal = np.tile(level * factors, (200, 1))
    o = outlook(result, seasonal)
    assert o.adjusted and o.p_step == 0 and o.p_above_ucl == 0 and o.p_below_lcl == 0
    assert o.sentences[0].startswith("Burglary in Merton (seasonally adjusted): ")
    # half as much again as the season expects is beyond the upper limit in every path
    assert outlook(result, seasonal * 1.5).p_above_ucl == 1


def test_cli_json_carries_the_adjustment_and_the_default_is_unchanged(invoke):
    adjusted = json.loads(invoke("spc", "--crime", "burglary", "--area", "merton", "--adjust", "seasonal",
                                 "--format", "json").stdout)[0]
    a = adjusted["adjustment"]
    assert a["first_adjusted_month"] == "2010-12" and a["raw_months"] == 35
    assert a["latest_factors_from"] == "2008-01..2018-12" and len(a["latest_factors"]) == 12
    assert a["latest_factors"]["Dec"] == pytest.approx(1.1902, abs=1e-4)
    assert adjusted["points"][-1]["factor"] == pytest.approx(1.190216, abs=5e-5)  # published to 4 decimals
    assert [s["month"] for s in adjusted["step_changes"]][-1] == "2018-04"  # raw: 2018-05, within two months
    raw = json.loads(invoke("spc", "--crime", "burglary", "--area", "merton", "--format", "json").stdout)[0]
    assert "adjustment" not in raw and "factor" not in raw["points"][0]
    assert raw["step_changes"][-1]["month"] == "2018-05"
    table = invoke("spc", "--crime", "burglary", "--area", "merton", "--adjust", "seasonal").stdout
    assert "averages and limits seasonally adjusted" in table.splitlines()[0]


def test_chart_draws_limits_that_follow_the_season_and_the_adjusted_panel(shifted):
    import matplotlib.pyplot as plt

    from forecast.present import plots

    result = spc.analyse(shifted, "Burglary", "Merton", options=ADJUSTED)
    fig = plots.spc_chart(result.points, title="Burglary in Merton", status=result.status)
    top, below = fig.axes[0], fig.axes[1]
    ucl = next(line for line in top.get_lines() if line.get_gid() == "ucl-0")  # one process in the window
    shown = np.asarray(ucl.get_ydata(), float)[:-1]
    assert np.allclose(shown, result.points["ucl"].iloc[-len(shown):])
    assert np.ptp(shown) > 10  # seasonal on the counts' scale
    flat = next(line for line in below.get_lines() if line.get_gid() == "ucl-0")
    assert np.allclose(np.asarray(flat.get_ydata(), float), result.current["ucl"])
    notes = [t.get_text() for t in top.texts if (t.get_gid() or "").startswith("note-")]
    assert notes == []  # the one step change (2012-03) is before the last 36 months
    plt.close(fig)


def test_run_with_adjust_says_so_in_sentences_report_and_charts(tmp_path, invoke):
    out = tmp_path / "run"
    result = invoke("run", "--crime", "burglary", "--area", "merton", "--adjust", "seasonal", "--no-track", "--jobs", "1",
                    "--paths", "300", "--out", out)
    assert result.exit_code == 0, result.output
    said = (out / "sentences.txt").read_text().splitlines()
    assert said[0].startswith("Burglary in Merton (seasonally adjusted) has seen a significant step change increase")
    assert "up from 113, which is a percentage change of +19%" in said[0]
    points = pd.read_csv(out / "spc.csv")
    assert points["factor"].iloc[-1] == pytest.approx(1.190216, abs=5e-5)  # published to 4 decimals
    html = (out / "report.html").read_text()
    assert html.count("SPC on seasonally adjusted counts") == 1
    from PIL import Image

    with Image.open(out / "charts" / "merton.png") as chart:
        assert chart.size == (1500, 1110)  # the counts above, the adjusted series below


def test_outlook_evaluation_replays_the_adjusted_rules(invoke):
    from io import StringIO

    from forecast.io import datasets

    result = invoke("outlook", "--evaluate", "--crime", "burglary", "--area", "all-areas", "--adjust", "seasonal",
                    "--every", "3", "--paths", "200", "--format", "csv", "--jobs", "1")
    assert result.exit_code == 0, result.output
    records = pd.read_csv(StringIO(result.stdout))
    y = datasets.load("met-major").with_totals().series("Burglary", "All areas")
    detected = spc.analyse(y, options=ADJUSTED).step_changes["detected"]
    # the outcome of each past quarter is whether the adjusted replay declared a step change in it
    expected = [bool(((detected > pd.Period(o, "M")) & (detected <= pd.Period(o, "M") + 3)).any())
                for o in records["origin"]]
    assert len(records) == 32 and records["origin"].iloc[0] == "2010-12"
    assert records["step_change"].tolist() == expected and sum(expected) == 5
