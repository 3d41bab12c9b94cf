"""The ``forecast`` command line: parse, call the core, print. Errors become one line and an exit code."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from forecast import __version__
from forecast.data import Panel, load_panel, write_csv, write_text
from forecast.errors import DataError, ForecastError, SelectionError


class InputError(click.ClickException):
    """Bad input from the user: exit code 2, one line, no traceback."""

    exit_code = 2


class ForecastGroup(click.Group):
    """A click group that turns the package's own errors into one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (DataError, SelectionError) as exc:
            raise InputError(str(exc)) from None
        except ForecastError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=ForecastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forecast")
def cli() -> None:
    """SPC step changes and next-quarter forecasts for police recorded-crime series."""


def main() -> None:
    cli(prog_name="forecast")


# ------------------------------------------------------------------ shared options

def data_options(func):
    """--data and --fill-missing: where the panel comes from."""
    @click.option("--data", "data", default="met-major", show_default=True, metavar="NAME|PATH",
                  help="Bundled data set name, a tidy CSV, or data.police.uk street files (a file or a folder).")
    @click.option("--fill-missing", type=click.Choice(["zero"]), default=None,
                  help="Count months missing inside a series as zero instead of refusing the file.")
    @functools.wraps(func)
    def wrapper(*args, data, fill_missing, **kwargs):
        return func(*args, panel=load_panel(data, fill_missing=fill_missing), **kwargs)
    return wrapper


def selection_options(crime_required: bool = False, totals: bool = True):
    """--crime and --area (forgiving names), plus whether to add force totals."""
    def decorator(func):
        @click.option("--crime", "crime", required=crime_required, metavar="NAME",
                      help="Crime type: name, slug or unique prefix (e.g. robbery, theft). Comma-separate several.")
        @click.option("--area", "area", default=None, metavar="NAME",
                      help="Area (LPU): name, slug or unique prefix; 'all-areas' is the force total. Default: every area.")
        @click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
        @functools.wraps(func)
        def wrapper(*args, panel: Panel, crime, area, include_asb, **kwargs):
            if totals:
                panel = panel.with_totals(include_asb=include_asb)
            return func(*args, panel=panel.select(crime=crime, area=area), **kwargs)
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
    @functools.wraps(func)
    def wrapper(*args, run_length, baseline, screen_mr, step_change_at, ignore_month, direction, **kwargs):
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
                             ignore=tuple(months[len(step_change_at):]), improvement_direction=direction)
        return func(*args, spc_options=options, **kwargs)
    return wrapper


def pd_period(text: str):
    import pandas as pd

    try:
        return pd.Period(text, freq="M")
    except Exception as exc:
        raise ValueError(text) from exc


def output_options(func):
    """--format and --output, shared by every command that writes results."""
    @click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
                  show_default=True, help="Table for people, JSON or CSV for other programs.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                  help="Write to this file (atomically) instead of standard output.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


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
    """List the bundled real data sets."""
    from forecast import datasets as bundled

    rows = []
    for name, entry in bundled.BUNDLED.items():
        s = bundled.load(name).summary()
        rows.append((name, f"{s['first_month']}..{s['last_month']}", s["months"], s["areas"], s["crime_types"],
                     s["series"], entry.source))
    header = ("name", "months", "n", "areas", "types", "series", "source")
    click.echo(format_table([header, *rows]))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Tidy panel CSV to write.")
@click.option("--fill-missing", type=click.Choice(["zero"]), default=None,
              help="Count months missing inside a series as zero instead of refusing the file.")
@click.option("--totals/--no-totals", default=False, help="Add the force total and 'All crime' series.")
@click.option("--include-asb", is_flag=True, help="Count anti-social behaviour in 'All crime'.")
def ingest(paths, output, fill_missing, totals, include_asb) -> None:
    """Read a tidy CSV or data.police.uk street files (files or a folder) and write the tidy panel."""
    panel = load_panel(list(paths), fill_missing=fill_missing)
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
def spc(panel: Panel, spc_options, fmt, output) -> None:
    """Process averages, control limits, significant step changes and the board's sentences.

    One row per series for the latest month, then the sentences. Example:

        forecast spc --crime burglary --area camden
    """
    from forecast import spc as spc_core

    results = spc_core.analyse_panel(panel.iter_series(), spc_options)
    if fmt == "json":
        emit(json.dumps([r.to_dict() for r in results], indent=1), output)
    elif fmt == "csv":
        emit(spc_core.points_frame(results).astype({"month": str}).to_csv(index=False), output)
    else:
        emit(spc_table(results), output)


def spc_table(results) -> str:
    from forecast.spc import fmt

    rows = [("crime type", "area", "status", "average", "lcl", "ucl", "months", "latest step change")]
    for r in results:
        s = r.summary()
        rows.append((r.crime_type, r.area, s["status"], fmt(s["mean"]) + ("*" if s["trial"] else ""), fmt(s["lcl"]),
                     fmt(s["ucl"]), s["months_in_process"], s["step_change"] or "-"))
    last = results[0].last_month if results else ""
    lines = [f"SPC at {last} ({len(results)} series; * = trial limits)", format_table(rows), ""]
    lines += [sentence for r in results for sentence in r.sentences]
    return "\n".join(lines)


def format_table(rows: list[tuple]) -> str:
    """A plain aligned text table; the first row is the header."""
    text = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(text[0]))]
    numeric = [all(_is_number(r[i]) for r in text[1:]) for i in range(len(widths))]
    lines = []
    for row in text:
        cells = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text.replace("%", "").replace(",", ""))
        return True
    except ValueError:
        return text in ("", "-")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
