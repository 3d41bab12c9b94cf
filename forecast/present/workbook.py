"""The board's workbook (`forecast run --format xlsx`): numbers rounded as the board reads them and stored as
numbers, every text cell stored as text (never a formula); numbers rounded by :func:`forecast.rounding.rounded`."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from forecast.files import atomic_file
from forecast.rounding import decimals_of, rounded

MAX_WIDTH = 60


#: the workbook's headers, as the report's columns read: a planner reads them in Excel, not the CSVs' code names
HEADERS = {
    "crime_type": "Crime type", "area": "Area", "last_month": "Last month", "status": "SPC status",
    "icon": "Variation icon", "attention": "Board's order", "step_change": "Latest step change",
    "process_mean": "Process average", "model": "Model", "mase": "MASE", "snaive_mase": "MASE of the seasonal naive",
    "quarter": "Next quarter", "quarter_lo_80": "Next quarter, 80% low", "quarter_hi_80": "Next quarter, 80% high",
    "quarter_lo_95": "Next quarter, 95% low", "quarter_hi_95": "Next quarter, 95% high",
    "vs_last_year_pct": "vs last year %", "vs_average_pct": "vs process average %",
    "p_step_up": "P(step change up)", "p_step_down": "P(step change down)",
    "likely_month": "Likely month of a step change", "p_above_ucl": "P(a month above the UCL)",
    "p_below_lcl": "P(a month below the LCL)", "reconciliation": "Reconciliation", "notes": "Notes",
    "month": "Month", "step": "Months ahead", "mean": "Forecast", "lo_80": "80% low", "hi_80": "80% high",
    "lo_95": "95% low", "hi_95": "95% high", "count": "Recorded crimes", "process": "Process",
    "declared": "Step change declared", "lcl": "Lower control limit", "ucl": "Upper control limit",
    "rule": "SPC rule", "point_type": "Point type", "origin": "Backtest origin", "actual": "Recorded",
    "adjusted": "Seasonally adjusted", "factor": "Seasonal factor", "sentence": "Sentence",
}


def header(column: str, sheet: str = "") -> str:
    """A column's header in the workbook: 'Forecast, month 1' for m1, 'Month 1' for m1_month, and the
    report's words for the rest (on the SPC sheet, ``mean`` is the process average)."""
    match = re.fullmatch(r"m(\d+)(_month)?", column)
    if match:
        return f"Month {match.group(1)}" if match.group(2) else f"Forecast, month {match.group(1)}"
    if sheet == "SPC" and column == "mean":
        return "Process average"
    return HEADERS.get(column, column.replace("_", " ").capitalize())


def number_format(column: str, values: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(values) or (values.dropna() % 1 == 0).all():
        return "#,##0"
    return "#,##0." + "0" * decimals_of(column)


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One sheet per frame (names cut to Excel's 31 characters), atomically: a bold frozen header of readable names
    (:func:`header`) with filters, numbers rounded (:func:`rounded`) with a display format to match, text stored as
    text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        frame = rounded(frame)
        sheet = book.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", name)[:31])
        sheet.append([header(str(c), name) for c in frame.columns])
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
