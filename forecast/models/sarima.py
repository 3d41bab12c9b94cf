"""Seasonal ARIMA with orders chosen by pmdarima's ``auto_arima`` (m = 12). Slow: about 2.5 s a fit."""

from __future__ import annotations

import numpy as np

from forecast.models.base import ForecastModel, arima_paths


class SArima(ForecastModel):
    name = "sarima"

    def __init__(self, m: int = 12, order: tuple | None = None, seasonal_order: tuple | None = None,
                 with_intercept: bool | None = None):
        self.m = m
        self.order = order
        self.seasonal_order = seasonal_order
        self.with_intercept = with_intercept

    def _fit(self, y: np.ndarray) -> None:
        import pmdarima as pm  # on first use: 0.45 s to import beyond what the families share, pyplot with it

        if self.order is None:
            seasonal = len(y) >= 3 * self.m
            self.arima_ = pm.auto_arima(y, seasonal=seasonal, m=self.m if seasonal else 1, suppress_warnings=True,
                                        error_action="ignore", max_p=3, max_q=3, max_P=1, max_Q=1)
        else:
            self.arima_ = pm.ARIMA(order=self.order, seasonal_order=self.seasonal_order,
                                   with_intercept=self.with_intercept, suppress_warnings=True).fit(y)

    def _forecast(self, horizon: int):
        mean, conf = self.arima_.predict(horizon, return_conf_int=True, alpha=0.05)
        return np.asarray(mean), np.maximum((conf[:, 1] - mean) / 1.959963984540054, 0.0)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        return arima_paths(self.arima_, horizon, n_paths, rng)

    def template(self) -> "SArima":
        """An unfitted copy that keeps the chosen orders (cheap refits at later backtest origins)."""
        return SArima(self.m, self.arima_.order, self.arima_.seasonal_order, self.arima_.with_intercept)

    def params(self) -> dict:
        return {"order": str(self.arima_.order), "seasonal_order": str(self.arima_.seasonal_order),
                "with_intercept": bool(self.arima_.with_intercept), "aicc": float(self.arima_.aicc())}
