"""The Theta method (statsmodels ThetaModel), strong on monthly crime series (M3 winner)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.tsa.forecasting.theta import ThetaModel

from forecast.models.base import ForecastModel, local_level_paths


class Theta(ForecastModel):
    """Theta with classical deseasonalisation (multiplicative for positive data, else additive)."""

    name = "theta"

    def __init__(self, m: int = 12):
        self.m = m

    def _fit(self, y: np.ndarray) -> None:
        endog = pd.Series(y, index=self.y_.index.to_timestamp())
        deseasonalize = len(y) >= 2 * self.m
        method = "multiplicative" if np.all(y > 0) else "additive"
        self.model_ = ThetaModel(endog, period=self.m, deseasonalize=deseasonalize, method=method)
        self.result_ = self.model_.fit()

    def _forecast(self, horizon: int):
        mean = self.result_.forecast(horizon).to_numpy()
        bounds = self.result_.prediction_intervals(horizon, alpha=0.05)
        sd = (bounds["upper"].to_numpy() - mean) / 1.959963984540054
        return mean, np.maximum(sd, 0.0)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Theta is simple exponential smoothing with drift: errors correlate across months as in an IMA(1,1)
        with weight alpha on earlier shocks; each month keeps the model's own mean and spread."""
        mean, sd = self._forecast(horizon)
        return local_level_paths(mean, sd, float(self.result_.params["alpha"]), n_paths, rng)

    def params(self) -> dict:
        p = self.result_.params
        return {"theta": 2.0, "alpha": float(p["alpha"]), "b0": float(p["b0"]),
                "deseasonalized": bool(self.model_.deseasonalize), "method": self.model_.method}
