"""--data given a file of proportions (a survey's satisfied of surveyed): which commands read it (``forecast
spc``), and the one line the others answer."""

from __future__ import annotations

from dataclasses import dataclass

from forecast.errors import DataError


@dataclass(frozen=True)
class ProportionFile:
    """A --data file of proportions, passed to a command that reads one (:func:`reads_proportions`)."""

    path: str


def reads_proportions(func):
    """Mark a command that takes a file of proportions as its --data."""
    func.reads_proportions = True
    return func


def proportion_input(data: str, command) -> ProportionFile | None:
    """``data`` as a :class:`ProportionFile` when it is one (refused in one line by a command of counts), else
    None."""
    from forecast.io.proportions import is_proportion_file

    if not is_proportion_file(data):
        return None
    if not getattr(command, "reads_proportions", False):
        raise DataError(f"{data}: a file of proportions (numerator and denominator): forecast spc reads it; this "
                         "command works on counts")
    return ProportionFile(data)


def read_whole(survey: ProportionFile, crime: str | None, area: str | None) -> ProportionFile:
    """A file of proportions is read whole: --crime and --area (which choose series of counts) are refused."""
    if crime or area:
        raise DataError(f"{survey.path}: --crime and --area choose series of counts; a file of proportions is read "
                        "whole")
    return survey
