"""Exponential smoothing (statsmodels ETSModel) with the form chosen by AICc."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel, ETSResults, ETSResultsWrapper

from forecast.errors import ModelFitError
from forecast.models.base import LIBRARY_ERRORS, ForecastModel

#: simulated paths behind the intervals of forms without a closed form (multiplicative season): 1,000 (the
#: statsmodels default) leaves the 95% bounds about 3% off from run to run
SIMULATIONS = 5000


#: optimizer iterations of a fit: 50 instead of 200 cut the ETS cost by a third; with the stepwise search, ETS's
#: backtest MASE went from 0.689 to 0.692 and the ensemble's stayed 0.642 (docs/SCALE.md)
MAXITER = 50


class _Results(ETSResults):
    """statsmodels' ETS results without the parameters' covariance: its numerical Hessian was a third of every
    fit's cost, and nothing here reads standard errors (forecasts and intervals come from the parameters and the
    residual variance)."""

    @property
    def cov_params_approx(self) -> np.ndarray:
        return np.full((len(self.params), len(self.params)), np.nan)


class _Model(ETSModel):
    """:class:`ETSModel` whose fits return :class:`_Results`."""

    @property
    def _res_classes(self):
        return {"fit": (_Results, ETSResultsWrapper)}


class ETS(ForecastModel):
    """Additive-error ETS; trend none / additive / damped and seasonality none / additive / multiplicative,
    picked by AICc, stepwise: the season first (without trend), then the trend given that season. Seasonal forms
    need two full years; multiplicative ones need positive data."""

    name = "ets"

    def __init__(self, m: int = 12, multiplicative: bool = True, form: tuple | None = None,
                 start_params: np.ndarray | None = None):
        self.m = m
        self.multiplicative = multiplicative
        self.form_choice = form
        self.start_params = start_params

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
        self.skipped_ = []
        # numbered, not dated: statsmodels' date handling was half of each forecast's cost, and the fit and
        # forecast are the same without it (a bare array fails in its prediction results)
        endog = pd.Series(y)
        forms = self.candidates(y)
        best = None
        if len(forms) > 1:
            # stepwise: 5 of the 9 forms (docs/SCALE.md)
            best = self._best(endog, [f for f in forms if f[0] is None])
            if best is not None:
                forms = [f for f in forms if f[0] is not None and f[2] == _form(best)[2]]
        best = self._best(endog, forms, best)
        if best is None and self.form_choice is not None:
            self.form_choice = self.start_params = None
            return self._fit(y)
        if best is None:
            raise ModelFitError("ets: no exponential smoothing form could be fitted")
        self.result_ = best

    def _best(self, endog: pd.Series, forms: list[tuple], best=None):
        """The fit of lowest AICc among ``forms`` and ``best``; a given form starts from ``start_params``."""
        for trend, damped, seasonal in forms:
            try:
                model = _Model(endog, error="add", trend=trend, damped_trend=damped, seasonal=seasonal,
                                 seasonal_periods=self.m if seasonal else None)
                result = model.fit(start_params=self.start_params, disp=False, maxiter=MAXITER)
            except LIBRARY_ERRORS as exc:
                # a form the series cannot take (a singular fit, a bound): the others are searched, and the
                # skipped ones are recorded with the fit (params, MLflow); none at all is a ModelFitError below
                self.skipped_ = [*getattr(self, "skipped_", []), f"{_name(trend, damped, seasonal)}: "
                                 f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]}"]
                continue
            if np.isfinite(result.aicc) and (best is None or result.aicc < best.aicc):
                best = result
        return best

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
        """An unfitted copy that keeps the chosen form and starts from these parameters (cheap refits at later
        backtest origins and for the final forecast)."""
        return ETS(self.m, self.multiplicative, _form(self.result_), np.asarray(self.result_.params, dtype=float))

    def form(self) -> str:
        m = self.result_.model
        return _name(m.trend, m.damped_trend, m.seasonal)

    def params(self) -> dict:
        out = {"form": self.form(), "aicc": float(self.result_.aicc), "forms_failed": len(self.skipped_)}
        for name in ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend"):
            if name in self.result_.model.param_names:
                out[name] = float(self.result_.params[self.result_.model.param_names.index(name)])
        return out


SEASONAL_LETTERS = {None: "N", "add": "A", "mul": "M"}


def _name(trend, damped, seasonal) -> str:
    """'ETS(A,Ad,M)': the form's name in Hyndman's taxonomy (errors always additive here)."""
    trend_letter = "N" if not trend else ("Ad" if damped else "A")
    return f"ETS(A,{trend_letter},{SEASONAL_LETTERS[seasonal]})"


def _form(result) -> tuple:
    """(trend, damped, seasonal) of a fitted ETS."""
    m = result.model
    return m.trend, m.damped_trend, m.seasonal
