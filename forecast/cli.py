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
