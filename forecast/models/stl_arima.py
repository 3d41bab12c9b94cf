"""Seasonal decomposition (robust STL), then ARIMA on the seasonally adjusted series (pmdarima).

The seasonal part of the last year is carried forward. Its year-to-year wobble is added to the
ARIMA forecast variance, so that the interval carries the seasonal component's uncertainty too.
"""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.seasonal import STL

from forecast.models.base import ForecastModel, arima_paths


class STLArima(ForecastModel):
    name = "stl-arima"

    def __init__(self, m: int = 12, seasonal_window: int = 7, seasonal_years: int = 5, order: tuple | None = None,
                 with_intercept: bool | None = None, start_params: np.ndarray | None = None):
        self.m = m
        self.seasonal_window = seasonal_window
        self.seasonal_years = seasonal_years
        self.order = order
        self.with_intercept = with_intercept
        self.start_params = start_params

    def _fit(self, y: np.ndarray) -> None:
        import pmdarima as pm  # on first use: 0.45 s to import beyond what the families share, pyplot with it

        if len(y) >= 2 * self.m + 1:
            stl = STL(y, period=self.m, seasonal=self.seasonal_window, robust=True).fit()
            self.seasonal_ = stl.seasonal
            self.seasonal_var_ = self.carry_forward_variance(self.seasonal_)
        else:
            self.seasonal_ = np.zeros_like(y)
            self.seasonal_var_ = 0.0
        adjusted = y - self.seasonal_
        if self.order is None:
            # stepwise among ARIMA(p,d,q) with p, q <= 1 (d by the KPSS test): the seasonally adjusted crime series
            # mostly take (0,1,1); up to order 3 cost 4 times as much for no better backtest scores (docs/SCALE.md).
            # No covariance of the parameters (cov_type="none"): nothing here uses it, and its numerical Hessian
            # was a tenth of each fit
            self.arima_ = pm.auto_arima(adjusted, seasonal=False, suppress_warnings=True, error_action="ignore",
                                        start_p=1, start_q=1, max_p=1, max_q=1, max_d=1, cov_type="none")
        else:
            self.arima_ = pm.ARIMA(order=self.order, with_intercept=self.with_intercept,
                                   start_params=self.start_params, suppress_warnings=True).fit(adjusted,
                                                                                               cov_type="none")

    def _forecast(self, horizon: int):
        mean, conf = self.arima_.predict(horizon, return_conf_int=True, alpha=0.05)
        sd_arima = (conf[:, 1] - mean) / 1.959963984540054
        h = np.arange(horizon)
        season = self.season_profile()[h % self.m]
        years = h // self.m + 1
        sd = np.sqrt(sd_arima ** 2 + self.seasonal_var_ * years)
        return np.asarray(mean) + season, sd

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """ARIMA paths of the adjusted series (statsmodels), plus the carried-forward season and its own
        independent error each month."""
        h = np.arange(horizon)
        season = self.season_profile()[h % self.m]
        wobble = rng.standard_normal((n_paths, horizon)) * np.sqrt(self.seasonal_var_ * (h // self.m + 1))
        return arima_paths(self.arima_, horizon, n_paths, rng) + season + wobble

    def carry_forward_variance(self, seasonal: np.ndarray) -> float:
        """Mean squared error of forecasting each seasonal value by the mean of its previous years (as in
        :meth:`season_profile`), over the last three years: the seasonal part's own forecast uncertainty."""
        errors = []
        for t in range(self.m, len(seasonal)):
            k = min(self.seasonal_years, t // self.m)
            errors.append(seasonal[t] - seasonal[t - self.m * np.arange(1, k + 1)].mean())
        errors = np.asarray(errors[-3 * self.m:])
        return float(np.mean(errors ** 2)) if errors.size else 0.0

    def season_profile(self) -> np.ndarray:
        """The next 12 months' seasonal part: the mean of the last ``seasonal_years`` years of the component."""
        years = min(self.seasonal_years, len(self.seasonal_) // self.m)
        if years == 0:
            return np.zeros(self.m)
        return self.seasonal_[len(self.seasonal_) - years * self.m:].reshape(years, self.m).mean(axis=0)

    def template(self) -> "STLArima":
        """An unfitted copy that keeps the chosen ARIMA order and starts from these parameters (cheap refits at later
        backtest origins and for the final forecast)."""
        return STLArima(self.m, self.seasonal_window, self.seasonal_years, self.arima_.order,
                        self.arima_.with_intercept, np.asarray(self.arima_.params(), dtype=float))

    def params(self) -> dict:
        return {"order": str(self.arima_.order), "with_intercept": bool(self.arima_.with_intercept),
                "aicc": float(self.arima_.aicc()), "seasonal_window": self.seasonal_window,
                "seasonal_sd": float(np.sqrt(self.seasonal_var_))}
