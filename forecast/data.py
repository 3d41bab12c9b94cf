"""The panel: one tidy frame of monthly counts per crime type and area, read, validated and aggregated.

Every reader returns the same shape: columns ``month`` (monthly ``Period``), ``area``,
``crime_type``, ``count`` (float; counts, rates and percentages alike) and optionally ``force``.
Validation errors name the file, the line (or series) and what is wrong, in one line.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from forecast.errors import DataError, SelectionError

ALL_AREAS = "All areas"
ALL_CRIME = "All crime"
ANTI_SOCIAL = "Anti-social behaviour"
NO_LOCATION = "(no location)"
SHORT_SERIES_MONTHS = 24
COLUMNS = ["month", "area", "crime_type", "count"]

_ALIASES = {
    "month": ("month", "date", "period"),
    "area": ("lpu", "area", "borough", "local_policing_unit", "local_authority", "district"),
    "crime_type": ("crime_type", "category", "crime_category", "offence", "major_category"),
    "count": ("count", "crimes", "value", "number", "offences"),
    "force": ("force", "falls_within"),
}
_MONTH_FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y/%m", "%Y/%m/%d", "%m/%Y", "%d/%m/%Y",
                  "%b-%y", "%b-%Y", "%b %Y", "%B %Y", "%b %y", "%Y%m")
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@dataclass(frozen=True)
class Panel:
    """All series of one data set as a tidy long frame, with where it came from."""

    frame: pd.DataFrame
    name: str
    source: str
    fill_missing: str | None = None
    all_crime_excludes: tuple[str, ...] = field(default=(ANTI_SOCIAL,))

    @property
    def crime_types(self) -> list[str]:
        return sorted(self.frame["crime_type"].unique())

    @property
    def areas(self) -> list[str]:
        """Areas of their own: crimes without a location count in the force total only."""
        return sorted(a for a in self.frame["area"].unique() if a != NO_LOCATION)

    @property
    def months(self) -> pd.PeriodIndex:
        return pd.period_range(self.frame["month"].min(), self.frame["month"].max(), freq="M")

    @property
    def is_count(self) -> bool:
        """True when every value is a whole number (crime counts rather than rates)."""
        values = self.frame["count"].to_numpy()
        return bool(np.all(np.mod(values, 1) == 0))

    def keys(self) -> list[tuple[str, str]]:
        """(crime_type, area) of every series, sorted, force totals last within a crime type."""
        pairs = self.frame.loc[self.frame["area"] != NO_LOCATION, ["crime_type", "area"]].drop_duplicates()
        return sorted(map(tuple, pairs.to_numpy()), key=lambda k: (k[0], k[1] == ALL_AREAS, k[1]))

    def series(self, crime_type: str, area: str) -> pd.Series:
        """One series as counts indexed by a monthly PeriodIndex."""
        rows = self.frame[(self.frame["crime_type"] == crime_type) & (self.frame["area"] == area)]
        if rows.empty:
            raise SelectionError(f"{self.name}: no series for crime type {crime_type!r} in area {area!r}")
        return pd.Series(rows["count"].to_numpy(dtype=float), index=pd.PeriodIndex(rows["month"], freq="M"),
                         name=f"{crime_type} / {area}").sort_index()

    def iter_series(self) -> Iterable[tuple[tuple[str, str], pd.Series]]:
        """Every series in key order, each as in :meth:`series`."""
        frame = self.frame.sort_values("month")
        groups = {key: g for key, g in frame.groupby(["crime_type", "area"], sort=False)}
        for key in self.keys():
            g = groups[key]
            yield key, pd.Series(g["count"].to_numpy(dtype=float), index=pd.PeriodIndex(g["month"], freq="M"),
                                 name=f"{key[0]} / {key[1]}")

    def lengths(self) -> pd.Series:
        """Months per series, indexed by (crime_type, area)."""
        return self.frame[self.frame["area"] != NO_LOCATION].groupby(["crime_type", "area"])["month"].count()

    def short_series(self, min_months: int = SHORT_SERIES_MONTHS) -> list[tuple[str, str]]:
        """Series with fewer than ``min_months`` months: kept, but later steps limit what they do."""
        lengths = self.lengths()
        return [tuple(k) for k in lengths[lengths < min_months].index]

    def content_hash(self) -> str:
        """SHA-256 of the tidy content, stable across file formats that hold the same numbers."""
        frame = self.frame.sort_values(["crime_type", "area", "month"])
        text = frame[COLUMNS].astype({"month": str}).to_csv(index=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def select(self, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None) -> "Panel":
        """The panel narrowed to crime types and areas named the forgiving way (see :func:`resolve_names`)."""
        frame = self.frame
        if crime:
            wanted = resolve_names(crime, self.crime_types, "crime type")
            frame = frame[frame["crime_type"].isin(wanted)]
        if area:
            wanted = resolve_names(area, sorted(a for a in frame["area"].unique() if a != NO_LOCATION), "area")
            frame = frame[frame["area"].isin(wanted)]
        return Panel(frame.reset_index(drop=True), self.name, self.source, self.fill_missing, self.all_crime_excludes)

    def last_months(self, n: int) -> "Panel":
        """The panel cut to its last ``n`` calendar months."""
        keep = self.months[-n:]
        frame = self.frame[self.frame["month"] >= keep[0]].reset_index(drop=True)
        return Panel(frame, self.name, self.source, self.fill_missing, self.all_crime_excludes)

    def with_totals(self, force_total: bool = True, all_crime: bool = True,
                    include_asb: bool = False) -> "Panel":
        """The panel plus the force total per crime type and "All crime" per area (see :func:`add_totals`)."""
        excludes = () if include_asb else self.all_crime_excludes
        frame = add_totals(self.frame, force_total=force_total, all_crime=all_crime, all_crime_excludes=excludes)
        return Panel(frame, self.name, self.source, self.fill_missing, self.all_crime_excludes)

    def summary(self) -> dict:
        """Months, areas, crime types and series counts, for listings."""
        months = self.months
        return {"name": self.name, "first_month": str(months[0]), "last_month": str(months[-1]),
                "months": len(months), "areas": len(self.areas), "crime_types": len(self.crime_types),
                "series": len(self.keys()), "short_series": len(self.short_series())}


def slug(name: str) -> str:
    """'Violence Against the Person' -> 'violence-against-the-person'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def resolve_names(query: str | Sequence[str], names: Sequence[str], kind: str) -> list[str]:
    """Match user-typed names to real ones: case-insensitive, by name, slug or unique slug prefix.

    A comma-separated string or a sequence selects several. Unknown or ambiguous names raise
    :class:`SelectionError` listing the valid names.
    """
    queries = [q.strip() for q in (query.split(",") if isinstance(query, str) else query) if q.strip()]
    found: list[str] = []
    for q in queries:
        exact = [n for n in names if n.lower() == q.lower() or slug(n) == slug(q)]
        matches = exact or [n for n in names if slug(n).startswith(slug(q)) and slug(q)]
        if len(matches) != 1:
            problem = "matches several" if matches else "matches no"
            options = matches or names
            raise SelectionError(f"{kind} {q!r} {problem} {kind}s; valid: " + ", ".join(options))
        if matches[0] not in found:
            found.append(matches[0])
    return found


def add_totals(frame: pd.DataFrame, force_total: bool = True, all_crime: bool = True,
               all_crime_excludes: Iterable[str] = (ANTI_SOCIAL,)) -> pd.DataFrame:
    """Add "All crime" per area (summing every type but the excluded ones) and the force total per type.

    Totals are only added where they say something new: "All crime" when there are several crime
    types, "All areas" when there are several areas. Existing total rows are never double counted.
    """
    base = frame[(frame["area"] != ALL_AREAS) & (frame["crime_type"] != ALL_CRIME)]
    parts = [frame]
    if all_crime and base["crime_type"].nunique() > 1 and not (frame["crime_type"] == ALL_CRIME).any():
        counted = base[~base["crime_type"].isin(set(all_crime_excludes))]
        totals = counted.groupby(["month", "area"], as_index=False)["count"].sum()
        totals["crime_type"] = ALL_CRIME
        parts.append(totals)
    with_all_crime = pd.concat(parts, ignore_index=True)
    if force_total and base["area"].nunique() > 1 and not (frame["area"] == ALL_AREAS).any():
        per_area = with_all_crime[with_all_crime["area"] != ALL_AREAS]
        totals = per_area.groupby(["month", "crime_type"], as_index=False)["count"].sum()
        totals["area"] = ALL_AREAS
        parts.append(totals)
    out = pd.concat(parts, ignore_index=True)[COLUMNS]
    return out.sort_values(["crime_type", "area", "month"]).reset_index(drop=True)


# ---------------------------------------------------------------- reading files

def read_text(path: Path) -> str:
    """The decoded text of a CSV: UTF-8 (with or without BOM), else Windows-1252; refuses binary files."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from None
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    if b"\x00" in raw[:8192]:
        raise DataError(f"{path}: not a CSV file (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_csv_text(text: str, path: Path) -> pd.DataFrame:
    """Parse CSV text as strings, turning parser failures into one-line :class:`DataError`s."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserError as exc:
        match = _FIELDS_ERROR.search(str(exc))
        if match:
            expected, line, saw = match.groups()
            raise DataError(f"{path}, line {line}: {saw} fields where the header has {expected}") from None
        raise DataError(f"{path}: not a readable CSV file ({str(exc).strip()})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a CSV file (binary content)") from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no data rows")
    return frame.fillna("")


def _normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def find_columns(headers: Sequence[str], path: Path) -> dict[str, str]:
    """Map our column names to the file's headers; month and count are required."""
    normalised = {_normalise(h): h for h in headers}
    mapping = {}
    for ours, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in normalised:
                mapping[ours] = normalised[alias]
                break
    missing = [c for c in ("month", "count") if c not in mapping]
    if missing:
        wanted = "; ".join(f"{c} (one of: {', '.join(_ALIASES[c])})" for c in missing)
        raise DataError(f"{path}: required column missing: {wanted}; found: {', '.join(headers)}")
    return mapping


def _parse_month(text: str) -> pd.Period | None:
    for fmt in _MONTH_FORMATS:
        try:
            d = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return pd.Period(year=d.year, month=d.month, freq="M")
    return None


def parse_months(values: pd.Series, path: Path, line_offset: int = 2) -> pd.Series:
    """Monthly periods from month strings in any common format; names the first bad line."""
    stripped = values.str.strip()
    periods = {text: _parse_month(text) for text in stripped.unique()}
    bad = [text for text, p in periods.items() if p is None]
    if bad:
        line = int(np.flatnonzero(stripped.to_numpy() == bad[0])[0]) + line_offset
        shown = bad[0] if bad[0] else "(blank)"
        raise DataError(f"{path}, line {line}: month {shown!r} is not a month (expected YYYY-MM)")
    now = pd.Period.now("M")
    future = [text for text, p in periods.items() if p > now]
    if future:
        line = int(np.flatnonzero(stripped.to_numpy() == future[0])[0]) + line_offset
        raise DataError(f"{path}, line {line}: month {periods[future[0]]} is in the future")
    return pd.Series(pd.PeriodIndex(stripped.map(periods).tolist(), freq="M"), index=values.index)


def parse_counts(values: pd.Series, path: Path, line_offset: int = 2) -> pd.Series:
    """Numbers from count strings ("1,234" allowed); blank, non-numeric or negative values are errors."""
    text = values.str.strip().str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raw = values.iloc[i].strip()
        problem = "count is blank" if not raw else f"count {raw!r} is not a number"
        raise DataError(f"{path}, line {i + line_offset}: {problem}")
    negative = numbers < 0
    if negative.any():
        i = int(np.flatnonzero(negative.to_numpy())[0])
        raise DataError(f"{path}, line {i + line_offset}: count {values.iloc[i].strip()} is negative")
    return numbers.astype(float)


def check_duplicates(frame: pd.DataFrame, path: Path) -> None:
    """One row per month x area x crime type."""
    dup = frame.duplicated(["month", "area", "crime_type"], keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        second = frame.iloc[rows]
        first_key = second.iloc[0][["month", "area", "crime_type"]]
        same = rows[(second["month"] == first_key["month"]).to_numpy() & (second["area"] == first_key["area"]).to_numpy()
                    & (second["crime_type"] == first_key["crime_type"]).to_numpy()]
        raise DataError(f"{path}, line {same[1] + 2}: duplicate row for {first_key['month']} x {first_key['area']} x "
                        f"{first_key['crime_type']} (first at line {same[0] + 2})")


def complete_calendar(frame: pd.DataFrame, path: Path | str, fill_missing: str | None) -> pd.DataFrame:
    """Check that each series has every month between its first and last; fill gaps with 0 on request."""
    stats = pd.DataFrame({"o": frame["month"].array.asi8, "crime_type": frame["crime_type"], "area": frame["area"]}) \
        .groupby(["crime_type", "area"])["o"].agg(["min", "max", "count"])
    gaps = stats[stats["max"] - stats["min"] + 1 != stats["count"]]
    if gaps.empty:
        return frame
    if fill_missing != "zero":
        (crime_type, area), row = next(iter(gaps.iterrows()))
        present = set(frame.loc[(frame["crime_type"] == crime_type) & (frame["area"] == area), "month"])
        span = _span(row["min"], row["max"])
        missing = [m for m in span if m not in present]
        raise DataError(f"{path}: series {crime_type} / {area} is missing {len(missing)} month(s) inside its span "
                        f"(first {missing[0]}); pass --fill-missing zero to count them as zero")
    filled = [frame]
    for (crime_type, area), row in gaps.iterrows():
        span = _span(row["min"], row["max"])
        have = set(frame.loc[(frame["crime_type"] == crime_type) & (frame["area"] == area), "month"])
        extra = pd.DataFrame({"month": [m for m in span if m not in have]})
        extra["area"], extra["crime_type"], extra["count"] = area, crime_type, 0.0
        if "force" in frame:
            extra["force"] = frame.loc[(frame["crime_type"] == crime_type) & (frame["area"] == area), "force"].iloc[0]
        filled.append(extra)
    return pd.concat(filled, ignore_index=True)


def _span(first: int, last: int) -> pd.PeriodIndex:
    return pd.PeriodIndex.from_ordinals(np.arange(int(first), int(last) + 1), freq="M")


def read_tidy_csv(path: str | Path, fill_missing: str | None = None) -> pd.DataFrame:
    """Read and validate a tidy CSV (one row per month x area x crime type) into the panel shape."""
    path = Path(path)
    raw = read_csv_text(read_text(path), path)
    cols = find_columns(list(raw.columns), path)
    frame = pd.DataFrame({
        "month": parse_months(raw[cols["month"]], path),
        "area": raw[cols["area"]].str.strip() if "area" in cols else ALL_AREAS,
        "crime_type": raw[cols["crime_type"]].str.strip() if "crime_type" in cols else ALL_CRIME,
        "count": parse_counts(raw[cols["count"]], path),
    })
    if "force" in cols:
        frame["force"] = raw[cols["force"]].str.strip()
    for col in ("area", "crime_type"):
        blank = frame[col] == ""
        if blank.any():
            line = int(np.flatnonzero(blank.to_numpy())[0]) + 2
            raise DataError(f"{path}, line {line}: {col.replace('_', ' ')} is blank")
    check_duplicates(frame, path)
    frame = complete_calendar(frame, path, fill_missing)
    return frame.sort_values(["crime_type", "area", "month"]).reset_index(drop=True)


def is_street_file(path: Path) -> bool:
    """True for a data.police.uk street-level file (by its header)."""
    try:
        head = read_text(path).split("\n", 1)[0]
    except DataError:
        return False
    headers = {_normalise(h) for h in head.split(",")}
    return {"month", "lsoa_name", "crime_type"} <= headers


def load_panel(paths: str | Path | Sequence[str | Path], fill_missing: str | None = None,
               name: str | None = None) -> Panel:
    """A validated panel from a bundled data set name, a tidy CSV, or data.police.uk street files."""
    from forecast import datasets, police_uk

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise DataError("no data given")
    if len(items) == 1 and isinstance(items[0], str) and items[0] in datasets.BUNDLED:
        return datasets.load(items[0])
    items = [Path(p) for p in items]
    for p in items:
        if not p.exists():
            raise DataError(f"{p}: no such file, folder or bundled data set (bundled: {', '.join(datasets.BUNDLED)})")
    if any(p.is_dir() for p in items) or all(is_street_file(p) for p in items if p.exists()):
        frame = police_uk.read_street_files(items)
        return Panel(frame, name or _name_of(items), ", ".join(map(str, items)), fill_missing)
    if len(items) > 1:
        raise DataError(f"{items[1]}: several tidy CSV files were given; combine them into one file first")
    frame = read_tidy_csv(items[0], fill_missing)
    return Panel(frame, name or items[0].name.split(".")[0], str(items[0]), fill_missing)


def _name_of(items: Sequence[Path]) -> str:
    return items[0].name if len(items) == 1 else f"{items[0].name} (+{len(items) - 1})"
