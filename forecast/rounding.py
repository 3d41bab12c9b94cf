"""The one rounding of every published number: each column to what it means, the same in the CSVs, the workbook,
the report and `forecast predict` (it imports nothing of ours, so any stage may use it)."""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
import pandas as pd

#: decimals by column name (the first pattern that matches): probabilities to 4 (2,000 paths resolve 0.0005),
#: scores to 3, percentages to whole numbers (as the board reads them, so that no table shows -6% where the
#: CSV's -5.5 was -5.47) but a forecast's error to one decimal (as the winter tables give it), counts and forecasts
#: of counts to 2; whole numbers stay whole
DECIMALS = ((r"^p_|probability", 4), (r"mase|rmsse|spl|smape|mae|coverage|strength|brier", 3), (r"error_pct", 1),
            (r"pct", 0),
            (r"^factor$", 4), (r".", 2))


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


def rounded_value(value: float, column: str) -> float:
    """One number rounded as :func:`rounded` rounds its column (numpy's rounding, which pandas uses), for what is
    published one number at a time (MLflow metrics). Python's ``round`` can differ at a half: 63/80 is 0.7875, which
    it gives as 0.787 where the tables say 0.788."""
    return float(np.round(value, decimals_of(column)))
