"""A planner's Excel sheet read as a tidy table, for the CSV reader."""

from __future__ import annotations

import io
from pathlib import Path

from forecast.errors import DataError


def _text(value) -> str:
    """A cell as the CSV reader expects it: dates as YYYY-MM-DD, whole numbers without '.0'."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: how an encrypted (password-protected) workbook begins: Excel wraps it in an OLE compound file, not a zip
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_workbook(path: Path) -> None:
    """Refuse, before openpyxl reads it, a workbook that is password-protected or whose parts expand past the
    size limit of one input (a zip bomb)."""
    import zipfile

    from forecast.io.limits import check_size
    from forecast.io.police_uk import member_path

    with path.open("rb") as handle:
        head = handle.read(8)
    if head == OLE_MAGIC:
        raise DataError(f"{path}: is password-protected (encrypted); save a copy without the password and give "
                        "that")
    try:
        with zipfile.ZipFile(path) as book:
            parts = book.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable Excel workbook ({exc})") from None
    for part in parts:
        check_size(part.file_size, member_path(path, part.filename), "expands to")
    check_size(sum(p.file_size for p in parts), path, "expands to")


def _no_saved_values(path: Path, sheet: str, empty: list[tuple[int, int]]) -> None:
    """Refuse a sheet where a cell read as blank is a formula: Excel saves a formula's value beside it, but a
    workbook written by a program (or never opened in Excel) may hold none, and the cell would read as blank."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    book = load_workbook(path, read_only=True, data_only=False)
    try:
        wanted = set(empty)
        for number, row in enumerate(book[sheet].iter_rows(values_only=True), start=1):
            for column, value in enumerate(row or (), start=1):
                if (number, column) in wanted and isinstance(value, str) and value.startswith("="):
                    raise DataError(f"{path}, sheet {sheet!r}, cell {get_column_letter(column)}{number}: a formula "
                                    f"({value[:40]}) with no saved value; open the workbook in Excel and save it, so "
                                    "that the values are stored")
    finally:
        book.close()


def read_sheet(path: str | Path, sheet: str | None = None) -> str:
    """A sheet of a workbook (the first, or ``sheet``) as CSV text, for the tidy reader: dates as YYYY-MM-DD,
    numbers as written, blank rows left out. One-line errors for a file that is not a workbook or lacks the sheet."""
    import csv
    import zipfile

    from openpyxl import load_workbook

    path = Path(path)
    check_workbook(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Excel workbook ({exc})") from None
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            raise DataError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(names)})")
        rows = book[sheet or names[0]].iter_rows(values_only=True)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        empty = []
        for number, row in enumerate(rows, start=1):
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            empty += [(number, column) for column, v in enumerate(row, start=1) if v is None]
            writer.writerow([_text(v) for v in row])
    finally:
        book.close()
    if empty:
        _no_saved_values(path, sheet or names[0], empty)
    text = out.getvalue()
    if not text.strip():
        raise DataError(f"{path}: sheet {sheet or names[0]!r} is empty")
    return text
