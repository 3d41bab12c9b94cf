"""Reading a survey (or any proportion) file: tidy ``month, area, measure, numerator, denominator`` (victims
satisfied of victims surveyed), or a percentage with its sample size (``percentage, respondents``). ``area`` and
``measure`` may be left out (one area, the measure named by the file). Each problem is one :class:`DataError`
naming the file, line and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import DataError

NUMERATORS = ("numerator", "satisfied", "successes", "yes")
DENOMINATORS = ("denominator", "surveyed", "respondents", "sample", "sample_size", "base")
PERCENTAGES = ("percentage", "percent", "pct", "rate")
#: a rate per 1,000: a count of crimes over the population it happened among
COUNTS = ("count", "crimes", "numerator")
POPULATIONS = ("population", "residents", "households")


def proportion_columns(headers) -> dict[str, str] | None:
    """Which columns hold the numerator (or percentage) and denominator, or the count and population of a rate
    per 1,000; None when the file is neither (no denominator or population column)."""
    from forecast.io.tidy import normalise_header

    normalised = {normalise_header(h): h for h in headers}
    count = next((normalised[a] for a in COUNTS if a in normalised), None)
    population = next((normalised[a] for a in POPULATIONS if a in normalised), None)
    if count and population and not any(a in normalised for a in DENOMINATORS):
        return {"numerator": count, "population": population}
    found = {}
    for ours, aliases in (("numerator", NUMERATORS), ("denominator", DENOMINATORS), ("percentage", PERCENTAGES)):
        hit = next((normalised[a] for a in aliases if a in normalised), None)
        if hit is not None:
            found[ours] = hit
    if "denominator" not in found or not ({"numerator", "percentage"} & set(found)):
        return None
    return found


def is_proportion_file(path: str | Path) -> bool:
    """Whether a CSV's header names a denominator and a numerator (or percentage); only its start is read."""
    import gzip

    from forecast.io.tidy import Source, header_of

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".gz") or not path.is_file():
        return False
    try:
        with (gzip.open if path.suffix.lower() == ".gz" else open)(path, "rb") as handle:
            head = handle.read(1 << 16)
        return proportion_columns(header_of(Source(path, head.decode("utf-8-sig", errors="replace"), "utf-8"))) \
            is not None
    except (OSError, EOFError, DataError):
        return False


def read_proportions(path: str | Path) -> pd.DataFrame:
    """A proportion file as a tidy frame ``measure, area, month, numerator, denominator`` (sorted), validated:
    numerators and denominators are counts, 0 <= numerator <= denominator, denominators above 0, a percentage
    between 0 and 100, one row per measure x area x month, and months consecutive within each series."""
    from forecast.io.tidy import (find_columns, header_of, parse_counts, parse_months, parse_names, read_csv_text,
                                  read_text)

    path = Path(path)
    source = read_text(path)
    headers = header_of(source)
    columns = proportion_columns(headers)
    if columns is None:
        raise DataError(f"{path}: a proportion needs a numerator (or percentage) and a denominator column; found: "
                        f"{', '.join(headers)}")
    table = read_csv_text(source)
    named = find_columns(headers, path, aggregate=True)
    normalised = {h.strip().lower(): h for h in headers}
    frame = pd.DataFrame({"month": parse_months(table[named["month"]], source)})
    frame["area"] = parse_names(table[named["area"]], "area", source) if "area" in named else "All areas"
    measure = next((normalised[c] for c in ("measure", "question", "indicator") if c in normalised), None)
    frame["measure"] = parse_names(table[measure], "measure", source) if measure else path.name.split(".")[0]
    if "population" in columns:
        return _rates(frame, table, columns, source)
    denominator = parse_counts(table[columns["denominator"]], source, "denominator")
    zero = (denominator <= 0).to_numpy()
    if zero.any():
        raise source.error(int(zero.nonzero()[0][0]), "denominator is 0: a proportion needs someone asked")
    if "numerator" in columns:
        numerator = parse_counts(table[columns["numerator"]], source, "numerator")
    else:
        percentage = parse_counts(table[columns["percentage"]], source, "percentage", 100.0)
        numerator = percentage / 100 * denominator
    over = (numerator > denominator).to_numpy()
    if over.any():
        row = int(over.nonzero()[0][0])
        raise source.error(row, f"numerator {numerator.iloc[row]:g} is more than the denominator "
                                f"{denominator.iloc[row]:g}")
    frame["numerator"], frame["denominator"] = numerator.to_numpy(), denominator.to_numpy()
    return _checked(frame, source, ["measure", "area", "month", "numerator", "denominator"])


def _rates(frame: pd.DataFrame, table: pd.DataFrame, columns: dict, source) -> pd.DataFrame:
    """A rate file's counts and populations (``numerator``, ``population``), checked: a population above 0."""
    from forecast.io.tidy import parse_counts

    population = parse_counts(table[columns["population"]], source, "population", unit="")
    zero = (population <= 0).to_numpy()
    if zero.any():
        raise source.error(int(zero.nonzero()[0][0]), "population is 0: a rate needs people it is per")
    frame["numerator"] = parse_counts(table[columns["numerator"]], source, "count").to_numpy()
    frame["population"] = population.to_numpy()
    return _checked(frame, source, ["measure", "area", "month", "numerator", "population"])


def _checked(frame: pd.DataFrame, source, columns: list[str]) -> pd.DataFrame:
    """The frame sorted by series, refusing a month given twice and a gap in a series' months."""
    path = source.path
    twice = frame.duplicated(["measure", "area", "month"]).to_numpy()
    if twice.any():
        row = int(twice.nonzero()[0][0])
        raise source.error(row, f"a second row for {frame['month'].iloc[row]} x {frame['area'].iloc[row]} x "
                                f"{frame['measure'].iloc[row]}")
    frame = frame.sort_values(["measure", "area", "month"]).reset_index(drop=True)
    for (measure_name, area), rows in frame.groupby(["measure", "area"], sort=False):
        ordinals = rows["month"].array.asi8
        gap = np.flatnonzero(np.diff(ordinals) != 1)
        if gap.size:
            after = rows["month"].iloc[gap[0]]
            raise DataError(f"{path}: {measure_name} in {area} has no row for {after + 1} (months must be "
                            "consecutive)")
    return frame[columns]
