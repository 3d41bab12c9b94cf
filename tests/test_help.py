"""Every example in every command's --help runs, as written, on the bundled data (RUN_ID is the id the run
examples printed), and does what it says."""

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.models import DEFAULT_MODEL
from test_fetch import serving
from test_street_zip import archive

ROOT = Path(__file__).resolve().parents[1]


def examples() -> list[str]:
    """The example lines of every command's help, run examples first (the others use what they make)."""
    found = []
    for name in cli.list_commands(None):
        text = CliRunner().invoke(cli, [name, "--help"]).output
        found += [m.group(1).strip() for m in re.finditer(r"^\s+forecast (\S.*)$", text, re.M)]
    return sorted(found, key=lambda e: not e.startswith("run "))


def _csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


def adds_up(folder: str) -> bool:
    """The areas' forecasts add up to the force total's, month by month and for the quarter (to rounding)."""
    forecast, summary = _csv(f"{folder}/forecast.csv"), _csv(f"{folder}/summary.csv")
    total = forecast[forecast["area"] == "All areas"].set_index("month")["mean"]
    areas = forecast[forecast["area"] != "All areas"].groupby("month")["mean"].sum()
    quarter = summary.set_index("area")["quarter"]
    # each figure is published to 2 decimals, so the sum of 33 areas may be off by up to 33 x 0.005
    n = forecast["area"].nunique() - 1
    return (len(areas) == 3 and bool(np.allclose(areas, total.reindex(areas.index), rtol=0, atol=0.005 * (n + 1)))
            and bool(np.isclose(quarter.drop("All areas").sum(), quarter["All areas"], rtol=0, atol=0.005 * (n + 1)))
            and set(summary["reconciliation"]) == {"top-down"})


#: the server commands the serve example would have started
SERVED: list[list[str]] = []

#: what each example must leave behind: a check of its output (stdout) and of the current folder
EXPECTED = {
    "run --crime robbery": lambda out: "Robbery: forecast for Jan 2019 to Mar 2019" in out
    and len(_csv("out/met-major/robbery/latest/summary.csv")) == 34 and adds_up("out/met-major/robbery/latest"),
    "run --crime burglary --area camden,westminster --history all --export": lambda out: "exported model to models/"
    "burglary/" in out and sorted(_csv("out/met-major/burglary/latest/summary.csv")["area"]) == ["Camden", "Westminster"],
    "backtest --crime burglary --models ets,theta,snaive -o backtest.csv": lambda out: set(
        _csv("backtest.csv")["model"]) == {"ets", "theta", "snaive", "auto"},
    # the measured best on the force totals is run's default model: the ensemble, MASE 0.473 against the seasonal
    # naive's 0.670 over the last four quarters
    "compare experiments/force-totals.toml": lambda out: "force-totals: 10 series" in out and "recorded 6 MLflow runs"
    in out and bool(re.search(r"^ +1 +ensemble +10 +0\.473 ", out, re.M)) and bool(
        re.search(r"^ +6 +snaive +10 +0\.670 ", out, re.M)) and DEFAULT_MODEL == "ensemble",
    "datasets": lambda out: all(name in out for name in ("met-major", "met-minor", "west-midlands", "city-of-london")),
    "decompose --crime robbery --area all-areas": lambda out: "Seasonal index by calendar month" in out,
    "decompose --outlook": lambda out: "may fall over the next 3 months" in out,
    # outlook gives the probability the run published for the same series (the run example ran first)
    "outlook --crime robbery --area bromley": lambda out: "Robbery in Bromley: 6 months below average" in out
    and f"(probability {_csv('out/met-major/robbery/latest/summary.csv').set_index('area').loc['Bromley', 'p_step_down']:.2f})"
    in out,
    "outlook --evaluate --crime burglary --area all-areas": lambda out: "Step-change outlook replayed on 1 series" in out,
    "predict --run-id RUN_ID --area camden": lambda out: "Camden" in out and "2019-03" in out,
    "predict --model-dir models/burglary/RUN_ID --horizon 6": lambda out: "Westminster" in out and "2019-06" in out,
    "register RUN_ID": lambda out: out.startswith("registered forecast-burglary version 1 (run ") and "It is the "
    "first champion." in out,
    "predict --model models:/forecast-burglary@champion --area camden": lambda out: "Camden" in out and "2019-03" in out,
    # the server itself is started and asked in tests/test_tracking.py; here the command is checked up to its start
    "serve --model models:/forecast-burglary@champion": lambda out: "serving models:/forecast-burglary@champion "
    "(version 1 of forecast-burglary) on http://127.0.0.1:5001/invocations" in out and SERVED[-1][1:4] == [
        "-m", "forecast.record.serving", "models:/forecast-burglary@champion"],
    "shares --data met-minor": lambda out: "92% of Robbery was Personal Property and 8% Business Property. This is the "
    "normal proportion split." in out,
    "shares --data met-minor --crime personal-property": lambda out: "Westminster as a proportion of Personal "
    "Property stands at 14% in 2018-12" in out,
    "board --data met-minor": lambda out: out.startswith("Board pack, 2018-12\n\nHeadlines\n- The top 5 crime types ")
    and "Other Theft (force total): the increases of the last 3 months (+1,399 a month" in out,
    "board --data met-minor --out board-pack-2018-12/": lambda out: len(_csv("board-pack-2018-12/drivers.csv")
                                                                         .groupby(["crime_type", "area"])) == 18,
    "contributions": lambda out: "The top 5 crime types contributing to All crime in the force in 2018-12 were Theft "
    "and Handling (29,070, 41%)" in out,
    "contributions --crime robbery": lambda out: "Robbery (force total): the increase since 2017-03" in out,
    "report --crime robbery --history all": lambda out: "wrote out/met-major/robbery/latest/report.html" in out,
    "report --run-id RUN_ID --out board-pack/": lambda out: Path("board-pack/report.html").stat().st_size > 10_000,
    "fetch 2024-09 --to downloads/": lambda out: "downloads/2024-09.zip: downloaded" in out,
    "ingest downloads/2024-09.zip --force west-midlands,merseyside -o wmp-mer.csv": lambda out: set(
        _csv("wmp-mer.csv")["force"]) == {"West Midlands Police", "Merseyside Police"},
    "spc --data downloads/2024-09.zip --force west-midlands --crime robbery": lambda out:
        "Robbery in Sandwell is stable" in out and "Liverpool" not in out,
    "peers --crime burglary,robbery": lambda out: "Burglary per 1,000 residents in the 12 months to 2018-12: highest "
    "in Westminster (16.9)" in out and len(_csv("out/met-major/peers-by-area/peers.csv")) == 60,
    "peers --data wmp-mer.csv --home-force west-midlands --peers merseyside": lambda out: "West Midlands Police has "
    "the " in out and set(_csv("out/wmp-mer/peers-west-midlands-police/peers.csv")["force"]) == {
        "West Midlands Police", "Merseyside Police"},
    "winter --crime burglary --area all-areas --winters 3": lambda out: "Nov 2018 to Dec 2018 recorded; the rest of "
    "the winter, Jan 2019 to Feb 2019, is forecast" in out and "Based on the forecast, Burglary this winter (Nov 2018 to "
    "Feb 2019) is expected at" in out and len(_csv("out/met-major/winter/burglary/latest/winter.csv")) == 1,
    "winter --crime robbery --area all-areas --end 2018-09 --months oct-mar --winters 2": lambda out: "Winter 2018/19 (Oct "
    "2018 to Mar 2019) from data to 2018-09" in out and "the whole winter is forecast." in out and set(
        _csv("out/met-major/winter/robbery/latest/backtest.csv")["origin"]) == {"2016-09", "2017-09"},
    "spc --crime burglary --area camden": lambda out: "Burglary in Camden" in out,
    "spc --crime burglary --area camden --chart camden.png --history all": lambda out: Path("camden.png").exists(),
}


def test_every_example_has_an_expectation():
    assert sorted(examples()) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, met_major_models):
    """One folder, MLflow store and loopback archive server for every example: the later ones use what the
    earlier made (RUN_ID is the id the run examples printed; ingest reads what fetch downloaded). The global models
    of met-major are the session's: the run examples read them, as a second command on the same data does."""
    folder = tmp_path_factory.mktemp("help")
    shutil.copytree(ROOT / "experiments", folder / "experiments")
    with serving({"2024-09.zip": archive(folder / "built.zip").read_bytes()}) as url:
        yield {"folder": folder, "url": url, "run_id": None}


@pytest.fixture
def in_workspace(workspace, monkeypatch):
    folder = workspace["folder"]
    monkeypatch.chdir(folder)
    monkeypatch.setenv("FORECAST_ARCHIVE_URL", workspace["url"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    monkeypatch.setenv("FORECAST_CACHE", str(folder / "street-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data-home"))
    monkeypatch.setattr("forecast.cli.store.run_server", lambda command, env=None, **_: SERVED.append(command))
    import forecast.engine.backtest as bt

    real, workspace["trained"] = bt.training_jobs, []
    monkeypatch.setattr(bt, "training_jobs", lambda cutoffs, n_jobs: workspace["trained"].extend(map(str, cutoffs))
                        or real(cutoffs, n_jobs))
    return workspace


@pytest.mark.parametrize("example", examples())
def test_the_help_example_runs_on_the_bundled_data(example, in_workspace):
    """... in the order of examples() (run first), each on what the ones before it made; fetch's on an archive
    served on the loopback interface."""
    run_id = in_workspace["run_id"]
    assert run_id or "RUN_ID" not in example, "the run examples come first and record a run"
    result = CliRunner().invoke(cli, example.replace("RUN_ID", run_id or "RUN_ID").split(), catch_exceptions=False)
    assert result.exit_code == 0, f"forecast {example}: {result.output}"
    recorded = re.search(r"recorded MLflow run ([0-9a-f]{32})", result.output)
    if example.startswith("run ") and recorded:
        in_workspace["run_id"] = recorded.group(1)
    if example.startswith("run "):
        assert in_workspace["trained"] == [], "the run examples read the session's met-major models, training none"
    assert EXPECTED[example](result.output), f"forecast {example}: {result.output}"


def test_the_model_options_name_every_registered_family():
    from forecast.models import REGISTRY

    for command in (["run", "--help"], ["backtest", "--help"]):
        text = " ".join(CliRunner().invoke(cli, command).output.split())
        assert all(name in text for name in REGISTRY), (command, [n for n in REGISTRY if n not in text])
