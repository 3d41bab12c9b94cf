"""Forecasting commands: a crime type's run, the step-change outlook, and a run's report rebuilt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from forecast.cli.options import (DEFAULT_MODEL, SPARSE_MODEL, InputError, charts_option, computing, data_options,
                                  history_option, members_option, model_options, output_options, say_uneven_totals,
                                  spc_options, tracking_options)
from forecast.cli.outputs import check_outputs, emit
from forecast.engine.reconcile import DEFAULT as RECONCILE_DEFAULT, METHODS as RECONCILE_METHODS
from forecast.cli.progress import Progress
from forecast.data import Panel
from forecast.words import plural, printable


@click.command()
@data_options
@click.option("--crime", required=True, metavar="NAME",
              help="Crime type: name, slug or unique prefix (e.g. robbery); several comma-separated, or 'all'.")
@click.option("--area", default=None, metavar="NAME",
              help="Areas (comma-separated names, slugs or prefixes). Default: every area and the force total.")
@click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="A model family (snaive, ets, theta, stl-arima, sarima, global, ensemble; croston, tsb, adida, "
                   "sparse for counts), or 'auto' to pick per series by backtest MASE. The ensemble is the default "
                   "because it forecasts better than the per-series choice (README, Measured).")
@members_option
@click.option("--sparse-model", default=SPARSE_MODEL, show_default=True, metavar="NAME",
              help="The family for series with too few crimes a month for SPC signals (under --min-mean), e.g. "
                   "neighbourhoods: a count model ('sparse' chooses by demand pattern), or 'same' for --model.")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 12), help="Months to forecast.")
@click.option("--backtest-horizon", default=None, type=click.IntRange(1, 24), metavar="N",
              help="Months ahead from each backtest origin [default: --horizon].")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Output folder, replaced whole [default: a new out/<data>/<crime>/<time>/, with out/<data>/<crime>/"
                   "latest pointing to it].")
@click.option("--export", is_flag=True, help="Also save the fitted models under models/<crime>/<run id>/.")
@click.option("--register", is_flag=True,
              help="Also register the run's models as a version of forecast-<crime> in the store's Model Registry "
                   "(champion when its backtest beats the champion's on the same data; see forecast register).")
@click.option("--paths", "n_paths", default=2000, show_default=True, type=click.IntRange(0, 100000),
              help="Sample paths per series for the step-change outlook (0 turns it off).")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed of the outlook.")
@history_option
@charts_option
@click.option("--reconcile", type=click.Choice(RECONCILE_METHODS), default=RECONCILE_DEFAULT, show_default=True,
              help="Make the areas' forecasts add up to the force total's (when the run holds both): 'top-down' "
                   "measured best (README, Measured); 'none' keeps each series' own forecast.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="xlsx: also write <crime>.xlsx, the summary, forecast, SPC, backtest and sentences as one Excel "
                   "workbook, with the CSVs' numbers.")
@model_options
@spc_options
@tracking_options()
def run(panel: Panel, crime, area, include_asb, out_dir, register, no_track, tracking_uri, experiment, scheduler,
        workers, **settings) -> None:
    """Next quarter's forecast for a crime type in every area, with SPC status and backtest accuracy.

    Writes forecast.csv, spc.csv, backtest.csv, summary.csv, sentences.txt, run.json, the charts and
    report.html to a new folder of its own, and records the run in MLflow. With several crime types (or
    --crime all), each gets its own folder and MLflow run, and out/<data>/all/<time>/ holds an index of them.

    \b
        forecast run --crime robbery
        forecast run --crime burglary --area camden,westminster --history all --export
    """
    from forecast import api
    from forecast.data import resolve_names
    from forecast.files import file_stems
    from forecast.record import publish, tracking

    started, started_at = time.perf_counter(), time.time()
    whole = panel.with_totals(include_asb=include_asb)
    crimes = list(whole.crime_types) if crime.strip().lower() == "all" else \
        resolve_names(crime, whole.crime_types, "crime type")
    say_uneven_totals(whole.select(crime=crimes))
    if len(crimes) > 1 and out_dir:
        raise InputError(f"--out takes one crime type, got {len(crimes)}; without --out each gets its own folder "
                         f"under out/{file_stems([panel.name])[panel.name]}/")
    if register and no_track:
        raise InputError("--register needs the run recorded in MLflow; leave out --no-track")
    stems, stamp = file_stems(crimes), publish.stamp()
    folders = {c: Path(out_dir) if out_dir else publish.default_folder(panel.name, stems[c], when=stamp)
               for c in crimes}
    for c in crimes:
        check_outputs(folder=folders[c])
        if not no_track:
            tracking.check_store(tracking_uri, tracking.experiment_name(stems[c], experiment))
    if not no_track or settings["export"]:
        tracking.preload()
    done = []
    with computing(scheduler, workers) as where:
        for c in crimes:
            label = f"forecasting {c}" if len(crimes) > 1 else "forecasting"
            done.append((run_crime(panel, c, area, folders[c], label, where, brief=len(crimes) > 1,
                                   latest=out_dir is None, track=not no_track, register=register,
                                   tracking_uri=tracking_uri, experiment=experiment, include_asb=include_asb,
                                   started=started if c == crimes[0] else time.perf_counter(),
                                   started_at=started_at if c == crimes[0] else time.time(), **settings).digest(),
                         folders[c]))
    if len(crimes) > 1:
        index = api.publish_index(done, panel.name, stamp)
        for path in index.files.values():
            click.echo(f"wrote {path}")
        if index.latest:
            click.echo(f"{index.folder.parent / 'latest'} now points to this run")


def run_crime(panel: Panel, crime_type: str, area, folder: Path, label: str, where: str | None, *, brief: bool,
              latest: bool, track: bool, register: bool, tracking_uri, experiment, include_asb: bool, started: float,
              started_at: float, model, members, sparse_model, horizon, backtest_horizon, export, n_paths, seed,
              history, charts, reconcile, fmt, origins, step, n_jobs, spc_options):
    """One crime type of ``forecast run``: fitted (on the cluster, if any), printed, published. ``brief`` (a run
    of several crime types): one line of what stands where, and the folder."""
    from forecast import api
    from forecast.engine.cluster import fitting_on
    from forecast.present.tables import attention_line

    series = panel.with_totals(include_asb=include_asb).select(crime=crime_type, area=area).keys()
    with fitting_on(where), Progress(len(series), label) as progress:
        result = api.run(panel, crime_type, areas=area, model=model, members=members, sparse_model=sparse_model,
                         horizon=horizon, backtest_horizon=backtest_horizon, origins=origins, step=step,
                         n_paths=n_paths, seed=seed, reconcile=reconcile, include_asb=include_asb,
                         options=spc_options, n_jobs=n_jobs, progress=progress)
    fitted = time.perf_counter() - started
    for note in result.notes:
        click.echo(f"note: {printable(note)}", err=True)
    click.echo(attention_line(result.result) if brief else f"{result.table()}\n\n" + "\n".join(result.sentences) + "\n")
    published = result.publish(folder, track=track, tracking_uri=tracking_uri, experiment=experiment,
                               register=register, export=export, workbook=fmt == "xlsx", history=history,
                               charts=charts, latest=latest, started=started_at, seconds=fitted, check=False)
    charted = len(published.charts()) - 1
    if brief:
        click.echo(f"  wrote {folder}/ (report.html, the CSVs and {plural(charted + 1, 'chart')})")
    else:
        for name, path in published.files.items():
            if not name.startswith("chart ") or name == "chart small multiples":
                click.echo(f"wrote {path}")
        click.echo(f"wrote {plural(charted, 'series chart')} in {folder / 'charts'}")
    if published.latest and not brief:
        click.echo(f"{folder.parent / 'latest'} now points to this run")
    published.check()
    if published.run_id is not None:
        click.echo(f"{'  ' if brief else ''}recorded MLflow run {published.run_id} in {published.store} "
                   f"(experiment {published.experiment})")
    if published.registered:
        click.echo(published.registered)
    if published.exported:
        click.echo(f"exported model to {published.exported}")
    return result


@click.command()
@data_options
@click.option("--crime", default=None, metavar="NAME", help="Crime type (name, slug or unique prefix).")
@click.option("--area", default=None, metavar="NAME", help="Areas (comma-separated). Default: every area and the total.")
@click.option("--paths", "n_paths", default=2000, show_default=True, type=click.IntRange(100, 100000),
              help="Sample paths per series.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed: same seed, same numbers.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="A model family, or 'auto' (per-series backtest choice).")
@members_option
@click.option("--evaluate", is_flag=True,
              help="Replay history: Brier score of the outlook against the base rate, and a reliability table "
                   "(with the families fitted on each series; the ensemble without the global model).")
@click.option("--every", default=3, show_default=True, type=click.IntRange(1, 24),
              help="With --evaluate: months between past origins.")
@click.option("--jobs", "n_jobs", default=None, type=click.IntRange(1, 256), help="Parallel processes.")
@click.option("--reconcile", type=click.Choice(RECONCILE_METHODS), default=RECONCILE_DEFAULT, show_default=True,
              help="As 'forecast run' does, so that both give one probability: every area and the force total are "
                   "fitted and their paths made to add up, and the chosen areas reported. 'none' fits only the "
                   "chosen areas (faster; the probabilities may then differ from run's).")
@spc_options
@output_options
def outlook(panel: Panel, crime, area, n_paths, seed, model, members, evaluate, every, n_jobs, reconcile, spc_options,
            fmt, output) -> None:
    """Chance that next quarter brings a significant step change, per series.

    Sample paths from the chosen model are appended to the history and the SPC rules replayed on them.

    \b
        forecast outlook --crime robbery --area bromley
        forecast outlook --evaluate --crime burglary --area all-areas
    """
    from forecast import api
    from forecast.files import csv_text
    from forecast.models import make
    from forecast.present.tables import format_table, outlook_rows

    if model != "auto":
        make(model)
    check_outputs(files=[output])
    if evaluate:
        with Progress(len(api.select(panel, crime, area, totals=False).keys()), "replaying history") as progress:
            calibration = api.evaluate_outlook(panel, crime, area, model=model, members=members, every=every,
                                               n_paths=n_paths, seed=seed, options=spc_options, n_jobs=n_jobs,
                                               progress=progress)
        return emit(calibration_text(calibration, model, every, n_paths, spc_options, fmt), output)
    if not crime:
        raise InputError("--crime is required (except with --evaluate)")
    whole = panel.with_totals()
    from forecast.data import resolve_names

    crimes = resolve_names(crime, whole.crime_types, "crime type")
    say_uneven_totals(whole.select(crime=crimes))
    fitted = whole.select(crime=crimes) if reconcile != "none" else whole.select(crime=crimes, area=area)
    with Progress(len(fitted.keys()), "forecasting") as progress:
        found = api.outlook(panel, crimes, area, model=model, members=members, n_paths=n_paths, seed=seed,
                            reconcile=reconcile, options=spc_options, n_jobs=n_jobs, progress=progress)
    if fmt == "json":
        return emit(json.dumps([o.to_dict() for o in found.outlooks], indent=1), output)
    if fmt == "csv":
        return emit(csv_text(found.table), output)
    emit(format_table(outlook_rows(found.outlooks)) + "\n\n" + "\n".join(found.sentences), output)


def calibration_text(c, model: str, every: int, n_paths: int, spc_options, fmt: str) -> str:
    """The outlook's replay as JSON, CSV (its records), or the Brier scores and the reliability table."""
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    table = c.reliability()
    if fmt == "json":
        return json.dumps({"model": model, "models": list(c.models), "series": c.series, "quarters": len(c.records),
                           "failed_fits": c.failed,
                           "base_rate": c.base_rate, "brier": c.brier, "brier_base_rate": c.brier_base_rate,
                           "brier_run_length": c.brier_run_length, "skill": c.skill,
                           "skill_run_length": c.skill_run_length, "reliability": table.to_dict(orient="records")},
                          indent=1)
    if fmt == "csv":
        return csv_text(c.records)
    verdict = "beats" if c.brier < c.brier_run_length else "does NOT beat"
    return "\n".join([
        f"Step-change outlook replayed on {c.series} series, {len(c.records)} past quarters (every {every} "
        f"months, model {model}{' chosen from earlier origins only' if model == 'auto' else ''}, {n_paths} paths"
        f"{', SPC on seasonally adjusted counts' if spc_options.adjust == 'seasonal' else ''})"
        + (f"; {c.failed} fit(s) failed and were left out of the choice." if c.failed else "."),
        f"Brier score (lower is better; {c.base_rate:.3f} of quarters brought a step change):",
        format_table([("forecast", "Brier"), ("base rate (always the same probability)", f"{c.brier_base_rate:.4f}"),
                      ("run-length baseline (how often a run of this length led to a change)",
                       f"{c.brier_run_length:.4f}"), ("outlook (sample paths through the SPC rules)",
                                                       f"{c.brier:.4f}")]),
        f"Skill against the run-length baseline {c.skill_run_length:+.3f} (against the base rate "
        f"{c.skill:+.3f}): the outlook {verdict} the run-length baseline.", "",
        format_table([("predicted", "quarters", "mean predicted", "observed")] + [
            (r.bin, r.n, f"{r.predicted:.3f}", f"{r.observed:.3f}") for r in table.itertuples()])])


@click.command()
@click.option("--crime", default=None, metavar="NAME",
              help="Crime type whose latest run to report on (out/<data>/<crime>/latest), or give --out.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False), help="A run's output folder.")
@click.option("--run-id", default=None, help="Rebuild from an MLflow run's artifacts instead.")
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store of --run-id.")
@click.option("--svg", is_flag=True, help="Also write the charts as SVG.")
@history_option
@charts_option
@click.option("--peers", "peers_dir", default=None, type=click.Path(file_okay=False, exists=True),
              help="A 'forecast peers' output folder whose section (sentences, table, charts) the report adds.")
def report(crime, out_dir, run_id, tracking_uri, svg, history, charts, peers_dir) -> None:
    """Rebuild the charts and report.html of a run from its outputs or from an MLflow run.

    \b
        forecast report --crime robbery --history all
        forecast report --run-id RUN_ID --out board-pack/
    """
    from forecast import api

    folder, paths = api.report(out_dir, crime=crime, run_id=run_id, tracking_uri=tracking_uri, svg=svg,
                               history=history, charts=charts, peers=peers_dir)
    click.echo(f"wrote {paths['report']}")
    click.echo(f"wrote {paths['chart small multiples']} and {plural(len(paths) - 2, 'series chart')} in "
               f"{folder / 'charts'}")


COMMANDS = (run, outlook, report)
