"""Seasonal adjustment for SPC: multiplicative seasonal factors of a monthly count series, estimated causally,
so that XmR signals are net of the time of year (docs/SPC.md section 9).

A factor of 1.12 for July means July runs 12% above an average month. At each month t the twelve factors are
re-estimated from the data up to t alone: the ratio of each month to its centred 12-month (2x12) moving average,
which exists only for months at least six months before t, then per calendar month the median of the latest
``YEARS`` such ratios, scaled so that the twelve factors average 1. Month t is adjusted by the factor for its
calendar month estimated at t, so the adjusted value of a month never changes when later months arrive: replaying
the step-change rules month by month on the adjusted series is what each monthly report would have shown.
Until every calendar month has ``MIN_YEARS`` ratios (two full years of ratios, so from the 37th month), the
months are left raw and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERIOD = 12
#: ratios per calendar month before a factor is estimated (two full years)
MIN_YEARS = 2
#: the latest years of ratios whose median makes a factor (older seasons may have changed)
YEARS = 5
METHOD = ("multiplicative; each month's factor re-estimated from the data up to that month: ratio to the centred "
          f"12-month average, median of the latest {YEARS} years per calendar month, scaled to average 1")


def centred_moving_average(values: np.ndarray) -> np.ndarray:
    """The 2x12 centred moving average (NaN where the window runs off either end or holds a missing month)."""
    out = np.full(values.size, np.nan)
    weights = np.r_[0.5, np.ones(PERIOD - 1), 0.5] / PERIOD
    if values.size > PERIOD:
        out[PERIOD // 2:values.size - PERIOD // 2] = np.convolve(values, weights, mode="valid")
    return out


def causal_factors(values: np.ndarray, calendar: np.ndarray) -> np.ndarray:
    """Row t: the twelve factors (January first) estimated from ``values[:t + 1]``; NaN rows until every
    calendar month has ``MIN_YEARS`` ratios and a factor above zero. ``calendar`` is each value's calendar
    month (1-12)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cma = centred_moving_average(values)
        ratios = np.where(cma > 0, values / cma, np.nan)
    # each calendar month's months with a ratio, in order: at month t its ratios are those up to t - 6
    known = [np.flatnonzero((calendar == m) & np.isfinite(ratios)) for m in range(1, PERIOD + 1)]
    factors = np.full((values.size, PERIOD), np.nan)
    for t in range(values.size):
        last = t - PERIOD // 2  # the last month whose centred average uses no month after t
        row = np.full(PERIOD, np.nan)
        for m, months in enumerate(known):
            n = int(np.searchsorted(months, last, side="right"))
            if n >= MIN_YEARS:
                row[m] = np.median(ratios[months[max(0, n - YEARS):n]])
        if (row > 0).all():
            factors[t] = row / row.mean()
        elif t and np.isfinite(factors[t - 1]).all():
            # a month with no crimes in most years has no multiplicative factor: keep the last good estimate
            factors[t] = factors[t - 1]
    return factors


def applied(factors: np.ndarray, calendar: np.ndarray) -> np.ndarray:
    """The factor each month was adjusted by: its calendar month's, in the row estimated at that month."""
    return factors[np.arange(len(calendar)), calendar - 1]


def divided(values: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """The values divided by their factors; a value without a factor (NaN) stays raw."""
    known = np.isfinite(factors)
    return np.where(known, values / np.where(known, factors, 1.0), values)


def ahead(factors: np.ndarray, last: pd.Period, horizon: int) -> np.ndarray:
    """From one row of twelve factors, those of the ``horizon`` months after ``last``."""
    return np.array([factors[(last + h).month - 1] for h in range(1, horizon + 1)])


@dataclass(frozen=True)
class Adjustment:
    """How a series was adjusted: the factor applied to each month (NaN: left raw) and the twelve factors of
    its last month, which also adjust the months after it (forecasts and sample paths)."""

    months: pd.PeriodIndex
    factors: np.ndarray
    latest: np.ndarray

    @property
    def adjusted(self) -> np.ndarray:
        return np.isfinite(self.factors)

    @property
    def first_adjusted(self) -> pd.Period | None:
        return self.months[int(np.argmax(self.adjusted))] if self.adjusted.any() else None

    def ahead(self, horizon: int) -> np.ndarray:
        """The factors of the ``horizon`` months after the last, as estimated at the last month."""
        return ahead(self.latest, self.months[-1], horizon)

    def to_dict(self) -> dict:
        """The JSON shape: the method, the months adjusted and the latest factors by calendar month."""
        raw = int((~self.adjusted).sum())
        return {"method": METHOD, "first_adjusted_month": None if self.first_adjusted is None else
                str(self.first_adjusted), "raw_months": raw,
                "latest_factors_from": f"{self.months[0]}..{self.months[-1]}",
                "latest_factors": {pd.Period(f"2000-{m:02d}", "M").strftime("%b"): round(float(f), 4)
                                   for m, f in enumerate(self.latest, start=1)}}


def replay_values(y: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """For replaying history: the adjusted values (raw where no factor was known yet) and every month's twelve
    factors (:func:`causal_factors`), so that an origin t can adjust its sample paths by row t."""
    values, calendar = y.to_numpy(dtype=float), y.index.month.to_numpy()
    factors = causal_factors(values, calendar)
    return divided(values, applied(factors, calendar)), factors


def seasonal_adjustment(y: pd.Series) -> Adjustment | None:
    """The causal adjustment of a monthly series (PeriodIndex, no gaps), or None when it is too short for one."""
    calendar = y.index.month.to_numpy()
    factors = causal_factors(y.to_numpy(dtype=float), calendar)
    if not np.isfinite(factors[-1]).all():
        return None
    return Adjustment(y.index, applied(factors, calendar), factors[-1])


def adjusted_values(y: pd.Series, adjustment: Adjustment) -> np.ndarray:
    """The counts divided by their month's factor; the months before the first adjusted one stay raw."""
    return divided(y.to_numpy(dtype=float), adjustment.factors)
