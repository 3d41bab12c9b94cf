"""`forecast winter`: the winter demand plan."""

from __future__ import annotations

import time
from pathlib import Path

import click

from forecast.engine.reconcile import DEFAULT as RECONCILE_DEFAULT
from forecast.cli.options import (DEFAULT_MODEL, compute_options, computing, data_options, members_option,
                                  say_uneven_totals, tracking_options)
from forecast.cli.outputs import check_outputs
from forecast.cli.progress import Progress
from forecast.data import ALL_AREAS, Panel
from forecast.words import plural, printable


class SeasonType(click.ParamType):
    """The months of a winter: 'nov-feb', 'oct-mar', '11-2'."""

    name = "MON-MON"

    def convert(self, value, param, ctx):
        from forecast.jobs.winter import Season

        if not isinstance(value, str):
            return value
        try:
            return Season.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@data_options
@click.option("--crime", default=None, metavar="NAME",
              help="Crime types (names, slugs or prefixes, comma-separated). Default: every crime type, with All "
                   "crime, the force's total demand.")
@click.option("--area", default=None, metavar="NAME",
              help="Areas (comma-separated). Default: every area and the force total (then the plan adds up).")
@click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
@click.option("--months", "season", default="nov-feb", show_default=True, type=SeasonType(),
              help="The winter's first and last month, e.g. oct-mar.")
@click.option("--end", default=None, metavar="YYYY-MM",
              help="Plan from this month, as if the data ended there (the months after it are left out).")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="A model family (e.g. ets, theta), or 'auto' to pick per series by the past winters' MASE.")
@members_option
@click.option("--winters", default=None, type=click.IntRange(1, 100), metavar="N",
              help="Past winters to backtest, the latest N [default: as many as the data allows].")
@click.option("--paths", "n_paths", default=2000, show_default=True, type=click.IntRange(100, 100000),
              help="Sample paths per series for the winter totals' intervals.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed: same seed, same numbers.")
@click.option("--reconcile", type=click.Choice(["none", "bottom-up", "top-down", "wls"]), default=RECONCILE_DEFAULT,
              show_default=True, help="Make the areas add up to the force total and the crime types to All crime.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Output folder, replaced whole [default: a new out/<data>/winter/<crime>/<time>/, with latest "
                   "beside it].")
@compute_options
@tracking_options("forecast/winter")
def winter(panel: Panel, crime, area, include_asb, season, end, model, members, winters, n_paths, seed, reconcile,
           out_dir, n_jobs, scheduler, workers, tracking_uri, no_track, experiment) -> None:
    """The winter demand plan: every month to the end of the coming winter, its total against past winters.

    From the data's last month (or --end), forecasts every month to the end of the coming winter (November to
    February unless --months says otherwise; when the data already reaches into it, the rest of it) for every
    crime type, area and force total. Each winter total comes with 80% and 95% intervals from sample paths, its
    likeliest peak month, last winter's total and the average of the last three. Each past winter is forecast
    from the same month of its year (one origin a year) with every model, beside last winter's months as the
    forecast, so that the plan says how far a figure made months ahead can be trusted. A command of its own
    rather than an option of run: its horizon, its backtest and its outputs (winter.csv, winter_months.csv,
    backtest.csv, backtest_summary.csv, sentences.txt, charts, report.html, run.json) are the winter's.

    \b
        forecast winter --crime burglary --area all-areas --winters 3
        forecast winter --crime robbery --area all-areas --end 2018-09 --months oct-mar --winters 2
    """
    from forecast import api
    from forecast.data import resolve_names, slug
    from forecast.engine.cluster import fitting_on
    from forecast.jobs.winter import WinterSettings
    from forecast.models import make
    from forecast.present.winter_page import plan_lines, planning_line
    from forecast.record import publish, tracking

    started, started_at = time.perf_counter(), time.time()
    if model != "auto":
        make(model)
    whole = api.cut_at(panel, end).with_totals(include_asb=include_asb)
    everything = crime is None or crime.strip().lower() == "all"
    crimes = list(whole.crime_types) if everything else resolve_names(crime, whole.crime_types, "crime type")
    chosen = whole.select(crime=crimes, area=area)
    if (chosen.frame["area"] == ALL_AREAS).any():
        say_uneven_totals(whole.select(crime=crimes))
    what = "all" if everything else slug("-".join(crimes))
    folder = Path(out_dir) if out_dir else publish.default_folder(whole.name, "winter", what)
    check_outputs(folder=folder)
    if not no_track:
        tracking.check_store(tracking_uri, experiment or "forecast/winter")
        tracking.preload()
    settings = WinterSettings(season, whole.months[-1], model=model, winters=winters, seed=seed)
    click.echo(planning_line(settings, whole.name, end))
    with computing(scheduler, workers) as where, fitting_on(where), \
            Progress(len(chosen.keys()), "planning the winter") as progress:
        plan = api.winter(panel, crimes, area, months=season, end=end, model=model, members=members, winters=winters,
                          n_paths=n_paths, seed=seed, reconcile=reconcile, include_asb=include_asb, n_jobs=n_jobs,
                          progress=progress)
    for note in (*plan.plan.notes, plan.plan.global_fit.note):
        if note:
            click.echo(f"note: {printable(note)}", err=True)
    click.echo("\n".join(plan_lines(plan.plan)))
    published = plan.publish(folder, track=not no_track, tracking_uri=tracking_uri, experiment=experiment,
                             latest=out_dir is None, started=started_at, seconds=time.perf_counter() - started,
                             check=False)
    for name, path in published.files.items():
        if not name.startswith("chart "):
            click.echo(f"wrote {path}")
    click.echo(f"wrote {plural(len(published.charts()), 'winter chart')} in {folder / 'charts'}")
    if published.latest:
        click.echo(f"{folder.parent / 'latest'} now points to this plan")
    published.check()
    if published.run_id is not None:
        click.echo(f"recorded MLflow run {published.run_id} in {published.store} (experiment {published.experiment})")


COMMANDS = (winter,)
