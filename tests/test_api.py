"""The Python API (`import forecast as fc`): the same numbers as the command line, nothing global changed, and the
README's example run as written."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import forecast as fc

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def two_areas(met_major_models):
    """Robbery in Camden and Westminster, fitted once for the module."""
    return fc.run(fc.load("met-major"), crime="robbery", areas=["Camden", "Westminster"])


def test_run_gives_the_numbers_the_command_writes(two_areas, invoke, tmp_path):
    result = invoke("run", "--crime", "robbery", "--area", "camden,westminster", "--no-track", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "r" / "forecast.csv")
    assert written.shape == (6, 10)
    pd.testing.assert_frame_equal(two_areas.forecast.reset_index(drop=True), written, check_dtype=False)
    assert (tmp_path / "r" / "sentences.txt").read_text(encoding="utf-8").splitlines() == two_areas.sentences
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert summary["area"].tolist() == two_areas.summary["area"].tolist() == ["Westminster", "Camden"]
    # the terminal table is the run's own
    assert two_areas.table() in result.stdout


def test_a_run_is_published_as_the_command_publishes_it(two_areas, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    before_uri, before_env = mlflow.get_tracking_uri(), dict(os.environ)
    published = two_areas.publish(tmp_path / "board", tracking_uri=store)
    assert mlflow.get_tracking_uri() == before_uri and dict(os.environ) == before_env
    assert published.folder == tmp_path / "board" and published.latest is None
    assert sorted(p.name for p in (tmp_path / "board").iterdir()) == [
        "backtest.csv", "charts", "forecast.csv", "report.html", "run.json", "sentences.txt", "spc.csv",
        "summary.csv"]
    manifest = json.loads((tmp_path / "board" / "run.json").read_text(encoding="utf-8"))
    assert manifest["mlflow_run_id"] == published.run_id and manifest["areas"] == ["Camden", "Westminster"]
    run = mlflow.MlflowClient(store).get_run(published.run_id)
    assert run.data.tags["crime_type"] == "Robbery" and run.data.metrics["n_series"] == 2
    assert published.experiment == "forecast/robbery" and published.store == store


def test_a_run_draws_and_reports_without_writing(two_areas, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figure = two_areas.plot("camden")
    status = two_areas.summary.set_index("area").loc["Camden", "status"]
    assert figure.axes[0].get_title(loc="left").startswith(f"Robbery in Camden: {status}")
    forecast = [line for line in figure.axes[0].get_lines() if line.get_gid() == "forecast-mean"]
    assert list(forecast[0].get_ydata()) == pytest.approx(two_areas.forecast.query("area == 'Camden'")["mean"])
    html = two_areas.to_html()
    assert all(s.split(",")[0] in html for s in two_areas.sentences)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(fc.SelectionError, match="not an area of this run"):
        two_areas.plot("Hackney")


def test_an_index_from_digests_is_the_index_from_the_runs(two_areas, tmp_path, monkeypatch):
    """`run --crime all` keeps each crime type's digest, not its fitted models and sample paths, until the index is
    written: the index from digests is the one from the runs, and a digest is a small part of its run."""
    import pickle

    monkeypatch.chdir(tmp_path)
    digest = two_areas.digest()
    pd.testing.assert_frame_equal(digest.summary(), two_areas.result.summary())
    assert digest.sentences() == two_areas.sentences and digest.crime_type == "Robbery"
    assert len(pickle.dumps(digest)) * 10 < len(pickle.dumps(two_areas.result))
    from_runs = fc.publish_index([(two_areas, tmp_path / "robbery")], "met-major", when="runs")
    from_digests = fc.publish_index([(digest, tmp_path / "robbery")], "met-major", when="digests")
    assert from_digests.folder == Path("out", "met-major", "all", "digests")
    for name in ("summary", "sentences"):
        assert from_digests.files[name].read_bytes() == from_runs.files[name].read_bytes()
    pages = [re.sub(r"Generated [0-9-]+ [0-9:]+", "", p.files["index"].read_text(encoding="utf-8"))
             for p in (from_runs, from_digests)]
    assert pages[0] == pages[1] and "Camden" in pages[0]


def test_spc_gives_what_the_command_prints(invoke):
    s = fc.spc(fc.load(), crime="burglary", area="merton,hillingdon,all-areas")
    printed = invoke("spc", "--crime", "burglary", "--area", "merton,hillingdon,all-areas", "--format", "json")
    as_json = json.loads(printed.stdout)
    assert [(r.crime_type, r.area) for r in s.results] == [(r["crime_type"], r["area"]) for r in as_json]
    assert s.sentences == [t for r in as_json for t in r["sentences"]]
    merton = s.summary.set_index("area").loc["Merton"]
    assert merton["status"] == next(r for r in as_json if r["area"] == "Merton")["status"] == "step change up"
    table = invoke("spc", "--crime", "burglary", "--area", "merton,hillingdon,all-areas").stdout
    assert merton["step_change"] == "2018-05 up (declared 2018-12): 115 -> 133 (+15%)" and merton["step_change"] in table
    assert len(s.points) == 3 * 132 and set(s.points["area"]) == {"Merton", "Hillingdon", "All areas"}


def test_load_takes_a_frame_and_names_what_is_wrong():
    frame = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-03"], "area": "Sandwell", "crime_type": "Robbery",
                          "count": [30, 41, 35]})
    panel = fc.load(frame, name="mine")
    assert panel.name == "mine" and panel.keys() == [("Robbery", "Sandwell")]
    assert panel.series("Robbery", "Sandwell").tolist() == [30, 41, 35]
    with pytest.raises(fc.DataError, match="count"):
        fc.load(frame.assign(count=["30", "lots", "35"]))


def test_decompose_and_the_seasonal_outlook(invoke):
    d = fc.decompose(fc.load(), "robbery")
    assert (d.crime_type, d.area) == ("Robbery", "All areas") and 0 <= d.strength <= 1
    table, said = fc.seasonal_outlook(fc.load())
    printed = invoke("decompose", "--outlook").stdout
    assert said[-1] in printed and len(table) == 10 and "All crime" in set(table["crime_type"])
    assert table.iloc[0]["crime_type"] in printed.splitlines()[2]


def test_importing_forecast_changes_nothing_in_the_host_process():
    """Its modules switch no backend and write no environment, numpy error state or warning filter (the libraries
    it stands on are imported first: their own import-time filters are theirs)."""
    code = ("import os, json, warnings, matplotlib, numpy as np, pandas, scipy.stats, statsmodels.api, sklearn, "
            "urllib3, matplotlib.figure, pmdarima, sklearn.ensemble, click, PIL.Image\n"
            "before = (matplotlib.rcParams._get_backend_or_none(), dict(os.environ), np.geterr(), "
            "list(warnings.filters))\n"
            "import forecast, forecast.cli, forecast.present.plots, forecast.record.tracking, forecast.record.publish\n"
            "import forecast.jobs.run, forecast.jobs.winter, forecast.engine.backtest, forecast.engine.outlook\n"
            "after = (matplotlib.rcParams._get_backend_or_none(), dict(os.environ), np.geterr(), "
            "list(warnings.filters))\n"
            "print(json.dumps([before[i] == after[i] for i in range(4)]))")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == [True, True, True, True]


def test_every_public_name_is_documented_with_an_example():
    for name in fc.__all__:
        thing = getattr(fc, name)
        if callable(thing) and not isinstance(thing, type) and name != "__version__":
            assert thing.__doc__ and ">>>" in thing.__doc__, name


def test_the_docstring_examples_run():
    import doctest

    import forecast.api

    for module in (fc, forecast.api):
        failed, tried = doctest.testmod(module, extraglobs={"fc": fc, "pd": pd}, optionflags=doctest.ELLIPSIS)
        assert failed == 0 and tried >= 4, module


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    namespace: dict = {}
    exec(compile(readme_block(), "README.md", "exec"), namespace)
    run = namespace["r"]
    assert run.forecast["area"].unique().tolist() == ["Camden", "Westminster"]
    assert (tmp_path / "board-pack" / "report.html").is_file()
    assert namespace["published"].run_id and (tmp_path / "robbery-camden.png").is_file()


def test_winter_gives_what_the_command_writes_and_draws_a_series(invoke, tmp_path):
    w = fc.winter(fc.load(), crime="burglary", area="all-areas", winters=2, n_paths=300)
    result = invoke("winter", "--crime", "burglary", "--area", "all-areas", "--winters", "2", "--paths", "300",
                    "--no-track", "--out", tmp_path / "w")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "w" / "winter.csv")
    assert written[["crime_type", "area"]].values.tolist() == [["Burglary", "All areas"]]
    assert written["total"].tolist() == w.totals["total"].round(2).tolist()  # the CSV rounds counts to 2 decimals
    assert (tmp_path / "w" / "sentences.txt").read_text(encoding="utf-8").splitlines() == w.sentences
    figure = w.plot("burglary")
    assert "winter 2018/19" in " ".join(t.get_text() for t in figure.texts) + figure.axes[0].get_title(loc="left")
    with pytest.raises(fc.SelectionError, match="no series"):
        w.plot("robbery")
