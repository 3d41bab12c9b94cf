"""Residents and households per area and year (the bundled ONS estimates, or the user's own file), matched to
the panel's names, and their value in each month: what a rate per 1,000 divides by.

Mid-year estimates are for 30 June. A month between two of them gets the straight-line value between them, at
the middle of the month. A month before the first or after the last gets the nearest estimate, and is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from forecast.errors import DataError

FORCE = "police force area"
LOCAL = "local authority"
GEOGRAPHIES = (FORCE, LOCAL)
RESIDENTS, HOUSEHOLDS = "residents", "households"
BUNDLED_FILE = "populations.csv.gz"
BUNDLED_SOURCE = ("ONS mid-year estimates 2009-2019 as first published (before ONS revised them to the 2021 "
                  "Census in November 2023), 2011 Census households (bundled, see POPULATION.md)")
MAX_POPULATION = 100_000_000
INTERPOLATED, BEFORE, AFTER, ONLY = "interpolated", "first estimate", "last estimate", "single estimate"
#: words that name the kind of body rather than the place: "West Midlands Police" is "West Midlands"
_BODY_WORDS = r"\b(police service|police force|police|constabulary|service|force|borough|council|of the)\b"


def canonical(name: str) -> str:
    """A name reduced to its place, for matching: 'Metropolitan Police Service' and 'Metropolitan Police' are
    'metropolitan'; 'Devon & Cornwall Police' is 'devon and cornwall'; 'St. Helens' is 'st helens'."""
    text = name.lower().replace("&", " and ")
    text = re.sub(_BODY_WORDS, " ", text)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass(frozen=True)
class Denominator:
    """What a rate of one area divides by, month by month, and how each month's value was had."""

    area: str
    per: str
    values: pd.Series
    how: pd.Series
    #: the estimates' year span, as "2009-2019"
    years: str


@dataclass(frozen=True)
class Populations:
    """Tidy ``year, geography, area, population, households`` (households may be missing), and where it came
    from."""

    frame: pd.DataFrame
    source: str
    #: what the reader noticed (an assumed encoding, names merged)
    notes: tuple[str, ...] = ()

    def _of(self, geography: str | None) -> pd.DataFrame:
        """The rows of one geography; a file that names none is every geography."""
        frame = self.frame
        return frame if geography is None else frame[frame["geography"].isin([geography, ""])]

    def areas(self, geography: str | None = None) -> list[str]:
        return sorted(self._of(geography)["area"].unique())

    def match(self, names: Sequence[str], geography: str | None = None) -> dict[str, str]:
        """The table's area for each name it can match (see :func:`canonical`); unmatched names are left out."""
        table = {canonical(a): a for a in self.areas(geography)}
        return {n: table[canonical(n)] for n in names if canonical(n) in table}

    def has_households(self, area: str, geography: str | None = None) -> bool:
        return bool(self._rows(area, geography)["households"].notna().any())

    def _rows(self, area: str, geography: str | None) -> pd.DataFrame:
        rows = self._of(geography)
        return rows[rows["area"] == area]

    def monthly(self, area: str, months: pd.PeriodIndex, per: str = RESIDENTS,
                geography: str | None = None) -> Denominator:
        """``area``'s residents (or households) in each of ``months``: interpolated between estimates, the
        nearest one outside them (flagged in ``how``)."""
        column = "population" if per == RESIDENTS else "households"
        rows = self._rows(area, geography).dropna(subset=[column]).sort_values("year")
        if rows.empty:
            raise KeyError(area)
        at = rows["year"].to_numpy(dtype=float) + 0.5
        values = rows[column].to_numpy(dtype=float)
        t = np.asarray(months.year, dtype=float) + (np.asarray(months.month, dtype=float) - 0.5) / 12
        how = np.where(t < at[0], BEFORE, np.where(t > at[-1], AFTER, INTERPOLATED))
        if len(at) == 1:
            how = np.full(len(months), ONLY, dtype=object)
        first, last = int(rows["year"].iloc[0]), int(rows["year"].iloc[-1])
        years = str(first) if first == last else f"{first}-{last}"
        return Denominator(area, per, pd.Series(np.interp(t, at, values), index=months),
                           pd.Series(how, index=months), years)


def bundled() -> Populations:
    """The bundled ONS estimates (forecast/io/datasets/POPULATION.md)."""
    with resources.as_file(resources.files("forecast.io.datasets") / BUNDLED_FILE) as path:
        frame = pd.read_csv(path)
    return Populations(frame, BUNDLED_SOURCE)


def read_population(path: str | Path) -> Populations:
    """A user's population file, tidy ``year,area,population[,households][,geography]``, validated: each problem
    is one :class:`DataError` naming the file, line and column."""
    from forecast.io.tidy import normalise_header, parse_counts, parse_names, read_csv_text, read_text

    path = Path(path)
    source = read_text(path)
    raw = read_csv_text(source)
    columns = {normalise_header(c): c for c in raw.columns}
    missing = [c for c in ("year", "area", "population") if c not in columns]
    if missing:
        raise DataError(f"{path}: required column missing: {', '.join(missing)} (expected year,area,population"
                        f"[,households]); found: {', '.join(raw.columns)}")
    years = pd.to_numeric(raw[columns["year"]].str.strip(), errors="coerce")
    bad = years.isna() | (years % 1 != 0) | (years < 1900) | (years > 2100)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise source.error(row, f"year {raw[columns['year']].iloc[row]!r} is not a year (expected e.g. 2019)")
    frame = pd.DataFrame({"year": years.astype(int), "area": parse_names(raw[columns["area"]], "area", source)})
    frame["geography"] = raw[columns["geography"]].str.strip() if "geography" in columns else ""
    for column in ("population", "households"):
        if column not in columns:
            frame[column] = np.nan
            continue
        text = raw[columns[column]]
        # households may be left blank (a year without a count); a blank population is an error
        blank = (text.str.strip() == "") & (column == "households")
        values = parse_counts(text.where(~blank, "1"), source, column, MAX_POPULATION, "").where(~blank)
        zero = values == 0
        if zero.any():
            row = int(np.flatnonzero(zero.to_numpy())[0])
            raise source.error(row, f"{column} is 0: a rate per 1,000 {column} needs some")
        under = values < 1
        if under.any():
            row = int(np.flatnonzero(under.to_numpy())[0])
            per = RESIDENTS if column == "population" else HOUSEHOLDS
            raise source.error(row, f"{column} {text.iloc[row].strip()} is under 1: a rate per 1,000 {per} needs "
                                    "at least one (a decimal point out of place?)")
        frame[column] = values
    twice = frame.duplicated(["geography", "area", "year"], keep=False)
    if twice.any():
        rows = np.flatnonzero(twice.to_numpy())
        year, area = frame["year"].iloc[rows[0]], frame["area"].iloc[rows[0]]
        raise source.error(int(rows[1]), f"{area} {year} appears twice (first at line {source.line_of(int(rows[0]))})")
    return Populations(frame[["year", "geography", "area", "population", "households"]], str(path),
                       tuple(source.notes))


def load_populations(path: str | Path | None = None) -> Populations:
    """The user's file if given, else the bundled estimates."""
    return bundled() if path is None else read_population(path)
