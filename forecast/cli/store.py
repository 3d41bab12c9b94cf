"""Store commands: forecasts from recorded models (`predict`), the Model Registry (`register`), the MLflow UI
(`ui`) and a registered model served over HTTP (`serve`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from forecast.cli.options import InputError, output_options
from forecast.cli.outputs import check_outputs, emit


@click.command()
@click.option("--run-id", default=None, help="MLflow run whose logged model to use.")
@click.option("--model-dir", default=None, type=click.Path(file_okay=False),
              help="An exported model folder (forecast run --export); needs no tracking store.")
@click.option("--model", "model_uri", default=None, metavar="URI",
              help="A registered model of the store: models:/forecast-robbery@champion or models:/forecast-robbery/3.")
@click.option("--area", default="all", show_default=True, help="Areas to forecast (comma-separated), or 'all'.")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 24), help="Months ahead.")
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store of the run.")
@output_options
def predict(run_id, model_dir, model_uri, area, horizon, tracking_uri, fmt, output) -> None:
    """Forecast from a recorded run's fitted models, without refitting. RUN_ID is the id that 'forecast run'
    printed ("recorded MLflow run ..."); --model-dir needs a run made with --export; --model a registered version
    (forecast register).

    \b
        forecast predict --run-id RUN_ID --area camden
        forecast predict --model-dir models/burglary/RUN_ID --horizon 6
    """
    from forecast import api
    from forecast.control.xmr import fmt as number
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    if sum(map(bool, (run_id, model_dir, model_uri))) != 1:
        raise InputError("give exactly one of --run-id, --model-dir and --model")
    check_outputs(files=[output])
    frame = api.predict(run_id, model_dir=model_dir, model=model_uri, areas=area, horizon=horizon,
                        tracking_uri=tracking_uri)
    for figures, rows in frame.groupby("figures", sort=False):
        click.echo(f"note: {rows['month'].min()} to {rows['month'].max()}: {figures}", err=True)
    if fmt == "json":
        return emit(frame.to_json(orient="records", indent=1), output)
    if fmt == "csv":
        return emit(csv_text(frame), output)
    rows = [("crime type", "area", "model", "month", "mean", "80%", "95%")]
    rows += [(r.crime_type, r.area, r.model, r.month, number(r.mean), f"{number(r.lo_80)}-{number(r.hi_80)}",
              f"{number(r.lo_95)}-{number(r.hi_95)}") for r in frame.itertuples()]
    emit(format_table(rows), output)


@click.command()
@click.argument("run_id")
@click.option("--promote", is_flag=True,
              help="Make this version the champion even if the champion was scored on other data or scored better.")
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store of the run.")
def register(run_id, promote, tracking_uri) -> None:
    """Register a recorded run's models as a version of forecast-<crime> in the store's Model Registry.

    The version carries the run's backtest (mean MASE and interval coverage of each series' published model) and
    its data. The alias 'champion' moves to it when it is the first, or when its MASE beats the champion's on the
    same data; otherwise the champion stays, and the output says why. Other tools then use
    models:/forecast-<crime>@champion.

    \b
        forecast register RUN_ID
        forecast predict --model models:/forecast-burglary@champion --area camden
    """
    from forecast import api

    click.echo(api.register(run_id, promote=promote, tracking_uri=tracking_uri).sentence())


LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: how long `forecast ui` waits for the MLflow server to answer before it gives up (it took 58 s on a loaded machine)
UI_START_SECONDS = 300


@click.command()
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store to show.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 exposes it).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--basic-auth", is_flag=True,
              help="Ask for a login (MLflow's basic-auth app; change its admin password before anyone else connects).")
@click.option("--allow-remote", is_flag=True,
              help="Serve beyond this machine without a login (anyone who can reach the port can read and write).")
@click.option("--experiment", default=None, metavar="NAME",
              help="Link this experiment's runs only [default: all of the store's, most recently used first].")
def ui(tracking_uri, host, port, basic_auth, allow_remote, experiment) -> None:
    """Start the MLflow UI on the same store, to compare runs and models. Ctrl-C (or SIGTERM) stops it and
    everything it started.

    It listens on this machine only. Off it (--host 0.0.0.0) MLflow's check of the Host header is not access
    control: any client can send "Host: localhost". So another host needs --basic-auth (a login) or
    --allow-remote (no login, said again at the start).

    MLflow's job execution (its generative-AI jobs) stays off, and with it seven background processes, unless
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION is set."""

    from forecast.record import tracking

    store = tracking.tracking_uri(tracking_uri)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store, "--host", host,
               "--port", str(port), "--workers", "1"]
    root = tracking.artifact_root(store)
    if root:
        command += ["--default-artifact-root", root]
    if basic_auth:
        import importlib.util

        if importlib.util.find_spec("flask_wtf") is None:
            raise InputError("--basic-auth needs MLflow's auth extra: pip install -e '.[auth]'")
        command += ["--app-name", "basic-auth"]
    if host not in LOOPBACK and not basic_auth:
        if not allow_remote:
            raise InputError(f"--host {host} serves the MLflow UI beyond this machine with no login (its Host-header "
                             "check is not access control); add --basic-auth for a login, or --allow-remote to "
                             "serve it open")
        click.echo(f"warning: the MLflow UI has no authentication; on {host} anyone who can reach port {port} "
                   "can read, change and delete every run and model", err=True)
    experiments = tracking.mark_experiments(store)
    if experiment is not None:
        if experiment not in experiments:
            raise InputError(f"--experiment {experiment!r}: not in {store} (experiments: "
                             f"{', '.join(experiments) or 'none yet'})")
        experiments = {experiment: experiments[experiment]}
    base = f"http://{host}:{port}"
    log = tracking.server_log(store, "ui")

    def ready() -> None:
        click.echo(f"MLflow UI on {base} for {store} (Ctrl-C stops it; MLflow's own log: {log})", err=True)
        for name, experiment_id in experiments.items():
            click.echo(f"  runs of {name}: {tracking.runs_link(base, experiment_id)}", err=True)

    click.echo(f"starting the MLflow UI on {base} ...", err=True)
    run_server(command, env=ui_environment(os.environ), ready=ready, probe=f"{base}/health", log=log)


#: MLflow's job execution (its generative-AI jobs: judges, prompt optimisation) starts a job runner and seven
#: queue consumers beside the web server, each a Python process with MLflow loaded: 11 processes, 2.6 GB and
#: 21 s of CPU in the first 20 s, against 3, 0.6 GB and 5 s without it (benchmarks/bench_ui.py). Comparing runs
#: and models uses none of it.
JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def ui_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The MLflow UI's environment: the caller's, with MLflow's job execution off unless the caller set it."""
    return {JOB_EXECUTION: "false", **environ}


@click.command()
@click.option("--model", "model_uri", required=True, metavar="URI",
              help="The registered model to serve: models:/forecast-robbery@champion or models:/forecast-robbery/3.")
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store holding the registry.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--allow-remote", is_flag=True,
              help="Listen beyond this machine (the scoring server has no login: anyone who can reach it can ask).")
def serve(model_uri, tracking_uri, host, port, allow_remote) -> None:
    """Serve a registered model's forecasts over HTTP with MLflow's scoring server, without refitting.

    POST /invocations with {"dataframe_records": [{"area": "Camden", "horizon": 3}]} answers with each month's
    forecast and its 80% and 95% intervals; GET /ping says it is up. A request it cannot answer (an unknown area,
    a bad horizon, no Content-Type, over 1 MB) gets a 4xx with the reason in one line. Ctrl-C (or SIGTERM) stops
    it.

    \b
        forecast serve --model models:/forecast-burglary@champion
        curl -s -X POST -H 'Content-Type: application/json' \\
          -d '{"dataframe_records": [{"area": "Camden", "horizon": 3}]}' http://127.0.0.1:5001/invocations
    """
    from forecast.record import registry
    from forecast.record import tracking

    if host not in LOOPBACK and not allow_remote:
        raise InputError(f"--host {host} serves forecasts beyond this machine with no login; add --allow-remote to "
                         "do so on purpose")
    store = tracking.existing_store(tracking_uri)
    version = registry.resolve(model_uri, uri=store)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    command = [sys.executable, "-m", "forecast.record.serving", model_uri, host, str(port)]
    click.echo(f"serving {model_uri} ({version}) on http://{host}:{port}/invocations (Ctrl-C stops it)", err=True)
    run_server(command, env)


def run_server(command: list[str], env: dict | None = None, ready=None, probe: str | None = None,
               log: Path | None = None) -> None:
    """Run a server until Ctrl-C or SIGTERM, in its own process group, so that stopping it stops the web server
    and everything it started (MLflow's job runner and queue consumers, when its job execution is on). With
    ``log``, the server's own output goes to that file, not the terminal; with ``probe``, ``ready()`` is called
    once that URL answers (a server that exits first is a one-line error with its log's last line)."""
    import subprocess

    with contextlib.ExitStack() as stack:
        output = stack.enter_context(open(log, "ab")) if log else None
        process = subprocess.Popen(command, start_new_session=True, env=env, stdout=output, stderr=output)
        with stop_on_sigterm():
            try:
                if probe and not answered(probe, process):
                    stop_group(process)
                    said = log.read_text(errors="replace").strip().splitlines()[-1:] if log else []
                    raise click.ClickException(f"the server did not start ({'; '.join(said) or 'no output'}"
                                               f"{f'; its log: {log}' if log else ''})")
                if ready:
                    ready()
                process.wait()
            except KeyboardInterrupt:
                stop_group(process)
                click.echo("stopped", err=True)


def answered(url: str, process, timeout: float = UI_START_SECONDS) -> bool:
    """Whether ``url`` answers before ``timeout`` seconds, while ``process`` still runs."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.5)
    return False


def stop_group(process, grace: float = 10.0) -> None:
    """SIGTERM to a process's whole group, then SIGKILL after ``grace`` seconds."""
    import os
    import signal
    import subprocess

    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def stop_on_sigterm():
    """Inside the block, SIGTERM stops the command the way Ctrl-C does; the previous handler is restored."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


COMMANDS = (predict, register, ui, serve)
