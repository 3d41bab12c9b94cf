"""A large realistic panel for scale tests, made from the real bundled series.

Each synthetic series takes the shape of one real series, drawn at random: its robust STL trend and seasonal
pattern, scaled to a new level (the real level times a log-normal factor, sd 0.5), plus the real series' own STL
residuals resampled in blocks of 6 months (so that the noise keeps its spread and its autocorrelation), rounded to
whole non-negative counts. The crime type is the real series'; the area is "Synthetic NNNNNN". Deterministic for
a seed.

Run: python benchmarks/synthetic_panel.py N OUT.csv.gz [SEED]   (from the Met minor categories, 1,179 series)
The file is a tidy CSV that `forecast run --data OUT.csv.gz --crime all` reads.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

BLOCK = 6


@dataclass(frozen=True)
class Shape:
    """One real series taken apart: its crime type, months, trend + season and residuals."""

    crime_type: str
    months: pd.PeriodIndex
    signal: np.ndarray
    residuals: np.ndarray


def shapes(data: str = "met-minor", min_months: int = 36) -> list[Shape]:
    """The robust STL decomposition of every real series with at least ``min_months`` months and some crime."""
    from statsmodels.tsa.seasonal import STL

    from forecast.io.datasets import load

    panel = load(data)
    out = []
    for (crime, area), y in panel.iter_series():
        values = y.to_numpy(dtype=float)
        if len(values) < min_months or values.mean() < 1:
            continue
        stl = STL(values, period=12, robust=True).fit()
        out.append(Shape(crime, y.index, stl.trend + stl.seasonal, stl.resid))
    return out


def block_resample(residuals: np.ndarray, rng: np.random.Generator, block: int = BLOCK) -> np.ndarray:
    """As many residuals as given, in blocks of ``block`` consecutive months starting at random places."""
    n = len(residuals)
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    return np.concatenate([residuals[s:s + block] for s in starts])[:n]


def synthetic_panel(n: int, seed: int = 0, data: str = "met-minor") -> pd.DataFrame:
    """``n`` synthetic series as a tidy frame (month, area, crime_type, count)."""
    rng = np.random.default_rng(seed)
    sources = shapes(data)
    frames = []
    for i in range(n):
        shape = sources[rng.integers(len(sources))]
        factor = float(np.exp(rng.normal(0.0, 0.5)))
        counts = np.maximum(0, np.round(factor * (shape.signal + block_resample(shape.residuals, rng))))
        frames.append(pd.DataFrame({"month": shape.months.astype(str), "area": f"Synthetic {i:06d}",
                                    "crime_type": shape.crime_type, "count": counts.astype(int)}))
    return pd.concat(frames, ignore_index=True)


def series_of(frame: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """The tidy frame as series by (crime type, area), monthly PeriodIndex."""
    out = {}
    for (crime, area), rows in frame.groupby(["crime_type", "area"], sort=False):
        out[(crime, area)] = pd.Series(rows["count"].to_numpy(dtype=float),
                                       index=pd.PeriodIndex(rows["month"], freq="M"), name="count")
    return out


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    frame = synthetic_panel(n, seed)
    frame.to_csv(out, index=False)
    print(f"wrote {out}: {n} series, {len(frame)} rows, {frame['crime_type'].nunique()} crime types")


if __name__ == "__main__":
    main()
