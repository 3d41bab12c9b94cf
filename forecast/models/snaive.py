"""Seasonal naive: next month is the same month last year. The baseline every model must beat."""

from __future__ import annotations

import numpy as np

from forecast.models.base import ForecastModel, seasonal_naive_errors


class SeasonalNaive(ForecastModel):
    """y(t+h) = y(t+h-12); intervals from the in-sample seasonal differences (Hyndman & Athanasopoulos 5.5)."""

    name = "snaive"

    def __init__(self, m: int = 12):
        self.m = m

    def _fit(self, y: np.ndarray) -> None:
        self.lag_ = self.m if len(y) >= self.m else 1
        errors = seasonal_naive_errors(y, self.lag_)
        self.sigma_ = float(np.sqrt(np.mean(errors ** 2))) if errors.size else 0.0
        self.last_ = y[-self.lag_:]

    def _forecast(self, horizon: int):
        h = np.arange(horizon)
        mean = self.last_[h % self.lag_]
        sd = self.sigma_ * np.sqrt(h // self.lag_ + 1)
        return mean.astype(float), sd

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Each month's error is a new shock plus the error of the same month a year (lag) earlier."""
        mean, _ = self._forecast_once(horizon)
        errors = rng.standard_normal((n_paths, horizon)) * self.sigma_
        for h in range(self.lag_, horizon):
            errors[:, h] += errors[:, h - self.lag_]
        return mean + errors

    def params(self) -> dict:
        return {"lag": self.lag_, "sigma": self.sigma_}
