"""Exponential smoothing (statsmodels ETSModel) with the form chosen by AICc."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecast.errors import ModelFitError
from forecast.models.base import ForecastModel

#: simulated paths behind the intervals of forms without a closed form (multiplicative season): 1,000 (the
#: statsmodels default) leaves the 95% bounds about 3% off from run to run
SIMULATIONS = 5000


class ETS(ForecastModel):
    """Additive-error ETS; trend none / additive / damped and seasonality none / additive / multiplicative,
    picked by AICc. Seasonal forms need two full years; multiplicative ones need positive data."""

    name = "ets"

    def __init__(self, m: int = 12, multiplicative: bool = True, form: tuple | None = None):
        self.m = m
        self.multiplicative = multiplicative
        self.form_choice = form

    def candidates(self, y: np.ndarray) -> list[tuple]:
        if self.form_choice is not None:
            return [self.form_choice]
        seasonal = [None]
        if len(y) >= 2 * self.m + 2:
            seasonal.append("add")
            if self.multiplicative and np.all(y > 0):
                seasonal.append("mul")
        trends = [(None, False), ("add", False), ("add", True)] if len(y) >= 10 else [(None, False)]
        return [(t, d, s) for (t, d), s in itertools.product(trends, seasonal)]

    def _fit(self, y: np.ndarray) -> None:
        endog = pd.Series(y, index=self.y_.index.to_timestamp())
        best = None
        for trend, damped, seasonal in self.candidates(y):
            try:
                model = ETSModel(endog, error="add", trend=trend, damped_trend=damped, seasonal=seasonal,
                                 seasonal_periods=self.m if seasonal else None)
                result = model.fit(disp=False, maxiter=200)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(result.aicc) and (best is None or result.aicc < best.aicc):
                best = result
        if best is None and self.form_choice is not None:
            self.form_choice = None
            return self._fit(y)
        if best is None:
            raise ModelFitError("ets: no exponential smoothing form could be fitted")
        self.result_ = best

    def _forecast(self, horizon: int):
        n = len(self.y_)
        # multiplicative forms get their intervals by simulation: seeded, so that a forecast is reproducible
        prediction = self.result_.get_prediction(start=n, end=n + horizon - 1, simulate_repetitions=SIMULATIONS,
                                                 rng=np.random.default_rng(0))
        frame = prediction.summary_frame(alpha=0.05)
        mean = frame["mean"].to_numpy()
        sd = (frame["pi_upper"].to_numpy() - mean) / 1.959963984540054
        return mean, np.maximum(sd, 0.0)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Paths simulated by statsmodels from the fitted state at the end of the series."""
        sims = self.result_.simulate(horizon, anchor="end", repetitions=n_paths, rng=rng)
        return np.asarray(sims, dtype=float).reshape(horizon, n_paths).T

    def template(self) -> "ETS":
        """An unfitted copy that keeps the chosen form (cheap refits at later backtest origins)."""
        m = self.result_.model
        return ETS(self.m, self.multiplicative, (m.trend, m.damped_trend, m.seasonal))

    def form(self) -> str:
        m = self.result_.model
        trend = "N" if not m.trend else ("Ad" if m.damped_trend else "A")
        seasonal = {None: "N", "add": "A", "mul": "M"}[m.seasonal]
        return f"ETS(A,{trend},{seasonal})"

    def params(self) -> dict:
        out = {"form": self.form(), "aicc": float(self.result_.aicc)}
        for name in ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend"):
            if name in self.result_.model.param_names:
                out[name] = float(self.result_.params[self.result_.model.param_names.index(name)])
        return out
