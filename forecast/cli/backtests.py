"""Commands that score the models: the rolling-origin backtest, and experiment specs compared."""

from __future__ import annotations

import time
from pathlib import Path

import click

from forecast.engine.reconcile import DEFAULT as RECONCILE_DEFAULT
from forecast.cli.options import (computing, data_options, members_option, model_options, selection_options,
                                  tracking_options)
from forecast.cli.outputs import check_outputs
from forecast.cli.progress import Progress
from forecast.data import Panel


@click.command()
@data_options
@selection_options(totals=False, force_totals_flag=True)
@click.option("--reconcile", type=click.Choice(["none", "bottom-up", "top-down", "wls"]), default=RECONCILE_DEFAULT,
              show_default=True, help="With a force total and all its areas: make the forecasts add up at every "
                                      "origin, and score the reconciled forecasts.")
@click.option("--models", default="all", show_default=True, metavar="NAMES",
              help="Comma-separated model families, or 'all' (snaive, stl-arima, sarima, ets, theta, global, "
                   "ensemble); the count families for sparse series by name: croston, tsb, adida, sparse.")
@members_option
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 24), help="Months ahead per origin.")
@click.option("--last", "last", default=None, type=click.IntRange(12, 100000), metavar="N",
              help="Keep only the last N months of every series.")
@click.option("--min-months", default=36, show_default=True, type=click.IntRange(0, 100000),
              help="Series shorter than this are backtested but left out of the summary means.")
@model_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Predictions CSV to write (crime_type, area, model, origin, month, step, actual, mean, bounds).")
@tracking_options("forecast/<crime slug>, or forecast/backtest for several")
def backtest(panel: Panel, reconcile, models, members, horizon, last, min_months, origins, step, n_jobs, scheduler,
             workers, output, tracking_uri, no_track, experiment) -> None:
    """Rolling-origin backtest of the model families against the seasonal naive baseline.

    Prints MASE, sMAPE and 80%/95% interval coverage per model.

    \b
        forecast backtest --crime burglary --models ets,theta,snaive -o backtest.csv
    """
    from forecast import api
    from forecast.engine.cluster import fitting_on
    from forecast.files import write_csv
    from forecast.models import parse_models
    from forecast.present.tables import ACCURACY_HEADER, accuracy_rows, format_table
    from forecast.record import publish, tracking

    parse_models(models)
    check_outputs(files=[output])
    if not no_track:
        tracking.check_store(tracking_uri, experiment)
        tracking.preload()
    start, started_at = time.perf_counter(), time.time()
    keys = (panel.last_months(last) if last else panel).keys()
    with computing(scheduler, workers) as where, fitting_on(where), Progress(len(keys), "backtest") as progress:
        done = api.backtest(panel, models=models, members=members, horizon=horizon, origins=origins, step=step,
                            last=last, reconcile=reconcile, n_jobs=n_jobs, progress=progress)
    elapsed = time.perf_counter() - start
    if output:
        write_csv(done.predictions, output)
    click.echo(f"Backtest: {len(keys)} series, {origins} origins x {horizon} months, step "
               f"{step}; means over series of at least {min_months} months and their origins")
    click.echo(format_table([ACCURACY_HEADER, *accuracy_rows(done.summary(min_months))]))
    notes = [f"{s.crime_type} / {s.area}: {n}" for s in done.result.series for n in s.notes if "failed" not in n]
    failures = done.failures()
    click.echo(f"backtest of {len(keys)} series took {elapsed:.1f} s"
               + (f"; {failures} fit(s) failed and were scored as missing" if failures else "")
               + (f"; {len(notes)} series limited by their length" if notes else ""))
    if done.reconciled:
        click.echo(done.reconciled)
    if output:
        click.echo(f"wrote {output}")
    if not no_track:
        recorded = publish.record_backtest(done.result, done.panel, Path(output) if output else None,
                                           tracking_uri=tracking_uri, experiment=experiment, min_months=min_months,
                                           params={"last_months": last or "all",
                                                   "reconciliation": reconcile if done.reconciled else "none"},
                                           started=started_at)
        click.echo(f"recorded MLflow run {recorded.run_id} in {recorded.store}")


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jobs", "n_jobs", default=None, type=click.IntRange(1, 256), help="Parallel processes.")
@tracking_options("forecast/compare/<spec name>")
def compare(spec_file, n_jobs, tracking_uri, no_track, experiment) -> None:
    """Run an experiment spec (experiments/*.toml): one MLflow run per model, and a leaderboard.

    \b
        forecast compare experiments/force-totals.toml
        (experiments/ also holds winter-demand.toml and model-comparison.toml, which take minutes)
    """
    from forecast import api
    from forecast.jobs.experiments import load_spec, spec_panel
    from forecast.present.tables import ACCURACY_HEADER, accuracy_rows, format_table
    from forecast.record import publish, tracking

    spec = load_spec(spec_file)
    if not no_track:
        tracking.check_store(tracking_uri, experiment)
        tracking.preload()
    start, started_at = time.perf_counter(), time.time()
    with Progress(len(spec_panel(spec).keys()), spec.name) as progress:
        spec, panel, result = api.compare(spec_file, n_jobs=n_jobs, progress=progress)
    summary = result.summary(min_months=spec.min_months).sort_values("mase").reset_index(drop=True)
    origins = sorted(result.predictions["origin"].unique()) if not result.predictions.empty else []
    click.echo(f"{spec.name}: {len(panel.keys())} series, origins {', '.join(origins)}, horizon {spec.horizon}; "
               f"{time.perf_counter() - start:.1f} s")
    rows = [("rank", *ACCURACY_HEADER)] + [(i, *row) for i, row in enumerate(accuracy_rows(summary), start=1)]
    click.echo(format_table(rows))
    if not no_track:
        ids = publish.record_comparison(spec.name, panel.crime_types, result, summary, spec.params(), spec_file,
                                        tracking_uri=tracking_uri, experiment=experiment, started=started_at)
        click.echo(f"recorded {len(ids)} MLflow runs in {tracking.tracking_uri(tracking_uri)} (experiment "
                   f"{experiment or 'forecast/compare/' + spec.name})")


COMMANDS = (backtest, compare)
