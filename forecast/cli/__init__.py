"""The ``forecast`` command line: each command parses its options and calls :mod:`forecast.api`."""

from forecast.cli.main import cli, main

__all__ = ["cli", "main"]
