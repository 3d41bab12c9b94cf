"""The ``forecast`` command line: parse, call the core, print. Errors become one line and an exit code."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from forecast import __version__
from forecast.data import ALL_AREAS, ALL_CRIME, Panel
from forecast.output import csv_text, write_csv, write_text
from forecast.police_uk import LEVELS as STREET_LEVELS
from forecast.cluster import SCHEDULER_ENV
from forecast.tables import (ACCURACY_HEADER, SPC_HEADER, accuracy_rows, attention_line, format_table, run_table,
                             spc_row)
from forecast.words import plural
from forecast.errors import DataError, ForecastError, OutputError, SelectionError, TrackingError
from forecast.reconcile import DEFAULT as RECONCILE_DEFAULT, METHODS as RECONCILE_METHODS

#: forecast.models.DEFAULT_MODEL and SPARSE_MODEL, spelled out so that the CLI starts without importing the models
DEFAULT_MODEL = "ensemble"
SPARSE_MODEL = "sparse"


class InputError(click.ClickException):
    """Bad input from the user: exit code 2, one line, no traceback."""

    exit_code = 2


class ForecastGroup(click.Group):
    """A click group that turns the package's own errors into one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (DataError, SelectionError, OutputError) as exc:
            raise InputError(str(exc)) from None
        except ForecastError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=ForecastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forecast")
def cli() -> None:
    """SPC step changes and next-quarter forecasts for police recorded-crime series."""


def main() -> None:
    code: int | str | None = 0
    try:
        cli(prog_name="forecast")
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        quiet_interrupts_from_now(code if isinstance(code, int) else 1)


def quiet_interrupts_from_now(code: int) -> None:
    """The command is over: a Ctrl-C while Python shuts down (worker pools, MLflow's threads) ends the process
    with the command's own exit code, its output flushed, and no traceback."""
    import signal

    def leave(*_):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                stream.flush()
        os._exit(code)

    signal.signal(signal.SIGINT, leave)


# ------------------------------------------------------------------ shared options

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
    from forecast.load import load_panel

    with FileProgress("reading") as progress:
        panel = load_panel(data, fill_missing=fill_missing, encoding=encoding, forces=forces, level=level,
                           progress=progress, sheet=sheet, aggregate=aggregate)
    for note in panel.notes:
        click.echo(f"note: {note}", err=True)
    return panel


def say_uneven_totals(panel: Panel) -> None:
    """Say on stderr when a force total of these crime types sums areas of uneven spans (it jumps where one
    joins or leaves)."""
    from forecast.data import uneven_totals

    for note in uneven_totals(panel.frame):
        click.echo(f"note: {note}", err=True)


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
        from forecast.load import input_paths

        click.get_current_context().meta["forecast.inputs"] = input_paths(data)
        return func(*args, panel=read_panel(data, fill_missing, encoding, forces, level, sheet, aggregate),
                    **kwargs)
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
#: forecast.report.CHARTS, spelled out so that the CLI starts without importing matplotlib
charts_option = click.option("--charts", type=click.Choice(["attention", "all"]), default="attention",
                             show_default=True,
                             help="Series that get a chart of their own: the force total and those the board's "
                                  "sentences lead with ('attention'; the small multiples show every area), or all.")


def check_outputs(files=(), folder=None, charts=()) -> None:
    """Refuse, before any work, outputs that cannot be written or would overwrite an input."""
    from forecast.output import MANIFEST, check_file, check_folder

    for path in files:
        if path:
            check_file(path, inputs())
    for path in charts:
        if path:
            check_file(path, inputs(), suffixes=(".png",), what="chart file")
    if folder:
        check_folder(folder, inputs=inputs(), marker=MANIFEST)


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
            if force_totals or all_crime:
                if force_totals and area or all_crime and crime:
                    raise InputError("--force-totals (every area) and --all-crime (every crime type) add totals "
                                     "over the whole selection; leave out --area or --crime")
                panel = panel.with_totals(force_total=force_totals, all_crime=all_crime, include_asb=include_asb)
            elif totals or names_a_total(crime, area):
                panel = panel.with_totals(include_asb=include_asb)
            chosen = panel.select(crime=crime, area=area)
            if (chosen.frame["area"] == ALL_AREAS).any():
                say_uneven_totals(panel.select(crime=crime))
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


def names_a_total(*queries: str | None) -> bool:
    """True when a --crime or --area value names the force total or All crime."""
    from forecast.data import slug

    wanted = {slug(q) for text in queries if text for q in text.split(",")}
    return bool(wanted & {slug(ALL_AREAS), slug(ALL_CRIME)})


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
        from forecast.spc import SPCOptions

        if baseline.lower() == "all":
            base = None
        elif baseline.isdigit() and int(baseline) >= 2:
            base = int(baseline)
        else:
            raise InputError(f"--baseline: expected a whole number of at least 2 or 'all', got {baseline!r}")
        months = []
        for m in (*step_change_at, *ignore_month):
            try:
                months.append(str(pd_period(m)))
            except ValueError:
                raise InputError(f"--step-change-at/--ignore-month: {m!r} is not a month (expected YYYY-MM)")
        options = SPCOptions(run_length=run_length, baseline=base, screen_mr=screen_mr,
                             step_changes_at=tuple(months[:len(step_change_at)]),
                             ignore=tuple(months[len(step_change_at):]), improvement_direction=direction,
                             min_mean=min_mean, adjust=adjust)
        return func(*args, spc_options=options, **kwargs)
    return wrapper


def pd_period(text: str):
    import pandas as pd

    try:
        return pd.Period(text, freq="M")
    except (ValueError, TypeError) as exc:
        raise ValueError(text) from exc


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
                     help="MLflow store [default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db]."),
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
    """The Dask cluster asked for, if any (:func:`forecast.cluster.connected`), the user told where; yields where
    (None: local processes), for :func:`forecast.cluster.fitting_on`."""
    from forecast.cluster import connected

    with connected(scheduler, workers) as where:
        if where:
            click.echo(f"fitting on {where}", err=True)
        yield where


def emit(text: str, output: str | None) -> None:
    """Print to stdout, or write atomically to a file and say where."""
    if output:
        write_text(text, output)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


# ------------------------------------------------------------------ commands

@cli.command()
def datasets() -> None:
    """List the bundled real data sets (give one to --data by name).

    \b
        forecast datasets
    """
    from forecast import datasets as bundled

    rows = []
    for name, entry in bundled.BUNDLED.items():
        s = bundled.load(name).summary()
        rows.append((name, f"{s['first_month']}..{s['last_month']}", s["months"], s["areas"], s["crime_types"],
                     s["series"], entry.source))
    header = ("name", "months", "n", "areas", "types", "series", "source")
    click.echo(format_table([header, *rows]))


@cli.command()
@click.argument("months", nargs=-1, required=True, metavar="YYYY-MM...")
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to keep the archives in [default: the cache folder, archives/].")
@click.option("--url", "base", envvar="FORECAST_ARCHIVE_URL", default=None, metavar="URL",
              help="Where the archives are, e.g. a mirror (env FORECAST_ARCHIVE_URL) [default: data.police.uk].")
def fetch(months, folder, base) -> None:
    """Download data.police.uk's monthly archives (every force, the 36 months to that month).

    A broken download is resumed, by this command or the next; an archive already there is not fetched again.
    Read one with --data, choosing forces with --force:

    \b
        forecast fetch 2024-09 --to downloads/
        forecast spc --data downloads/2024-09.zip --force west-midlands --crime robbery
    """
    from forecast.fetch import ARCHIVE_URL, fetch_month
    from forecast.load import cache_folder

    folder = folder or cache_folder() / "archives"
    for month in months:
        with ByteProgress(f"fetching {month}") as progress:
            path, fetched = fetch_month(month.strip(), folder, base or ARCHIVE_URL, progress=progress)
        size = path.stat().st_size / 1e6
        click.echo(f"{path}: {'downloaded' if fetched else 'already there'}, {size:.1f} MB")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Tidy panel CSV to write.")
@click.option("--fill-missing", type=click.Choice(["zero"]), default=None,
              help="Count months missing inside a series as zero instead of refusing the file.")
@click.option("--totals/--no-totals", default=False, help="Add the force total and 'All crime' series.")
@click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
@encoding_option
@force_option
@level_option
def ingest(paths, output, fill_missing, totals, include_asb, encoding, forces, level) -> None:
    """Read a tidy CSV or data.police.uk street files (files, folders or the downloaded zip) and write the tidy
    panel.

    \b
        forecast ingest downloads/2024-09.zip --force west-midlands,merseyside -o wmp-mer.csv
    """
    from forecast.output import check_file

    check_file(output, paths)
    panel = read_panel(list(paths), fill_missing, encoding, forces, level)
    if totals:
        panel = panel.with_totals(include_asb=include_asb)
    columns = ["month", "area", "crime_type", "count"] + (["force"] if "force" in panel.frame else [])
    write_csv(panel.frame[columns], output)
    s = panel.summary()
    click.echo(f"wrote {output}: {len(panel.frame)} rows, {s['series']} series, "
               f"{s['first_month']}..{s['last_month']}, {s['areas']} areas, {s['crime_types']} crime types"
               + (f", {s['short_series']} short (< 24 months)" if s["short_series"] else ""))


@cli.command()
@data_options
@selection_options()
@spc_options
@output_options
@click.option("--chart", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Also draw the SPC chart (one series) or small multiples (several) to this PNG.")
@click.option("--svg", is_flag=True, help="With --chart: also write an SVG.")
@history_option
def spc(panel: Panel, spc_options, fmt, output, chart, svg, history) -> None:
    """Process averages, control limits, significant step changes and the board's sentences.

    One row per series for the latest month, then the sentences.

    \b
        forecast spc --crime burglary --area camden
        forecast spc --crime burglary --area camden --chart camden.png --history all
    """
    from forecast import spc as spc_core

    check_outputs(files=[output], charts=[chart])
    keys = panel.keys()
    # streamed: each series is written (or, for the table, summarised) as it is analysed, so that a panel of
    # tens of thousands of series never holds every result in memory
    results, rows, sentences = [], [], []
    with Progress(len(keys), "SPC") as progress, text_output(output) as out:
        if fmt == "json":
            out.write("[")
        # charts need the whole results, here; otherwise each is turned into its text where it was analysed
        analysed = spc_core.analyse_panel(panel.iter_series(), spc_options, lazy=True,
                                          n_jobs=1 if chart else os.cpu_count() or 1, n_series=len(keys),
                                          then=None if chart else functools.partial(spc_written, fmt=fmt))
        for i, w in enumerate(analysed):
            progress(w)
            if chart:
                results.append(w)
                w = spc_written(w, fmt)
            if fmt == "json":
                out.write(("," if i else "") + "\n" + w.text)
            elif fmt == "csv":
                out.write(w.text if i == 0 else w.text.split("\n", 1)[1])  # the header once
            else:
                rows.append(w.row)
                sentences += w.sentences
        if fmt == "json":
            out.write("\n]\n")
        elif fmt == "table":
            last = rows[0][-1] if rows else ""
            adjusted = "; averages and limits seasonally adjusted" if spc_options.adjust == "seasonal" else ""
            out.write("\n".join([f"SPC at {last} ({len(rows)} series; * = trial limits{adjusted})",
                                  format_table([SPC_HEADER] + [row[:-1] for row in rows]), "", *sentences]) + "\n")
    if chart:
        from forecast import plots

        if len(results) == 1:
            r = results[0]
            fig = plots.spc_chart(r.points, title=r.measure, status=r.status,
                                  icon=r.icon, caption=plots.caption(panel.name, r.last_month), history=history)
        else:
            fig = plots.small_multiples([(f"{r.crime_type} / {r.area}", r.points, None) for r in results],
                                        title=f"SPC at {results[0].last_month}",
                                        caption=plots.caption(panel.name, results[0].last_month), history=history)
        for path in plots.save(fig, chart, svg):
            click.echo(f"wrote {path}", err=True)
    if output:
        click.echo(f"wrote {output}", err=True)


@dataclass(frozen=True)
class SPCWritten:
    """What ``forecast spc`` writes of one series: its text (JSON or CSV), or its table row and sentences."""

    crime_type: str
    area: str
    text: str
    row: list | None
    sentences: tuple[str, ...]


def spc_written(r, fmt: str) -> SPCWritten:
    from forecast.spc import points_frame

    if fmt == "json":
        return SPCWritten(r.crime_type, r.area, json.dumps(r.to_dict(), indent=1), None, ())
    if fmt == "csv":
        return SPCWritten(r.crime_type, r.area, csv_text(points_frame([r])), None, ())
    return SPCWritten(r.crime_type, r.area, "", spc_row(r), tuple(r.sentences))


@contextlib.contextmanager
def text_output(output: str | None):
    """Standard output, or a file written atomically (whole or not at all) as the text is streamed into it."""
    if not output:
        yield sys.stdout
        return
    from forecast.output import atomic_file

    with atomic_file(output) as handle:
        yield handle


class FileProgress:
    """A progress bar on stderr over the files being read, shown once the first is done (a bundled or tidy input
    reads no street files and shows nothing). Off a terminal, one line at the end when the read took a while."""

    def __init__(self, label: str, quiet_seconds: float = 1.0):
        self.label, self.quiet_seconds = label, quiet_seconds
        self.bar, self.done, self.total = None, 0, 0

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done, self.total = done, total

    def __exit__(self, *exc):
        if self.bar is not None:
            return self.bar.__exit__(*exc)
        took = time.perf_counter() - self.started
        if exc[0] is None and self.done and took >= self.quiet_seconds:
            click.echo(f"{self.label}: {plural(self.done, 'street file')} in {took:.1f} s", err=True)
        return None


class ByteProgress(FileProgress):
    """A progress bar on stderr over the bytes of a download (a terminal only: a log gets the result line)."""

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and sys.stderr.isatty() and total:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_percent=True)
            self.bar.__enter__()
            self.bar.update(done)
        elif self.bar is not None:
            self.bar.update(done - self.done)
        self.done, self.total = done, total

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc) if self.bar is not None else None


class Progress:
    """A progress bar on stderr, advanced once per finished series. When stderr is not a terminal (a log file,
    a pipe) there is no bar, only one line at the end: what was done, for how many series, in how long."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.live = sys.stderr.isatty()
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True,
                                     item_show_func=lambda f: None if f is None else f"{f.crime_type} / {f.area}") \
            if self.live else None

    def __enter__(self):
        self.started = time.perf_counter()
        if self.bar:
            self.bar.__enter__()
        return self

    def __call__(self, item) -> None:
        self.done += 1
        if self.bar:
            self.bar.update(1, item)

    def __exit__(self, *exc):
        if self.bar:
            return self.bar.__exit__(*exc)
        if exc[0] is None:
            click.echo(f"{self.label}: {self.done} of {self.total} series in {time.perf_counter() - self.started:.1f} s",
                       err=True)
        return None


@cli.command()
@data_options
@selection_options()
@click.option("--outlook", is_flag=True, help="Rank crime types by the change expected from seasonality alone.")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 12), help="Months ahead.")
@click.option("--months", default=24, show_default=True, type=click.IntRange(1, 10000),
              help="Latest months of components to print.")
@output_options
@click.option("--chart", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Also draw the components and seasonal index of the series to this PNG.")
def decompose(panel: Panel, outlook, horizon, months, fmt, output, chart) -> None:
    """Seasonal decomposition (robust STL), seasonal indices and the seasonal outlook.

    \b
        forecast decompose --crime robbery --area all-areas
        forecast decompose --outlook
    """
    from forecast.seasonality import decompose as stl, outlook_sentences, seasonal_outlook

    check_outputs(files=[output], charts=[chart])
    if outlook:
        keys = [k for k in panel.keys() if k[1] == ALL_AREAS] or panel.keys()
        table = seasonal_outlook(stl(panel.series(*k), *k) for k in keys)
        if fmt == "json":
            return emit(table.to_json(orient="records", indent=1), output)
        if fmt == "csv":
            return emit(csv_text(table), output)
        rows = [("crime type", "area", "next months", "seasonal change", "%", "strength")]
        rows += [(r.crime_type, r.area, r.next_months, f"{r.seasonal_change:+.1f}", f"{r.seasonal_change_pct:+.1f}%",
                  f"{r.strength:.2f}") for r in table.itertuples()]
        crimes = table[table["crime_type"] != ALL_CRIME]
        said = outlook_sentences(crimes, horizon) or [
            f"Based on seasonality, no crime type has a clear rise or fall ahead over the next {horizon} months."]
        return emit(format_table(rows) + "\n\n" + "\n".join(said), output)
    keys = panel.keys()
    if len(keys) != 1:
        raise InputError(f"decompose needs one series: give --crime and --area ({len(keys)} series selected), "
                         "or use --outlook")
    d = stl(panel.series(*keys[0]), *keys[0])
    components = d.components.reset_index(names="month").astype({"month": str})
    if chart:
        from forecast import plots

        fig = plots.seasonality_chart(d.components, d.indices(),
                                      title=f"{d.crime_type} / {d.area}: seasonal decomposition (strength {d.strength:.2f})")
        for path in plots.save(fig, chart):
            click.echo(f"wrote {path}", err=True)
    if fmt == "json":
        return emit(json.dumps({"crime_type": d.crime_type, "area": d.area, "strength": d.strength,
                                "indices": d.indices().to_dict(orient="records"),
                                "components": components.to_dict(orient="records")}, indent=1), output)
    if fmt == "csv":
        return emit(csv_text(components), output)
    idx = d.indices()
    lines = [f"{d.crime_type} / {d.area}: strength of seasonality {d.strength:.2f} (0 none, 1 all)", "",
             "Seasonal index by calendar month (100 = an average month; effect in counts, last 5 years):",
             format_table([("", *idx["month"])] + [("index", *[f"{v:.0f}" for v in idx["index"]])]
                          + [("effect", *[f"{v:+.0f}" for v in idx["effect"]])]), "",
             f"Components, last {min(months, len(components))} months:",
             format_table([("month", "observed", "trend", "seasonal", "remainder")] + [
                 (r.month, f"{r.observed:.0f}", f"{r.trend:.1f}", f"{r.seasonal:+.1f}", f"{r.resid:+.1f}")
                 for r in components.tail(months).itertuples()])]
    emit("\n".join(lines), output)


@cli.command()
@data_options
@selection_options(totals=False, force_totals_flag=True)
@click.option("--reconcile", type=click.Choice(["none", "bottom-up", "top-down", "wls"]), default=RECONCILE_DEFAULT,
              show_default=True, help="With a force total and all its areas: make the forecasts add up at every "
                                      "origin, and score the reconciled forecasts.")
@click.option("--models", default="all", show_default=True, metavar="NAMES",
              help="Comma-separated model families, or 'all' (snaive, stl-arima, sarima, ets, theta, ensemble).")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 24), help="Months ahead per origin.")
@click.option("--last", "last", default=None, type=click.IntRange(12, 100000), metavar="N",
              help="Keep only the last N months of every series.")
@click.option("--min-months", default=36, show_default=True, type=click.IntRange(0, 100000),
              help="Series shorter than this are backtested but left out of the summary means.")
@model_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Predictions CSV to write (crime_type, area, model, origin, month, step, actual, mean, bounds).")
@tracking_options("forecast/<crime slug>, or forecast/backtest for several")
def backtest(panel: Panel, reconcile, models, horizon, last, min_months, origins, step, n_jobs, scheduler, workers,
             output, tracking_uri, no_track, experiment) -> None:
    """Rolling-origin backtest of the model families against the seasonal naive baseline.

    Prints MASE, sMAPE and 80%/95% interval coverage per model.

    \b
        forecast backtest --crime burglary --models ets,theta,snaive -o backtest.csv
    """
    import time

    from forecast.backtest import BacktestSettings, backtest_panel
    from forecast.models import parse_models

    settings = BacktestSettings(origins=origins, horizon=horizon, step=step, models=parse_models(models))
    check_outputs(files=[output])
    if not no_track:
        from forecast import tracking

        tracking.check_store(tracking_uri, experiment)
        tracking.preload()
    if last:
        panel = panel.last_months(last)
    start, started_at = time.perf_counter(), time.time()
    keys = panel.keys()
    from forecast.cluster import fitting_on

    with computing(scheduler, workers) as where, fitting_on(where), Progress(len(keys), "backtest") as progress:
        result = backtest_panel(panel.iter_series(), settings, n_jobs=n_jobs, progress=progress)
    result, reconciled = reconciled_backtest(panel, result, reconcile)
    elapsed = time.perf_counter() - start
    if output:
        write_csv(result.predictions, output)
    summary = result.summary(min_months=min_months)
    rows = [ACCURACY_HEADER, *accuracy_rows(summary)]
    click.echo(f"Backtest: {len(keys)} series, {settings.origins} origins x {settings.horizon} months, step "
               f"{settings.step}; means over series of at least {min_months} months and their origins")
    click.echo(format_table(rows))
    notes = [f"{s.crime_type} / {s.area}: {n}" for s in result.series for n in s.notes if "failed" not in n]
    failures = result.failures()
    click.echo(f"backtest of {len(keys)} series took {elapsed:.1f} s"
               + (f"; {failures} fit(s) failed and were scored as missing" if failures else "")
               + (f"; {len(notes)} series limited by their length" if notes else ""))
    if reconciled:
        click.echo(reconciled)
    if output:
        click.echo(f"wrote {output}")
    if not no_track:
        import tempfile

        from forecast import tracking

        with tempfile.TemporaryDirectory() as tmp:
            predictions = Path(output) if output else write_csv(result.predictions, Path(tmp) / "backtest.csv")
            run_id = tracking.log_backtest(result, panel, [predictions], uri=tracking_uri, experiment=experiment,
                                           extra_params={"last_months": last or "all", "reconciliation":
                                                         reconcile if reconciled else "none"},
                                           min_months=min_months, started=started_at)
        click.echo(f"recorded MLflow run {run_id} in {tracking.tracking_uri(tracking_uri)}")


@cli.command()
@data_options
@click.option("--crime", required=True, metavar="NAME",
              help="Crime type: name, slug or unique prefix (e.g. robbery); several comma-separated, or 'all'.")
@click.option("--area", default=None, metavar="NAME",
              help="Areas (comma-separated names, slugs or prefixes). Default: every area and the force total.")
@click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="A model family (e.g. ets, sarima), or 'auto' to pick per series by backtest MASE. The ensemble "
                   "is the default because it forecasts better than the per-series choice (README, Measured).")
@click.option("--sparse-model", default=SPARSE_MODEL, show_default=True, metavar="NAME",
              help="The family for series with too few crimes a month for SPC signals (under --min-mean), e.g. "
                   "neighbourhoods: a count model ('sparse' chooses by demand pattern), or 'same' for --model.")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 12), help="Months to forecast.")
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
def run(panel: Panel, crime, area, include_asb, model, sparse_model, horizon, out_dir, export, register, n_paths,
        seed, history, charts, reconcile, fmt, origins, step, n_jobs, scheduler, workers, spc_options, tracking_uri,
        no_track, experiment) -> None:
    """Next quarter's forecast for a crime type in every area, with SPC status and backtest accuracy.

    Writes forecast.csv, spc.csv, backtest.csv, summary.csv, sentences.txt, run.json, the charts and
    report.html to a new folder of its own, and records the run in MLflow. With several crime types (or
    --crime all), each gets its own folder and MLflow run, and out/<data>/all/<time>/ holds an index of them.

    \b
        forecast run --crime robbery
        forecast run --crime burglary --area camden,westminster --history all --export
    """
    import time

    from forecast import tracking
    from forecast.data import resolve_names
    from forecast.models import make
    from forecast.output import file_stems, new_run_folder

    started = time.perf_counter()
    started_at = time.time()
    if model != "auto":
        make(model)
    sparse_model = None if sparse_model == "same" else sparse_model
    if sparse_model:
        make(sparse_model)
    panel = panel.with_totals(include_asb=include_asb)
    crimes = list(panel.crime_types) if crime.strip().lower() == "all" else \
        resolve_names(crime, panel.crime_types, "crime type")
    say_uneven_totals(panel.select(crime=crimes))
    if len(crimes) > 1 and out_dir:
        raise InputError(f"--out takes one crime type, got {len(crimes)}; without --out each gets its own folder "
                         f"under out/{file_stems([panel.name])[panel.name]}/")
    if register and no_track:
        raise InputError("--register needs the run recorded in MLflow; leave out --no-track")
    stems = file_stems(crimes)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("out") / file_stems([panel.name])[panel.name]
    folders = {c: Path(out_dir) if out_dir else new_run_folder(base / stems[c], stamp) for c in crimes}
    for c in crimes:
        check_outputs(folder=folders[c])
        if not no_track:
            tracking.check_store(tracking_uri, tracking.experiment_name(stems[c], experiment))
    if not no_track or export:
        tracking.preload()
    done = []
    with computing(scheduler, workers) as where:
        for c in crimes:
            label = f"forecasting {c}" if len(crimes) > 1 else "forecasting"
            result = run_crime(panel, c, area, folders[c], out_dir is None, where, label, model=model,
                               sparse_model=sparse_model, horizon=horizon,
                               export=export, n_paths=n_paths, seed=seed, history=history, charts=charts,
                               reconcile=reconcile, origins=origins, step=step, n_jobs=n_jobs, spc_options=spc_options,
                               tracking_uri=tracking_uri, no_track=no_track, experiment=experiment,
                               register=register, workbook=fmt == "xlsx", brief=len(crimes) > 1,
                               started=started if c == crimes[0] else time.perf_counter(),
                               started_at=started_at if c == crimes[0] else time.time())
            done.append((result, folders[c]))
    if len(crimes) > 1:
        from forecast.output import atomic_folder, point_latest
        from forecast.report import write_index

        index = new_run_folder(base / "all", stamp)
        with atomic_folder(index) as work:
            written = write_index(work, done, index)
        for path in written.values():
            click.echo(f"wrote {index / path.relative_to(work)}")
        if point_latest(index):
            click.echo(f"{index.parent / 'latest'} now points to this run")


def run_crime(whole: Panel, crime_type: str, area, out_dir: Path, latest: bool, where: str | None, label: str, *,
              model, sparse_model, horizon, export, n_paths, seed, history, charts, reconcile, origins, step, n_jobs,
              spc_options, tracking_uri, no_track, experiment, register: bool, started: float, started_at: float,
              workbook: bool = False, brief: bool = False):
    """One crime type of ``forecast run``: fit (on the cluster, if any), print, write its folder, record it.
    ``brief`` (a run of several crime types): one line of what stands where, and the folder; the table and the
    sentences are in the folder and the index."""
    import time

    from forecast import tracking
    from forecast.backtest import BacktestSettings
    from forecast.cluster import fitting_on
    from forecast.models import DEFAULT_RUN
    from forecast.output import point_latest
    from forecast.run import run_forecast

    panel = whole.select(crime=crime_type, area=area)
    settings = BacktestSettings(origins=origins, horizon=3, step=step, models=DEFAULT_RUN)
    with fitting_on(where), Progress(len(panel.keys()), label) as progress:
        result = run_forecast(panel, crime_type, horizon, model, settings, spc_options, n_jobs=n_jobs,
                              progress=progress, n_paths=n_paths, seed=seed, reconcile=reconcile, train=whole,
                              sparse_model=sparse_model)
    fitted = time.perf_counter() - started
    for note in (*result.notes, result.reconciliation_note, result.global_fit.note):
        if note:
            click.echo(f"note: {note}", err=True)
    if brief:
        click.echo(attention_line(result))
    else:
        click.echo(run_table(result))
        click.echo("")
        click.echo("\n".join(result.sentences()))
        click.echo("")
    from concurrent.futures import ThreadPoolExecutor

    from forecast.output import atomic_folder
    from forecast.report import write_report

    with ThreadPoolExecutor(max_workers=1) as pool:
        # the MLflow records are written while the charts render in worker processes
        recording = None if no_track else pool.submit(tracking.begin_run, result, uri=tracking_uri,
                                                      experiment=experiment, extra_metrics={"run_seconds": fitted},
                                                      started=started_at)
        # the run's files appear together or not at all: written into a new folder that then replaces out_dir
        with atomic_folder(out_dir) as work:
            written = result.write(work, workbook=workbook)
            written.update(write_report(work, result.panel.name, history=history, charts=charts))
            run_id, failure = None, None
            try:
                run_id = recording.result() if recording is not None else None
            except TrackingError as error:  # the outputs are still kept; the error is reported after them
                failure = error
            written["manifest"] = result.write_manifest(work, started_at, run_id)
        paths = {name: out_dir / path.relative_to(work) for name, path in written.items()}
        charts = sum(k.startswith('chart ') for k in paths) - 1
        if brief:
            click.echo(f"  wrote {out_dir}/ (report.html, the CSVs and {plural(charts + 1, 'chart')})")
        else:
            for name, path in paths.items():
                if not name.startswith("chart ") or name == "chart small multiples":
                    click.echo(f"wrote {path}")
            click.echo(f"wrote {plural(charts, 'series chart')} in {out_dir / 'charts'}")
        if latest and point_latest(out_dir) and not brief:
            click.echo(f"{out_dir.parent / 'latest'} now points to this run")
        if failure is not None:
            raise failure
        if run_id is not None:
            tracking.end_run(run_id, list(paths.values()), uri=tracking_uri)
            click.echo(f"{'  ' if brief else ''}recorded MLflow run {run_id} in {tracking.tracking_uri(tracking_uri)} "
                       f"(experiment {tracking.experiment_name(result.slug, experiment)})")
            if register:
                from forecast.registry import register as register_run

                click.echo(register_run(run_id, uri=tracking_uri).sentence())
    if export:
        folder = Path("models") / result.slug / (run_id or time.strftime("local-%Y%m%d-%H%M%S"))
        tracking.save_model(result, folder)
        click.echo(f"exported model to {folder}")
    return result


class SeasonType(click.ParamType):
    """The months of a winter: 'nov-feb', 'oct-mar', '11-2'."""

    name = "MON-MON"

    def convert(self, value, param, ctx):
        from forecast.winter import Season

        if not isinstance(value, str):
            return value
        try:
            return Season.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def cut_at(panel: Panel, end: str | None) -> Panel:
    """The panel as it was at the end of month ``end`` (later months left out); a one-line error for a month that
    is not in the data."""
    from dataclasses import replace

    if end is None:
        return panel
    try:
        month = pd_period(end)
    except ValueError:
        raise InputError(f"--end: {end!r} is not a month (expected YYYY-MM)") from None
    first, last = panel.months[0], panel.months[-1]
    if not first <= month <= last:
        raise InputError(f"--end {month}: {panel.source} runs from {first} to {last}")
    return replace(panel, frame=panel.frame[panel.frame["month"] <= month].reset_index(drop=True))


@cli.command()
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
def winter(panel: Panel, crime, area, include_asb, season, end, model, winters, n_paths, seed, reconcile, out_dir,
           n_jobs, scheduler, workers, tracking_uri, no_track, experiment) -> None:
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
        forecast winter --crime robbery --area all-areas --end 2018-09 --months oct-mar
    """
    from forecast import tracking
    from forecast.cluster import fitting_on
    from forecast.data import resolve_names, slug
    from forecast.models import make
    from forecast.output import atomic_folder, file_stems, new_run_folder, point_latest
    from forecast.winter import WinterSettings, month_span, plan_winter, winter_name
    from forecast.winter_report import (SUMMARY_HEAD, TABLE_HEAD, summary_rows, table_footnote, table_rows,
                                        write_winter_report)

    started, started_at = time.perf_counter(), time.time()
    if model != "auto":
        make(model)
    whole = cut_at(panel, end).with_totals(include_asb=include_asb)
    everything = crime is None or crime.strip().lower() == "all"
    crimes = list(whole.crime_types) if everything else resolve_names(crime, whole.crime_types, "crime type")
    chosen = whole.select(crime=crimes, area=area)
    if (chosen.frame["area"] == ALL_AREAS).any():
        say_uneven_totals(whole.select(crime=crimes))
    settings = WinterSettings(season, whole.months[-1], model=model, winters=winters, seed=seed)
    what = "all" if everything else slug("-".join(crimes))
    base = Path("out") / file_stems([whole.name])[whole.name] / "winter"
    folder = Path(out_dir) if out_dir else new_run_folder(base / file_stems([what])[what],
                                                           time.strftime("%Y%m%d-%H%M%S"))
    check_outputs(folder=folder)
    if not no_track:
        tracking.check_store(tracking_uri, experiment or "forecast/winter")
        tracking.preload()
    window, recorded = settings.window, settings.recorded
    cut = f", cut at --end {end}" if end else ""
    ahead = window[window > settings.last]
    lead = pd_period(str(settings.last + 1)) if not len(recorded) and window[0] > settings.last + 1 else None
    if len(recorded):
        said = f"{month_span(recorded)} recorded; the rest of the winter, {month_span(ahead)}, is forecast"
    else:
        said = f"the whole winter is forecast" + (f", and the months from {lead.strftime('%b %Y')} before it"
                                                  if lead is not None else "")
    click.echo(f"Winter {winter_name(window)} ({month_span(window)}) from data to {settings.last} ({whole.name}"
               f"{cut}): {said}.")
    with computing(scheduler, workers) as where, fitting_on(where), \
            Progress(len(chosen.keys()), "planning the winter") as progress:
        plan = plan_winter(chosen, settings, n_jobs=n_jobs, progress=progress, n_paths=n_paths, reconcile=reconcile,
                           train=whole)
    for note in (*plan.notes, plan.global_fit.note):
        if note:
            click.echo(f"note: {note}", err=True)
    winters_done = plan.backtest_frame()["origin"].nunique()
    click.echo(f"Ranked by the change against last winter; past winters: the mean error of the winter total over "
               f"{plural(winters_done, 'past winter')} forecast from {settings.last.strftime('%B')} "
               f"({plan.settings.model}; in brackets, last winter's months as the forecast)")
    ranked = plan.ranked()
    click.echo(format_table([TABLE_HEAD, *table_rows(ranked)]))
    if table_footnote(ranked):
        click.echo(table_footnote(ranked))
    rest = len(plan.keys) - len(plan.headline())
    if rest:
        click.echo(f"({rest} more series, the areas of each crime type: in winter.csv and report.html)")
    click.echo("")
    click.echo("\n".join(plan.sentences()))
    click.echo("")
    click.echo(f"Past winters forecast from {settings.last.strftime('%B')}, before reconciliation (snaive: last "
               "winter's months):")
    click.echo(format_table([SUMMARY_HEAD, *summary_rows(plan.backtest_summary())]))
    click.echo("")
    fitted = time.perf_counter() - started
    with atomic_folder(folder) as work:
        written = plan.write(work)
        written.update(write_winter_report(plan, work))
        run_id, failure = None, None
        if not no_track:
            try:
                run_id = tracking.log_winter(plan, list(written.values()), uri=tracking_uri, experiment=experiment,
                                             extra_metrics={"run_seconds": fitted}, started=started_at)
            except TrackingError as error:  # the outputs are still kept; the error is reported after them
                failure = error
        written["manifest"] = plan.write_manifest(work, started_at, run_id)
    for name, path in written.items():
        if not name.startswith("chart "):
            click.echo(f"wrote {folder / path.relative_to(work)}")
    charts = sum(name.startswith("chart ") for name in written)
    click.echo(f"wrote {plural(charts, 'winter chart')} in {folder / 'charts'}")
    if out_dir is None and point_latest(folder):
        click.echo(f"{folder.parent / 'latest'} now points to this plan")
    if failure is not None:
        raise failure
    if run_id is not None:
        click.echo(f"recorded MLflow run {run_id} in {tracking.tracking_uri(tracking_uri)} "
                   f"(experiment {experiment or 'forecast/winter'})")


@cli.command()
@data_options
@click.option("--crime", default=None, metavar="NAME", help="Crime type (name, slug or unique prefix).")
@click.option("--area", default=None, metavar="NAME", help="Areas (comma-separated). Default: every area and the total.")
@click.option("--paths", "n_paths", default=2000, show_default=True, type=click.IntRange(100, 100000),
              help="Sample paths per series.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed: same seed, same numbers.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="A model family, or 'auto' (per-series backtest choice).")
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
def outlook(panel: Panel, crime, area, n_paths, seed, model, evaluate, every, n_jobs, reconcile, spc_options, fmt,
            output) -> None:
    """Chance that next quarter brings a significant step change, per series.

    Sample paths from the chosen model are appended to the history and the SPC rules replayed on them.

    \b
        forecast outlook --crime robbery --area bromley
        forecast outlook --evaluate --crime burglary --area all-areas
    """
    from forecast.backtest import BacktestSettings
    from forecast.models import DEFAULT_RUN, make

    if model != "auto":
        make(model)
    check_outputs(files=[output])
    if evaluate:
        return evaluate_outlook(panel, crime, area, model, every, n_paths, seed, n_jobs, spc_options, fmt, output)
    if not crime:
        raise InputError("--crime is required (except with --evaluate)")
    from forecast.data import resolve_names
    from forecast.outlook import outlook_frame
    from forecast.run import run_forecast

    whole = panel.with_totals()
    crimes = resolve_names(crime, whole.crime_types, "crime type")
    say_uneven_totals(whole.select(crime=crimes))
    chosen = set(whole.select(crime=crimes, area=area).keys())
    panel = whole.select(crime=crimes) if reconcile != "none" else whole.select(crime=crimes, area=area)
    outlooks = []
    with Progress(len(panel.keys()), "forecasting") as progress:
        for crime_type in crimes:
            result = run_forecast(panel, crime_type, 3, model, BacktestSettings(models=DEFAULT_RUN), spc_options,
                                  n_jobs=n_jobs, progress=progress, n_paths=n_paths, seed=seed, reconcile=reconcile,
                                  train=whole)
            outlooks += [o for key, o in result.outlooks.items() if key in chosen]
    if fmt == "json":
        return emit(json.dumps([o.to_dict() for o in outlooks], indent=1), output)
    frame = outlook_frame(outlooks)
    if fmt == "csv":
        return emit(csv_text(frame), output)
    rows = [("crime type", "area", "run", "P(step up)", "P(step down)", "likely month", "P(>UCL)", "P(<LCL)")]
    rows += [(o.crime_type, o.area, f"{o.run_length} {'above' if o.run_side > 0 else 'below'}" if o.run_length else "-",
              f"{o.p_step_up:.2f}", f"{o.p_step_down:.2f}", str(o.likely_month or "-"), f"{o.p_above_ucl:.2f}",
              f"{o.p_below_lcl:.2f}") for o in outlooks]
    emit(format_table(rows) + "\n\n" + "\n".join(o.sentences[0] for o in outlooks), output)


def evaluate_outlook(panel, crime, area, model, every, n_paths, seed, n_jobs, spc_options, fmt, output) -> None:
    import pandas as pd

    from forecast.backtest import run_parallel
    from forecast.outlook import Calibration

    from forecast.models import DEFAULT_RUN, GLOBAL

    if model == GLOBAL:
        raise InputError("--evaluate replays the families fitted on each series; the global model, trained on the "
                         "whole panel, would need training again at every past origin (try --model ensemble)")
    if names_a_total(crime, area):
        panel = panel.with_totals()
    panel = panel.select(crime=crime, area=area)
    models = tuple(m for m in DEFAULT_RUN if m != GLOBAL) if model == "auto" else (model,)
    keys = panel.keys()
    with Progress(len(keys), "replaying history") as progress:
        frames = run_parallel(_EvaluateJob(spc_options, models, every, n_paths, seed), panel.iter_series(),
                              n_jobs=n_jobs, progress=progress)
    calibration = Calibration(pd.concat([f.records for f in frames], ignore_index=True))
    table = calibration.reliability()
    c = calibration
    if fmt == "json":
        return emit(json.dumps({"model": model, "models": list(models), "series": len(keys), "quarters": len(c.records),
                                "base_rate": c.base_rate, "brier": c.brier, "brier_base_rate": c.brier_base_rate,
                                "brier_run_length": c.brier_run_length, "skill": c.skill,
                                "skill_run_length": c.skill_run_length, "reliability": table.to_dict(orient="records")},
                               indent=1), output)
    if fmt == "csv":
        return emit(csv_text(c.records), output)
    verdict = "beats" if c.brier < c.brier_run_length else "does NOT beat"
    lines = [f"Step-change outlook replayed on {len(keys)} series, {len(c.records)} past quarters (every {every} "
             f"months, model {model}{' chosen from earlier origins only' if model == 'auto' else ''}, {n_paths} paths"
             f"{', SPC on seasonally adjusted counts' if spc_options.adjust == 'seasonal' else ''}).",
             f"Brier score (lower is better; {c.base_rate:.3f} of quarters brought a step change):",
             format_table([("forecast", "Brier"), ("base rate (always the same probability)", f"{c.brier_base_rate:.4f}"),
                           ("run-length baseline (how often a run of this length led to a change)",
                            f"{c.brier_run_length:.4f}"), ("outlook (sample paths through the SPC rules)",
                                                            f"{c.brier:.4f}")]),
             f"Skill against the run-length baseline {c.skill_run_length:+.3f} (against the base rate "
             f"{c.skill:+.3f}): the outlook {verdict} the run-length baseline.", "",
             format_table([("predicted", "quarters", "mean predicted", "observed")] + [
                 (r.bin, r.n, f"{r.predicted:.3f}", f"{r.observed:.3f}") for r in table.itertuples()])]
    emit("\n".join(lines), output)


class _EvaluateJob:
    """A picklable job for the parallel workers: the outlook replayed over one series' history."""

    def __init__(self, options, models, every, n_paths, seed):
        self.args = (options, models, every, 36, 3, n_paths, seed)

    def __call__(self, key, y):
        from types import SimpleNamespace

        from forecast.outlook import evaluate_series

        return SimpleNamespace(crime_type=key[0], area=key[1], records=evaluate_series(key, y, *self.args))


def latest_run(crime: str, root: Path = Path("out")) -> Path:
    """The newest run folder of a crime type under ``root`` (``root/<data>/<crime>/latest``), whatever its data."""
    from forecast.data import slug

    found = [p for p in root.glob(f"*/{slug(crime)}/latest") if p.is_dir()]
    if not found:
        raise InputError(f"no run of {crime!r} under {root}/ (run 'forecast run --crime {crime}' first, or give --out)")
    return max(found, key=lambda p: p.stat().st_mtime)


def run_source(folder: Path) -> str:
    """The data a run folder came from, as its run.json says (or the folder itself for older runs)."""
    import json

    from forecast.output import MANIFEST

    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"run outputs in {folder}"


def reconciled_backtest(panel: Panel, result, method: str):
    """The backtest with the forecasts of every total whose parts are all in the panel (a crime type's force total
    and its areas, an area's All crime and its crime types, or both: :func:`forecast.reconcile.plan`) reconciled
    at each origin and scored again; and a line saying what was done ('' when nothing was)."""
    from forecast.backtest import rescored
    from forecast.reconcile import plan, reconcile_predictions

    if method == "none":
        return result, ""
    try:
        steps = plan(dict(panel.iter_series()), method)
    except ValueError as error:
        raise InputError(f"--reconcile: {error}")
    if not steps:
        return result, ""
    predictions, done, left = reconcile_predictions(result.predictions, steps)
    return rescored(result, predictions), (
        f"reconciled ({method}): the forecasts add up to their totals at {done} origin(s) x model(s)"
        + (f"; {left} left as forecast (a series had no forecast from that origin)" if left else ""))


@cli.command()
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
    from forecast.report import write_report

    if run_id:
        from forecast import tracking

        folder = Path(out_dir or Path("out") / f"run-{run_id[:8]}")
        source = tracking.download_outputs(run_id, folder, uri=tracking_uri)
    else:
        if not (crime or out_dir):
            raise InputError("give --crime (or --out) or --run-id")
        folder = Path(out_dir) if out_dir else latest_run(crime)
        source = run_source(folder)
    paths = write_report(folder, source, svg, history=history, charts=charts, peers=peers_dir)
    click.echo(f"wrote {paths['report']}")
    click.echo(f"wrote {paths['chart small multiples']} and {plural(len(paths) - 2, 'series chart')} in "
               f"{folder / 'charts'}")


@cli.command()
@data_options
@click.option("--crime", default=None, metavar="NAME",
              help="Crime types (name, slug or unique prefix; comma-separate several). Default: every crime type.")
@click.option("--by", type=click.Choice(["force", "area"]), default=None,
              help="Compare forces (a force against its Most Similar Group), or rank the areas of one force. "
                   "Default: force when the data holds several forces, else area.")
@click.option("--home-force", "home", default=None, metavar="NAME",
              help="The force the board is about [default: the data's first force, A-Z].")
@click.option("--peers", "peer_names", default=None, metavar="A,B,C",
              help="Compare with these forces instead of the bundled Most Similar Group.")
@click.option("--per", type=click.Choice(["auto", "residents", "households"]), default="auto", show_default=True,
              help="Rates per 1,000 residents or households; auto: households for burglary of homes.")
@click.option("--population", type=click.Path(dir_okay=False), default=None, metavar="CSV",
              help="Your own populations, tidy year,area,population[,households] [default: the bundled ONS "
                   "estimates for English forces and local authorities].")
@click.option("--months", "window", default=12, show_default=True, type=click.IntRange(1, 120),
              help="Months of the table's rates and ranks (the latest ones).")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Output folder, replaced whole [default: out/<data>/peers-<force or by area>].")
def peers(panel: Panel, crime, by, home, peer_names, per, population, window, out_dir) -> None:
    """Crime per 1,000 residents (or households): a force against its Most Similar Group, or the areas of one
    force ranked. Writes peers.csv, rates.csv, sentences, charts and peers.html; `forecast report --peers DIR`
    adds the section to a run's report.

    \b
        forecast peers --crime burglary,robbery
        forecast peers --data wmp-mer.csv --home-force west-midlands --peers merseyside

    (wmp-mer.csv: two forces' street files, as ingest's example writes it.)
    """
    from forecast import peers as peer
    from forecast.data import force_of_areas
    from forecast.output import atomic_folder, check_folder
    from forecast.peer_report import write_peers
    from forecast.population import load_populations

    populations = load_populations(population)
    for note in populations.notes:
        click.echo(f"note: {note}", err=True)
    chosen = panel.select(crime=crime) if crime else panel
    forces = force_of_areas(panel.frame).unique()
    by = by or ("force" if len(forces) > 1 or len(populations.match(panel.areas, peer.FORCE)) > 1 else "area")
    if by == "force":
        result = peer_forces(chosen, populations, home, peer_names, per, window)
    else:
        result = peer_areas(chosen, populations, per, window)
    folder = Path(out_dir) if out_dir else Path("out") / panel.name / result["name"]
    check_folder(folder, inputs=[*inputs(), *([population] if population else [])], marker="peers.json")
    for note in result["notes"]:
        click.echo(f"note: {note}", err=True)
    with atomic_folder(folder) as work:
        write_peers(work, title=result["title"], sentences=result["sentences"], table=result["table"],
                    monthly=result["monthly"], unit=result["unit"], charts=result["charts"], notes=result["notes"],
                    meta=f"Data: {panel.source}. Populations: {populations.source}.",
                    manifest={"data": panel.source, "populations": populations.source, "by": by,
                              "home": result.get("home"), "window": window})
    click.echo(format_table(result["rows"]))
    click.echo("")
    for sentence in result["sentences"]:
        click.echo(f"- {sentence}")
    click.echo(f"wrote {folder}/peers.html, peers.csv, rates.csv and {plural(len(result['charts']), 'chart')}",
               err=True)


def peer_forces(panel: Panel, populations, home: str | None, peer_names: str | None, per: str, window: int) -> dict:
    """`forecast peers --by force`: each crime type's comparison of the home force with its group."""
    from forecast import peers as peer
    from forecast.peer_report import force_tables, per_label
    from forecast.plots import peer_chart, spc_chart

    counts = peer.force_counts(panel, populations)
    monthly, notes = peer.rates(counts, populations, peer.FORCE, per)
    names = sorted(monthly["unit"].unique())
    home = home_force(home, names, populations)
    group, group_name = peer.group_of(home, peer.most_similar_groups(), _names(peer_names), names)
    comparisons = []
    for crime_type, rows in monthly.groupby("crime_type"):
        try:
            comparisons.append(peer.compare(rows, home, group, group_name, window))
        except SelectionError as exc:
            notes.append(str(exc))
    if not comparisons:
        raise SelectionError(notes[-1] if notes else f"no crime type to compare {home} on")
    absent = comparisons[0].absent
    if absent:
        notes.append(f"in {home}'s {group_name} but not in the data: {', '.join(absent)}")
    table, rates_frame = force_tables(comparisons)
    charts = {f"{c.crime_type} per 1,000 {c.per}: {home} and its {c.group_name}":
              peer_chart(c.monthly, home, title=f"{c.crime_type} per 1,000 {c.per}: {home} (blue) and its "
                                                f"{c.group_name}", ylabel=per_label(c.per))
              for c in comparisons}
    for c in comparisons:
        for result in (c.rate_spc, c.gap_spc):
            charts[f"{result.measure}: XmR chart"] = spc_chart(result.points, title=result.measure,
                                                                 status=result.status, icon=result.icon,
                                                                 ylabel=per_label(c.per), history=None)
    rows = [("crime type", "force", "rank", "crimes", "rate per 1,000", "per", "group average")]
    rows += [(r.crime_type, r.force, f"{r.rank} of {r.of}", f"{int(r.crimes):,}", peer.fmt_rate(r.rate), r.per,
              peer.fmt_rate(r.group_average)) for r in table.itertuples()]
    from forecast.data import slug

    return {"name": f"peers-{slug(home)}", "title": f"{home} against its {group_name}: crime per 1,000",
            "sentences": [s for c in comparisons for s in c.sentences], "table": table, "monthly": rates_frame,
            "unit": "force", "charts": charts, "notes": notes, "rows": rows, "home": home}


def peer_areas(panel: Panel, populations, per: str, window: int) -> dict:
    """`forecast peers --by area`: the areas of one force ranked by their rates."""
    from forecast import peers as peer
    from forecast.data import force_of_areas
    from forecast.peer_report import per_label, rounded
    from forecast.plots import rate_bars

    monthly, table, notes = peer.area_rates(panel, populations, per, window)
    named = force_of_areas(panel.frame).unique()
    force = named[0] if len(named) == 1 else panel.name
    charts = {}
    for crime_type, rows in table.groupby("crime_type"):
        label = f"{crime_type} per 1,000 {rows['per'].iloc[0]} by area, {rows['first_month'].iloc[0]} to " \
                f"{rows['last_month'].iloc[0]}"
        charts[label] = rate_bars(rows, peer.overall(rows), title=label,
                                  xlabel=f"crimes per 1,000 {rows['per'].iloc[0]} in {plural(window, 'month')}")
    table = rounded(table.rename(columns={"unit": "area"}))
    rows = [("crime type", "area", "rank", "crimes", "rate per 1,000", "per")]
    rows += [(r.crime_type, r.area, f"{r.rank} of {r.of}", f"{int(r.crimes):,}", peer.fmt_rate(r.rate), r.per)
             for r in table.itertuples()]
    return {"name": "peers-by-area", "title": f"{force}: crime per 1,000 by area",
            "sentences": peer.area_sentences(table.rename(columns={"area": "unit"})), "table": table,
            "monthly": rounded(monthly.rename(columns={"unit": "area"}).astype({"month": str})), "unit": "area",
            "charts": charts, "notes": notes, "rows": rows}


def home_force(home: str | None, names: list[str], populations) -> str:
    """The force the board is about: ``home`` matched to the data's forces, else the first force."""
    from forecast.population import canonical

    if not home:
        click.echo(f"comparing {names[0]} (the first force; choose with --home-force)", err=True)
        return names[0]
    by_name = {canonical(n): n for n in names}
    if canonical(home) not in by_name:
        raise InputError(f"--home-force {home!r}: not a force of the data ({', '.join(names)})")
    return by_name[canonical(home)]


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


@cli.command()
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
    import pandas as pd

    from forecast import registry, tracking

    if sum(map(bool, (run_id, model_dir, model_uri))) != 1:
        raise InputError("give exactly one of --run-id, --model-dir and --model")
    check_outputs(files=[output])
    if model_uri:
        model = registry.load(model_uri, uri=tracking_uri)
    else:
        model = tracking.load_model(run_id=run_id, model_dir=model_dir, uri=tracking_uri)
    if area == "all":
        areas = sorted({a for (_, a) in model.unwrap_python_model().models})
    else:
        areas = [area]
    from forecast.excel import rounded

    frame = rounded(model.predict(pd.DataFrame({"area": areas, "horizon": horizon})))
    for figures, rows in frame.groupby("figures", sort=False):
        click.echo(f"note: {rows['month'].min()} to {rows['month'].max()}: {figures}", err=True)
    if fmt == "json":
        return emit(frame.to_json(orient="records", indent=1), output)
    if fmt == "csv":
        return emit(csv_text(frame), output)
    from forecast.spc import fmt as number

    rows = [("crime type", "area", "model", "month", "mean", "80%", "95%")]
    rows += [(r.crime_type, r.area, r.model, r.month, number(r.mean), f"{number(r.lo_80)}-{number(r.hi_80)}",
              f"{number(r.lo_95)}-{number(r.hi_95)}") for r in frame.itertuples()]
    emit(format_table(rows), output)


@cli.command()
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
    from forecast.registry import register as register_run

    click.echo(register_run(run_id, uri=tracking_uri, promote=promote).sentence())


@cli.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jobs", "n_jobs", default=None, type=click.IntRange(1, 256), help="Parallel processes.")
@tracking_options("forecast/compare/<spec name>")
def compare(spec_file, n_jobs, tracking_uri, no_track, experiment) -> None:
    """Run an experiment spec (experiments/*.toml): one MLflow run per model, and a leaderboard.

    \b
        forecast compare experiments/force-totals.toml
        (experiments/ also holds winter-demand.toml and model-comparison.toml, which take minutes)
    """
    import time

    from forecast import tracking
    from forecast.backtest import BacktestSettings, backtest_panel
    from forecast.experiments import load_spec, spec_panel

    spec = load_spec(spec_file)
    panel = spec_panel(spec)
    settings = BacktestSettings(origins=spec.origins, horizon=spec.horizon, step=spec.step, models=spec.models)
    if not no_track:
        tracking.check_store(tracking_uri, experiment)
        tracking.preload()
    start, started_at = time.perf_counter(), time.time()
    keys = panel.keys()
    with Progress(len(keys), spec.name) as progress:
        result = backtest_panel(panel.iter_series(), settings, n_jobs=n_jobs, progress=progress)
    summary = result.summary(min_months=spec.min_months).sort_values("mase").reset_index(drop=True)
    origins = sorted(result.predictions["origin"].unique()) if not result.predictions.empty else []
    click.echo(f"{spec.name}: {len(keys)} series, origins {', '.join(origins)}, horizon {spec.horizon}; "
               f"{time.perf_counter() - start:.1f} s")
    rows = [("rank", *ACCURACY_HEADER)] + [(i, *row) for i, row in enumerate(accuracy_rows(summary), start=1)]
    click.echo(format_table(rows))
    if not no_track:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            predictions = write_csv(result.predictions, Path(tmp) / "backtest.csv")
            ids = tracking.log_comparison(spec.name, panel.crime_types, summary, spec.params(), uri=tracking_uri,
                                          experiment=experiment, artifacts=[spec_file, predictions],
                                          started=started_at)
        click.echo(f"recorded {len(ids)} MLflow runs in {tracking.tracking_uri(tracking_uri)} (experiment "
                   f"{experiment or 'forecast/compare/' + spec.name})")


LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: experiments whose runs page forecast ui links to, most recently used first
UI_LINKS = 5


@cli.command()
@click.option("--tracking-uri", default=None, metavar="URI", help="MLflow store to show.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 exposes it).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--basic-auth", is_flag=True,
              help="Ask for a login (MLflow's basic-auth app; change its admin password before anyone else connects).")
@click.option("--allow-remote", is_flag=True,
              help="Serve beyond this machine without a login (anyone who can reach the port can read and write).")
def ui(tracking_uri, host, port, basic_auth, allow_remote) -> None:
    """Start the MLflow UI on the same store, to compare runs and models. Ctrl-C (or SIGTERM) stops it and
    everything it started.

    It listens on this machine only. Off it (--host 0.0.0.0) MLflow's check of the Host header is not access
    control: any client can send "Host: localhost". So another host needs --basic-auth (a login) or
    --allow-remote (no login, said again at the start)."""

    from forecast import tracking

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
    base = f"http://{host}:{port}"
    click.echo(f"MLflow UI on {base} for {store} (Ctrl-C stops it)", err=True)
    for name, experiment_id in list(experiments.items())[:UI_LINKS]:
        click.echo(f"  runs of {name}: {tracking.runs_link(base, experiment_id)}", err=True)
    if len(experiments) > UI_LINKS:
        click.echo(f"  ({len(experiments) - UI_LINKS} more experiments; choose 'Model training' at the top left to "
                   "see each one's runs)", err=True)
    run_server(command)


@cli.command()
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
    a bad horizon) gets a 400 with the reason. Ctrl-C (or SIGTERM) stops it.

    \b
        forecast serve --model models:/forecast-burglary@champion
        curl -s -X POST -H 'Content-Type: application/json' \\
          -d '{"dataframe_records": [{"area": "Camden", "horizon": 3}]}' http://127.0.0.1:5001/invocations
    """
    import os

    from forecast import registry, tracking

    if host not in LOOPBACK and not allow_remote:
        raise InputError(f"--host {host} serves forecasts beyond this machine with no login; add --allow-remote to "
                         "do so on purpose")
    store = tracking.existing_store(tracking_uri)
    version = registry.resolve(model_uri, uri=store)
    # MLflow's server starts uvicorn by name: the environment's own scripts must come first on PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": store,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
               "--host", host, "--port", str(port)]
    click.echo(f"serving {model_uri} ({version}) on http://{host}:{port}/invocations (Ctrl-C stops it)", err=True)
    run_server(command, env)


def run_server(command: list[str], env: dict | None = None) -> None:
    """Run a server until Ctrl-C or SIGTERM, in its own process group, so that stopping it stops the web server
    and everything it started (MLflow's job runner and queue consumers)."""
    import subprocess

    process = subprocess.Popen(command, start_new_session=True, env=env)
    with stop_on_sigterm():
        try:
            process.wait()
        except KeyboardInterrupt:
            stop_group(process)
            click.echo("stopped", err=True)


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
