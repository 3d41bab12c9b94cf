"""`forecast peers`: crime per 1,000 residents or households, against the Most Similar Group or by area."""

from __future__ import annotations

from pathlib import Path

import click

from forecast.cli.options import InputError, data_options, inputs
from forecast.data import Panel
from forecast.words import plural, printable


@click.command()
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
@click.option("--groups", type=click.Path(dir_okay=False), default=None, metavar="CSV",
              help="Your Most Similar Groups (the official list), tidy force,peer: a row per force and peer "
                   "[default: the bundled groups, see POPULATION.md].")
@click.option("--per", type=click.Choice(["auto", "residents", "households"]), default="auto", show_default=True,
              help="Rates per 1,000 residents or households; auto: households for burglary of homes.")
@click.option("--population", type=click.Path(dir_okay=False), default=None, metavar="CSV",
              help="Your own populations, tidy year,area,population[,households] [default: the bundled ONS "
                   "estimates for English forces and local authorities].")
@click.option("--months", "window", default=12, show_default=True, type=click.IntRange(1, 120),
              help="Months of the table's rates and ranks (the latest ones).")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Output folder, replaced whole [default: out/<data>/peers-<force or by area>].")
def peers(panel: Panel, crime, by, home, peer_names, groups, per, population, window, out_dir) -> None:
    """Crime per 1,000 residents (or households): a force against its Most Similar Group, or the areas of one
    force ranked. Writes peers.csv, rates.csv, sentences, charts and peers.html; `forecast report --peers DIR`
    adds the section to a run's report.

    \b
        forecast peers --crime burglary,robbery
        forecast peers --data wmp-mer.csv --home-force west-midlands --peers merseyside

    (wmp-mer.csv: two forces' street files, as ingest's example writes it.)
    """
    from forecast import api
    from forecast.files import check_folder
    from forecast.present.tables import format_table, past_estimate_footnote, peer_rows
    from forecast.record.publish import OUT, publish_peers

    group = [n.strip() for n in peer_names.split(",") if n.strip()] if peer_names else None
    if groups and group:
        raise InputError("give --peers or --groups, not both")
    report = api.peers(panel, crime, by=by, home=home, group=group, per=per, population=population, months=window,
                       groups=groups)
    click.echo(f"populations: {printable(report.populations)}", err=True)
    for note in report.population_notes:
        click.echo(f"note: {printable(note)}", err=True)
    if report.chosen:
        click.echo(report.chosen, err=True)
    folder = Path(out_dir) if out_dir else OUT / panel.name / report.name
    check_folder(folder, inputs=[*inputs(), *[p for p in (population, groups) if p]], marker="peers.json")
    for note in report.notes:
        click.echo(f"note: {printable(note)}", err=True)
    published = publish_peers(report, folder)
    click.echo(format_table(peer_rows(report)))
    if past_estimate_footnote(report):
        click.echo(past_estimate_footnote(report))
    click.echo("")
    for sentence in report.sentences:
        click.echo(f"- {sentence}")
    click.echo(f"wrote {folder}/peers.html, peers.csv, rates.csv and {plural(len(published.charts()), 'chart')}",
               err=True)


COMMANDS = (peers,)
