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

from forecast.data import NO_LOCATION, parse_months, read_csv_text, read_text, _normalise
from forecast.errors import DataError

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


def read_street_file(path: Path) -> pd.DataFrame:
    """Crimes of one street file as rows of month, force, area, crime_type."""
    raw = read_csv_text(read_text(path), path)
    normalised = {_normalise(h): h for h in raw.columns}
    missing = [c for c in _REQUIRED if _normalise(c) not in normalised]
    if missing:
        raise DataError(f"{path}: required column missing: {', '.join(missing)}; found: {', '.join(raw.columns)}")
    crime_type = raw[normalised["crime_type"]].str.strip()
    blank = crime_type == ""
    if blank.any():
        raise DataError(f"{path}, line {int(blank.to_numpy().nonzero()[0][0]) + 2}: crime type is blank")
    force_col = normalised.get("falls_within")
    return pd.DataFrame({
        "month": parse_months(raw[normalised["month"]], path),
        "force": raw[force_col].str.strip() if force_col else "",
        "area": area_from_lsoa(raw[normalised["lsoa_name"]]),
        "crime_type": crime_type,
    })


def read_street_files(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Count crimes per month x area x crime type over street files, with zero months filled in."""
    files = street_files(paths)
    crimes = pd.concat([read_street_file(f) for f in files], ignore_index=True)
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
