"""The one small interface every model family implements, and what they share."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecast.errors import ModelFitError

LEVELS = (80, 95)
#: what the statistical libraries (statsmodels, pmdarima, scikit-learn, numpy's linear algebra) raise when a model
#: cannot be estimated on a series: a singular matrix, a parameter outside its bounds, an overflow
LIBRARY_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


@contextlib.contextmanager
def estimating(name: str):
    """Around a family's estimation, forecast or simulation: the library's failure on this series becomes the
    family's :class:`ModelFitError` (the library's error kept as its cause), which callers count and say; every
    other error is a bug and keeps its traceback."""
    try:
        yield
    except LIBRARY_ERRORS as exc:
        text = str(exc).strip().splitlines()
        raise ModelFitError(f"{name}: {text[0][:200] if text else type(exc).__name__}") from exc


@functools.lru_cache(maxsize=512)
def months_after(last: pd.Period, horizon: int) -> pd.PeriodIndex:
    """The ``horizon`` months after ``last``: asked for by every forecast of a backtest, and the same few each time
    (an index is immutable, so one can be shared)."""
    return pd.period_range(last + 1, periods=horizon, freq="M")


def at_least_zero(columns: dict) -> dict[str, np.ndarray]:
    """Forecast columns as float arrays, clipped at zero (no count, and no bound of one, is negative)."""
    return {name: np.maximum(np.asarray(v, dtype=float), 0.0) for name, v in columns.items()}


def forecast_frame(columns: dict, index: pd.PeriodIndex) -> pd.DataFrame:
    """A forecast's frame (mean and bounds by month), never below zero; built from one array rather than column by
    column, which costs several times more."""
    values = np.column_stack(list(at_least_zero(columns).values()))
    return pd.DataFrame(values, index=index, columns=list(columns))


def interval_columns(levels=LEVELS) -> list[str]:
    return [c for level in levels for c in (f"lo_{level}", f"hi_{level}")]


@functools.lru_cache(maxsize=64)
def z_value(level: float) -> float:
    """Two-sided normal quantile for a central interval of ``level`` percent."""
    return float(norm.ppf(0.5 + level / 200))


class ForecastModel:
    """``fit(y)`` on a monthly series, then ``predict(horizon, levels)``: sklearn/pmdarima style.

    ``__init__`` only stores settings; ``fit`` validates, sets trailing-underscore state and returns
    self; ``predict`` refuses to run before ``fit``. Forecasts and bounds are clipped at zero. A flat
    series (all zeros, say) gets its constant as the forecast, with no spread, from every family.
    """

    name = "base"

    def fit(self, y: pd.Series) -> "ForecastModel":
        values = self._take(y)
        if self.constant_ is None:
            with estimating(self.name):
                self._fit(values)
        return self

    def fit_values(self, values: np.ndarray) -> "ForecastModel":
        """:meth:`fit` on a series' finite values alone, without its months (so no :meth:`future_index` or
        :meth:`predict`): for :mod:`forecast.engine.batch`, which fits many series at each backtest origin and
        needs only their forecasts' numbers."""
        values = self._flat(np.asarray(values, dtype=float))
        if self.constant_ is None:
            with estimating(self.name):
                self._fit(values)
        return self

    def _take(self, y: pd.Series) -> np.ndarray:
        """Check and keep the series (``y_``) and whether it is flat (``constant_``); returns its values."""
        self.y_ = self._check(y)
        return self._flat(self.y_.to_numpy(dtype=float))

    def _flat(self, values: np.ndarray) -> np.ndarray:
        """A new fit's state: no forecasts yet, and the constant of a flat series (``constant_``, else None)."""
        self._forecasts = {}
        self.constant_ = float(values[0]) if np.ptp(values) == 0 else None
        return values

    def predict(self, horizon: int = 3, levels=LEVELS) -> pd.DataFrame:
        """Mean and central prediction intervals for the next ``horizon`` months."""
        return forecast_frame(self.forecast_columns(horizon, levels), self.future_index(horizon))

    def forecast_columns(self, horizon: int = 3, levels=LEVELS) -> dict[str, np.ndarray]:
        """:meth:`predict`'s columns (``mean``, then ``lo_`` and ``hi_`` of each level), never below zero, without
        the frame: a backtest scores a dozen forecasts a series, and their frames were a tenth of a sparse
        series' cost."""
        if not hasattr(self, "y_"):
            raise ModelFitError(f"{self.name}: predict() called before fit()")
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        if self.constant_ is not None:
            mean, sd = np.full(horizon, self.constant_), np.zeros(horizon)
        else:
            mean, sd = self._forecast_once(horizon)
        columns = {"mean": mean}
        for level in levels:
            columns[f"lo_{level}"], columns[f"hi_{level}"] = self._interval(mean, sd, level)
        return at_least_zero(columns)

    def _forecast_once(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_forecast`, computed once per fit and horizon: a run asks a fitted model for the same months for
        its forecast, its sample paths and the ensemble's, and some families simulate to answer."""
        cache = vars(self).setdefault("_forecasts", {})
        if horizon not in cache:
            with estimating(self.name):
                cache[horizon] = self._forecast(horizon)
        return cache[horizon]

    def simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray | None:
        """Sample paths (n_paths x horizon) with the error correlation across months that the model implies:
        the library's own simulation where it has one, else the family's error structure. None where the
        family has neither (callers then fall back to :func:`forecast.models.paths.sample_paths`)."""
        if not hasattr(self, "y_"):
            raise ModelFitError(f"{self.name}: simulate() called before fit()")
        if self.constant_ is not None:
            return np.full((n_paths, horizon), self.constant_)
        with estimating(self.name):
            return self._simulate(horizon, n_paths, rng)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray | None:
        return None

    def params(self) -> dict:
        """Fitted parameters worth recording (orders, AICc, smoothing parameters)."""
        return {}

    def fitted_params(self) -> dict:
        """:meth:`params`, or the constant of a flat series (which no family needs to fit)."""
        return {"constant": self.constant_} if self.constant_ is not None else self.params()

    def future_index(self, horizon: int) -> pd.PeriodIndex:
        return months_after(self.y_.index[-1], horizon)

    def _interval(self, mean: np.ndarray, sd: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        z = z_value(level)
        return mean - z * sd, mean + z * sd

    @staticmethod
    def _check(y: pd.Series) -> pd.Series:
        if not isinstance(y, pd.Series) or not isinstance(y.index, pd.PeriodIndex):
            raise ModelFitError("fit() needs a pandas Series indexed by a monthly PeriodIndex")
        values = y.to_numpy(dtype=float)
        if len(values) < 3:
            raise ModelFitError(f"a forecast needs at least 3 months, got {len(values)}")
        if not np.all(np.isfinite(values)):
            raise ModelFitError("the series has missing or infinite values")
        return y.astype(float)

    def _fit(self, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forecast(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """Point forecasts and their standard deviations."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def seasonal_naive_errors(y: np.ndarray, m: int = 12) -> np.ndarray:
    """In-sample errors of the seasonal naive forecast (naive when the series is shorter than m + 1)."""
    lag = m if len(y) > m else 1
    return y[lag:] - y[:-lag]


def ses(x: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Simple exponential smoothing from the first value: the level before each value, and after the last."""
    level = float(x[0])
    before = np.empty(len(x))
    for i, value in enumerate(x):
        before[i] = level
        level += alpha * (value - level)
    return before, level


def local_level_paths(mean: np.ndarray, sd: np.ndarray, weight: float, n_paths: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Normal paths with the given monthly means and standard deviations and the error correlation of an
    integrated MA(1) (simple exponential smoothing, Theta): the error h months ahead is the new shock plus
    ``weight`` times every earlier shock of the horizon. ``weight`` 0 gives independent months, 1 a random walk."""
    mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    shocks = rng.standard_normal((n_paths, mean.size))
    earlier = np.cumsum(shocks, axis=1) - shocks
    errors = (shocks + weight * earlier) / np.sqrt(1 + weight ** 2 * np.arange(mean.size))
    return mean + sd * errors


def arima_paths(arima, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Paths of a fitted pmdarima ARIMA from the end of its data: its forecast plus draws from the joint normal
    distribution of the next months' errors (:func:`forecast_covariance`). The same distribution as statsmodels'
    ``simulate(anchor="end")``, drawn at once instead of one path at a time (a series' paths took 50 ms, now 11 ms)."""
    result = arima.arima_res_
    mean = np.asarray(result.forecast(horizon), dtype=float)
    covariance = forecast_covariance(result, horizon)
    values, vectors = np.linalg.eigh(covariance)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return mean + rng.standard_normal((n_paths, horizon)) @ root.T


def forecast_covariance(result, horizon: int) -> np.ndarray:
    """The covariance of a time-invariant state space model's errors over the next ``horizon`` observations,
    from the predicted state's covariance at the end of the data: the state error carried forward, the state
    shocks of the months between, and each month's measurement error. Its diagonal is the forecast variance."""
    ssm = result.filter_results
    design, transition = ssm.design[..., -1], ssm.transition[..., -1]
    selection, state_cov, obs_cov = ssm.selection[..., -1], ssm.state_cov[..., -1], ssm.obs_cov[..., -1]
    # loadings[i] = Z T^i: how an error in the state i months earlier reaches the observation
    loadings, power = np.empty((horizon, transition.shape[0])), np.eye(transition.shape[0])
    for i in range(horizon):
        loadings[i] = (design @ power)[0]
        power = transition @ power
    covariance = loadings @ result.predicted_state_cov[..., -1] @ loadings.T + np.eye(horizon) * obs_cov[0, 0]
    shock = selection @ state_cov @ selection.T
    for j in range(1, horizon):
        # the state shock between months j-1 and j reaches months j, j+1, ...
        effect = np.zeros_like(loadings)
        effect[j:] = loadings[:horizon - j]
        covariance += effect @ shock @ effect.T
    return covariance
