"""Excel in and out: the board's workbook (`forecast run --format xlsx`), numbers rounded as the board reads them
and stored as numbers, every text cell stored as text (never a formula); and a planner's sheet read as a tidy
table."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from forecast.errors import DataError

#: decimals by column name (the first pattern that matches): probabilities to 4 (2,000 paths resolve 0.0005),
#: scores to 3, percentages to 1, counts and forecasts of counts to 2; whole numbers stay whole
DECIMALS = ((r"^p_|probability", 4), (r"mase|rmsse|spl|smape|mae|coverage|strength|brier", 3), (r"pct", 1),
            (r"^factor$", 4), (r".", 2))
MAX_WIDTH = 60


def decimals_of(column: str) -> int:
    return next(d for pattern, d in DECIMALS if re.search(pattern, column))


def rounded(frame: pd.DataFrame, decimals: Mapping[str, int] | None = None) -> pd.DataFrame:
    """``frame`` with each float column rounded to what it means (:data:`DECIMALS`): what the CSVs and the workbook
    both hold, so that they give the same numbers. ``decimals`` names columns of a table of another kind (a
    population, 0: whole numbers) and their decimals."""
    frame = frame.copy()
    decimals = decimals or {}
    for column in frame.columns:
        if column in decimals:
            frame[column] = frame[column].round(decimals[column])
            if decimals[column] == 0:
                frame[column] = frame[column].astype("Int64")
        elif pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(decimals_of(str(column)))
    return frame


def number_format(column: str, values: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(values) or (values.dropna() % 1 == 0).all():
        return "#,##0"
    return "#,##0." + "0" * decimals_of(column)


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One sheet per frame (names cut to Excel's 31 characters), atomically: a bold frozen header with filters,
    numbers rounded (:func:`rounded`) with a display format to match, text stored as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from forecast.output import atomic_file

    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        frame = rounded(frame)
        sheet = book.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", name)[:31])
        sheet.append([str(c) for c in frame.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.data_type = "s"
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
        for j, column in enumerate(frame.columns, start=1):
            values = frame[column]
            letter = get_column_letter(j)
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            fmt = number_format(str(column), values) if numeric else None
            for cell in sheet[letter][1:]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # "=SUM(...)" read from a name stays text: never a formula
                elif fmt and cell.value is not None:
                    cell.number_format = fmt
            width = max([len(str(column))] + [len(str(v)) for v in values.head(500)])
            sheet.column_dimensions[letter].width = min(MAX_WIDTH, width + 2)
        sheet.freeze_panes = "A2"
        if len(frame):
            sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    with atomic_file(path, binary=True) as fh:
        fh.write(buffer.getvalue())
    return Path(path)


def _cell(value):
    """A value as a cell holds it: numbers as numbers, missing as empty, periods and the rest as text."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


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
