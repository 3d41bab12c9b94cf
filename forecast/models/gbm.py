"""One model for the whole panel: scikit-learn's gradient-boosted trees, trained across every series.

The local families fit each series alone; :class:`GlobalModel` learns the shapes the series share (a
city's seasons, trends and shocks) from all of them at once, as global models do in the M5 competition and
in Montero-Manso and Hyndman (2021). It is fitted once per cut-off for the whole panel, on months up to the
cut-off only, and forecasts every series with the direct strategy (one model for all horizons, ``h`` a
feature).

A training row is one series at one month ``t`` and one horizon ``h``: the last 24 months to ``t`` divided by
the series' level (the mean of its last 12 months, at least 1), the same months a year and two years before
``t + h``, the means of the last 3, 6 and 13-24 months, the log of the level, the calendar month of ``t + h``,
``h``, and the crime type and area as categories (docs/GLOBAL.md); the target is the count at ``t + h`` divided
by the same level. Rows come from the last 60 months before the cut-off. Three quantile losses (10%, 50%, 90%)
give the forecast (the median: the error we score is absolute) and the 80% interval; the 95% interval
stretches each side of it by the ratio of normal quantiles. Predictions are scaled back and never negative.

:class:`GlobalSeries` is the fitted panel model seen from one series, with the ``fit``/``predict`` interface
of every family, so that runs, ensembles and exported bundles treat it like the others.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from forecast.errors import ModelFitError
from forecast.models.base import LEVELS, ForecastModel, at_least_zero, estimating, z_value
from forecast.threads import one_thread

WINDOW = 24
LEVEL_MONTHS = 12
QUANTILES = (0.1, 0.5, 0.9)
#: categories beyond what HistGradientBoostingRegressor can hold (255 bins, one kept for missing) are left out
MAX_CATEGORIES = 250
FEATURES = (*(f"lag_{k}" for k in range(WINDOW - 1, -1, -1)), "last_year", "two_years_ago", "mean_3", "mean_6",
            "mean_13_24", "log_level", "target_month", "horizon", "crime_type", "area")

Key = tuple[str, str]


def _codes(names: Iterable[str]) -> dict[str, int]:
    """Category codes for the most frequent names (all of them up to MAX_CATEGORIES), in a stable order."""
    counts = pd.Series(list(names)).value_counts(sort=False)
    kept = counts.sort_values(ascending=False, kind="stable").index[:MAX_CATEGORIES]
    return {name: i for i, name in enumerate(sorted(kept))}


def _windows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every month t: the last WINDOW values to t (NaN before the series starts) and the level at t."""
    padded = np.concatenate([np.full(WINDOW - 1, np.nan), values])
    lags = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)
    return lags, _levels(lags)


def _levels(lags: np.ndarray) -> np.ndarray:
    """Each window's level: the mean of its last LEVEL_MONTHS months (those it has), at least 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmean(lags[:, -LEVEL_MONTHS:], axis=1)
    return np.maximum(np.nan_to_num(level, nan=1.0), 1.0)


class _Series:
    """One series' windows, levels and calendar, computed once for training and forecasting."""

    def __init__(self, s: pd.Series):
        self.values = s.to_numpy(dtype=float)
        self.index = s.index
        self.lags, self.level = _windows(self.values)
        self.months = s.index.month.to_numpy() - 1


def _rows(x: _Series, ends: np.ndarray, h: int, codes: tuple[float, float]) -> np.ndarray:
    """Feature rows for the windows of ``x`` ending at positions ``ends``, forecasting ``h`` months ahead."""
    return _features(x.lags[ends], x.level[ends], x.months[ends], h, np.full(len(ends), codes[0]),
                     np.full(len(ends), codes[1]))


def _features(lags: np.ndarray, level: np.ndarray, months: np.ndarray, h: int, crime_codes: np.ndarray,
              area_codes: np.ndarray) -> np.ndarray:
    """Feature rows (FEATURES) of windows ``lags`` (one a row) with their levels, calendar months (0-11) and
    category codes, forecasting ``h`` months ahead."""
    scaled = lags / level[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        older = np.nanmean(scaled[:, :12], axis=1)
    return np.column_stack([scaled, scaled[:, WINDOW - 1 - (12 - h)], scaled[:, WINDOW - 1 - (24 - h)],
                            scaled[:, -3:].mean(axis=1), scaled[:, -6:].mean(axis=1), older,
                            np.log(level), (months + h) % 12, np.full(len(level), h), crime_codes, area_codes])


def _last_windows(series: Mapping[Key, pd.Series]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Key]]:
    """Every series' last WINDOW months in one matrix (NaN before a short series starts), their levels and the
    calendar month (0-11) of each series' last month: the windows a forecast reads, without a frame a series."""
    keys = list(series)
    lags = np.full((len(keys), WINDOW), np.nan)
    months = np.empty(len(keys), dtype=np.int64)
    for i, y in enumerate(series.values()):
        values = y.to_numpy(dtype=float)[-WINDOW:]
        lags[i, WINDOW - len(values):] = values
        months[i] = y.index[-1].month - 1
    return lags, _levels(lags), months, keys


class GlobalModel:
    """Gradient-boosted quantile models trained across a panel of monthly series (scikit-learn estimator style:
    ``fit(series)``, then ``predict(series, horizon)``)."""

    name = "global"

    def __init__(self, horizon: int = 3, max_iter: int = 80, learning_rate: float = 0.12, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 40, max_bins: int = 255, history: int | None = 60,
                 quantiles: tuple[float, ...] = QUANTILES, random_state: int = 0):
        self.horizon = horizon
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.max_bins = max_bins
        self.history = history
        self.quantiles = tuple(quantiles)
        self.random_state = random_state

    def training_rows(self, lengths: Iterable[int]) -> int:
        """How many training rows :meth:`fit` makes from series of these lengths (without building them)."""
        total = 0
        for n in lengths:
            first = LEVEL_MONTHS - 1 if self.history is None else max(LEVEL_MONTHS - 1, n - self.history - 1)
            total += sum(max(0, n - first - h) for h in range(1, self.horizon + 1))
        return total

    def fit(self, series: Mapping[Key, pd.Series]) -> "GlobalModel":
        """Train on every month of every series (each ends where its data ends: cut it before calling)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        if not series:
            raise ModelFitError("the global model needs at least one series")
        self.crime_codes_ = _codes(k[0] for k in series)
        self.area_codes_ = _codes(k[1] for k in series)
        prepared = {key: _Series(s) for key, s in series.items()}
        X, y = [], []
        for key, x in prepared.items():
            n = len(x.values)
            first = LEVEL_MONTHS - 1 if self.history is None else max(LEVEL_MONTHS - 1, n - self.history - 1)
            ends_all = np.arange(first, n)
            for h in range(1, self.horizon + 1):
                ends = ends_all[ends_all + h < n]
                if ends.size:
                    X.append(_rows(x, ends, h, self._code(key)))
                    y.append(x.values[ends + h] / x.level[ends])
        if not X:
            raise ModelFitError(f"the global model needs series of at least {LEVEL_MONTHS + 1} months")
        X, y = np.vstack(X), np.concatenate(y)
        # a feature with no value in any row (two years ago, in a panel shorter than that) is held constant: the
        # trees learn nothing from it either way, and scikit-learn 1.9's binning fails on an all-missing column
        self.unseen_ = np.isnan(X).all(axis=0)
        X[:, self.unseen_] = 0.0
        self.n_rows_, self.n_series_ = len(y), len(prepared)
        categorical = [FEATURES.index("crime_type"), FEATURES.index("area")]
        with estimating("global"):
            self.models_ = [HistGradientBoostingRegressor(
                loss="quantile", quantile=q, max_iter=self.max_iter, learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, max_bins=self.max_bins,
                categorical_features=categorical, early_stopping=False, random_state=self.random_state).fit(X, y)
                for q in self.quantiles]
        return self

    @classmethod
    def joined(cls, parts: "Iterable[GlobalModel]") -> "GlobalModel":
        """One model from models trained on the same series with the same settings, each for some of the
        quantiles (so that one cut-off's quantiles can be trained in parallel). The quantile models are independent
        of each other, so the join is the model that one :meth:`fit` of all the quantiles makes."""
        parts = list(parts)
        first = parts[0]
        if any(p._settings() != first._settings() or (p.n_rows_, p.n_series_, p.crime_codes_, p.area_codes_)
               != (first.n_rows_, first.n_series_, first.crime_codes_, first.area_codes_) for p in parts[1:]):
            raise ValueError("only models of the same settings, trained on the same series, can be joined")
        model = cls(**first._settings(), quantiles=tuple(q for p in parts for q in p.quantiles))
        for name, value in vars(first).items():
            if name.endswith("_"):
                setattr(model, name, value)
        model.models_ = [m for p in parts for m in p.models_]
        return model

    def _settings(self) -> dict:
        """The constructor's arguments but the quantiles."""
        return {name: getattr(self, name) for name in ("horizon", "max_iter", "learning_rate", "max_leaf_nodes",
                                                       "min_samples_leaf", "max_bins", "history", "random_state")}

    def _code(self, key: Key) -> tuple[float, float]:
        return (float(self.crime_codes_.get(key[0], np.nan)), float(self.area_codes_.get(key[1], np.nan)))

    def quantile_forecasts(self, series: Mapping[Key, pd.Series], horizon: int | None = None) -> dict[Key, np.ndarray]:
        """Per series, its (len(quantiles), horizon) forecasts from its months to date, sorted across quantiles;
        every series in one call to each model."""
        horizon = horizon or self.horizon
        if not hasattr(self, "models_"):
            raise ModelFitError("global: predict() called before fit()")
        if horizon > self.horizon:
            raise ModelFitError(f"the global model was trained for {self.horizon} months ahead, not {horizon}")
        lags, levels, months, keys = _last_windows(series)
        codes = np.array([self._code(key) for key in keys], dtype=float).reshape(len(keys), 2)
        # rows series by series, each series' horizons in turn
        X = np.stack([_features(lags, levels, months, h, codes[:, 0], codes[:, 1]) for h in range(1, horizon + 1)],
                     axis=1).reshape(len(keys) * horizon, len(FEATURES))
        X[:, getattr(self, "unseen_", np.zeros(X.shape[1], bool))] = 0.0
        # on one thread: a crime type's few hundred series cost about half the CPU so, and OpenMP's threads spin
        # when other processes share the cores (forecast/threads.py, benchmarks/bench_predict.py)
        with estimating("global"), one_thread():
            q = np.sort(np.stack([m.predict(X) for m in self.models_]), axis=0)
        q = np.clip(q.reshape(len(self.models_), len(keys), horizon) * levels[None, :, None], 0.0, None)
        return {key: q[:, i] for i, key in enumerate(keys)}

    def predict(self, series: Mapping[Key, pd.Series], horizon: int | None = None) -> dict[Key, "GlobalSeries"]:
        """Each series' forecast, as a :class:`GlobalSeries` that holds it (light to pickle; no model inside)."""
        horizon = horizon or self.horizon
        return {key: GlobalSeries.holding(series[key], self.quantiles, q)
                for key, q in self.quantile_forecasts(series, horizon).items()}

    def params(self) -> dict:
        return {"max_iter": self.max_iter, "learning_rate": self.learning_rate, "max_leaf_nodes": self.max_leaf_nodes,
                "min_samples_leaf": self.min_samples_leaf, "max_bins": self.max_bins, "history": self.history or "all",
                "quantiles": ",".join(map(str, self.quantiles)), "horizon": self.horizon, "window": WINDOW,
                "level_months": LEVEL_MONTHS, "training_rows": getattr(self, "n_rows_", 0),
                "unseen_features": ",".join(f for f, u in zip(FEATURES, getattr(self, "unseen_", ())) if u) or "none",
                "features": ",".join(FEATURES)}


def _bounds(q: dict[float, np.ndarray], level: float) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level``% interval from the forecast quantiles: read off where the model has those
    quantiles, else each side of the widest interval it has stretched by the ratio of normal quantiles."""
    tail = round((100 - level) / 200, 6)
    if tail in q and round(1 - tail, 6) in q:
        return q[tail], q[round(1 - tail, 6)]
    low = min(q)
    if low >= 0.5:
        raise ModelFitError("the global model has no quantile below its median to make an interval from")
    stretch = z_value(level) / z_value(100 - 200 * low)
    median = q[0.5]
    return median - (median - q[low]) * stretch, median + (q[round(1 - low, 6)] - median) * stretch


class GlobalSeries(ForecastModel):
    """One series' forecast from the panel model: its quantiles for the months the model was trained for.

    It cannot be fitted on its series alone (the training is the panel's, :class:`GlobalModel`); it is made by
    :meth:`GlobalModel.predict` and then predicts, simulates and pickles like every family, without the panel.
    """

    name = "global"

    def fit(self, y: pd.Series) -> "GlobalSeries":
        raise ModelFitError("the global model is trained on a whole panel (GlobalModel.fit), not on one series")

    @classmethod
    def holding(cls, y: pd.Series, quantiles: tuple[float, ...], forecasts: np.ndarray) -> "GlobalSeries":
        model = cls()
        model._take(y)
        model.quantiles_ = {round(float(q), 6): np.asarray(f, dtype=float) for q, f in zip(quantiles, forecasts)}
        return model

    @property
    def y_(self) -> pd.Series:
        """The months it was made from (the base class's ``y_``), rebuilt from their arrays on first use after
        unpickling: the sparse blend and the ensemble read only the quantiles."""
        state = vars(self)
        if "_y" not in state:
            if "_months" not in state:
                raise AttributeError("y_")
            ordinals, values, name = state.pop("_months")
            state["_y"] = pd.Series(values, index=pd.PeriodIndex.from_ordinals(ordinals, freq="M"), name=name)
        return state["_y"]

    @y_.setter
    def y_(self, y: pd.Series) -> None:
        vars(self).pop("_months", None)
        vars(self)["_y"] = y

    def __getstate__(self) -> dict:
        """Its months as two arrays, not a pandas series: a run sends each series five of these (one an origin and
        the final fit's), and their pandas series were most of the cost of sending them (a round trip 0.111 ms
        with the series, 0.026 ms with the arrays)."""
        state = dict(vars(self))
        y = state.pop("_y", None)
        if y is not None:
            state["_months"] = (y.index.asi8.copy(), y.to_numpy(), y.name)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if "y_" in state:  # pickled before the months travelled as arrays
            state["_y"] = state.pop("y_")
        vars(self).update(state)

    @property
    def horizon_(self) -> int:
        return len(next(iter(self.quantiles_.values())))

    def forecast_columns(self, horizon: int = 3, levels=LEVELS) -> dict[str, np.ndarray]:
        if self.constant_ is not None or not hasattr(self, "quantiles_"):
            return super().forecast_columns(horizon, levels)
        if horizon > self.horizon_:
            raise ModelFitError(f"the global model forecasts {self.horizon_} months ahead, not {horizon}")
        q = {k: v[:horizon] for k, v in self.quantiles_.items()}
        columns = {"mean": q[0.5]}
        for level in levels:
            columns[f"lo_{level}"], columns[f"hi_{level}"] = _bounds(q, level)
        return at_least_zero(columns)

    def median(self, horizon: int | None = None) -> np.ndarray:
        """The forecast (the median) of each month ahead, never negative: ``predict``'s mean without a frame."""
        months = horizon or self.horizon_
        if self.constant_ is not None:
            return np.full(months, max(self.constant_, 0.0))
        return np.maximum(self.quantiles_[0.5][:months], 0.0)

    def params(self) -> dict:
        return {"months_ahead": self.horizon_} if hasattr(self, "quantiles_") else {}
