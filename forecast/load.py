"""Where a panel comes from: a bundled data set by name, a tidy CSV, or data.police.uk street files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from forecast import datasets, police_uk
from forecast.data import Panel
from forecast.errors import DataError
from forecast.tidy import is_street_file, read_tidy_csv


def load_panel(paths: str | Path | Sequence[str | Path], fill_missing: str | None = None,
               name: str | None = None, encoding: str | None = None) -> Panel:
    """A validated panel from a bundled data set name, a tidy CSV, or data.police.uk street files."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise DataError("no data given")
    if len(items) == 1 and isinstance(items[0], str) and items[0] in datasets.BUNDLED:
        return datasets.load(items[0])
    items = [Path(p) for p in items]
    for p in items:
        if not p.exists():
            raise DataError(f"{p}: no such file, folder or bundled data set (bundled: {', '.join(datasets.BUNDLED)})")
    notes: list[str] = []
    if any(p.is_dir() for p in items) or all(is_street_file(p) for p in items):
        frame = police_uk.read_street_files(items, encoding, notes)
        return Panel(frame, name or _name_of(items), ", ".join(map(str, items)), fill_missing, notes=tuple(notes))
    if len(items) > 1:
        raise DataError(f"{items[1]}: several tidy CSV files were given; combine them into one file first")
    frame = read_tidy_csv(items[0], fill_missing, encoding, notes)
    return Panel(frame, name or items[0].name.split(".")[0], str(items[0]), fill_missing, notes=tuple(notes))


def input_paths(data: str) -> list[Path]:
    """The files a ``--data`` value reads (none for a bundled name), to refuse writing over them."""
    if data in datasets.BUNDLED:
        return []
    path = Path(data)
    return [path] if path.exists() else []


def _name_of(items: Sequence[Path]) -> str:
    return items[0].name if len(items) == 1 else f"{items[0].name} (+{len(items) - 1})"
