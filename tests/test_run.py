import json

import numpy as np
import pandas as pd
import pytest

from forecast.io import datasets

from conftest import seasonal_naive_scale


@pytest.fixture(scope="module")
def robbery_run(tmp_path_factory, met_major_models):
    from click.testing import CliRunner

    from forecast.cli import cli

    out = tmp_path_factory.mktemp("run") / "robbery"
    result = CliRunner().invoke(cli, ["run", "--crime", "robbery", "--area", "camden,westminster", "--out", str(out), "--no-track",
                                      "--jobs", "1", "--charts", "all"], catch_exceptions=False)
    return result, out


def test_run_writes_its_outputs(robbery_run):
    result, out = robbery_run
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["backtest.csv", "charts", "forecast.csv", "report.html",
                                                     "run.json", "sentences.txt", "spc.csv", "summary.csv"]
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["camden.png", "small-multiples.png",
                                                                  "westminster.png"]
    forecast = pd.read_csv(out / "forecast.csv")
    assert forecast.columns.tolist() == ["crime_type", "area", "model", "month", "step", "mean", "lo_80", "hi_80",
                                         "lo_95", "hi_95"]
    assert forecast["month"].tolist() == ["2019-01", "2019-02", "2019-03"] * 2
    assert (forecast[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]] >= 0).all().all()
    assert (forecast["lo_95"] <= forecast["lo_80"]).all() and (forecast["hi_80"] <= forecast["hi_95"]).all()
    backtest = pd.read_csv(out / "backtest.csv")
    assert set(backtest["model"]) == {"snaive", "ets", "theta", "global", "ensemble", "auto"}
    assert len(backtest) == 2 * 6 * 4 * 3
    spc_points = pd.read_csv(out / "spc.csv")
    assert len(spc_points) == 2 * 132
    # not a terminal: no bar drawn line by line, one line at the end instead
    assert [line for line in result.stderr.splitlines() if line.startswith("forecasting")] == \
        [line for line in result.stderr.splitlines() if line.startswith("forecasting: 2 of 2 series in ")]
    assert len([line for line in result.stderr.splitlines() if line.startswith("forecasting")]) == 1


def test_run_summary_numbers_hold_together(robbery_run):
    _, out = robbery_run
    summary = pd.read_csv(out / "summary.csv").set_index("area")
    forecast = pd.read_csv(out / "forecast.csv")
    y = datasets.load("met-major").series("Robbery", "Camden")
    camden = summary.loc["Camden"]
    # every figure is published to 2 decimals: a sum of three of them is within 0.015 of the published quarter
    assert camden["quarter"] == pytest.approx(forecast[forecast["area"] == "Camden"]["mean"].sum(), abs=0.015)
    assert camden["quarter"] == pytest.approx(camden["m1"] + camden["m2"] + camden["m3"], abs=0.015)
    last_year = y["2018-01":"2018-03"].sum()
    # percentages are published whole, as the board reads them
    assert camden["vs_last_year_pct"] == round((camden["quarter"] - last_year) / last_year * 100) == -7
    assert camden["quarter_lo_95"] < camden["quarter_lo_80"] < camden["quarter"] < camden["quarter_hi_80"] \
        < camden["quarter_hi_95"]



def test_auto_reports_its_nested_error_not_the_in_sample_winners():
    from forecast.engine.backtest import BacktestSettings, forecast_series
    from forecast.models import DEFAULT_RUN

    y = datasets.load("met-major").series("Robbery", "Camden")
    f = forecast_series(("Robbery", "Camden"), y, BacktestSettings(models=DEFAULT_RUN), model="auto")
    m = f.metrics
    in_sample_best = m[m["model"] != "auto"].groupby("model")["mase"].mean()
    assert f.chosen == in_sample_best.idxmin()
    nested = m[m["model"] == "auto"]["mase"].mean()
    assert f.reported_scores()["mase"] == pytest.approx(nested)
    assert nested > in_sample_best.min()  # the in-sample figure flatters the choice


def test_the_auto_rows_are_the_nested_choice(robbery_run):
    _, out = robbery_run
    summary = pd.read_csv(out / "summary.csv").set_index("area")
    backtest = pd.read_csv(out / "backtest.csv")
    y = datasets.load("met-major").series("Robbery", "Camden")
    camden = backtest[backtest["area"] == "Camden"]
    auto = camden[camden["model"] == "auto"]
    origins = sorted(auto["origin"].unique())
    assert origins == ["2017-12", "2018-03", "2018-06", "2018-09"]
    # the first origin has no earlier score: auto is the default family there, the ensemble
    first = auto[auto["origin"] == origins[0]]["mean"].to_numpy()
    ensemble = camden[(camden["model"] == "ensemble") & (camden["origin"] == origins[0])]["mean"].to_numpy()
    assert np.allclose(first, ensemble)
    # at each later origin auto is the family with the lowest mean MASE over the origins before it
    by_origin = {}
    for origin in origins:
        rows = camden[camden["origin"] == origin]
        scale = seasonal_naive_scale(y, origin)
        by_origin[origin] = {m: float(np.mean(np.abs(g["actual"] - g["mean"]))) / scale
                             for m, g in rows.groupby("model") if m != "auto"}
    for i, origin in enumerate(origins[1:], start=1):
        means = {m: np.mean([by_origin[o][m] for o in origins[:i]]) for m in by_origin[origin]}
        best = min(means, key=means.get)
        picked = auto[auto["origin"] == origin]["mean"].to_numpy()
        assert np.allclose(picked, camden[(camden["model"] == best) & (camden["origin"] == origin)]["mean"])
    # the run forecasts with the ensemble (the measured best), and reports the ensemble's own backtest error
    assert summary.loc["Camden", "model"] == "ensemble"
    ensemble = camden[camden["model"] == "ensemble"]
    # scores are published to 3 decimals; the backtest's own forecasts to 2
    assert summary.loc["Camden", "mase"] == pytest.approx(np.mean(
        [np.mean(np.abs(g["actual"] - g["mean"])) / seasonal_naive_scale(y, o) for o, g in ensemble.groupby("origin")]),
        abs=1e-3)
    snaive = camden[camden["model"] == "snaive"]
    assert summary.loc["Camden", "snaive_mase"] == pytest.approx(np.mean(
        [np.mean(np.abs(g["actual"] - g["mean"])) / seasonal_naive_scale(y, o) for o, g in snaive.groupby("origin")]),
        abs=1e-3)


def test_run_prints_table_and_sentences(robbery_run):
    result, out = robbery_run
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Robbery: forecast for Jan 2019 to Mar 2019 from data to 2018-12 (met-major)")
    assert any(line.startswith("Camden ") for line in lines) and any(line.startswith("Westminster ") for line in lines)
    assert any(line.startswith("Robbery in Westminster") for line in lines)
    assert lines[-1] == f"wrote 2 series charts in {out / 'charts'}"
    assert f"wrote {out / 'report.html'}" in lines
    sentences = (out / "sentences.txt").read_text().splitlines()
    assert sentences and all(s in lines for s in sentences)


def test_run_rejects_a_bad_model(invoke):
    bad = invoke("run", "--crime", "robbery", "--model", "prophet")
    assert bad.exit_code == 2 and "model 'prophet' is not a model family; valid: snaive" in bad.stderr


def test_backtest_command_writes_exact_columns(invoke, tmp_path):
    out = tmp_path / "bt.csv"
    result = invoke("backtest", "--crime", "drugs", "--area", "bexley,bromley", "--models", "snaive,theta",
                    "--last", "60", "--origins", "2", "-o", out, "--jobs", "1", "--no-track")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame.columns.tolist() == ["crime_type", "area", "model", "origin", "month", "step", "actual", "mean",
                                      "lo_80", "hi_80", "lo_95", "hi_95"]
    assert sorted(frame["origin"].unique()) == ["2018-06", "2018-09"]
    assert len(frame) == 2 * 3 * 2 * 3  # snaive, theta and auto (their nested choice)
    table = result.stdout.splitlines()
    assert table[0].startswith("Backtest: 2 series, 2 origins x 3 months, step 3")
    snaive = next(line for line in table if line.startswith("snaive"))
    mase = float(snaive.split()[2])
    f = frame[frame["model"] == "snaive"]
    y = datasets.load("met-major").series("Drugs", "Bexley").iloc[-60:]
    assert f[f["area"] == "Bexley"]["actual"].tolist() == y.iloc[-6:].tolist()
    # the seasonal naive forecast is last year's month, and its MASE is worked out here from the data alone
    full = datasets.load("met-major")
    expected = []
    for area in ("Bexley", "Bromley"):
        s = full.series("Drugs", area).iloc[-60:]
        for origin in ("2018-06", "2018-09"):
            train, actual = s[:origin], s[pd.Period(origin, "M") + 1:pd.Period(origin, "M") + 3]
            naive = s[actual.index - 12].to_numpy()
            expected.append(np.mean(np.abs(actual.to_numpy() - naive)) / seasonal_naive_scale(s, origin))
            assert np.allclose(f[(f["area"] == area) & (f["origin"] == origin)]["mean"], naive)
    assert mase == pytest.approx(np.mean(expected), abs=5e-4)


def test_decompose_outlook_and_one_series(invoke):
    result = invoke("decompose", "--outlook")
    assert result.exit_code == 0, result.output
    # named only with a clear seasonal pattern (strength >= 0.3) and a change of 2% or more: Fraud's +9.5% has
    # strength 0.00, Drugs' -0.7% is too small
    assert result.stdout.rstrip().splitlines()[-1] == (
        "Based on seasonality, Robbery, Theft and Handling, Criminal Damage, Burglary and Violence Against the "
        "Person may fall over the next 3 months.")
    result = invoke("decompose", "--outlook", "--format", "json")
    rows = json.loads(result.stdout)
    assert len(rows) == 10 and {r["area"] for r in rows} == {"All areas"}
    pct = [r["seasonal_change_pct"] for r in rows]
    assert pct == sorted(pct, reverse=True)
    one = invoke("decompose", "--crime", "burglary", "--area", "all-areas", "--format", "json")
    data = json.loads(one.stdout)
    comp = pd.DataFrame(data["components"])
    assert np.allclose(comp["trend"] + comp["seasonal"] + comp["resid"], comp["observed"])
    assert len(data["indices"]) == 12
    text = invoke("decompose", "--crime", "burglary", "--area", "all-areas").stdout
    assert text.startswith("Burglary / All areas: strength of seasonality")
    many = invoke("decompose", "--crime", "burglary")
    assert many.exit_code == 2 and "decompose needs one series" in many.stderr


def test_each_run_writes_its_own_folder_and_latest_points_to_the_newest(tmp_path, invoke, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    args = ("run", "--crime", "drugs", "--area", "sutton", "--no-track", "--paths", "0", "--jobs", "1", "--charts", "all")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "note: not reconciled: the run needs the force total and its areas" in first.stderr
    second = invoke(*args)
    other = invoke("run", "--data", "city-of-london", "--crime", "burglary", "--no-track", "--paths", "0", "--jobs", "1")
    assert second.exit_code == 0 and other.exit_code == 0, second.output + other.output
    runs = sorted(p for p in (tmp_path / "out" / "met-major" / "drugs").iterdir() if p.name != "latest")
    assert len(runs) == 2 and runs[1].name.startswith(runs[0].name[:8])  # named by the time they started
    for run in runs:  # the first run is still whole beside the second
        assert sorted(p.name for p in run.iterdir()) == ["backtest.csv", "charts", "forecast.csv", "report.html",
                                                          "run.json", "sentences.txt", "spc.csv", "summary.csv"]
        assert sorted(p.name for p in (run / "charts").iterdir()) == ["small-multiples.png", "sutton.png"]
    latest = tmp_path / "out" / "met-major" / "drugs" / "latest"
    assert latest.resolve() == runs[1].resolve()
    manifest = json.loads((latest / "run.json").read_text())
    assert {k: manifest[k] for k in ("data", "crime_type", "areas")} == {"data": "met-major", "crime_type": "Drugs",
                                                                          "areas": ["Sutton"]}
    city = tmp_path / "out" / "city-of-london" / "burglary" / "latest"
    assert json.loads((city / "run.json").read_text())["data"] == "city-of-london"
    assert f"wrote out/met-major/drugs/{runs[1].name}/report.html" in second.stdout
    rebuilt = invoke("report", "--crime", "drugs", "--history", "all")
    assert rebuilt.exit_code == 0 and "wrote out/met-major/drugs/latest/report.html" in rebuilt.stdout
    assert invoke("report", "--crime", "drugs", "--history", "6").exit_code == 2
    assert "no run of 'robbery' under out/" in invoke("report", "--crime", "robbery").stderr


def test_out_replaces_an_earlier_run_whole_and_refuses_anything_else(tmp_path, invoke):
    args = ("--crime", "drugs", "--no-track", "--paths", "0", "--jobs", "1", "--charts", "all")
    out = tmp_path / "board"
    assert invoke("run", *args, "--area", "sutton,merton", "--out", out).exit_code == 0
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["merton.png", "small-multiples.png", "sutton.png"]
    assert invoke("run", *args, "--area", "sutton", "--out", out).exit_code == 0
    # the run's folder is replaced whole: no stale chart of Merton beside the new one
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["small-multiples.png", "sutton.png"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.docx").write_bytes(b"the analyst's own file")
    refused = invoke("run", *args, "--area", "sutton", "--out", mine)
    assert refused.exit_code == 2 and refused.stderr.strip() == (
        f"Error: {mine}: holds files that are not a forecast run's output (no run.json), and a run's folder is "
        f"replaced whole; choose a new or empty folder (nothing was written)")
    assert [p.name for p in mine.iterdir()] == ["notes.docx"]


def test_several_crime_types_get_a_folder_each_an_index_and_one_training_of_the_global_model(tmp_path, invoke,
                                                                                           monkeypatch, untrained):
    import re

    bt = untrained
    monkeypatch.chdir(tmp_path)
    trained = []
    real = bt._train
    monkeypatch.setattr(bt, "_train", lambda train, *rest: trained.append(len(train)) or real(train, *rest))
    args = ("run", "--data", "city-of-london", "--crime", "robbery,drugs", "--area", "city-of-london", "--no-track",
            "--paths", "0", "--jobs", "1")
    refused = invoke(*args, "--out", tmp_path / "one")
    assert refused.exit_code != 0 and not (tmp_path / "one").exists()
    assert refused.stderr.strip() == ("Error: --out takes one crime type, got 2; without --out each gets its own "
                                      "folder under out/city-of-london/")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    # the global model learnt once per cut-off, and served both crime types, from the 84 of the 158 series (with the
    # totals) that had crime in at least a tenth of their months
    whole = datasets.load("city-of-london").with_totals()
    active = [k for k, y in whole.iter_series() if (y.iloc[-60:] > 0).mean() >= 0.1]
    assert len(list(whole.iter_series())) == 158 and len(active) == 84
    assert len(trained) == 5 and trained[-1] == 84
    index = tmp_path / "out" / "city-of-london" / "all" / "latest"
    html = (index / "index.html").read_text()
    links = re.findall(r'<h2><a href="([^"]+)">([^<]+)</a>', html)
    assert [name for _, name in links] == ["Robbery", "Drugs"]
    for link, name in links:
        report = (index.resolve() / link).resolve()
        assert report.is_file() and report.parent.parent.name == name.lower()
    summary = pd.read_csv(index / "summary.csv")
    assert summary[["crime_type", "area"]].values.tolist() == [["Robbery", "City of London"],
                                                                ["Drugs", "City of London"]]
    assert "forecasting Robbery: 1 of 1 series" in result.stderr and "forecasting Drugs: 1 of 1 series" in result.stderr
    # the terminal gets one line per crime type and where its folder is; the tables and sentences are in the files
    said = result.stdout.splitlines()
    assert said[0].startswith("Robbery: 1 series; 1 ") and said[2].startswith("Drugs: 1 series; 1 ")
    assert said[1].startswith("  wrote out/city-of-london/robbery/") and "SPC status" not in result.stdout
    # the index: every series at a glance (a row per area, a column per crime type), then each sentence once
    glance = html[html.index('<table class="glance">'):html.index("</table>")]
    assert glance.count("<tr>") == 2 and glance.count('<td class="text"') == 3
    summary_rows = summary.set_index("crime_type")
    for crime in ("Robbery", "Drugs"):
        change = summary_rows.loc[crime, "vs_last_year_pct"]
        assert f"{round(change):+d}%" in glance or (round(change) == 0 and " 0%" in glance)
    items = re.findall(r"<li>([^<]*)</li>", html)
    assert len(items) == len(set(items)) > 0


def test_the_index_opens_in_a_real_browser_without_network(tmp_path, invoke, monkeypatch):
    import os
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from cdp import Browser

    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--data", "city-of-london", "--crime", "robbery,theft-from-the-person", "--area",
                    "city-of-london,camden", "--no-track", "--paths", "0", "--jobs", "1")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "out" / "city-of-london" / "all" / "latest" / "index.html").resolve()
    browser = Browser(chromium, tmp_path / "profile")
    try:
        requested, png, dom = browser.load(index.as_uri())
    finally:
        browser.close()
    assert requested == []
    assert dom.count('<table class="glance">') == 1 and "Theft from the person" in dom and ">Camden<" in dom
    assert len(png) > 10_000


def test_vs_last_year_needs_every_month_a_year_before(tmp_path):
    """A series that starts after the months a year before the forecast has no change against last year; one
    that has them compares the quarter with their sum."""
    import forecast as fc

    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(["Camden", "Merton", "Sutton"])
                  & (frame["month"] >= pd.Period("2016-01", freq="M"))]
    late = (frame["area"] == "Merton") & (frame["month"] < pd.Period("2018-03", freq="M"))  # 10 months, from March
    path = tmp_path / "three.csv"
    frame[~late].assign(month=lambda f: f["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(
        path, index=False)
    summary = fc.run(fc.load(str(path)), crime="robbery", n_jobs=1).summary.set_index("area")
    assert np.isnan(summary.loc["Merton", "vs_last_year_pct"])
    y = datasets.load("met-major").series("Robbery", "Camden")
    last_year = y["2018-01":"2018-03"].sum()
    # percentages are published whole, as the board reads them
    change = (summary.loc["Camden", "quarter"] - last_year) / last_year * 100
    assert summary.loc["Camden", "vs_last_year_pct"] == round(change) == -2


def test_the_workers_draw_the_paths_the_fitted_model_draws_and_decompose_as_here():
    """A run draws each series' sample paths and decomposes it in the worker process that fits it. The paths come
    from the series' own seeded generator (the run's seed reaching the worker), so they are the ones the fitted
    model, back in this process, draws; the decomposition is the one made here."""
    from forecast.control.seasonality import decompose
    from forecast.engine.backtest import BacktestSettings
    from forecast.jobs.run import QUARTER_PATHS, run_forecast, series_rng
    from forecast.models.paths import model_paths

    panel = datasets.load("met-major").select(crime="robbery", area="camden,merton,sutton,bromley")
    result = run_forecast(panel, "Robbery", model="theta", settings=BacktestSettings(models=("snaive", "theta"),
                                                                                     origins=2),
                          n_jobs=2, seed=7, reconcile="none")
    assert sorted(area for _, area in result.keys) == ["Bromley", "Camden", "Merton", "Sutton"]
    series = dict(panel.iter_series())
    for key in result.keys:
        f = result.forecasts[key]
        assert f.chosen == "theta" and result.paths[key].shape == (QUARTER_PATHS, 3)
        np.testing.assert_array_equal(result.paths[key], model_paths(f.model, f.forecast, QUARTER_PATHS,
                                                                     series_rng(7, key)))
        assert not np.array_equal(result.paths[key], model_paths(f.model, f.forecast, QUARTER_PATHS,
                                                                 series_rng(0, key)))
        pd.testing.assert_frame_equal(result.decompositions[key].components,
                                      decompose(series[key], *key).components)
