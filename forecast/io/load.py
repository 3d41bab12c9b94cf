"""Where a panel comes from: a bundled data set by name, a tidy CSV, or data.police.uk street files (files,
folders, or the downloaded zip), the counted street files cached as Parquet for the next command."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from forecast.io import datasets
from forecast.io import police_uk
from forecast.data import Panel
from forecast.errors import DataError
from forecast.io.tidy import is_street_file, read_tidy_csv

#: where counted street files are kept (FORECAST_CACHE, else the user's cache folder)
CACHE_ENV = "FORECAST_CACHE"
#: bump when the counting changes, so that no cache of the old counting is read
_COUNTING_VERSION = "2"
#: workbooks read as a sheet (an .xlsx is a zip file too: it must not be taken for street files)
WORKBOOKS = (".xlsx", ".xlsm")


def load_panel(paths: str | Path | Sequence[str | Path], fill_missing: str | None = None,
               name: str | None = None, encoding: str | None = None, forces: str | None = None,
               level: str = "la", progress: Callable[[int, int], None] | None = None, sheet: str | None = None,
               aggregate: bool = False) -> Panel:
    """A validated panel from a bundled data set name, a tidy CSV or a sheet of an Excel workbook (``sheet``:
    default the first), or data.police.uk street files (``forces`` and ``level``: see
    :func:`forecast.io.police_uk.read_street_files`). ``aggregate``: sum dated rows into months, count incident
    lists (see :func:`forecast.io.tidy.read_tidy_csv`)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise DataError("no data given")
    if len(items) == 1 and isinstance(items[0], str) and items[0] in datasets.BUNDLED:
        if forces or level != "la":
            raise DataError(f"--force and --level apply to data.police.uk street files, not to the bundled "
                            f"{items[0]!r}")
        return datasets.load(items[0])
    items = [Path(p) for p in items]
    for p in items:
        if not p.exists():
            raise DataError(f"{p}: no such file, folder or bundled data set (bundled: {', '.join(datasets.BUNDLED)})")
    for p in items:
        if p.suffix.lower() == ".zip" and p.is_file() and not zipfile.is_zipfile(p):
            with p.open("rb") as handle:
                head = handle.read(40)
            raise DataError(f"{p}: is not a zip file (it begins {head!r}); was the download cut short or an error "
                            "page? Download it again")
    notes: list[str] = []
    workbook = len(items) == 1 and items[0].suffix.lower() in WORKBOOKS
    if sheet and not workbook:
        raise DataError(f"{items[0]}: --sheet applies to an Excel workbook (.xlsx), not to this file")
    street = not workbook and (any(p.is_dir() or zipfile.is_zipfile(p) for p in items)
                               or all(is_street_file(p) for p in items))
    if street:
        frame = counted_street_files(items, encoding, notes, forces, level, progress)
        return Panel(frame, name or _name_of(items), ", ".join(map(str, items)), fill_missing, notes=tuple(notes))
    if forces or level != "la":
        raise DataError(f"{items[0]}: --force and --level apply to data.police.uk street files, not to a tidy CSV")
    if len(items) > 1:
        raise DataError(f"{items[1]}: several tidy CSV files were given; combine them into one file first")
    text = None
    if workbook:
        from forecast.io.excel import read_sheet

        text = read_sheet(items[0], sheet)
    frame = read_tidy_csv(items[0], fill_missing, encoding, notes, aggregate=aggregate, text=text)
    return Panel(frame, name or items[0].name.split(".")[0], str(items[0]), fill_missing, notes=tuple(notes))


def cache_folder() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "forecast")


def counted_street_files(items: Sequence[Path], encoding: str | None, notes: list[str], forces: str | None,
                         level: str, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """:func:`forecast.io.police_uk.read_street_files`, from the Parquet cache when the same files (by name, size
    and date, or the zip's checksums) were counted the same way before. A cached file is used only when its
    SHA-256 matches the one written beside it and its columns, months and counts are what the counting writes;
    otherwise the files are counted again, with a note."""
    files = police_uk.choose_forces(police_uk.street_files(items), forces)
    digest = hashlib.sha256(repr((_COUNTING_VERSION, level, encoding, forces or "",
                                  [(str(f.path), f.stamp) for f in files])).encode()).hexdigest()[:32]
    cached = cache_folder() / f"street-{digest}.parquet"
    if cached.exists() or cached.is_symlink():
        frame, problem = read_cache(cached)
        if frame is not None:
            return frame
        notes.append(f"the cached counts {cached} {problem}; the files were counted again")
    frame = police_uk.count_street_files(files, level, encoding, notes, progress)
    write_cache(frame, cached, notes)
    return frame


#: the columns (and kinds) of a counted panel as the cache holds it
_CACHE_COLUMNS = ("month", "area", "crime_type", "count", "force")


def _checksum(path: Path) -> Path:
    return path.with_suffix(".sha256")


def read_cache(path: Path) -> tuple[pd.DataFrame | None, str]:
    """The counted panel in a cache file, or None and what is wrong with it (not a file, no or another checksum,
    unreadable, other columns, a month that is not one, a count that is not a whole number of crimes)."""
    import pyarrow as pa

    if path.is_symlink() or not path.is_file():
        return None, "is not a file"
    try:
        raw = path.read_bytes()
        kept = _checksum(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None, "have no readable checksum beside them"
    if hashlib.sha256(raw).hexdigest() != kept:
        return None, "do not match their checksum (changed since they were written)"
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except (OSError, ValueError, pa.ArrowException) as exc:
        return None, f"cannot be read ({exc})"
    if tuple(frame.columns) != _CACHE_COLUMNS:
        return None, f"have the columns {', '.join(map(str, frame.columns))}, not {', '.join(_CACHE_COLUMNS)}"
    if frame.empty:
        return None, "hold no rows"
    months = pd.Categorical(frame["month"].astype(str))  # a few distinct months: parsed once each, not per row
    if not months.categories.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").all():
        return None, "hold a month that is not one (YYYY-MM)"
    count = frame["count"]
    if not pd.api.types.is_float_dtype(count) or not bool(((count >= 0) & (count % 1 == 0)).all()):
        return None, "hold counts that are not whole numbers of crimes"
    if not all(pd.api.types.is_string_dtype(frame[c]) for c in ("area", "crime_type", "force")):
        return None, "hold names that are not text"
    frame["month"] = pd.PeriodIndex(months.categories, freq="M")[months.codes]
    return frame, ""


def write_cache(frame: pd.DataFrame, path: Path, notes: list[str]) -> None:
    """Keep a counted panel with its SHA-256 beside it (both atomically); a cache that cannot be written is a
    note, not an error."""
    from forecast.files import atomic_file

    buffer = io.BytesIO()
    frame.astype({"month": str}).to_parquet(buffer, index=False)
    raw = buffer.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, binary=True) as handle:
            handle.write(raw)
        with atomic_file(_checksum(path)) as handle:
            handle.write(hashlib.sha256(raw).hexdigest() + "\n")
    except OSError as exc:
        notes.append(f"could not keep the counted files in the cache ({path.parent}: {exc.strerror or exc})")


def input_paths(data: str) -> list[Path]:
    """The files a ``--data`` value reads (none for a bundled name), to refuse writing over them."""
    if data in datasets.BUNDLED:
        return []
    path = Path(data)
    return [path] if path.exists() else []


def _name_of(items: Sequence[Path]) -> str:
    name = items[0].name.removesuffix(".zip")
    return name if len(items) == 1 else f"{name} (+{len(items) - 1})"
