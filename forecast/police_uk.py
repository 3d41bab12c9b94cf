"""data.police.uk street-level files (one row per crime) -> the tidy panel.

The area of a crime is the local authority in its ``LSOA name`` ("Camden 028B" -> "Camden");
crimes with no LSOA are counted under "(no location)". A month with no rows for a crime type in
an area counts as zero.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from forecast.data import NO_LOCATION
from forecast.errors import DataError
from forecast.tidy import normalise_header, parse_months, parse_names, read_csv_text, read_text

STREET_FILE = re.compile(r"^\d{4}-\d{2}-.+-street\.csv(\.gz)?$")
_LSOA_CODE = re.compile(r"\s+\d{3}[A-Z]$")
_REQUIRED = ("Month", "LSOA name", "Crime type")


def street_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders into their ``YYYY-MM-<force>-street.csv`` files, in month order."""
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if STREET_FILE.match(f.name))
            if not found:
                raise DataError(f"{p}: folder has no YYYY-MM-<force>-street.csv files")
            files.extend(found)
        else:
            files.append(p)
    return files


def area_from_lsoa(names: pd.Series) -> pd.Series:
    """Local authority from an LSOA name; blank names become "(no location)"."""
    area = names.str.strip().str.replace(_LSOA_CODE, "", regex=True)
    return area.mask(area == "", NO_LOCATION)


def read_street_file(path: Path, encoding: str | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """Crimes of one street file as rows of month, force, area, crime_type. The month in a file's name
    (``2020-05-...-street.csv``) and the months inside it must agree."""
    source = read_text(path, encoding)
    raw = read_csv_text(source)
    normalised = {normalise_header(h): h for h in raw.columns}
    missing = [c for c in _REQUIRED if normalise_header(c) not in normalised]
    if missing:
        raise DataError(f"{path}: required column missing: {', '.join(missing)}; found: {', '.join(raw.columns)}")
    crime_type = parse_names(raw[normalised["crime_type"]], "crime_type", source)
    force_col = normalised.get("falls_within")
    months = parse_months(raw[normalised["month"]], source)
    if STREET_FILE.match(path.name):
        expected = pd.Period(path.name[:7], "M")
        other = (months != expected).to_numpy()
        if other.any():
            row = int(other.nonzero()[0][0])
            raise source.error(row, f"month {months.iloc[row]} inside a file named for {expected}; a street file "
                                    "holds the month in its name")
    if notes is not None:
        notes.extend(source.notes)
    return pd.DataFrame({
        "month": months,
        "force": raw[force_col].str.strip() if force_col else "",
        "area": area_from_lsoa(raw[normalised["lsoa_name"]]),
        "crime_type": crime_type,
    })


def read_street_files(paths: Sequence[str | Path], encoding: str | None = None,
                      notes: list[str] | None = None) -> pd.DataFrame:
    """Count crimes per month x area x crime type over street files, with zero months filled in."""
    files = street_files(paths)
    crimes = pd.concat([read_street_file(f, encoding, notes) for f in files], ignore_index=True)
    months = pd.period_range(crimes["month"].min(), crimes["month"].max(), freq="M")
    absent = months.difference(pd.PeriodIndex(crimes["month"].unique()))
    if len(absent):
        raise DataError(f"{files[0].parent}: no street file covers {absent[0]} (months must be consecutive)")
    counts = crimes.groupby(["area", "crime_type", "month"]).size()
    pairs = counts.index.droplevel("month").unique()
    grid = pd.MultiIndex.from_tuples([(a, c, m) for a, c in pairs for m in months],
                                     names=["area", "crime_type", "month"])
    frame = counts.reindex(grid, fill_value=0).astype(float).rename("count").reset_index()
    forces = crimes["force"][crimes["force"] != ""]
    frame["force"] = forces.mode().iloc[0] if len(forces) else ""
    return frame[["month", "area", "crime_type", "count", "force"]] \
        .sort_values(["crime_type", "area", "month"]).reset_index(drop=True)
