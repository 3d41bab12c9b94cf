"""Reading and validating CSV input into the tidy panel shape: columns ``month`` (monthly ``Period``), ``area``,
``crime_type``, ``count`` (float; counts, rates and percentages alike) and optionally ``force``.

The rules, each refused with one line naming the file, the physical line and the problem:
- text is UTF-8 (with or without BOM); otherwise Windows-1252 is assumed and said, or ``--encoding`` names it;
- a count is a plain number; a comma only as a thousands separator in whole groups (``1,234``,
  ``12,345,678``), so ``12,5`` and ``1,2,3`` are errors; at most :data:`MAX_COUNT`; never negative;
- names that differ only in case or spaces (``Camden`` and ``camden ``) are one name spelled two ways: refused,
  showing both spellings;
- one row per month x area x crime type, and every month inside a series' span.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from forecast.data import ALL_AREAS, ALL_CRIME
from forecast.errors import DataError
from forecast.io.limits import gunzip

#: a billion crimes a month in one area is impossible; past it a value is a typo or an overflow
MAX_COUNT = 1e9
FALLBACK_ENCODING = "cp1252"
_ALIASES = {
    "month": ("month", "date", "period", "offence_date", "date_of_offence", "occurred", "committed"),
    "area": ("lpu", "area", "borough", "local_policing_unit", "local_authority", "district"),
    "crime_type": ("crime_type", "category", "crime_category", "offence", "major_category"),
    "count": ("count", "crimes", "value", "number", "offences"),
    "force": ("force", "falls_within"),
}
_MONTH_FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y/%m", "%Y/%m/%d", "%m/%Y", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S",
                  "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
                  "%b-%y", "%b-%Y", "%b %Y", "%B %Y", "%b %y", "%Y%m")
_GROUPED = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


@dataclass
class Source:
    """The decoded text of one input file, how it was decoded, and what the reader noticed."""

    path: Path
    text: str
    encoding: str
    notes: list[str] = field(default_factory=list)
    #: the UTF-8 bytes ``text`` was decoded from, where it was (a large file is parsed from them: see
    #: :func:`read_csv_text`)
    raw: bytes | None = field(default=None, repr=False)

    @cached_property
    def record_lines(self) -> list[int]:
        """The physical line (1-based) on which each CSV record starts, blank lines skipped as pandas skips them
        and quoted fields allowed to span lines; [0] is the header."""
        reader = csv.reader(io.StringIO(self.text, newline=""))
        starts, previous_end = [], 0
        try:
            for row in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if row:
                    starts.append(start)
        except csv.Error as exc:
            raise self.csv_error(reader, exc) from None
        return starts

    def csv_error(self, reader, exc: csv.Error) -> DataError:
        """A csv module error (a field over its limit, a NUL) as one line naming where it happened."""
        problem = f"a field longer than {csv.field_size_limit():,} characters (a quote left open?)" \
            if "field larger" in str(exc) else str(exc)
        return DataError(f"{self.path}, line {reader.line_num}: {problem}")

    def line_of(self, row: int) -> int:
        """The physical line of data row ``row`` (0-based, as pandas counts them)."""
        lines = self.record_lines
        return lines[row + 1] if row + 1 < len(lines) else row + 2

    def error(self, row: int, problem: str) -> DataError:
        return DataError(f"{self.path}, line {self.line_of(row)}: {problem}")


def read_text(path: Path, encoding: str | None = None) -> Source:
    """The decoded text of a CSV (gzip allowed): ``encoding`` if given, else UTF-8 (with or without BOM), else
    Windows-1252 with a note saying so. Refuses binary files."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV file")
    return decode(path.read_bytes(), path, encoding)


def decode(raw: bytes, path: Path, encoding: str | None = None) -> Source:
    """:func:`read_text` of bytes already read (from a file, or a file inside a zip), named ``path``."""
    if path.suffix == ".gz":
        raw = gunzip(raw, path)
    if not raw or raw.isspace():
        raise DataError(f"{path}: file is empty")
    nul = raw.find(b"\x00")
    if 0 <= nul < 8192:
        raise DataError(f"{path}: not a CSV file (binary content)")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}, line {line}: a NUL character (binary data inside the text)")
    if encoding:
        try:
            return Source(path, raw.decode(encoding), encoding)
        except LookupError:
            raise DataError(f"--encoding {encoding!r} is not an encoding Python knows (e.g. utf-8, cp1252, "
                            "iso-8859-2)") from None
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise DataError(f"{path}, line {line}: not valid {encoding} (byte 0x{raw[exc.start]:02x})") from None
    try:
        return Source(path, raw.decode("utf-8-sig"), "utf-8", raw=raw)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
    text = raw.decode(FALLBACK_ENCODING, errors="replace")
    return Source(path, text, FALLBACK_ENCODING,
                  [f"{path} is not UTF-8 (first at line {line}); read as Windows-1252, as Excel writes it. If names "
                   "look wrong, give its encoding with --encoding (e.g. iso-8859-2)."])


#: UTF-8 input of this size or more is parsed by pyarrow's reader where it reads the same as pandas' own (a third
#: of the time on the 3-million-row file, on two threads); smaller files are parsed in milliseconds either way
ARROW_BYTES = 16 << 20


def _arrow_parsed(source: Source) -> pd.DataFrame | None:
    """The file parsed by pyarrow, or None where pandas' own parser must read it: a small file, one not in UTF-8,
    a quote anywhere or a carriage return that does not end a line (where the two parsers differ: a quote left
    open is an error to pandas and the rest of the file to pyarrow), no pyarrow, or a file that pyarrow refuses (a
    ragged row, whose error pandas names by its line; a header without a line end)."""
    import importlib.util

    raw = source.raw
    if raw is None or len(raw) < ARROW_BYTES or b'"' in raw \
            or (b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n")) or importlib.util.find_spec("pyarrow") is None:
        return None
    try:
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, engine="pyarrow")
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def read_csv_text(source: Source) -> pd.DataFrame:
    """Parse CSV text as strings, turning parser failures into one-line :class:`DataError`s."""
    path = source.path
    frame = _arrow_parsed(source)
    try:
        if frame is None:
            frame = pd.read_csv(io.StringIO(source.text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserError as exc:
        raise _field_count_error(source) or DataError(f"{path}: not a readable CSV file ({str(exc).strip()})") \
            from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no data rows")
    return frame.fillna("")


def _field_count_error(source: Source) -> DataError | None:
    """The first record whose number of fields differs from the header's, at its physical line."""
    expected = None
    reader = csv.reader(io.StringIO(source.text, newline=""))
    try:
        for start, row in zip(source.record_lines, (r for r in reader if r)):
            if expected is None:
                expected = len(row)
            elif len(row) != expected:
                return DataError(f"{source.path}, line {start}: {len(row)} fields where the header has {expected}")
    except csv.Error as exc:
        return source.csv_error(reader, exc)
    return None


def header_of(source: Source) -> list[str]:
    """The header row of a CSV."""
    reader = csv.reader(io.StringIO(source.text[:1 << 16], newline=""))
    try:
        for row in reader:
            if row:
                return row
    except csv.Error as exc:
        raise source.csv_error(reader, exc) from None
    raise DataError(f"{source.path}: file is empty")


def normalise_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def find_columns(headers: Sequence[str], path: Path, aggregate: bool = False) -> dict[str, str]:
    """Map our column names to the file's headers; month and count are required (with ``aggregate``, a file with no
    count column is an incident list: one row per crime)."""
    normalised = {normalise_header(h): h for h in headers}
    mapping = {}
    for ours, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in normalised:
                mapping[ours] = normalised[alias]
                break
    missing = [c for c in ("month", "count") if c not in mapping and not (c == "count" and aggregate)]
    if missing:
        wanted = "; ".join(f"{c} (one of: {', '.join(_ALIASES[c])})" for c in missing)
        hint = ("; an incident list (one row per crime) is counted with --aggregate" if missing == ["count"] else "")
        raise DataError(f"{path}: required column missing: {wanted}; found: {', '.join(headers)}{hint}")
    return mapping


def check_alias_columns(table: pd.DataFrame, cols: dict[str, str], source: Source) -> None:
    """Where a file has two columns for one of ours (``count`` and ``crimes``, ``area`` and ``borough``), a note
    says which was used. Two month or count columns that disagree are refused at the first line where they do
    (which is the real count?); two name columns may name different groupings (an LPU and its local authority),
    so the note says that the other was ignored."""
    normalised = {normalise_header(h): h for h in table.columns}
    for ours, used in cols.items():
        for other in [normalised[a] for a in _ALIASES[ours] if a in normalised and normalised[a] != used]:
            a, b = table[used].str.strip(), table[other].str.strip()
            differ = (a != b).to_numpy()
            if differ.any() and ours in ("month", "count"):
                row = int(differ.nonzero()[0][0])
                raise source.error(row, f"columns {used!r} and {other!r} are both read as the {ours} and disagree "
                                        f"({a.iloc[row]!r} against {b.iloc[row]!r}); remove one of them")
            same = "names other things, and is ignored" if differ.any() else "holds the same values"
            source.notes.append(f"{source.path}: the {ours} is read from column {used!r}; column {other!r} {same}")


def _parse_month(text: str) -> pd.Period | None:
    for fmt in _MONTH_FORMATS:
        try:
            d = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return pd.Period(year=d.year, month=d.month, freq="M")
    return None


def parse_months(values: pd.Series, source: Source) -> pd.Series:
    """Monthly periods from month strings in any common format; names the first bad line."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    stripped = uniques.str.strip()
    periods = {text: _parse_month(text) for text in dict.fromkeys(stripped)}
    bad = [text for text, p in periods.items() if p is None]
    if bad:
        shown = bad[0] if bad[0] else "(blank)"
        raise source.error(first_row(codes, stripped == bad[0]), f"month {shown!r} is not a month (expected YYYY-MM)")
    now = pd.Period.now("M")
    future = [text for text, p in periods.items() if p > now]
    if future:
        raise source.error(first_row(codes, stripped == future[0]), f"month {periods[future[0]]} is in the future")
    ordinals = np.array([periods[text].ordinal for text in stripped], dtype="int64")[codes]
    return pd.Series(pd.PeriodIndex.from_ordinals(ordinals, freq="M"), index=values.index)


def first_row(codes: np.ndarray, bad) -> int:
    """The first row (of rows coded by :func:`pandas.factorize` as ``codes``) holding a distinct value that ``bad``
    marks (a mask over the distinct values)."""
    return int(np.flatnonzero(np.isin(codes, np.flatnonzero(np.asarray(bad))))[0])


def on_uniques(values: pd.Series, fn: Callable) -> pd.Series:
    """``values.map(fn)``, computed once per distinct value: a file of millions of rows holds a few thousand
    names."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return pd.Series(uniques.map(fn).take(codes), index=values.index, name=values.name)


def parse_counts(values: pd.Series, source: Source, what: str = "count", maximum: float = MAX_COUNT,
                 unit: str = " a month") -> pd.Series:
    """Numbers from count strings; blank, non-numeric, badly grouped, negative or impossibly large values are
    errors, each named as ``what`` (a count, a population). Each distinct string is parsed once (a file of
    millions of rows holds a few thousand): an error names the first row holding the first bad string, which is
    the first bad row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    numbers = _parse_count_texts(pd.Series(uniques, dtype=values.dtype), _FirstRowOf(source, codes), what,
                                 maximum, unit)
    return pd.Series(numbers.to_numpy()[codes], index=values.index, name=values.name)


@dataclass(frozen=True)
class _FirstRowOf:
    """A :class:`Source` whose errors name the first row holding the ``row``-th distinct value."""

    source: Source
    codes: np.ndarray

    def error(self, row: int, problem: str) -> DataError:
        return self.source.error(int(np.flatnonzero(self.codes == row)[0]), problem)


def _parse_count_texts(values: pd.Series, source: Source | _FirstRowOf, what: str, maximum: float,
                       unit: str) -> pd.Series:
    text = values.str.strip()
    comma = text.str.contains(",", regex=False)
    grouped = comma & text.str.fullmatch(_GROUPED)
    if bool((comma & ~grouped).any()):
        row = int(np.flatnonzero((comma & ~grouped).to_numpy())[0])
        raise source.error(row, f"{what} {text.iloc[row]!r} is not a number (a comma is allowed only between "
                                "groups of three digits, as in 1,234; write decimals with a point)")
    numbers = pd.to_numeric(text.where(~comma, text.str.replace(",", "", regex=False)), errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raw = text.iloc[row]
        raise source.error(row, f"{what} is blank" if not raw else f"{what} {raw!r} is not a number")
    negative = numbers < 0
    if negative.any():
        row = int(np.flatnonzero(negative.to_numpy())[0])
        raise source.error(row, f"{what} {text.iloc[row]} is negative")
    huge = numbers > maximum
    if huge.any():
        row = int(np.flatnonzero(huge.to_numpy())[0])
        raise source.error(row, f"{what} {text.iloc[row]} is beyond {maximum:,.0f}{unit} (a typo?)")
    return numbers.astype(float)


def parse_names(values: pd.Series, column: str, source: Source) -> pd.Series:
    """Stripped names; a blank name is an error. Names that differ only in case or spaces (``Camden`` and
    ``camden``) are one name: merged under the spelling used most, with a note showing both (the Met's own
    file spells "Other Violence" both ways). Each distinct name is checked once (a file of millions of rows
    holds a few thousand); an error names the first row holding a bad one."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    stripped = pd.Series(uniques, dtype=values.dtype).str.strip()
    nul = stripped.str.contains("\x00", regex=False)
    if bool(nul.any()):
        raise source.error(first_row(codes, nul), f"{column.replace('_', ' ')} holds a NUL character (binary data "
                           "inside the text)")
    if bool((stripped == "").any()):
        raise source.error(first_row(codes, stripped == ""), f"{column.replace('_', ' ')} is blank")
    names = pd.Series(pd.Index(stripped).take(codes), index=values.index, name=values.name)
    # rows per name, most used first (ties in the order the names first appear)
    counts = pd.Series(np.bincount(codes, minlength=len(stripped)), index=pd.Index(stripped)) \
        .groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    keys = pd.Series(counts.index, index=counts.index).str.split().str.join(" ").str.casefold()
    if not keys.duplicated().any():
        return names
    main = {}
    for key, group in keys.groupby(keys, sort=False):
        spellings = group.index.tolist()  # most used first
        for other in spellings[1:]:
            main[other] = spellings[0]
            first = [int(np.flatnonzero(names.to_numpy() == s)[0]) for s in (spellings[0], other)]
            source.notes.append(f"{source.path}: {column.replace('_', ' ')} {other!r} (line "
                                f"{source.line_of(first[1])}) is read as {spellings[0]!r} (line "
                                f"{source.line_of(first[0])}): names that differ only in case or spaces are one name")
    return names.replace(main)


def read_name_columns(path: str | Path, wanted: Sequence[str], expected: str) -> tuple[Source, list[pd.Series]]:
    """The named columns of a small file of names (groups, pairs), each stripped and checked as names are; a
    missing column is one line saying what the file should hold (``expected``)."""
    path = Path(path)
    source = read_text(path)
    raw = read_csv_text(source)
    columns = {normalise_header(c): c for c in raw.columns}
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"{path}: required column missing: {', '.join(missing)} (expected {expected}); found: "
                        f"{', '.join(raw.columns)}")
    return source, [parse_names(raw[columns[c]], c, source) for c in wanted]


def _row_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's series (a number for each crime type x area) and month (its ordinal): the checks of millions of
    rows group integers, not names."""
    crime, _ = pd.factorize(frame["crime_type"], use_na_sentinel=False)
    area, areas = pd.factorize(frame["area"], use_na_sentinel=False)
    return crime.astype(np.int64) * max(len(areas), 1) + area, frame["month"].array.asi8


def check_duplicates(frame: pd.DataFrame, source: Source, absent: Sequence[str] = ()) -> None:
    """One row per month x area x crime type; where the file has no area (or crime type) column, ``absent``
    names it, and a second row of a month says that the column is missing rather than that the row repeats."""
    series, months = _row_keys(frame)
    dup = pd.Series(series * (int(months.max()) - int(months.min()) + 1) + (months - months.min())) \
        .duplicated(keep=False) if len(frame) else pd.Series(False, index=frame.index)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        second = frame.iloc[rows]
        first_key = second.iloc[0][["month", "area", "crime_type"]]
        same = rows[(second["month"] == first_key["month"]).to_numpy() & (second["area"] == first_key["area"]).to_numpy()
                    & (second["crime_type"] == first_key["crime_type"]).to_numpy()]
        if absent:
            named = " or ".join(f"{c.replace('_', ' ')} column (one of: {', '.join(_ALIASES[c])})" for c in absent)
            raise source.error(int(same[1]), f"a second row for {first_key['month']} (first at line "
                                             f"{source.line_of(int(same[0]))}), and the file has no {named}: add "
                                             "it, or give one series per file")
        raise source.error(int(same[1]), f"duplicate row for {first_key['month']} x {first_key['area']} x "
                                         f"{first_key['crime_type']} (first at line {source.line_of(int(same[0]))})")


def complete_calendar(frame: pd.DataFrame, path: Path | str, fill_missing: str | None) -> pd.DataFrame:
    """Check that each series has every month between its first and last; fill gaps with 0 on request."""
    series, months = _row_keys(frame)
    spans = pd.DataFrame({"o": months, "s": series}).groupby("s")["o"].agg(["min", "max", "count"])
    if (spans["max"] - spans["min"] + 1 == spans["count"]).all():
        return frame
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


def read_tidy_csv(path: str | Path, fill_missing: str | None = None, encoding: str | None = None,
                  notes: list[str] | None = None, aggregate: bool = False, text: str | None = None) -> pd.DataFrame:
    """Read and validate a tidy CSV (one row per month x area x crime type) into the panel shape; what the
    reader noticed (an assumed encoding) is appended to ``notes``. With ``aggregate``, rows of one month x area x
    crime type (daily or dated rows) are summed into the month, and a file with no count column is an incident list
    whose rows are counted. ``text``: the CSV already decoded (a sheet of a workbook)."""
    from forecast.files import restore

    path = Path(path)
    source = Source(path, text, "utf-8") if text is not None else read_text(path, encoding)
    cols = find_columns(header_of(source), path, aggregate)
    table = read_csv_text(source)
    check_alias_columns(table, cols, source)
    raw = table[list(dict.fromkeys(cols.values()))]
    frame = pd.DataFrame({
        "month": parse_months(raw[cols["month"]], source),
        "area": parse_names(on_uniques(raw[cols["area"]], restore), "area", source) if "area" in cols else ALL_AREAS,
        "crime_type": parse_names(on_uniques(raw[cols["crime_type"]], restore), "crime_type", source)
        if "crime_type" in cols else ALL_CRIME,
        "count": parse_counts(raw[cols["count"]], source) if "count" in cols else 1.0,
    })
    if "force" in cols:
        frame["force"] = raw[cols["force"]].str.strip()
    if aggregate:
        keys = ["month", "area", "crime_type"] + (["force"] if "force" in frame else [])
        rows = len(frame)
        frame = frame.groupby(keys, as_index=False, sort=False)["count"].sum()
        what = "incidents counted" if "count" not in cols else "rows summed"
        source.notes.append(f"{path}: {rows:,} {what} into {len(frame):,} month x area x crime type totals "
                            "(--aggregate)")
    check_duplicates(frame, source, [c for c in ("area", "crime_type") if c not in cols])
    frame = complete_calendar(frame, path, fill_missing)
    if notes is not None:
        notes.extend(source.notes)
    return frame.sort_values(["crime_type", "area", "month"]).reset_index(drop=True)


def is_street_file(path: Path) -> bool:
    """True for a data.police.uk street-level file (by its header; only the start of the file is read, since
    the reader reads it whole afterwards)."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as handle:
            head = handle.read(1 << 16)
    except (OSError, EOFError):
        return False
    source = Source(path, head.decode("utf-8-sig", errors="replace"), "utf-8")
    try:
        headers = {normalise_header(h) for h in header_of(source)}
    except DataError:
        return False
    return {"month", "lsoa_name", "crime_type"} <= headers
