"""Sample paths of the next months, for quarter totals and the step-change outlook.

A path must carry the correlation of forecast errors from month to month that the model implies:
the chance that all three months fall below the average is 0.125 for independent errors and 0.5
for perfectly correlated ones, and every run-based probability depends on it. So paths come from
the fitted model's own simulation (see each family's ``_simulate`` and docs/PATHS.md). Only a bare
forecast frame, with no model behind it, falls back to :func:`sample_paths`, which reads the
correlation off the growth of the intervals. Paths are clipped at zero and rounded for counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.models.base import local_level_paths, z_value


def implied_sd(frame: pd.DataFrame) -> np.ndarray:
    """Each month's predictive standard deviation from the upper bounds (lower ones may be clipped at 0)."""
    mean = frame["mean"].to_numpy(dtype=float)
    for level in (95, 80):
        col = f"hi_{level}"
        if col in frame:
            return np.maximum((frame[col].to_numpy(dtype=float) - mean) / z_value(level), 0.0)
    raise ValueError("a forecast frame needs hi_95 or hi_80 to sample paths")


def implied_weight(sd: np.ndarray) -> float:
    """The IMA(1,1) weight on earlier shocks whose variance growth, sd_h^2 = sd_1^2 (1 + (h-1) w^2), best
    matches the frame's (least squares); 0 (independent months) for flat or single-month intervals."""
    sd = np.asarray(sd, dtype=float)
    if sd.size < 2 or not sd[0] > 0:
        return 0.0
    growth = (sd[1:] / sd[0]) ** 2 - 1
    h = np.arange(1, sd.size)
    return float(np.sqrt(np.clip(np.sum(growth * h) / np.sum(h * h), 0.0, 1.0)))


def sample_paths(frame: pd.DataFrame, n_paths: int = 2000, seed: int | None = 0, whole: bool = False,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """An (n_paths, horizon) array of future values with the frame's monthly means and spreads, for a frame
    with no fitted model behind it."""
    rng = rng or np.random.default_rng(seed)
    sd = implied_sd(frame)
    paths = np.clip(local_level_paths(frame["mean"].to_numpy(dtype=float), sd, implied_weight(sd), n_paths, rng),
                    0.0, None)
    return np.round(paths) if whole else paths


def model_paths(model, forecast: pd.DataFrame, n_paths: int, rng: np.random.Generator,
                whole: bool = False) -> np.ndarray:
    """Paths from the fitted model's own simulation where it has one, else from its forecast frame."""
    paths = model.simulate(len(forecast), n_paths, rng) if model is not None else None
    if paths is None:
        paths = sample_paths(forecast, n_paths, rng=rng)
    paths = np.clip(paths, 0.0, None)
    return np.round(paths) if whole else paths


def total_interval(paths: np.ndarray, total: float, levels=(80, 95)) -> dict:
    """The forecast total over the paths' months (``total``, the sum of the monthly means) with central
    intervals from the paths' sums."""
    totals = np.asarray(paths).sum(axis=1)
    out = {"total": float(total)}
    for level in levels:
        out[f"lo_{level}"], out[f"hi_{level}"] = (float(q) for q in np.quantile(totals, [0.5 - level / 200,
                                                                                       0.5 + level / 200]))
    return out
