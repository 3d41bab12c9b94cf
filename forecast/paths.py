"""Sample paths from a forecast's predictive distribution, for quarter totals and the step-change outlook.

A forecast frame gives each month's mean and interval; the paths keep those monthly margins and let
errors accumulate from month to month (each month's error is the previous month's plus an
independent increment), as they do in the exponential smoothing and ARIMA models used here. This
makes quarter totals a little wider than a model with partly independent monthly errors would give:
an honest, slightly cautious choice. Paths are clipped at zero and rounded for counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.models.base import z_value


def implied_sd(frame: pd.DataFrame) -> np.ndarray:
    """Each month's predictive standard deviation from the upper bounds (lower ones may be clipped at 0)."""
    mean = frame["mean"].to_numpy(dtype=float)
    for level in (95, 80):
        col = f"hi_{level}"
        if col in frame:
            return np.maximum((frame[col].to_numpy(dtype=float) - mean) / z_value(level), 0.0)
    raise ValueError("a forecast frame needs hi_95 or hi_80 to sample paths")


def sample_paths(frame: pd.DataFrame, n_paths: int = 2000, seed: int | None = 0, whole: bool = False,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """An (n_paths, horizon) array of future values with the frame's monthly means and spreads."""
    rng = rng or np.random.default_rng(seed)
    mean = frame["mean"].to_numpy(dtype=float)
    sd = np.maximum.accumulate(implied_sd(frame))
    steps = np.sqrt(np.diff(np.concatenate(([0.0], sd ** 2))))
    errors = np.cumsum(rng.standard_normal((n_paths, len(mean))) * steps, axis=1)
    paths = np.clip(mean + errors, 0.0, None)
    return np.round(paths) if whole else paths


def total_interval(frame: pd.DataFrame, levels=(80, 95), n_paths: int = 4000, seed: int = 0) -> dict:
    """The forecast total over the frame's months with central intervals from sample paths."""
    totals = sample_paths(frame, n_paths, seed).sum(axis=1)
    out = {"total": float(frame["mean"].sum())}
    for level in levels:
        out[f"lo_{level}"], out[f"hi_{level}"] = (float(q) for q in np.quantile(totals, [0.5 - level / 200,
                                                                                       0.5 + level / 200]))
    return out
