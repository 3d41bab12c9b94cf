"""Data commands: the bundled data sets, data.police.uk's archives fetched, files read into a tidy panel."""

from __future__ import annotations

from pathlib import Path

import click

from forecast.cli.options import encoding_option, force_option, level_option, read_panel
from forecast.cli.progress import ByteProgress


@click.command()
def datasets() -> None:
    """List the bundled real data sets (give one to --data by name).

    \b
        forecast datasets
    """
    from forecast import api
    from forecast.present.tables import format_table

    table = api.datasets()
    header = ("name", "months", "n", "areas", "types", "series", "source")
    click.echo(format_table([header, *[(r.name, f"{r.first_month}..{r.last_month}", r.months, r.areas, r.crime_types,
                                        r.series, r.source) for r in table.itertuples()]]))


@click.command()
@click.argument("months", nargs=-1, required=True, metavar="YYYY-MM...")
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to keep the archives in [default: the cache folder, archives/].")
@click.option("--url", "base", envvar="FORECAST_ARCHIVE_URL", default=None, metavar="URL",
              help="Where the archives are, e.g. a mirror (env FORECAST_ARCHIVE_URL) [default: data.police.uk].")
@click.option("--deadline", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              metavar="MINUTES", help="Stop a download not whole after this long (the next fetch resumes it).")
def fetch(months, folder, base, deadline) -> None:
    """Download data.police.uk's monthly archives (every force, the 36 months to that month).

    A broken or stalled download (under 64 KB in a minute) is resumed, by this command or the next; an archive
    already there is not fetched again.
    Read one with --data, choosing forces with --force:

    \b
        forecast fetch 2024-09 --to downloads/
        forecast spc --data downloads/2024-09.zip --force west-midlands --crime robbery
    """
    from forecast import api

    for month in months:
        with ByteProgress(f"fetching {month}") as progress:
            path, fetched = api.fetch(month, folder, url=base, progress=progress, deadline=deadline * 60)
        size = path.stat().st_size / 1e6
        click.echo(f"{path}: {'downloaded' if fetched else 'already there'}, {size:.1f} MB")


@click.command()
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
    from forecast.files import check_file, write_csv

    check_file(output, paths)
    panel = read_panel(list(paths), fill_missing, encoding, forces, level)
    if totals:
        panel = panel.with_totals(include_asb=include_asb)
    write_csv(panel.tidy(), output)
    s = panel.summary()
    click.echo(f"wrote {output}: {len(panel.frame)} rows, {s['series']} series, "
               f"{s['first_month']}..{s['last_month']}, {s['areas']} areas, {s['crime_types']} crime types"
               + (f", {s['short_series']} short (< 24 months)" if s["short_series"] else ""))


COMMANDS = (datasets, fetch, ingest)
