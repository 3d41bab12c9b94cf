"""The Theta method (statsmodels ThetaModel), strong on monthly crime series (M3 winner)."""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecast.models.base import ForecastModel, local_level_paths


class Theta(ForecastModel):
    """Theta with classical deseasonalisation (multiplicative for positive data, else additive)."""

    name = "theta"

    def __init__(self, m: int = 12, start_params: np.ndarray | None = None):
        self.m = m
        self.start_params = start_params

    def _fit(self, y: np.ndarray) -> None:
        deseasonalize = len(y) >= 2 * self.m
        method = "multiplicative" if np.all(y > 0) else "additive"
        self.model_ = ThetaModel(y, period=self.m, deseasonalize=deseasonalize, method=method)
        self.result_ = self.model_.fit()
        # the innovation variance as statsmodels estimates it for the intervals (ThetaModelResults.sigma2: an
        # ARIMA(0,1,1) with drift on the series, by maximum likelihood), here started from the template's estimate:
        # the fit from scratch was most of Theta's cost at every backtest origin
        variance = SARIMAX(y, order=(0, 1, 1), trend="c").fit(start_params=self.start_params, disp=False,
                                                               cov_type="none")
        self.variance_params_ = np.asarray(variance.params, dtype=float)

    def _forecast(self, horizon: int):
        """The forecast, and the spread statsmodels' prediction intervals use:
        sigma2 (1 + (h-1)(1 + (alpha-1)^2)) at h months ahead."""
        mean = np.asarray(self.result_.forecast(horizon), dtype=float)
        alpha = float(self.result_.params["alpha"])
        variance = (1 + np.arange(horizon) * (1 + (alpha - 1) ** 2)) * self.variance_params_[-1]
        return mean, np.sqrt(np.maximum(variance, 0.0))

    def template(self) -> "Theta":
        """An unfitted copy that starts the variance's estimate from this one (cheap refits at later origins)."""
        return Theta(self.m, self.variance_params_)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Theta is simple exponential smoothing with drift: errors correlate across months as in an IMA(1,1)
        with weight alpha on earlier shocks; each month keeps the model's own mean and spread."""
        mean, sd = self._forecast_once(horizon)
        return local_level_paths(mean, sd, float(self.result_.params["alpha"]), n_paths, rng)

    def params(self) -> dict:
        p = self.result_.params
        return {"theta": 2.0, "alpha": float(p["alpha"]), "b0": float(p["b0"]),
                "deseasonalized": bool(self.model_.deseasonalize), "method": self.model_.method}
