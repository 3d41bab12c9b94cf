"""Options shared by several commands (grouped as in sqlite-utils), the panel they read, and a one-line
InputError; the output helpers are in :mod:`forecast.cli.outputs`."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import click

from forecast.data import ALL_AREAS, Panel
from forecast.engine.cluster import SCHEDULER_ENV
from forecast.io.police_uk import LEVELS as STREET_LEVELS
from forecast.words import printable

#: forecast.models.DEFAULT_MODEL and SPARSE_MODEL, spelled out so that the CLI starts without importing the models
DEFAULT_MODEL = "ensemble"
SPARSE_MODEL = "sparse"


class InputError(click.ClickException):
    """Bad input from the user: exit code 2, one line, no traceback."""

    exit_code = 2


encoding_option = click.option(
    "--encoding", default=None, metavar="NAME",
    help="Text encoding of the input files (e.g. iso-8859-2) [default: UTF-8, else Windows-1252, said when assumed].")


force_option = click.option(
    "--force", "forces", default=None, metavar="NAME[,NAME]",
    help="data.police.uk street files: the forces to read (name, slug or prefix, comma-separated) [default: all].")
level_option = click.option(
    "--level", type=click.Choice(STREET_LEVELS), default="la", show_default=True,
    help="data.police.uk street files: the area of a series: local authority (la), LSOA neighbourhood (lsoa), "
         "or the whole force (force).")


def read_panel(data, fill_missing=None, encoding=None, forces=None, level="la", sheet=None,
               aggregate=False) -> Panel:
    """Load the panel and say on stderr what the readers noticed (an assumed encoding)."""
    from forecast import api
    from forecast.cli.progress import FileProgress

    with FileProgress("reading") as progress:
        panel = api.load(data, fill_missing=fill_missing, encoding=encoding, force=forces, level=level,
                         progress=progress, sheet=sheet, aggregate=aggregate)
    for note in panel.notes:
        click.echo(f"note: {printable(note)}", err=True)
    return panel


def say_uneven_totals(panel: Panel) -> None:
    """Say on stderr when a force total of these crime types sums areas of uneven spans (it jumps where one
    joins or leaves)."""
    from forecast import api

    for note in api.uneven_totals(panel):
        click.echo(f"note: {printable(note)}", err=True)


def data_options(func):
    """--data, --fill-missing, --encoding, --force and --level: where the panel comes from. The inputs are kept in
    the context so that no output is ever written over one of them."""
    @click.option("--data", "data", default="met-major", show_default=True, metavar="NAME|PATH",
                  help="Bundled data set name, a tidy CSV or Excel workbook (.xlsx), or data.police.uk street files "
                       "(a file, a folder or the downloaded zip).")
    @click.option("--fill-missing", type=click.Choice(["zero"]), default=None,
                  help="Count months missing inside a series as zero instead of refusing the file.")
    @encoding_option
    @force_option
    @level_option
    @click.option("--sheet", default=None, metavar="NAME", help="With an Excel workbook: the sheet to read "
                  "[default: the first].")
    @click.option("--aggregate", is_flag=True,
                  help="Sum dated rows (daily, or one per incident) into months; a file with no count column is "
                       "an incident list, one row per crime, and its rows are counted.")
    @functools.wraps(func)
    def wrapper(*args, data, fill_missing, encoding, forces, level, sheet, aggregate, **kwargs):
        from forecast.cli.surveys import proportion_input
        from forecast.engine.workers import started_while
        from forecast.io.load import input_paths

        paths = click.get_current_context().meta["forecast.inputs"] = input_paths(data)
        local = not (kwargs.get("workers") or kwargs.get("scheduler"))  # a Dask cluster's workers are its own
        with started_while(paths, kwargs.get("n_jobs") if local else 1):
            panel = proportion_input(data, func) or read_panel(data, fill_missing, encoding, forces, level, sheet,
                                                               aggregate)
        return func(*args, panel=panel, **kwargs)
    return wrapper


def inputs() -> list[Path]:
    return click.get_current_context().meta.get("forecast.inputs", [])


class History(click.ParamType):
    """Months of history a chart shows: a number of months (at least 12) or 'all'."""

    name = "MONTHS|all"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "all":
            return None
        try:
            months = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of months nor 'all'", param, ctx)
        if months < 12:
            self.fail(f"{months} months is too short a window for an SPC chart; give 12 or more, or 'all'", param, ctx)
        return months


history_option = click.option("--history", default="36", show_default=True, type=History(),
                              help="Months of history in the charts, before the forecast; 'all' for the whole series.")
#: forecast.present.report.CHARTS, spelled out so that the CLI starts without importing matplotlib
charts_option = click.option("--charts", type=click.Choice(["attention", "all"]), default="attention",
                             show_default=True,
                             help="Series that get a chart of their own: the force total and those the board's "
                                  "sentences lead with, the first 60 in the board's order ('attention'; the small "
                                  "multiples show every area), or all.")


def _members(ctx, param, value):
    """--members checked before any work (:func:`forecast.models.parse_members`): a bad name is a usage error."""
    if value is None:
        return None
    from forecast.errors import SelectionError
    from forecast.models import parse_members

    try:
        return parse_members(value)
    except SelectionError as error:
        raise click.BadParameter(str(error)) from None


#: the default members (forecast.models.Ensemble.default_members) are spelled out in the help, so that the CLI starts
#: without importing the models
members_option = click.option(
    "--members", default=None, metavar="NAMES", callback=_members,
    help="The ensemble's local families, comma-separated (ets, theta, stl-arima, sarima, snaive), blended with the "
         "global model; those not named are not fitted [default: ets,theta]. Adding stl-arima (the default until "
         "December 2026) costs a third to a half more CPU for the same backtest MASE on the Met, with intervals a "
         "little narrower (docs/SCALE.md, \"The ensemble's members as an option\").")


def selection_options(crime_required: bool = False, totals: bool = True, force_totals_flag: bool = False):
    """--crime and --area (forgiving names). ``totals``: add the force total and All crime always, or (False)
    only when the selection names one of them ('all-areas', 'all-crime'). ``force_totals_flag``: also offer
    --force-totals (every area with each crime type's force total) and --all-crime (every crime type with each
    area's All crime): hierarchies to reconcile."""
    def decorator(func):
        @click.option("--crime", "crime", required=crime_required, metavar="NAME",
                      help="Crime type: name, slug or unique prefix (e.g. robbery, theft). Comma-separate several.")
        @click.option("--area", "area", default=None, metavar="NAME",
                      help="Area (LPU): name, slug or unique prefix; 'all-areas' is the force total. Default: every area.")
        @click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
        @functools.wraps(func)
        def wrapper(*args, panel: Panel, crime, area, include_asb, force_totals=False, all_crime=False, **kwargs):
            from forecast import api
            from forecast.cli.surveys import read_whole

            if not isinstance(panel, Panel):  # a file of proportions (cli/surveys.py)
                return func(*args, panel=read_whole(panel, crime, area), **kwargs)
            chosen = api.select(panel, crime, area, totals=totals, include_asb=include_asb,
                                force_totals=force_totals, all_crime=all_crime)
            if (chosen.frame["area"] == ALL_AREAS).any():
                say_uneven_totals(chosen if area is None else api.select(panel, crime, totals=totals, include_asb=
                                  include_asb, force_totals=force_totals, all_crime=all_crime))
            return func(*args, panel=chosen, **kwargs)
        if force_totals_flag:
            wrapper = click.option("--force-totals", is_flag=True,
                                   help="Add each crime type's force total to its areas, and make the areas' "
                                        "forecasts add up to it (--reconcile).")(wrapper)
            wrapper = click.option("--all-crime", is_flag=True,
                                   help="Add each area's All crime to its crime types, and make the crime types' "
                                        "forecasts add up to it (--reconcile); with --force-totals, both.")(wrapper)
        return wrapper
    return decorator


def spc_options(func):
    """--run-length, --baseline, --screen-mr, --step-change-at, --ignore-month, --direction -> SPCOptions."""
    @click.option("--run-length", default=8, show_default=True, type=click.IntRange(2, 24),
                  help="Months in a row on one side of the average that declare a significant step change.")
    @click.option("--baseline", default="12", show_default=True, metavar="N|all",
                  help="Points of each process that fix its average and limits ('all' = every point).")
    @click.option("--screen-mr", is_flag=True, help="Screen out moving ranges >= 3.267 x their average.")
    @click.option("--step-change-at", multiple=True, metavar="YYYY-MM",
                  help="A known step change (e.g. a recording-practice change); repeat for several.")
    @click.option("--ignore-month", multiple=True, metavar="YYYY-MM",
                  help="A month left out of averages, limits and runs; repeat for several.")
    @click.option("--direction", type=click.Choice(["decrease", "increase", "neutral"]), default="decrease",
                  show_default=True, help="Which way is improvement (crime counts: decrease).")
    @click.option("--min-mean", default=5.0, show_default=True, type=click.FloatRange(0),
                  help="Below this process average a month, no SPC signals are reported (too few crimes).")
    @click.option("--adjust", type=click.Choice(["none", "seasonal"]), default="none", show_default=True,
                  help="'seasonal': the rules work on seasonally adjusted counts, so that summer is not a step "
                       "change (docs/SPC.md section 9).")
    @functools.wraps(func)
    def wrapper(*args, run_length, baseline, screen_mr, step_change_at, ignore_month, direction, min_mean, adjust,
                **kwargs):
        import pandas as pd

        from forecast.control.xmr import SPCOptions

        if baseline.lower() == "all":
            base = None
        elif baseline.isdigit() and int(baseline) >= 2:
            base = int(baseline)
        else:
            raise InputError(f"--baseline: expected a whole number of at least 2 or 'all', got {baseline!r}")
        months = []
        for m in (*step_change_at, *ignore_month):
            try:
                months.append(str(pd.Period(m, freq="M")))
            except (ValueError, TypeError):
                raise InputError(f"--step-change-at/--ignore-month: {m!r} is not a month (expected YYYY-MM)")
        options = SPCOptions(run_length=run_length, baseline=base, screen_mr=screen_mr,
                             step_changes_at=tuple(months[:len(step_change_at)]),
                             ignore=tuple(months[len(step_change_at):]), improvement_direction=direction,
                             min_mean=min_mean, adjust=adjust)
        return func(*args, spc_options=options, **kwargs)
    return wrapper


def options(*decorators):
    """Several click options as one decorator (shared option groups, as in sqlite-utils)."""
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


output_options = options(
    click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
                 help="Table for people, JSON or CSV for other programs."),
    click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                 help="Write to this file (atomically) instead of standard output."),
)

def tracking_options(experiment: str = "forecast/<crime slug>"):
    """The MLflow options, with the experiment a command records into when --experiment is not given."""
    return options(
        click.option("--tracking-uri", default=None, metavar="URI",
                     help="MLflow store [default: $MLFLOW_TRACKING_URI, else ~/.local/share/forecast/mlruns/"
                          "mlflow.db, the same from every folder]."),
        click.option("--no-track", is_flag=True, help="Do not record the run in MLflow."),
        click.option("--experiment", default=None, metavar="NAME", help=f"MLflow experiment [default: {experiment}]."),
    )

compute_options = options(
    click.option("--jobs", "n_jobs", default=None, type=click.IntRange(1, 256),
                 help="Parallel processes (default: one per core)."),
    click.option("--scheduler", default=None, metavar="ADDRESS", envvar=SCHEDULER_ENV,
                 help=f"Send the fits to the Dask cluster at ADDRESS (tcp://HOST:PORT) [env: {SCHEDULER_ENV}]."),
    click.option("--workers", default=None, type=click.IntRange(1, 256),
                 help="Start a local Dask cluster of this many worker processes for the fits."),
)

model_options = options(
    click.option("--origins", default=4, show_default=True, type=click.IntRange(1, 60),
                 help="Rolling origins of the backtest."),
    click.option("--step", default=3, show_default=True, type=click.IntRange(1, 24), help="Months between backtest origins."),
    compute_options,
)


@contextlib.contextmanager
def computing(scheduler: str | None, workers: int | None):
    """The Dask cluster asked for, if any (:func:`forecast.engine.cluster.connected`), the user told where; yields where
    (None: local processes), for :func:`forecast.engine.cluster.fitting_on`."""
    from forecast.engine.cluster import connected

    with connected(scheduler, workers) as where:
        if where:
            click.echo(f"fitting on {where}", err=True)
        yield where
