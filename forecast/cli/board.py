"""`forecast board`: the month's board pack: what All crime is made of, each group's shares, and every signalling
series with what drove it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from forecast.cli.options import data_options, inputs, output_options
from forecast.cli.outputs import check_outputs, emit
from forecast.data import Panel


@click.command()
@data_options
@click.option("--groups", type=click.Path(dir_okay=False), default=None, metavar="CSV",
              help="Crime type groups for the shares, tidy crime_type,group [default: the data's own, e.g. "
                   "met-minor's major categories; none: no shares section].")
@output_options
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Also write the pack to this folder, replaced whole: board.txt, sentences.csv, "
                   "contributors.csv, shares.csv and drivers.csv.")
def board(panel: Panel, groups, fmt, output, out_dir) -> None:
    """The board pack of the latest month: the top crime types of All crime and the areas holding half of it;
    each group's shares; then each force total (by area) and each area's All crime (by crime type) with a step
    change this quarter or two months or more beyond a control limit, with the parts that drove it.

    \b
        forecast board --data met-minor
        forecast board --data met-minor --out board-pack-2018-12/
    """
    from forecast import api
    from forecast.files import check_folder, csv_text
    from forecast.present.outputs import BOARD_MANIFEST, write_board

    check_outputs(files=[output])
    if out_dir:
        check_folder(out_dir, inputs=[*inputs(), *([groups] if groups else [])], marker=BOARD_MANIFEST)
    pack = api.board(panel, groups=groups)
    if out_dir:
        write_board(pack, out_dir, panel.name)
        click.echo(f"wrote {Path(out_dir)}/board.txt, sentences.csv, contributors.csv, shares.csv and drivers.csv",
                   err=True)
    if fmt == "csv":
        return emit(csv_text(pack.sentences), output)
    if fmt == "json":
        return emit(json.dumps(pack.sentences.to_dict(orient="records"), indent=1), output)
    emit(pack.text(), output)


COMMANDS = (board,)
