"""Seasonal decomposition (robust STL), seasonal indices, strength of seasonality and the seasonal outlook.

The outlook answers the board's question "which crimes may rise over the next 3 months because of
the time of year alone?": the seasonal profile of the next 3 calendar months against the last 3
observed months, as a share of the current level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import STL

PERIOD = 12
PROFILE_YEARS = 5
MIN_STRENGTH = 0.3
MIN_CHANGE_PCT = 2.0


#: the rows of :attr:`Decomposition.values`, and the columns of its ``components``
COMPONENTS = ("observed", "trend", "seasonal", "resid")


@dataclass(frozen=True)
class Decomposition:
    """STL components of one monthly series, with its seasonal indices and strength.

    The components are kept as one array (``values``, a row each of COMPONENTS) beside the series' months: a run
    makes a decomposition of every series in its workers and sends it back, and reads only its outlook, so the
    frame of :attr:`components` is made only when asked."""

    crime_type: str
    area: str
    index: pd.PeriodIndex
    values: np.ndarray

    @cached_property
    def components(self) -> pd.DataFrame:
        """observed, trend, seasonal, resid; indexed by month."""
        return pd.DataFrame(dict(zip(COMPONENTS, self.values)), index=self.index)

    @property
    def observed(self) -> pd.Series:
        return self.components["observed"]

    @property
    def trend(self) -> pd.Series:
        return self.components["trend"]

    @property
    def seasonal(self) -> pd.Series:
        return self.components["seasonal"]

    @property
    def resid(self) -> pd.Series:
        return self.components["resid"]

    @property
    def strength(self) -> float:
        """Strength of seasonality, max(0, 1 - Var(R) / Var(S + R)) (Wang, Smith and Hyndman 2006)."""
        _, _, seasonal, resid = self.values
        sr = _variance(seasonal + resid)
        return float(max(0.0, 1 - _variance(resid) / sr)) if sr > 0 else 0.0

    def profile(self, years: int = PROFILE_YEARS) -> pd.Series:
        """Seasonal effect per calendar month (1..12), averaged over the last ``years`` years, in counts."""
        return pd.Series(self._profile_values(years), index=pd.RangeIndex(1, 13, name=self.index.name),
                         name="seasonal")

    def _profile_values(self, years: int = PROFILE_YEARS) -> np.ndarray:
        """:meth:`profile` as an array (January first): without a grouping a series (a run asks it of every one)."""
        recent = slice(-years * PERIOD, None)
        return monthly_means(self.values[2][recent], self.index.month[recent])

    def indices(self, years: int = PROFILE_YEARS) -> pd.DataFrame:
        """Per calendar month: the seasonal effect in counts and as an index (100 = an average month)."""
        effect = self.profile(years)
        level = float(self.trend.iloc[-years * PERIOD:].mean())
        index = 100 * (1 + effect / level) if level > 0 else pd.Series(100.0, index=effect.index)
        return pd.DataFrame({"month": [pd.Period(f"2000-{m:02d}", "M").strftime("%b") for m in effect.index],
                             "effect": effect.to_numpy(), "index": index.to_numpy()})

    def outlook(self, horizon: int = 3) -> dict:
        """Expected change from seasonality alone, next ``horizon`` months against the last ``horizon``."""
        profile = self._profile_values()
        last = self.index[-1]
        past = [(last.month - 1 - k) % PERIOD for k in range(horizon)]
        future = [(last.month - 1 + k) % PERIOD for k in range(1, horizon + 1)]
        level = float(self.values[1][-horizon:].mean())
        change = float(profile[future].sum() - profile[past].sum())
        pct = 100 * change / (horizon * level) if level > 0 else 0.0
        return {"crime_type": self.crime_type, "area": self.area, "last_month": str(last),
                "next_months": f"{last + 1}..{last + horizon}", "seasonal_change": change / horizon,
                "seasonal_change_pct": pct, "strength": self.strength}


def _variance(x: np.ndarray) -> float:
    """The variance (ddof 0) of the values that are not missing, computed as pandas computes a series' (two passes,
    missing values as 0 in the sums), so that the strength is the same to the last bit as from the components'
    series."""
    missing = np.isnan(x)
    count = np.float64(x.size - missing.sum())
    if count <= 0:
        return np.nan
    x = np.where(missing, 0.0, x)
    squares = np.where(missing, 0.0, (x.sum(dtype=np.float64) / count - x) ** 2)
    return squares.sum(dtype=np.float64) / count


def monthly_means(values: np.ndarray, months: np.ndarray) -> np.ndarray:
    """The mean of ``values`` in each calendar month (``months``: 1-12), January first; 0 for a month with no
    value, NaN for one with only missing values. Summed in order with Kahan's compensation, as pandas' grouped mean
    sums, so that the figures are pandas' to the last bit."""
    sums, compensation, counts, seen = [0.0] * 13, [0.0] * 13, [0] * 13, [False] * 13
    for value, month in zip(values.tolist(), months.tolist()):
        seen[month] = True
        if value != value:
            continue
        y = value - compensation[month]
        t = sums[month] + y
        compensation[month] = t - sums[month] - y
        sums[month] = t
        counts[month] += 1
    return np.array([sums[m] / counts[m] if counts[m] else (np.nan if seen[m] else 0.0) for m in range(1, 13)])


def decompose(y: pd.Series, crime_type: str = "", area: str = "", robust: bool = True) -> Decomposition:
    """Robust STL (period 12) of a monthly series; a series shorter than two years has no seasonal part."""
    values = y.to_numpy(dtype=float)
    if len(values) >= 2 * PERIOD + 1 and np.ptp(values) > 0:
        fit = STL(values, period=PERIOD, robust=robust).fit()
        trend, seasonal, resid = fit.trend, fit.seasonal, fit.resid
    else:
        trend = pd.Series(values).rolling(min(len(values), PERIOD), center=True, min_periods=1).mean().to_numpy()
        seasonal = np.zeros_like(values)
        resid = values - trend
    return Decomposition(crime_type, area, y.index, np.vstack([values, trend, seasonal, resid]))


def seasonal_outlook(decompositions: Iterable[Decomposition], horizon: int = 3) -> pd.DataFrame:
    """The outlook of several series, ranked from the largest seasonal rise to the largest fall."""
    rows = [d.outlook(horizon) for d in decompositions]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("seasonal_change_pct", ascending=False).reset_index(drop=True)


def join_names(names: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def outlook_sentences(outlook: pd.DataFrame, horizon: int = 3, by: str = "crime_type", crime: str | None = None,
                      min_strength: float = MIN_STRENGTH, min_change: float = MIN_CHANGE_PCT) -> list[str]:
    """The board's sentences: which crimes (or, with ``crime``, which of its areas) may rise, and which may fall,
    on seasonality alone, e.g. "Based on seasonality, Robbery and Burglary may rise over the next 3 months".

    Only series with a clear seasonal pattern (strength >= ``min_strength``) and an expected change of at least
    ``min_change`` percent are named; a series without seasonality gets no seasonal sentence.
    """
    if outlook.empty:
        return []
    seasonal = outlook[outlook["strength"] >= min_strength]
    up = seasonal[seasonal["seasonal_change_pct"] >= min_change]
    down = seasonal[seasonal["seasonal_change_pct"] <= -min_change].iloc[::-1]
    out = []
    for rows, verb in ((up, "rise"), (down, "fall")):
        if len(rows):
            names = join_names(rows[by].tolist())
            if crime:
                out.append(f"Based on seasonality, {crime} may {verb} over the next {horizon} months in {names}.")
            else:
                out.append(f"Based on seasonality, {names} may {verb} over the next {horizon} months.")
    return out
