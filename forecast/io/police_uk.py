"""data.police.uk street-level files (one row per crime) -> the tidy panel.

The files come as downloaded: single ``YYYY-MM-<force>-street.csv`` files, a folder of them (also the
``YYYY-MM/`` sub-folders an unpacked download has), or the ``.zip`` itself (the monthly archive of every force,
or a custom download), read without unpacking it. ``forces`` chooses forces by name, slug or prefix.

The area of a crime is, by ``level``: the local authority in its ``LSOA name`` ("Camden 028B" -> "Camden",
the default), the LSOA itself (``lsoa``, the neighbourhood), or the force (``force``). Crimes with no LSOA are
counted under "(no location)". A month with no rows for a crime type in an area counts as zero.

Each file is read by pyarrow's CSV reader, only the four columns needed, one file at a time, and counted before
the next is read, so that memory holds counts rather than crimes. A file that pyarrow cannot read as it should
(another encoding, a blank or wrong month) is read again by the validating reader of :mod:`forecast.io.tidy`,
whose message names the file and line.
"""

from __future__ import annotations

import io
import os
import re
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from forecast.data import NO_LOCATION, resolve_names
from forecast.errors import DataError, SelectionError
from forecast.io.limits import check_size, max_file_bytes
from forecast.io.tidy import decode, normalise_header, parse_months, parse_names, read_csv_text

STREET_FILE = re.compile(r"^(\d{4}-\d{2})-(.+)-street\.csv(\.gz)?$")
_LSOA_CODE = re.compile(r"\s+\d{3}[A-Z]$")
_REQUIRED = ("Month", "LSOA name", "Crime type")
_COLUMNS = ("Month", "Falls within", "LSOA name", "Crime type")
LEVELS = ("la", "lsoa", "force")
#: what people add to a force's name that its file names leave out ("West Midlands Police" -> west-midlands)
_FORCE_WORDS = re.compile(r"[-\s]+(police(?:[-\s]+service)?|constabulary)$", re.IGNORECASE)


@dataclass(frozen=True)
class StreetFile:
    """One street file of a download: its name as the user would find it, its month and force (from its file
    name), and how to read its bytes."""

    path: Path
    month: pd.Period
    force: str
    read: Callable[[], bytes]
    #: what identifies its content for the cache: size and modification time, or the zip's CRC
    stamp: str


def _street_file(path: Path, name: str, read: Callable[[], bytes], stamp: str) -> StreetFile | None:
    match = STREET_FILE.match(name)
    if match is None:
        return None
    return StreetFile(path, pd.Period(match.group(1), "M"), match.group(2), read, stamp)


def member_path(path: Path, name: str) -> Path:
    """How a zip member is named in messages: inside its zip, whatever its stored name ("/etc/x" and "../x" are
    not files on this disk)."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", "..", ".")]
    return path.joinpath(*parts) if parts else path / "(unnamed member)"


def _in_zip(path: Path) -> list[StreetFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable zip file ({exc})") from None
    found = []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            shown = member_path(path, info.filename)
            f = _street_file(shown, Path(shown).name, lambda info=info, shown=shown: _read_member(path, info, shown),
                             f"{info.file_size}:{info.CRC}")
            if f is not None:
                check_size(info.file_size, shown, "expands to")
                found.append(f)
    if not found:
        raise DataError(f"{path}: zip has no YYYY-MM-<force>-street.csv files")
    return found


#: per thread, the zips it has open: opening one reads its whole directory, which cost more than a member
_open_zips = threading.local()


def _read_member(path: Path, info: zipfile.ZipInfo, shown: Path) -> bytes:
    """A member's bytes, read no further than the size limit whatever its header says (a zip bomb is refused,
    not read); a member that cannot be inflated is a one-line error naming it."""
    if info.flag_bits & 0x1:
        raise DataError(f"{shown}: is encrypted (the zip has a password); unpack it and give the folder")
    opened = _open_zips.__dict__.setdefault("zips", {})
    limit = max_file_bytes()
    try:
        if path not in opened:
            opened[path] = zipfile.ZipFile(path)
        with opened[path].open(info) as member:
            raw = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise DataError(f"{shown}: cannot be read from the zip ({exc})") from None
    check_size(len(raw), shown, "expands to more than")
    return raw


def _on_disk(path: Path) -> StreetFile | None:
    return _street_file(path, path.name, path.read_bytes, _stamp(path))


def street_files(paths: Sequence[str | Path]) -> list[StreetFile]:
    """The street files of the given files, folders (and their sub-folders) and zips, in month order. The same
    month and force twice (two overlapping archives) is read once, from the last given."""
    files: list[StreetFile] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
        if p.is_dir():
            found = [f for f in map(_on_disk, sorted(p.rglob("*-street.csv*"))) if f is not None]
            found += [f for z in sorted(p.rglob("*.zip")) for f in _in_zip(z)]
            if not found:
                raise DataError(f"{p}: folder has no YYYY-MM-<force>-street.csv files (nor in its sub-folders)")
            files.extend(found)
        elif zipfile.is_zipfile(p):
            files.extend(_in_zip(p))
        else:
            f = _on_disk(p)
            files.append(f if f is not None else StreetFile(p, pd.NaT, "", p.read_bytes, _stamp(p)))
    unique = {(f.month, f.force, f.path if f.month is pd.NaT else None): f for f in files}
    return sorted(unique.values(), key=lambda f: (str(f.month), f.force))


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def choose_forces(files: list[StreetFile], forces: str | Sequence[str] | None) -> list[StreetFile]:
    """The files of the forces asked for (names, slugs or unique prefixes; 'West Midlands Police' finds
    west-midlands), or all; an unknown name is refused with the forces the download holds."""
    if not forces:
        return files
    present = sorted({f.force for f in files if f.force})
    queries = forces.split(",") if isinstance(forces, str) else list(forces)
    try:
        wanted = resolve_names([_FORCE_WORDS.sub("", q.strip()) for q in queries if q.strip()], present, "force")
    except SelectionError as exc:
        raise DataError(f"{_download_of(files)}: {exc}") from None
    return [f for f in files if f.force in wanted]


def _download_of(files: list[StreetFile]) -> str:
    """Where the files come from, for a message: the zip or folder that holds them."""
    holders = sorted({str(next((p for p in f.path.parents if p.suffix.lower() == ".zip"), f.path.parent))
                      for f in files})
    return holders[0] if len(holders) == 1 else f"{holders[0]} (and {len(holders) - 1} more)"


def area_from_lsoa(names: pd.Series) -> pd.Series:
    """Local authority from an LSOA name; blank names become "(no location)"."""
    area = names.str.strip().str.replace(_LSOA_CODE, "", regex=True)
    return area.mask(area == "", NO_LOCATION)


def _areas(names: pd.Series, level: str) -> pd.Series:
    """The area at ``level`` ("la" or "lsoa") of each LSOA name."""
    if level == "la":
        return area_from_lsoa(names)
    return names.str.strip().mask(names.str.strip() == "", NO_LOCATION)


#: a column as its distinct values and, per row, the index of its value
Encoded = tuple[np.ndarray, np.ndarray]


def _fast(raw: bytes, f: StreetFile) -> tuple[str, dict[str, Encoded]] | None:
    """The month of a street file and its crimes counted per force, LSOA and crime type, by pyarrow (the CSV
    reader, then a group-by of the table: no row reaches pandas); None when the file needs the validating
    reader (not UTF-8, a column missing, a month other than the file's, a blank crime type).

    One thread a file: :func:`count_street_files` reads files side by side, and two of pyarrow's threaded reads
    at once once failed on the national archive ("a chunk failed converting for an unknown reason", pyarrow
    25); a whole archive read one file at a time was as fast on one thread as on pyarrow's."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    columns = csv.ConvertOptions(include_columns=list(_COLUMNS), include_missing_columns=True,
                                 column_types={c: pa.string() for c in _COLUMNS}, strings_can_be_null=False)
    try:
        table = csv.read_csv(io.BytesIO(raw), read_options=csv.ReadOptions(use_threads=False),
                             convert_options=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if table.num_rows == 0 or any(table.column(c).null_count for c in _REQUIRED):
        return None
    month = pc.unique(table.column("Month")).to_pylist()
    if len(month) != 1 or not re.fullmatch(r"\d{4}-\d{2}", month[0].strip()) or \
            (f.month is not pd.NaT and month[0].strip() != str(f.month)):
        return None
    crime = pc.unique(table.column("Crime type")).to_pylist()
    if any(c.strip() == "" or c.strip() != c for c in crime):
        return None
    encoded = {c: table.column(c).combine_chunks().dictionary_encode() for c in ("Falls within", "LSOA name",
                                                                                 "Crime type")}
    return month[0].strip(), {c: (np.asarray(d.dictionary.to_pylist(), dtype=object),
                                  d.indices.to_numpy(zero_copy_only=False)) for c, d in encoded.items()}


def _count(columns: dict[str, Encoded]) -> pd.DataFrame:
    """Rows counted per distinct combination of encoded columns, by their codes alone (no string is compared)."""
    code = np.zeros(len(next(iter(columns.values()))[1]), dtype=np.int64)
    for values, codes in columns.values():
        code = code * len(values) + codes
    combos, n = np.unique(code, return_counts=True)
    out = {}
    for name, (values, _) in reversed(columns.items()):
        combos, index = np.divmod(combos, len(values))
        out[name] = values[index]
    return pd.DataFrame({**{c: out[c] for c in columns}, "count": n})


def _recoded(values: np.ndarray, codes: np.ndarray) -> Encoded:
    """An encoded column whose values were mapped (several may now be one): distinct again."""
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return distinct.astype(object), inverse[codes]


def _validated(raw: bytes, f: StreetFile, encoding: str | None, notes: list[str] | None) -> pd.DataFrame:
    """The four columns of a street file by the validating reader; errors name the file and the line."""
    source = decode(raw, f.path, encoding)
    table = read_csv_text(source)
    normalised = {normalise_header(h): h for h in table.columns}
    missing = [c for c in _REQUIRED if normalise_header(c) not in normalised]
    if missing:
        raise DataError(f"{f.path}: required column missing: {', '.join(missing)}; found: {', '.join(table.columns)}")
    crime_type = parse_names(table[normalised["crime_type"]], "crime_type", source)
    months = parse_months(table[normalised["month"]], source)
    expected = f.month if f.month is not pd.NaT else months.iloc[0]
    other = (months != expected).to_numpy()
    if other.any():
        row = int(other.nonzero()[0][0])
        where = f"a file named for {expected}; a street file holds the month in its name" if f.month is not pd.NaT \
            else f"a file whose first month is {expected}; a street file holds one month"
        raise source.error(row, f"month {months.iloc[row]} inside {where}")
    if notes is not None:
        notes.extend(source.notes)
    force = table[normalised["falls_within"]].str.strip() if "falls_within" in normalised else ""
    return pd.DataFrame({"Month": str(expected), "Falls within": force, "LSOA name": table[normalised["lsoa_name"]],
                         "Crime type": crime_type}).astype("category")


def count_street_file(f: StreetFile, level: str = "la", encoding: str | None = None,
                      notes: list[str] | None = None) -> pd.DataFrame:
    """Crimes of one street file counted per area and crime type: month, force, area, crime_type, count."""
    raw = f.read()
    fast = _fast(raw, f) if encoding is None and f.path.suffix == ".csv" and b"\x00" not in raw else None
    if fast is None:
        frame = _validated(raw, f, encoding, notes)
        fast = str(frame["Month"].iloc[0]), {c: (frame[c].cat.categories.to_numpy(dtype=object),
                                                 frame[c].cat.codes.to_numpy()) for c in frame if c != "Month"}
    month, columns = fast
    forces, codes = columns["Falls within"]
    force = _recoded(pd.Series(forces, dtype=object).fillna("").str.strip().to_numpy(), codes)
    if level == "force":
        area = force
    else:
        lsoas, codes = columns["LSOA name"]
        area = _recoded(_areas(pd.Series(lsoas, dtype=object), level).to_numpy(), codes)
    out = _count({"area": area, "crime_type": columns["Crime type"], "force": force})
    out["month"] = pd.Period(month, "M")
    return out


def read_street_files(paths: Sequence[str | Path], encoding: str | None = None, notes: list[str] | None = None,
                      forces: str | Sequence[str] | None = None, level: str = "la",
                      progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Count crimes per month x area x crime type over street files, with zero months filled in."""
    return count_street_files(choose_forces(street_files(paths), forces), level, encoding, notes, progress)


def count_street_files(files: list[StreetFile], level: str = "la", encoding: str | None = None,
                       notes: list[str] | None = None, progress: Callable[[int, int], None] | None = None) \
        -> pd.DataFrame:
    """:func:`read_street_files` of files already listed, a file per core at a time (pyarrow and zlib release
    the GIL), each counted before the next is read; ``progress(done, total)`` after each."""
    from concurrent.futures import ThreadPoolExecutor

    if level not in LEVELS:
        raise DataError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    parts = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for i, part in enumerate(pool.map(lambda f: count_street_file(f, level, encoding, notes), files)):
            parts.append(part)
            if progress:
                progress(i + 1, len(files))
    return complete_months(pd.concat(parts, ignore_index=True), files)


def complete_months(counts: pd.DataFrame, files: list[StreetFile]) -> pd.DataFrame:
    """The counts of every file on a full calendar: each area x crime type in every month (zero where it had no
    crime), the months consecutive; the force of an area is the one that recorded most of its crimes. With several
    forces, each keeps its crimes of no location apart ("(no location) Merseyside Police"), for its total."""
    months = pd.period_range(counts["month"].min(), counts["month"].max(), freq="M")
    absent = months.difference(pd.PeriodIndex(counts["month"].unique()))
    if len(absent):
        raise DataError(f"{files[0].path.parent}: no street file covers {absent[0]} (months must be consecutive)")
    counts = counts.astype({"area": str, "crime_type": str, "force": str})
    if counts["force"].nunique() > 1:
        unplaced = counts["area"] == NO_LOCATION
        counts.loc[unplaced, "area"] = NO_LOCATION + " " + counts.loc[unplaced, "force"]
    per = counts.groupby(["area", "crime_type", "month"])["count"].sum()
    pairs = per.index.droplevel("month").unique()
    grid = pd.MultiIndex.from_arrays([np.repeat(pairs.get_level_values(0), len(months)),
                                      np.repeat(pairs.get_level_values(1), len(months)),
                                      np.tile(months, len(pairs))], names=["area", "crime_type", "month"])
    frame = per.reindex(grid, fill_value=0).astype(float).rename("count").reset_index()
    named = counts[counts["force"] != ""]
    if named.empty:
        frame["force"] = ""
    else:
        main = named.groupby(["area", "force"])["count"].sum().sort_values(ascending=False, kind="stable")
        main = main.reset_index().drop_duplicates("area").set_index("area")["force"]
        frame["force"] = frame["area"].map(main).fillna(named.groupby("force")["count"].sum().idxmax())
    return frame[["month", "area", "crime_type", "count", "force"]] \
        .sort_values(["crime_type", "area", "month"]).reset_index(drop=True)
