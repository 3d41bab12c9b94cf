"""The ``forecast`` command: the click group, one group of commands per module, errors as one line."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from forecast.version import __version__
from forecast.cli import backtests, board, data, forecasting, peers, spc, store, winter
from forecast.cli.options import InputError
from forecast.errors import DataError, ForecastError, OutputError, SelectionError
from forecast.words import printable


class ForecastGroup(click.Group):
    """A click group that turns the package's own errors into one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (DataError, SelectionError, OutputError) as exc:
            raise InputError(printable(str(exc))) from None
        except ForecastError as exc:
            raise click.ClickException(printable(str(exc))) from None
        except click.ClickException as exc:
            exc.message = printable(exc.message)
            raise


@click.group(cls=ForecastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forecast")
def cli() -> None:
    """SPC step changes and next-quarter forecasts for police recorded-crime series."""


for module in (data, spc, board, forecasting, backtests, winter, peers, store):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    """The console script: MLflow's usage reporting off for this process and the servers it starts (police data
    stays on this machine), then the command; a Ctrl-C after it is over ends quietly."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
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
