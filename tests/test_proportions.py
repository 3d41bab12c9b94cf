"""SPC of proportions (a survey's satisfied of surveyed): p-chart limits against a hand-worked case and a published
example, Laney's p' chart chosen where over-dispersed, step changes by the counts' rule, the board's sentences,
and `forecast spc --data survey.csv`."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write
from forecast.control.proportions import analyse_proportion, laney_sigma_z, p_limits
from forecast.words import duration

SURVEY = Path(__file__).parent.parent / "docs" / "examples" / "survey.csv"
MONTHS = pd.period_range("2020-01", periods=20, freq="M")
#: 12 months at 80% of 100 asked (82 and 78 in turn), then 8 at 87% (86 and 88 in turn)
SATISFIED = [82, 78] * 6 + [86, 88] * 4


def test_p_chart_limits_and_a_step_change_worked_by_hand():
    r = analyse_proportion(MONTHS, SATISFIED, [100] * 20, "Victim satisfaction", "Force")
    # p = 0.80, sigma = sqrt(0.8 x 0.2 / 100) = 0.04: limits 0.68 and 0.92
    first = r.points.iloc[0]
    assert (first["mean"], first["lcl"], first["ucl"]) == pytest.approx((0.80, 0.68, 0.92))
    assert r.chart == "p" and r.sigma_z == 1.0
    # the run of 8 above 0.80 starts at month 13 (2021-01) and completes at month 20 (2021-08)
    (change,) = r.step_changes.itertuples()
    assert (str(change.month), str(change.detected), change.direction) == ("2021-01", "2021-08", "up")
    assert (change.old_mean, change.new_mean, change.points) == pytest.approx((0.80, 0.87, 7.0))
    sigma = np.sqrt(0.87 * 0.13 / 100)
    assert r.points["ucl"].iloc[-1] == pytest.approx(0.87 + 3 * sigma)
    assert r.sentences == ("Victim satisfaction in Force has seen a significant step change increase (an "
                           "improvement), starting 2021-01 and declared in 2021-08: the monthly average is now 87.0%, "
                           "up from 80.0% (+7.0 percentage points).",)
    worse = analyse_proportion(MONTHS, SATISFIED, [100] * 20, "Victims waiting", "Force", improvement="decrease")
    assert "(an improvement)" not in worse.sentences[0]


def test_p_chart_limits_match_a_published_example():
    # shewhartr's attributes-charts vignette (claims_p): centre 0.0601; day 1, 134 claims: sigma 0.0205, upper
    # 0.122, lower 0
    lcl, ucl = p_limits(0.0601, np.array([134]))
    assert np.sqrt(0.0601 * (1 - 0.0601) / 134) == pytest.approx(0.0205, abs=5e-5)
    assert (lcl[0], round(ucl[0], 3)) == (0.0, 0.122)


def test_large_over_dispersed_samples_get_laneys_limits():
    p = np.array([0.80, 0.84, 0.78, 0.85, 0.79, 0.83, 0.81, 0.86, 0.77, 0.82, 0.80, 0.84])
    n = np.full(12, 5000)
    r = analyse_proportion(MONTHS[:12], p * n, n, "Confidence", "Force")
    pbar = (p * n).sum() / n.sum()
    z = (p - pbar) / np.sqrt(pbar * (1 - pbar) / 5000)
    sigma_z = np.mean(np.abs(np.diff(z))) / 1.128
    assert r.chart == "laney" and r.sigma_z == pytest.approx(sigma_z) and sigma_z > 2
    assert r.points["ucl"].iloc[0] == pytest.approx(pbar + 3 * sigma_z * np.sqrt(pbar * (1 - pbar) / 5000))
    assert r.notes[0].startswith("Laney p' chart: proportions over-dispersed (dispersion ")
    # on a p-chart every one of these months would be beyond a limit
    lcl, ucl = p_limits(pbar, n)
    assert ((p > ucl) | (p < lcl)).sum() >= 6 and (r.points["rule"] == "Common cause").all()
    assert laney_sigma_z(p, n, np.full(12, pbar))[0] == pytest.approx(sigma_z)


@pytest.mark.parametrize("months,words", [(7, "7 months"), (12, "1 year"), (17, "over a year"), (22, "almost 2 years"),
                                          (24, "2 years"), (39, "over 3 years"), (47, "almost 4 years")])
def test_how_long_in_the_boards_words(months, words):
    assert duration(months) == words


def test_forecast_spc_reads_a_survey_file(invoke):
    result = invoke("spc", "--data", SURVEY)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(SURVEY)
    wolves = frame[frame["area"] == "Wolverhampton"]
    average = wolves["satisfied"].iloc[:12].sum() / wolves["surveyed"].iloc[:12].sum()
    assert (f"- Victim satisfaction in Wolverhampton: an average of {100 * average:.1f}% a month; this monthly average "
            "has been stable for 3 years (since 2016-01).") in result.stdout
    assert "- Victim satisfaction: lowest in Birmingham West and Central (85%), highest in Wolverhampton (88%), of 2 " \
           "areas." in result.stdout
    csv = invoke("spc", "--data", SURVEY, "--format", "csv")
    table = pd.read_csv(pd.io.common.StringIO(csv.stdout)).set_index("area")
    assert table.loc["Wolverhampton", "mean"] == round(100 * average, 1)
    assert table.loc["Birmingham West and Central", "months_in_process"] == 17


@pytest.mark.parametrize("row,problem", [
    ("2020-03,Force,Satisfaction,120,100", "line 4: numerator 120 is more than the denominator 100"),
    ("2020-03,Force,Satisfaction,0,0", "line 4: denominator is 0: a proportion needs someone asked"),
    ("2020-02,Force,Satisfaction,50,100", "line 4: a second row for 2020-02 x Force x Satisfaction"),
])
def test_a_bad_survey_file_is_one_line(tmp_path, invoke, row, problem):
    path = write(tmp_path / "survey.csv", "month,area,measure,numerator,denominator\n2020-01,Force,Satisfaction,80,"
                 f"100\n2020-02,Force,Satisfaction,82,100\n{row}\n")
    result = invoke("spc", "--data", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr == f"Error: {path}, {problem}\n"


def test_a_percentage_with_its_sample_size_is_read_and_counts_commands_refuse_it(tmp_path, invoke):
    path = write(tmp_path / "confidence.csv", "month,area,percentage,respondents\n" + "".join(
        f"2020-{m:02d},Force,{84 + (m % 3 - 1)},500\n" for m in range(1, 13)))
    result = invoke("spc", "--data", path)
    assert result.exit_code == 0, result.output
    assert "- confidence in Force: an average of 84.0% a month; this monthly average has been stable for 1 year " \
           "(since 2020-01)." in result.stdout
    refused = invoke("run", "--data", path, "--crime", "robbery")
    assert refused.exit_code == 2
    assert refused.stderr == (f"Error: {path}: a file of proportions (numerator and denominator): forecast spc reads "
                              "it; this command works on counts\n")


def test_the_p_chart_draws_each_months_own_limits_and_the_step_change(tmp_path, invoke):
    from forecast.present.plots import proportion_chart

    r = analyse_proportion(MONTHS, SATISFIED[:12] + [43, 44] * 4, [100] * 12 + [50] * 8, "Victim satisfaction",
                           "Force")
    ax = proportion_chart([r], history=None).axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    # the second process's limits come from its smaller samples: 87% - 3 sqrt(0.87 x 0.13 / 50), in percent (its
    # upper limit is cut at 100%)
    sigma = 100 * np.sqrt(0.87 * 0.13 / 50)
    assert np.allclose(lines["lcl-1"].get_ydata(), 87 - 3 * sigma) and np.allclose(lines["ucl-1"].get_ydata(), 100)
    assert np.allclose(lines["mean-0"].get_ydata(), 80.0) and np.allclose(lines["lcl-0"].get_ydata(), 68.0)
    assert [g for g in lines if g.startswith("step-")] == ["step-2021-01"]
    assert [g for g in lines if g.startswith("declared-")] == ["declared-2021-08"]
    assert ax.get_title(loc="left") == "Victim satisfaction in Force (p-chart): step change up"
    chart = tmp_path / "survey.png"
    result = invoke("spc", "--data", SURVEY, "--chart", chart)
    assert result.exit_code == 0 and f"wrote {chart}" in result.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000


def test_u_chart_of_a_rate_per_1000_worked_by_hand():
    from forecast.control.proportions import analyse_rate, u_limits

    # 12 months at 4.0 per 1,000 of 200,000 residents (820 and 780 crimes in turn), then 8 at 4.6 of 100,000
    counts, population = [820, 780] * 6 + [455, 465] * 4, [200_000] * 12 + [100_000] * 8
    r = analyse_rate(MONTHS, counts, population, "Robbery per 1,000 residents", "Sandwell")
    # u = 4.0, sigma = sqrt(4.0 / 200) = 0.1414 (the population in thousands): limits 3.576 and 4.424
    first = r.points.iloc[0]
    assert (first["mean"], first["lcl"], first["ucl"]) == pytest.approx((4.0, 4 - 3 * np.sqrt(0.02), 4 + 3 * np.sqrt(0.02)))
    assert r.chart == "u" and r.sigma_z == 1.0 and r.per == 1000
    (change,) = r.step_changes.itertuples()
    assert (str(change.month), str(change.detected), change.direction) == ("2021-01", "2021-08", "up")
    assert (change.old_mean, change.new_mean, change.points) == pytest.approx((4.0, 4.6, 0.6))
    # the smaller population widens the second process's limits: 4.6 +/- 3 sqrt(4.6 / 100)
    assert (r.points["lcl"].iloc[-1], r.points["ucl"].iloc[-1]) == pytest.approx(u_limits(4.6, 100))
    assert r.points["ucl"].iloc[-1] == pytest.approx(4.6 + 3 * np.sqrt(0.046))
    assert r.sentences == ("Robbery per 1,000 residents in Sandwell has seen a significant step change increase, "
                           "starting 2021-01 and declared in 2021-08: the monthly average is now 4.6 per 1,000, up "
                           "from 4.0 per 1,000 (+0.6 per 1,000).",)  # crime up is no improvement


def test_a_rate_of_a_large_population_varying_more_than_poisson_gets_laneys_limits():
    from forecast.control.proportions import analyse_rate

    rng = np.random.default_rng(3)
    counts = np.round(4000 * (1 + rng.normal(0, 0.08, 24)))  # 8% spread; Poisson's would be 1.6%
    r = analyse_rate(pd.period_range("2020-01", periods=24, freq="M"), counts, [1_000_000] * 24, "Theft", "Force")
    assert r.chart == "laney_u" and r.notes[0].startswith("Laney u' chart: rates over-dispersed")
    u = counts / 1000
    centre = r.points["mean"].to_numpy()
    z = (u - centre) / np.sqrt(centre / 1000)
    sigma_z = np.mean(np.abs(np.diff(z))) / 1.128
    assert r.sigma_z == pytest.approx(sigma_z) and r.sigma_z > 4
    assert r.points["ucl"].to_numpy() == pytest.approx(centre + 3 * sigma_z * np.sqrt(centre / 1000))


def test_forecast_spc_reads_a_file_of_counts_and_populations_as_rates(tmp_path, invoke):
    rows = [f"{m},Sandwell,Robbery,{c},{p}" for m, c, p in zip(MONTHS, [820, 780] * 6 + [455, 465] * 4,
                                                               [200_000] * 12 + [100_000] * 8)]
    path = write(tmp_path / "rates.csv", "month,area,measure,count,population\n" + "\n".join(rows) + "\n")
    result = invoke("spc", "--data", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SPC of rates per 1,000 at 2021-08 (1 series)")
    header, _, row = result.stdout.splitlines()[1:4]
    assert "average (per 1,000)" in header
    # 4.60 per 1,000 now; the latest month 465 of 100,000; limits 4.6 -/+ 3 sqrt(4.6 / 100)
    assert row.split() == ["Robbery", "Sandwell", "step", "change", "up", "u-chart", "4.60", "4.65", "3.96-5.24", "8"]
    assert "- Robbery in Sandwell has seen a significant step change increase" in result.stdout
    csv = invoke("spc", "--data", path, "--format", "csv")
    row = pd.read_csv(__import__("io").StringIO(csv.stdout)).iloc[0]
    assert (row["mean"], row["ucl"]) == (4.6, round(4.6 + 3 * np.sqrt(0.046), 2))
    bad = write(tmp_path / "bad.csv", "month,area,measure,count,population\n2020-01,Sandwell,Robbery,8,0\n")
    refused = invoke("spc", "--data", bad)
    assert refused.exit_code == 2 and refused.stderr.strip().splitlines() == [
        f"Error: {bad}, line 2: population is 0: a rate needs people it is per"]
