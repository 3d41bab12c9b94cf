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


def read_sheet(path: str | Path, sheet: str | None = None) -> str:
    """A sheet of a workbook (the first, or ``sheet``) as CSV text, for the tidy reader: dates as YYYY-MM-DD,
    numbers as written, blank rows left out. One-line errors for a file that is not a workbook or lacks the sheet."""
    import csv
    import zipfile

    from openpyxl import load_workbook

    path = Path(path)
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
        for row in rows:
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            writer.writerow([_text(v) for v in row])
    finally:
        book.close()
    text = out.getvalue()
    if not text.strip():
        raise DataError(f"{path}: sheet {sheet or names[0]!r} is empty")
    return text
