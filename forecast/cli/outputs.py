"""The output helpers every command uses: the outputs checked before any work, and text printed or written to a
file atomically."""

from __future__ import annotations

import contextlib
import sys

import click

from forecast.cli.options import inputs
from forecast.files import write_text


def check_outputs(files=(), folder=None, charts=()) -> None:
    """Refuse, before any work, outputs that cannot be written or would overwrite an input."""
    from forecast.files import MANIFEST, check_file, check_folder

    for path in files:
        if path:
            check_file(path, inputs())
    for path in charts:
        if path:
            check_file(path, inputs(), suffixes=(".png",), what="chart file")
    if folder:
        check_folder(folder, inputs=inputs(), marker=MANIFEST)


def emit(text: str, output: str | None) -> None:
    """Print to stdout, or write atomically to a file and say where."""
    if output:
        write_text(text, output)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@contextlib.contextmanager
def text_output(output: str | None):
    """Standard output, or a file written atomically (whole or not at all) as the text is streamed into it."""
    if not output:
        yield sys.stdout
        return
    from forecast.files import atomic_file

    with atomic_file(output) as handle:
        yield handle
