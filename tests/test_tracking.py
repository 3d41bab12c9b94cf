import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forecast.io import datasets
from forecast.cli import cli

from conftest import backtest_mase

RUN_ARGS = ["run", "--crime", "robbery", "--area", "camden,westminster", "--jobs", "1", "--charts", "all"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    old = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(cli, [*RUN_ARGS, "--tracking-uri", uri, "--export"], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    run_id = result.stdout.split("recorded MLflow run ")[1].split()[0]
    return root, uri, run_id, result


def test_parent_run_has_params_metrics_and_artifacts(tracked):
    import mlflow

    root, uri, run_id, _ = tracked
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["forecast/robbery"], filter_string=f"attributes.run_id = '{run_id}'")
    assert len(runs) == 1
    parent = runs.iloc[0]
    for key, value in {"data": "met-major", "crime_type": "Robbery", "horizon": "3", "n_series": "2",
                       "models": "snaive,ets,theta,global,ensemble", "spc_run_length": "8",
                       "spc_baseline": "12", "package_version": "0.1.0", "reconciliation": "none"}.items():
        assert parent[f"params.{key}"] == value, key
    assert len(parent["params.data_hash"]) == 16 and parent["params.git_commit"]
    started = json.loads((root / "out" / "met-major" / "robbery" / "latest" / "run.json").read_text())["started"]
    when = pd.Timestamp(started).strftime("%Y-%m-%d %H:%M")
    assert parent["tags.mlflow.runName"] == f"Robbery · {when} · ensemble · met-major · Camden, Westminster"
    # the run lasts as long as the command: from its start (before the fits) to the last file recorded
    assert (parent["end_time"] - parent["start_time"]).total_seconds() >= parent["metrics.run_seconds"]
    assert abs((parent["start_time"] - pd.Timestamp(started)).total_seconds()) < 1
    backtest = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "backtest.csv")
    y_of = datasets.load("met-major").select(crime="robbery").series
    # the global model learnt from all 340 series of the data (every crime type, with the totals), at the four
    # backtest origins and the last month
    assert parent["params.global_training_series"] == "340"
    assert parent["params.global_cutoffs"] == "2017-12,2018-03,2018-06,2018-09,2018-12"
    assert parent["params.global_features"].startswith("lag_23,lag_22,") and "crime_type,area" in \
        parent["params.global_features"]
    assert parent["params.global_quantiles"] == "0.1,0.5,0.9"
    assert "metrics.mase_stl-arima" not in parent  # not a member of the default ensemble: not fitted
    for model in ("snaive", "ets", "theta", "global", "ensemble", "auto"):
        assert parent[f"metrics.mase_{model}"] == pytest.approx(
            backtest_mase(backtest, lambda area: y_of("Robbery", area), model), abs=5e-4), model  # MASE: 3 decimals
        rows = backtest[backtest["model"] == model]
        held = ((rows["actual"] >= rows["lo_95"]) & (rows["actual"] <= rows["hi_95"])).mean()
        assert parent[f"metrics.coverage_95_{model}"] == np.round(held, 3), model  # rounded as published
    assert parent[["metrics.won_snaive", "metrics.won_ets", "metrics.won_theta", "metrics.won_global",
                   "metrics.won_ensemble"]].sum() == pytest.approx(1.0)
    summary = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "summary.csv")
    backtest = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "backtest.csv")
    snaive = backtest[backtest["model"] == "snaive"]
    assert snaive.shape[0] == 24 and summary.shape[0] == 2
    artifacts = root / "mlruns" / "artifacts" / run_id / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == ["backtest.csv", "charts", "comparison.png", "forecast.csv",
                                                           "report.html", "run.json", "sentences.txt", "spc.csv",
                                                           "summary.csv"]
    assert (artifacts / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (artifacts / "charts").iterdir()) == ["camden.png", "small-multiples.png",
                                                                        "westminster.png"]
    assert (artifacts / "forecast.csv").read_bytes() == (root / "out" / "met-major" / "robbery" / "latest" / "forecast.csv").read_bytes()


def test_one_child_run_per_series_with_tags_and_fitted_params(tracked):
    import mlflow

    root, uri, run_id, _ = tracked
    mlflow.set_tracking_uri(uri)
    children = mlflow.search_runs(experiment_names=["forecast/robbery"],
                                  filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    assert sorted(children["tags.area"]) == ["Camden", "Westminster"]
    assert set(children["tags.crime_type"]) == {"Robbery"}
    summary = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "summary.csv").set_index("area")
    for row in children.itertuples():
        area = getattr(row, "_" + str(list(children.columns).index("tags.area") + 1))
        model = children.set_index("tags.area").loc[area, "tags.model"]
        assert model == summary.loc[area, "model"]
        assert children.set_index("tags.area").loc[area, "metrics.mase"] == pytest.approx(summary.loc[area, "mase"],
                                                                                          abs=5e-4)
    client = mlflow.tracking.MlflowClient(uri)
    child = children.iloc[0]["run_id"]
    history = client.get_metric_history(child, "origin_mase")
    assert [m.step for m in history] == [0, 1, 2, 3]
    forecast_steps = client.get_metric_history(child, "forecast_mean")
    assert [m.step for m in forecast_steps] == [1, 2, 3]
    params = client.get_run(child).data.params
    assert "model" in params and any(k.startswith("fit.") for k in params)


def test_logged_and_exported_models_reproduce_the_forecast(tracked, invoke):
    import mlflow

    root, uri, run_id, _ = tracked
    forecast = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "forecast.csv")
    mlflow.set_tracking_uri(uri)
    model_uri = mlflow.tracking.MlflowClient(uri).get_run(run_id).data.tags["forecast.model_uri"]
    model = mlflow.pyfunc.load_model(model_uri)
    got = model.predict(pd.DataFrame({"area": ["camden", "Westminster"], "horizon": [3, 3]}))
    cols = ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert got[["area", "month"]].values.tolist() == forecast[["area", "month"]].values.tolist()
    assert np.allclose(got[cols].to_numpy(), forecast[cols].to_numpy(), rtol=0, atol=1e-9)
    assert model.metadata.get_input_schema().input_names() == ["area", "horizon"]
    bundle = model.unwrap_python_model()  # the global model is saved with the series' models, once
    assert bundle.panel_model.n_series_ == 340 and bundle.panel_model.horizon == 3
    name, camden = bundle.models[("Robbery", "Camden")]
    assert name == "ensemble" and camden.params()["members"] == "ets,theta,global"
    requirements = (root / "mlruns" / "artifacts").rglob("requirements.txt")
    assert any("statsmodels==" in p.read_text() for p in requirements)
    exported = root / "models" / "robbery" / run_id
    result = invoke("predict", "--model-dir", exported, "--format", "csv")
    assert result.exit_code == 0, result.output
    again = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert np.allclose(again[cols].to_numpy(), forecast[cols].to_numpy(), rtol=0, atol=1e-9)
    by_run = invoke("predict", "--run-id", run_id, "--tracking-uri", uri, "--area", "camden", "--format", "json")
    rows = json.loads(by_run.stdout)
    assert [r["month"] for r in rows] == ["2019-01", "2019-02", "2019-03"]
    assert rows[0]["mean"] == pytest.approx(forecast.iloc[0]["mean"], abs=1e-9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (from /proc)."""
    lines = (command_line(int(folder.name)) for folder in Path("/proc").glob("[0-9]*"))
    return [line for line in lines if text in line]


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_ui_serves_the_store_over_rest_and_stops(tracked, stop):
    root, uri, run_id, _ = tracked
    port = free_port()
    # its output goes to a file, not a pipe nobody reads: the server's logging fills a pipe's 64 KiB and then
    # blocks the command's own last line, so that it never exits
    log = root / f"ui-{stop}.log"
    # Ctrl-C as at a terminal: a shell starts background jobs (`pytest &`, some CI runners) with SIGINT ignored, and
    # the command would inherit that
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "forecast", "ui", "--tracking-uri", uri, "--port",
                                    str(port)], stdout=out, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        # wait on readiness, not on a guess: the UI took 58 s to start on a loaded 2-core machine; a process that
        # dies fails at once
        deadline = time.time() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{base}/experiments/search?max_results=10", timeout=2) as response:
                    experiments = json.load(response)["experiments"]
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise AssertionError(f"ui did not start: {log.read_text() if process.poll() else ''}")
                time.sleep(0.5)
        robbery = next(e for e in experiments if e["name"] == "forecast/robbery")
        # a machine-learning experiment: the UI opens it on its runs, not on the generative-AI overview
        assert {t["key"]: t["value"] for t in robbery["tags"]}["mlflow.experimentKind"] == "custom_model_development"
        body = json.dumps({"experiment_ids": [robbery["experiment_id"]], "max_results": 50}).encode()
        request = urllib.request.Request(f"{base}/runs/search", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            runs = json.load(response)["runs"]
        assert run_id in {r["info"]["run_id"] for r in runs}
        assert len(runs) == 3  # the parent and its two series
        # the command, MLflow's launcher and the web server; not MLflow's job runner and its seven queue consumers
        started = [line for pid in descendants(process.pid) if (line := command_line(pid))]
        assert len(started) == 3 and not [line for line in started if "mlflow.server.jobs" in line], started
        # the command's own probe (every half second) gives the links: stopped before it, the UI would print none
        while f"MLflow UI on http://127.0.0.1:{port} for " not in log.read_text() and time.time() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(getattr(signal, stop))
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"ui did not stop within 60 s of {stop}; its output:\n{log.read_text()[-3000:]}")
    said = log.read_text()
    assert f"MLflow UI on http://127.0.0.1:{port} for {uri} (Ctrl-C stops it" in said
    assert (f"  runs of forecast/robbery: http://127.0.0.1:{port}/#/experiments/{robbery['experiment_id']}/runs?"
            "workflowType=machine_learning") in said
    # the link is given once the server answers, and MLflow's own log goes to a file beside the store, not here
    assert said.index(f"starting the MLflow UI on http://127.0.0.1:{port}") < said.index(f"UI on http://127.0.0.1:{port} for")
    server_log = Path(uri.removeprefix("sqlite:///")).parent / "ui.log"
    assert f"MLflow's own log: {server_log}" in said and server_log.stat().st_size > 0
    assert "uvicorn" not in said.lower() and "INFO" not in said
    # everything it started is gone
    deadline = time.time() + 15
    while processes_mentioning(f"--port {port}") and time.time() < deadline:
        time.sleep(0.5)
    assert processes_mentioning(f"--port {port}") == []
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/experiments/search?max_results=1", timeout=2)


def test_two_runs_record_to_one_store_at_the_same_time(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    # two boroughs' last three years as a file of their own: the runs are quick, so that they write at the same time
    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Drugs") & frame["area"].isin(["Bexley", "Sutton"])]
    frame = frame[frame["month"] > frame["month"].max() - 36]
    data = tmp_path / "two.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(data, index=False)
    args = [sys.executable, "-m", "forecast", "run", "--data", str(data), "--crime", "drugs", "--jobs", "1",
            "--paths", "0", "--tracking-uri", uri]
    procs = [subprocess.Popen([*args, "--area", area, "--out", str(tmp_path / area)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for area in ("bexley", "sutton")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["forecast/drugs"])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 2 and len(runs) == 4


@pytest.mark.parametrize("store", ["corrupt", "unwritable"])
def test_bad_store_is_one_line_and_outputs_are_still_written(tmp_path, invoke, store):
    if store == "corrupt":
        (tmp_path / "mlruns").mkdir()
        (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"this is not sqlite" * 100)
        uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    else:
        (tmp_path / "blocker").write_text("a file where a folder should be")
        uri = f"sqlite:///{tmp_path / 'blocker' / 'mlflow.db'}"
    out = tmp_path / "out"
    result = invoke("run", "--crime", "drugs", "--area", "sutton", "--jobs", "1", "--out", out, "--tracking-uri", uri)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: MLflow store {uri}: ")
    assert "Traceback" not in result.output
    if store == "corrupt":  # found only when MLflow opens it: the outputs are written first
        assert (out / "forecast.csv").exists() and (out / "summary.csv").exists()
    else:  # refused before any work: no progress bar, nothing written
        assert lines == [f"Error: MLflow store {uri}: {tmp_path / 'blocker'}: cannot write the MLflow store folder "
                         "(it is a file, not a folder)"]
        assert not out.exists()


def test_no_track_leaves_no_store(tmp_path, invoke):
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    result = invoke("run", "--crime", "drugs", "--area", "sutton", "--jobs", "1", "--out", tmp_path / "o",
                    "--tracking-uri", uri, "--no-track")
    assert result.exit_code == 0 and "recorded MLflow run" not in result.stdout
    assert not (tmp_path / "mlruns").exists()


def test_backtest_is_recorded_with_per_model_metrics(tmp_path, invoke):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    result = invoke("backtest", "--crime", "drugs", "--area", "sutton,bexley", "--models", "snaive,theta,ensemble",
                    "--members", "theta", "--origins", "2", "--jobs", "1", "--tracking-uri", uri, "--min-months", "0")
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["forecast/drugs"])
    assert len(runs) == 1 and runs.iloc[0]["tags.command"] == "backtest"
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("theta"))
    assert runs.iloc[0]["metrics.mase_theta"] == pytest.approx(float(row[2]), abs=5e-4)
    assert runs.iloc[0]["params.backtest_origins"] == "2" and runs.iloc[0]["params.n_series"] == "2"
    # two series are no panel for the global model: the ensemble of Theta alone is Theta's forecast
    assert runs.iloc[0]["params.ensemble_members"] == "theta"
    assert runs.iloc[0]["metrics.mase_ensemble"] == runs.iloc[0]["metrics.mase_theta"]


def test_report_rebuilt_from_an_mlflow_run(tracked, invoke, tmp_path):
    root, uri, run_id, _ = tracked
    out = tmp_path / "pack"
    result = invoke("report", "--run-id", run_id, "--tracking-uri", uri, "--out", out)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"MLflow run {run_id[:8]}" in html and "Westminster" in html
    # by default only the series that call for attention get a chart of their own: Camden is stable
    attention = pd.read_csv(out / "summary.csv").set_index("area")["attention"]
    assert attention["Camden"] == "stable" and attention["Westminster"] != "stable"
    assert sorted(p.name for p in (out / "charts").glob("*.png")) == ["small-multiples.png", "westminster.png"]
    assert html.count("<img") == 2 and result.stdout.splitlines()[-1].endswith("and 1 series chart in "
                                                                                  f"{out / 'charts'}")


def test_ui_off_this_machine_without_a_login_is_refused(tmp_path, invoke):
    port = free_port()
    result = invoke("ui", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--host", "0.0.0.0",
                    "--port", port)
    assert result.exit_code == 2
    assert result.stderr == ("Error: --host 0.0.0.0 serves the MLflow UI beyond this machine with no login (its "
                             "Host-header check is not access control); add --basic-auth for a login, or "
                             "--allow-remote to serve it open\n")
    assert processes_mentioning(f"--port {port}") == []


def test_ui_of_an_experiment_the_store_lacks_is_refused(tracked, invoke):
    _, uri, _, _ = tracked
    result = invoke("ui", "--tracking-uri", uri, "--experiment", "forecast/arson", "--port", free_port())
    assert result.exit_code == 2 and result.stderr.startswith(
        f"Error: --experiment 'forecast/arson': not in {uri} (experiments: ") and "forecast/robbery" in result.stderr


def test_experiments_are_machine_learning_ones_and_older_ones_are_marked_without_overriding_a_choice(tmp_path):
    from forecast.record import tracking

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert tracking.mark_experiments(uri) == {} and not (tmp_path / "mlruns").exists()  # no store, none made
    with tracking.writing(uri) as (c, store):
        made = tracking.ensure_experiment(c, "forecast/robbery", store)
        older = c.create_experiment("forecast/burglary")  # as before the tag
        chosen = c.create_experiment("forecast/genai", tags={tracking.EXPERIMENT_KIND_TAG: "genai_development"})
        other = c.create_experiment("someone-else")
    assert sorted(tracking.mark_experiments(uri).values()) == sorted([made, older, chosen])
    with tracking.writing(uri) as (c, _):
        kinds = {i: c.get_experiment(i).tags.get(tracking.EXPERIMENT_KIND_TAG) for i in (made, older, chosen, other)}
    assert kinds == {made: "custom_model_development", older: "custom_model_development",
                     chosen: "genai_development", other: None}


@pytest.fixture(scope="module")
def registered(tracked):
    """The tracked run registered once: version 1 of forecast-robbery."""
    root, uri, run_id, _ = tracked
    result = CliRunner().invoke(cli, ["register", run_id, "--tracking-uri", uri], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_registered_versions_carry_their_backtest_and_the_champion_moves_only_on_a_better_score(tracked, registered,
                                                                                                 tmp_path):
    from mlflow.tracking import MlflowClient

    root, uri, run_id, result = tracked
    summary = pd.read_csv(root / "out" / "met-major" / "robbery" / "latest" / "summary.csv")
    c = MlflowClient(tracking_uri=uri)
    run = c.get_run(run_id)
    children = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    mase = np.mean([r.data.metrics["mase"] for r in children])  # each series' published model, unrounded
    assert mase == pytest.approx(summary["mase"].mean(), abs=5e-4)  # as the run's table shows it, to rounding
    assert registered.stdout.startswith(f"registered forecast-robbery version 1 (run {run_id}): backtest MASE "
                                        f"{mase:.3f}, 80% / 95% intervals held ")
    assert "It is the first champion." in registered.stdout
    champion = c.get_model_version_by_alias("forecast-robbery", "champion")
    assert str(champion.version) == "1" and champion.run_id == run_id
    assert float(champion.tags["mase"]) == pytest.approx(mase, abs=5e-5)
    assert champion.tags["data"] == "met-major" and champion.tags["last_month"] == "2018-12"

    again = CliRunner().invoke(cli, ["register", run_id, "--tracking-uri", uri], catch_exceptions=False)
    assert (f"The champion stays version 1: on the same data its MASE, {mase:.3f}, is no worse than this version's "
            f"{mase:.3f}.") in again.stdout
    promoted = CliRunner().invoke(cli, ["register", run_id, "--tracking-uri", uri, "--promote"], catch_exceptions=False)
    assert "version 3" in promoted.stdout and "Promoted by hand over version 1." in promoted.stdout
    assert str(c.get_model_version_by_alias("forecast-robbery", "champion").version) == "3"

    # other data (two boroughs' last 36 months as a file of their own): its MASE does not compare with the champion's
    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(["Camden", "Westminster"])]
    frame = frame[frame["month"] > frame["month"].max() - 36]
    own = tmp_path / "own.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(own, index=False)
    other = CliRunner().invoke(cli, ["run", "--data", own, "--crime", "robbery", "--jobs", "1", "--paths", "0",
                                     "--out", tmp_path / "out", "--tracking-uri", uri, "--experiment", "forecast/own",
                                     "--register"], catch_exceptions=False)
    assert other.exit_code == 0, other.output
    assert ("registered forecast-robbery version 4" in other.stdout and "The champion stays version 3: it was "
            "scored on other data (met-major to 2018-12), so the two MASE figures do not compare" in other.stdout)

    # the champion forecasts as its run does, without refitting
    by_alias = CliRunner().invoke(cli, ["predict", "--model", "models:/forecast-robbery@champion", "--area", "camden",
                                        "--tracking-uri", uri, "--format", "csv"], catch_exceptions=False)
    by_run = CliRunner().invoke(cli, ["predict", "--run-id", run_id, "--area", "camden", "--tracking-uri", uri,
                                      "--format", "csv"], catch_exceptions=False)
    assert by_alias.exit_code == 0 and by_alias.stdout == by_run.stdout and "Camden" in by_alias.stdout


def test_registry_mistakes_are_one_line(tracked, tmp_path):
    root, uri, run_id, _ = tracked
    missing = CliRunner().invoke(cli, ["predict", "--model", "models:/forecast-nothing@champion", "--tracking-uri", uri])
    assert missing.exit_code != 0 and missing.exception.__class__ is SystemExit
    assert missing.stderr.startswith("Error: --model models:/forecast-nothing@champion: not in the registry of ")
    assert len(missing.stderr.strip().splitlines()) == 1
    unknown = CliRunner().invoke(cli, ["register", "0" * 32, "--tracking-uri", uri])
    assert unknown.exit_code != 0 and f"run {'0' * 32} is not in the MLflow store" in unknown.stderr
    untracked = CliRunner().invoke(cli, ["run", "--crime", "robbery", "--no-track", "--register"])
    assert untracked.exit_code != 0 and "--register needs the run recorded in MLflow" in untracked.stderr


def test_a_registered_model_is_served_over_http_with_predicts_numbers_and_stops(tracked, registered):
    root, uri, run_id, _ = tracked
    port = free_port()
    log = root / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "forecast", "serve", "--model", "models:/forecast-robbery/1",
                                    "--tracking-uri", uri, "--port", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def post(records):
        body = json.dumps({"dataframe_records": records}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).close()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise AssertionError(f"serve did not start: {log.read_text()[-3000:]}")
                time.sleep(0.5)
        status, answer = post([{"area": "Camden", "horizon": 3}, {"area": "westminster", "horizon": 2}])
        unknown, refused = post([{"area": "Nowhere", "horizon": 3}])
        too_far, far = post([{"area": "Camden", "horizon": 99}])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"serve did not stop within 60 s; its output:\n{log.read_text()[-3000:]}")
    predicted = CliRunner().invoke(cli, ["predict", "--run-id", run_id, "--area", "camden", "--tracking-uri", uri,
                                         "--format", "json"], catch_exceptions=False)
    served = pd.DataFrame(answer["predictions"])
    assert status == 200 and list(served.groupby("area").size().items()) == [("Camden", 3), ("Westminster", 2)]
    expected = pd.DataFrame(json.loads(predicted.stdout))
    camden = served[served["area"] == "Camden"].reset_index(drop=True)
    assert list(camden["month"]) == ["2019-01", "2019-02", "2019-03"] == list(expected["month"])
    for col in ("mean", "lo_80", "hi_80", "lo_95", "hi_95"):
        assert np.allclose(camden[col], expected[col], rtol=1e-12), col
    assert unknown == 400 and "area 'Nowhere' matches no areas; valid: Camden, Westminster" in refused["message"]
    assert too_far == 400 and "horizon 99: give 1 to 24 months" in far["message"]
    assert "stack_trace" not in refused and "Traceback" not in json.dumps(refused)
    deadline = time.time() + 15
    while processes_mentioning(f"--port {port}") and time.time() < deadline:
        time.sleep(0.5)
    assert processes_mentioning(f"--port {port}") == []


def test_predict_gives_the_runs_reconciled_figures_and_says_which_it_gives_past_them(tmp_path, monkeypatch):
    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(["Camden", "Westminster"])]
    frame = frame[frame["month"] > frame["month"].max() - 60]
    own = tmp_path / "own.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(own, index=False)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    run = CliRunner().invoke(cli, ["run", "--data", own, "--crime", "robbery", "--jobs", "1", "--paths", "300",
                                   "--export", "--tracking-uri", uri, "--out", tmp_path / "out"],
                                   catch_exceptions=False)
    assert run.exit_code == 0, run.output
    run_id = run.stdout.split("recorded MLflow run ")[1].split()[0]
    published = pd.read_csv(tmp_path / "out" / "forecast.csv")
    assert set(pd.read_csv(tmp_path / "out" / "summary.csv")["reconciliation"]) == {"top-down"}
    result = CliRunner().invoke(cli, ["predict", "--model-dir", tmp_path / "models" / "robbery" / run_id, "--area",
                                      "all", "--horizon", "5", "--format", "csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(pd.io.common.StringIO(result.stdout))
    cols = ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    mine = got[got["step"] <= 3].merge(published, on=["area", "month"], suffixes=("", "_run"))
    assert len(mine) == 9  # Camden, Westminster and the force total, 3 months each
    assert np.allclose(mine[cols].to_numpy(), mine[[f"{c}_run" for c in cols]].to_numpy(), rtol=0, atol=1e-9)
    assert set(mine["figures"]) == {"the run's published figures, reconciled top-down"}
    later = got[got["step"] > 3]
    assert len(later) == 6 and set(later["figures"]) == {"the model's own forecast, not reconciled (past the run's "
                                                         "months)"}
    months = mine.pivot(index="month", columns="area", values="mean")
    assert np.allclose(months["Camden"] + months["Westminster"], months["All areas"], rtol=1e-9)
    assert "note: 2019-01 to 2019-03: the run's published figures, reconciled top-down" in result.stderr
    # what `serve` answers is the model's own predict: every month rounded to 2 decimals, as the run's tables
    from forecast.record import tracking

    served = tracking.load_model(model_dir=str(tmp_path / "models" / "robbery" / run_id)).predict(
        pd.DataFrame({"area": ["Camden"], "horizon": [6]}))
    values = served[cols].to_numpy()
    assert len(served) == 6 and np.array_equal(values, np.round(values, 2))
    assert not np.array_equal(values[3:], np.round(values[3:], 0))


def test_a_run_made_in_any_folder_is_in_the_one_default_store_that_ui_lists(tmp_path, invoke, monkeypatch):
    from forecast.record import tracking

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home-data"))
    elsewhere, project = tmp_path / "elsewhere", tmp_path / "project"
    elsewhere.mkdir(), project.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("run", "--crime", "robbery", "--area", "camden,westminster", "--jobs", "1", "--model", "snaive",
                    "--out", str(elsewhere / "out"))
    assert result.exit_code == 0, result.output
    store = tmp_path / "home-data" / "forecast" / "mlruns" / "mlflow.db"
    assert f"in sqlite:///{store} (experiment forecast/robbery)" in result.stdout
    assert not (elsewhere / "mlruns").exists()
    monkeypatch.chdir(project)
    assert tracking.tracking_uri() == f"sqlite:///{store}"
    experiments = tracking.mark_experiments(None)
    assert list(experiments) == ["forecast/robbery"]  # what `forecast ui` links to
    with tracking.writing(None) as (c, _):
        runs = c.search_runs([experiments["forecast/robbery"]], "attributes.run_name LIKE 'Robbery%'")
        metrics = dict(runs[0].data.metrics) if len(runs) == 1 else {}
    published = pd.read_csv(elsewhere / "out" / "summary.csv")["snaive_mase"]  # each series' own, to 3 decimals
    assert metrics["mase_snaive"] == round(metrics["mase_snaive"], 3)  # rounded as published
    assert metrics["mase_snaive"] == pytest.approx(published.mean(), abs=0.0011)


def test_a_metric_at_a_half_is_rounded_as_the_tables_round_it(tmp_path):
    """63 of 80 past winters held is 0.7875: the CSVs (pandas) give 0.788, and so must the MLflow metric (Python's
    round of the same float gives 0.787)."""
    from forecast.record import tracking
    from forecast.rounding import rounded

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracking.writing(uri) as (c, store):
        run = c.create_run(tracking.ensure_experiment(c, "halves", store))
        tracking._batch(c, run.info.run_id, metrics=[("force_coverage_80_ensemble", 63 / 80, 0),
                                                     ("mase_theta", 0.6245, 0)])
        logged = c.get_run(run.info.run_id).data.metrics
    table = rounded(pd.DataFrame({"coverage_80": [63 / 80], "mase": [0.6245]}))
    assert logged["force_coverage_80_ensemble"] == table["coverage_80"][0] == 0.788
    assert logged["mase_theta"] == table["mase"][0] == 0.624


@pytest.mark.parametrize(("set_by_user", "given"), [(None, "false"), ("true", "true"), ("false", "false")])
def test_ui_starts_mlflow_without_its_job_execution_unless_the_user_asks(tracked, monkeypatch, set_by_user, given):
    """MLflow's job execution (a job runner and seven queue consumers, 2.6 GB) is off in the UI's environment
    unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION is set; the command's own environment is left as it was."""
    _, uri, _, _ = tracked
    started = []
    monkeypatch.setattr("forecast.cli.store.run_server", lambda command, env=None, **_: started.append(env))
    if set_by_user is None:
        monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", set_by_user)
    result = CliRunner().invoke(cli, ["ui", "--tracking-uri", uri], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    job = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
    assert started[0][job] == given
    assert {k: v for k, v in started[0].items() if k != job} == {k: v for k, v in os.environ.items() if k != job}
    assert os.environ.get(job) == set_by_user
