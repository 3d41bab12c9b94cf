"""What the toolkit writes: Excel-safe CSV, files and run folders that appear whole or not at all, and
checks that an output can be written (and is not one of the inputs) before any work starts.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel
(``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``). Following OWASP, such cells are written with a leading
apostrophe; numbers stay numbers. :func:`read_csv` undoes it, so names round-trip through our own files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from forecast.errors import OutputError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def _escaped(value: str) -> bool:
    """An apostrophe before a formula character or another apostrophe: a cell :func:`neutralise` wrote."""
    return value.startswith(ESCAPE) and value[1:2] != "" and value[1] in (*FORMULA_START, ESCAPE)


def neutralise(value):
    """One text cell made safe for spreadsheets: a leading apostrophe before a formula character (and before a
    cell that already looks escaped, so that :func:`restore` gives back exactly what was written)."""
    if isinstance(value, str) and (value.startswith(FORMULA_START) or _escaped(value)):
        return ESCAPE + value
    return value


def restore(value):
    """The inverse of :func:`neutralise`."""
    return value[1:] if isinstance(value, str) and _escaped(value) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells are neutralised and whose periods are written as YYYY-MM; numbers untouched."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
        elif not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]) \
                and _needs_neutralising(out[col]):
            out[col] = out[col].map(neutralise, na_action="ignore")
    if "count" in out and len(out) and pd.api.types.is_numeric_dtype(out["count"]) \
            and bool((out["count"] % 1 == 0).all()):
        out["count"] = out["count"].astype("int64")
    return out


def _needs_neutralising(column: pd.Series) -> bool:
    """Whether any cell of a text column would change: asked of its distinct values (a few names and labels in
    hundreds of thousands of rows), not of every cell."""
    try:
        values = column.dropna().unique()
    except TypeError:  # unhashable cells: every one is looked at
        return True
    return any(neutralise(v) is not v for v in values)


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as Excel-safe CSV text."""
    return safe_frame(frame).to_csv(index=False)


def read_csv(path: str | Path, **kwargs) -> pd.DataFrame:
    """Read a CSV this toolkit wrote: names are text exactly as written ("NA", "None" stay names), neutralised
    cells are restored."""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], **kwargs)
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(restore, na_action="ignore")
    return frame


@contextlib.contextmanager
def atomic_file(path: str | Path, binary: bool = False) -> Iterator:
    """A text (or ``binary``) handle on a temporary file beside ``path`` that replaces it when the block ends
    normally; on any error or Ctrl-C the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with (tmp.open("wb") if binary else tmp.open("w", encoding="utf-8", newline="")) as handle:
            yield handle
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: str | Path) -> Path:
    """Write text atomically: a temporary file beside the target, then a rename."""
    with atomic_file(path) as handle:
        handle.write(text)
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Excel-safe CSV, atomically."""
    return write_text(csv_text(frame), path)


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a new folder beside ``target`` to write a run into; when the block ends normally it replaces
    ``target`` whole, and on any error or Ctrl-C it is removed and ``target`` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    work = target.with_name(f".{target.name}.{tag}.partial")
    work.mkdir()
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.{tag}.old")
    if target.exists():
        target.rename(old)
    work.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def new_run_folder(parent: str | Path, stamp: str) -> Path:
    """``parent/stamp``, or ``parent/stamp-2``, ``-3``... if a run of the same second already has that name."""
    parent = Path(parent)
    folder, n = parent / stamp, 1
    while folder.exists() or folder.is_symlink():
        n += 1
        folder = parent / f"{stamp}-{n}"
    return folder


LATEST = "latest"
#: the file that marks a folder as a run's output (see ``RunResult.write_manifest``)
MANIFEST = "run.json"


def point_latest(folder: str | Path) -> Path | None:
    """Point ``latest`` beside ``folder`` at it (a relative symbolic link, replaced atomically); None where the
    file system has no symbolic links (the run's folder is still complete and named by its time)."""
    folder = Path(folder)
    link = folder.parent / LATEST
    tmp = folder.parent / f".{LATEST}.{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(folder.name, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        return None
    os.replace(tmp, link)
    return link


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def folder_problem(path: Path) -> str | None:
    """Why a folder cannot be created or written into, or None."""
    if path.exists() and not path.is_dir():
        return "it is a file, not a folder"
    base = _existing_ancestor(path)
    if not base.is_dir():
        return f"{base} is not a folder"
    if not os.access(base, os.W_OK | os.X_OK) or (path.exists() and not os.access(path.parent, os.W_OK)):
        return f"read-only or no permission at {base}"
    return None


def check_folder(path: str | Path, what: str = "output folder", inputs: Iterable[str | Path] = (),
                 marker: str | None = None) -> Path:
    """Refuse, before any work, a folder that cannot be created or written, or that holds one of the inputs (a
    run's folder is replaced whole) (one-line OutputError). With ``marker``, an existing folder is replaced only if
    it holds that file (it is an earlier output of the same kind) or is empty: nothing else of the user's is lost."""
    path = Path(path)
    problem = folder_problem(path)
    if problem:
        raise OutputError(f"{path}: cannot write the {what} ({problem})")
    for given in map(Path, inputs):
        if path.resolve() == given.resolve() or path.resolve() in given.resolve().parents:
            raise OutputError(f"{path}: the {what} holds the input {given}; choose another folder")
    if marker and path.is_dir() and not (path / marker).exists() and any(path.iterdir()):
        raise OutputError(f"{path}: holds files that are not a forecast run's output (no {marker}), and a run's "
                          f"folder is replaced whole; choose a new or empty folder (nothing was written)")
    return path


def check_file(path: str | Path, inputs: Iterable[str | Path] = (), suffixes: tuple[str, ...] = (),
               what: str = "output file") -> Path:
    """Refuse, before any work, an output file that is one of the inputs, has the wrong suffix, or cannot be
    written (one-line OutputError)."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: {what} must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise OutputError(f"{path}: {what} is a folder")
    for given in map(Path, inputs):
        same = given.is_file() and path.exists() and path.samefile(given)
        inside = given.is_dir() and path.exists() and given.resolve() in path.resolve().parents
        if same or inside:
            raise OutputError(f"{path}: {what} is one of the inputs; choose another name (nothing was written)")
    problem = folder_problem(path.parent)
    if problem is None and path.exists() and not os.access(path, os.W_OK):
        problem = "read-only"
    if problem:
        raise OutputError(f"{path}: cannot write the {what} ({problem})")
    return path


#: file names are bounded well below the 255 bytes most file systems allow
MAX_STEM = 60
RESERVED_STEMS = ("small-multiples",)


def file_stems(names: Iterable[str]) -> dict[str, str]:
    """A file name stem per name: its slug, bounded in length, made unique with a short hash of the exact name
    where slugs would collide (``Camden/Islington`` and ``Camden-Islington``), be empty (emoji only), be cut, or
    take a reserved name."""
    import hashlib

    from forecast.data import slug

    names = list(dict.fromkeys(names))
    slugs = {n: slug(n)[:MAX_STEM].strip("-") for n in names}
    taken: dict[str, int] = {}
    for s in slugs.values():
        taken[s] = taken.get(s, 0) + 1
    out = {}
    for n, s in slugs.items():
        if not s or taken[s] > 1 or len(slug(n)) > MAX_STEM or s in RESERVED_STEMS:
            s = f"{s or 'series'}-{hashlib.sha1(n.encode('utf-8')).hexdigest()[:8]}"
        out[n] = s
    return out
