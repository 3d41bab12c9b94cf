"""The sparse plan (the seasonal naive and ``sparse`` backtested, ``sparse`` forecast) of many series at once.

A neighbourhood panel is nearly all sparse series, and each costs milliseconds of calls around a fit that costs
less: a scipy call for each forecast's count quantiles, a pandas series for each origin's fit, a score at a time.
Here the series of one length and start are one array: the seasonal naive, the counts' quantiles and the scores
are numpy passes over all of them at each origin, and only the count model's own fit (a few small loops over a
series' months with crime) is made series by series, on its values. Every prediction, score, choice and forecast
equals :func:`forecast.engine.backtest.forecast_series`'s (tests/test_batch.py); a series this path does not
cover (a backtest short of its origins, a fit that fails) is forecast by that function instead.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.engine.backtest import (AUTO, FIT_ERRORS, MEAN_AND_BOUNDS, PREDICTION_COLUMNS, QUANTILES,
                                      BacktestSettings, PanelForecasts, SeriesForecast, _nested, fit_family,
                                      forecast_series, rolling_origins)
from forecast.models import BASELINE, LEVELS
from forecast.models.base import at_least_zero, forecast_frame, months_after, z_value
from forecast.models.intermittent import Sparse, count_bounds

Key = tuple[str, str]
#: the plan this path makes: what ``run`` gives a series with too few crimes for SPC signals
MODELS = (BASELINE, Sparse.name)


def batches(settings: BacktestSettings, model: str) -> bool:
    """Whether a series planned with ``settings`` and ``model`` can be forecast here."""
    return model == Sparse.name and tuple(settings.models) == MODELS


def forecast_sparse(items: Sequence[tuple[Key, pd.Series]], settings: BacktestSettings, horizon: int = 3,
                    given: Mapping[Key, PanelForecasts | None] | None = None) -> list[SeriesForecast]:
    """:func:`forecast.engine.backtest.forecast_series` with the model ``sparse`` for each series of ``items``
    (``given``: the global model's forecasts of each, by key), in their order."""
    if not batches(settings, Sparse.name):
        raise ValueError(f"the batch path backtests {' and '.join(MODELS)}, not {', '.join(settings.models)}")
    given = given or {}
    out: dict[Key, SeriesForecast] = {}
    groups: dict[tuple, list[tuple[Key, pd.Series, np.ndarray]]] = {}
    for key, y in items:
        values = y.to_numpy(dtype=float)
        if (isinstance(y.index, pd.PeriodIndex) and np.isfinite(values).all()
                and len(rolling_origins(len(values), settings)) == settings.origins):
            groups.setdefault((y.index[0], len(values)), []).append((key, y, values))
        else:
            out[key] = forecast_series(key, y, settings, Sparse.name, horizon, given.get(key))
    for members in groups.values():
        out.update(_forecast_group(members, settings, horizon, given))
    return [out[key] for key, _ in items]


def _forecast_group(members: list[tuple[Key, pd.Series, np.ndarray]], settings: BacktestSettings, horizon: int,
                    given: Mapping[Key, PanelForecasts | None]) -> dict[Key, SeriesForecast]:
    """The series of one start and length: each origin's forecasts and scores as arrays (a row a series), then
    each series' rows, choice, final fit and forecast."""
    values = np.vstack([v for _, _, v in members])
    index = members[0][1].index
    h = settings.horizon
    failed: set[int] = set()
    at: list[dict] = []
    for n_train in rolling_origins(values.shape[1], settings):
        train, actual = values[:, :n_train], values[:, n_train:n_train + h]
        origin = index[n_train - 1]
        panels = [(given.get(key) or PanelForecasts({})).origins.get(str(origin)) for key, _, _ in members]
        forecasts = {BASELINE: _seasonal_naive(train, h, settings.m),
                     Sparse.name: _sparse(train, h, panels, failed)}
        scale, squared_scale = _scales(train, settings.m)
        at.append({"n_train": n_train, "origin": str(origin), "actual": actual, "forecasts": forecasts,
                   "scale": scale, "squared_scale": squared_scale,
                   "scores": {name: _scores(actual, f, scale, squared_scale) for name, f in forecasts.items()},
                   "months": [str(m) for m in months_after(origin, h)]})
    finals = _finals(members, horizon, given, failed)
    done = [i for i in range(len(members)) if i not in failed]
    frames = {} if not done else _frames([members[i][0] for i in done], values.shape[1],
                     [{**o, "actual": o["actual"][done], "scale": o["scale"][done],
                       "squared_scale": o["squared_scale"][done],
                       "forecasts": {m: {c: v[done] for c, v in f.items()} for m, f in o["forecasts"].items()},
                       "scores": {m: {c: v[done] for c, v in f.items()} for m, f in o["scores"].items()}}
                      for o in at], settings)
    out = {}
    for i, (key, y, _) in enumerate(members):
        if i in failed:
            out[key] = forecast_series(key, y, settings, Sparse.name, horizon, given.get(key))
            continue
        model, forecast = finals[i]
        out[key] = SeriesForecast(*key, *frames[key], chosen=Sparse.name, forecast=forecast, model=model,
                                  scored_as=Sparse.name)
    return out


def _seasonal_naive(train: np.ndarray, h: int, m: int) -> dict[str, np.ndarray]:
    """:class:`forecast.models.snaive.SeasonalNaive`'s forecast columns of every row: last season's months, and
    normal intervals from the in-sample seasonal differences (month to month in a window of one season; a flat
    row's are 0, so its constant)."""
    lag = m if train.shape[1] >= m else 1
    differences = lag if train.shape[1] > lag else 1   # as seasonal_naive_errors: a window of one season has none
    errors = train[:, differences:] - train[:, :-differences]
    sigma = np.sqrt(np.mean(errors ** 2, axis=1)) if errors.shape[1] else np.zeros(len(train))
    steps = np.arange(h)
    mean = train[:, train.shape[1] - lag + steps % lag].astype(float)
    sd = sigma[:, None] * np.sqrt(steps // lag + 1)
    columns = {"mean": mean}
    for level in LEVELS:
        z = z_value(level)
        columns[f"lo_{level}"], columns[f"hi_{level}"] = mean - z * sd, mean + z * sd
    return at_least_zero(columns)


def _sparse(train: np.ndarray, h: int, panels: list, failed: set[int]) -> dict[str, np.ndarray]:
    """``sparse``'s forecast columns of every row at one origin, the global model's forecast (``panels``, one a
    row or None) blended in: the fits a row at a time, the count quantiles of every row in one call. A row whose
    fit fails is added to ``failed`` (and left NaN)."""
    rates = np.full((len(train), h), np.nan)
    dispersion = np.ones(len(train))
    flat = np.zeros(len(train), dtype=bool)
    for i, row in enumerate(train):
        try:
            model = Sparse().fit_values(row)
        except FIT_ERRORS:
            failed.add(i)
            continue
        if model.constant_ is not None:
            rates[i], flat[i] = model.constant_, True
            continue
        if panels[i] is not None:
            model = model.joined(panels[i])
        rates[i], dispersion[i] = model.rates(h), model.dispersion_
    return _count_columns(rates, dispersion, flat)


def _count_columns(rates: np.ndarray, dispersion: np.ndarray, flat: np.ndarray) -> dict[str, np.ndarray]:
    """Forecast columns of count models, a row a series: the rates, and the counts' integer interval bounds
    (:func:`count_bounds`), except where a row is flat or forecasts no crime at all (the rates themselves, as
    :meth:`CountModel._interval` gives)."""
    counted = ~flat & np.any(rates > 0, axis=1)
    columns = {"mean": rates}
    for level in LEVELS:
        low, high = rates.copy(), rates.copy()
        if counted.any():
            low[counted], high[counted] = count_bounds(rates[counted], dispersion[counted], level)
        columns[f"lo_{level}"], columns[f"hi_{level}"] = low, high
    return at_least_zero(columns)


def _scales(train: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row's MASE and RMSSE scales (:func:`forecast.engine.backtest.mase_scale`, ``rmsse_scale``)."""
    lag = m if train.shape[1] > m else 1
    diffs = train[:, lag:] - train[:, :-lag]
    if not diffs.shape[1]:
        return np.full(len(train), np.nan), np.full(len(train), np.nan)
    return np.abs(diffs).mean(axis=1), np.sqrt(np.mean(diffs ** 2, axis=1))


def _scores(actual: np.ndarray, forecast: Mapping[str, np.ndarray], scale: np.ndarray,
            squared_scale: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`forecast.engine.backtest.scores` of every row at once."""
    mean = forecast["mean"]
    usable = (scale != 0) & np.isfinite(scale)
    squared_usable = (squared_scale != 0) & np.isfinite(squared_scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        losses = []
        for column, q in QUANTILES.items():
            diff = actual - forecast[column]
            losses.append(np.mean(np.maximum(q * diff, (q - 1) * diff), axis=1))
        denom = np.abs(actual) + np.abs(mean)
        terms = np.where(denom == 0, 0.0, 2 * np.abs(actual - mean) / denom)
        return {
            "mase": np.where(usable, np.mean(np.abs(actual - mean), axis=1) / scale, np.nan),
            "rmsse": np.where(squared_usable, np.sqrt(np.mean((actual - mean) ** 2, axis=1)) / squared_scale,
                              np.nan),
            "spl": np.where(usable, np.mean(np.column_stack(losses), axis=1) / scale, np.nan),
            "smape": np.mean(terms, axis=1) * 100,
            "coverage_80": np.mean((actual >= forecast["lo_80"]) & (actual <= forecast["hi_80"]), axis=1),
            "coverage_95": np.mean((actual >= forecast["lo_95"]) & (actual <= forecast["hi_95"]), axis=1),
            "mae": np.mean(np.abs(actual - mean), axis=1),
        }


def _frames(keys: list[Key], months: int, at: list[dict], settings: BacktestSettings) -> dict[Key, tuple]:
    """Each series' predictions and metrics frames, as :func:`forecast.engine.backtest.backtest_series` lays them
    out (each origin's models, then ``auto``'s nested choice at each origin), built as two frames for all ``keys``
    (the rows of ``at``, in order) and cut a series each: a frame built for each series was half this path's cost."""
    models, h, n, origins = list(settings.models), settings.horizon, len(keys), [o["origin"] for o in at]
    scores = {c: np.stack([np.stack([o["scores"][m][c] for m in models], axis=1) for o in at], axis=1)
              for c in at[0]["scores"][models[0]]}  # (series, origin, model)
    chosen = np.array([[models.index(c) for c in _nested(
        [{"model": m, "origin": origins[j], "mase": scores["mase"][i, j, k], "mae": scores["mae"][i, j, k]}
         for j in range(len(at)) for k, m in enumerate(models)], models).values()] for i in range(n)])
    picked = chosen[:, :, None]

    def both(base: np.ndarray, auto: np.ndarray) -> np.ndarray:
        """A series' rows (one row of ``base`` and of ``auto`` each) laid end to end, then series after series."""
        return np.concatenate([base.reshape(n, -1), auto.reshape(n, -1)], axis=1).ravel()

    values = {c: np.stack([np.stack([o["forecasts"][m][c] for m in models], axis=1) for o in at], axis=1)
              for c in MEAN_AND_BOUNDS}  # (series, origin, model, step)
    actual = np.stack([o["actual"] for o in at], axis=1)  # (series, origin, step)
    grid = (n, len(at), len(models), h)
    predictions = {
        "crime_type": np.repeat([k[0] for k in keys], len(at) * (len(models) + 1) * h),
        "area": np.repeat([k[1] for k in keys], len(at) * (len(models) + 1) * h),
        "model": both(np.broadcast_to(np.array(models)[:, None], grid), np.full((n, len(at), h), AUTO)),
        "origin": both(np.broadcast_to(np.array(origins)[:, None, None], grid),
                       np.broadcast_to(np.array(origins)[:, None], (n, len(at), h))),
        "month": both(np.broadcast_to(np.array([o["months"] for o in at])[:, None, :], grid),
                      np.broadcast_to(np.array([o["months"] for o in at]), (n, len(at), h))),
        "step": both(np.broadcast_to(np.arange(1, h + 1), grid), np.broadcast_to(np.arange(1, h + 1), (n, len(at), h))),
        "actual": both(np.broadcast_to(actual[:, :, None, :], grid), actual),
        **{c: both(v, np.take_along_axis(v, picked[..., None], axis=2)) for c, v in values.items()},
    }
    cells = (n, len(at), len(models))
    metrics = {
        "crime_type": np.repeat([k[0] for k in keys], len(at) * (len(models) + 1)),
        "area": np.repeat([k[1] for k in keys], len(at) * (len(models) + 1)),
        "model": both(np.broadcast_to(np.array(models), cells), np.full((n, len(at)), AUTO)),
        "origin": both(np.broadcast_to(np.array(origins)[:, None], cells),
                       np.broadcast_to(np.array(origins), (n, len(at)))),
        **{c: both(v, np.take_along_axis(v, picked, axis=2)) for c, v in scores.items()},
        **{c: both(np.broadcast_to(np.stack([o[c] for o in at], axis=1)[:, :, None], cells),
                   np.stack([o[c] for o in at], axis=1)) for c in ("scale", "squared_scale")},
        "n_train": both(np.broadcast_to(np.array([o["n_train"] for o in at])[:, None], cells),
                        np.broadcast_to(np.array([o["n_train"] for o in at]), (n, len(at)))),
        "series_months": np.full(n * len(at) * (len(models) + 1), months),
        "chosen": both(np.full(cells, np.nan, dtype=object), np.array(models, dtype=object)[chosen]),
    }
    rows, metric_rows = pd.DataFrame(predictions), pd.DataFrame(metrics)
    return dict(zip(keys, zip(cut(rows, [len(rows) // n] * n), cut(metric_rows, [len(metric_rows) // n] * n))))


def cut(frame: pd.DataFrame, lengths: Sequence[int]) -> list[pd.DataFrame]:
    """``frame`` cut into consecutive parts of ``lengths`` rows, each numbered from 0, without copying its data
    (``reset_index`` copied every column, a fifth of this path's cost)."""
    parts, start = [], 0
    for length in lengths:
        part = frame.iloc[start:start + length]
        part.index = pd.RangeIndex(length)
        parts.append(part)
        start += length
    return parts


def _finals(members: list[tuple[Key, pd.Series, np.ndarray]], horizon: int,
            given: Mapping[Key, PanelForecasts | None], failed: set[int]) -> dict[int, tuple]:
    """Each row's final model (``sparse`` fitted on every month, the global model's forecast from them blended in)
    and its forecast frame, the count quantiles of every row in one call."""
    models, rates = {}, np.full((len(members), horizon), np.nan)
    dispersion, flat = np.ones(len(members)), np.zeros(len(members), dtype=bool)
    for i, (key, y, _) in enumerate(members):
        if i in failed:
            continue
        try:
            model = fit_family(Sparse.name, y)
        except FIT_ERRORS:
            failed.add(i)
            continue
        final = (given.get(key) or PanelForecasts({})).final
        models[i] = model.joined(final) if final is not None else model
        if model.constant_ is not None:
            rates[i], flat[i] = model.constant_, True
        else:
            rates[i], dispersion[i] = models[i].rates(horizon), model.dispersion_
    columns = _count_columns(rates, dispersion, flat)
    return {i: (model, forecast_frame({c: v[i] for c, v in columns.items()}, model.future_index(horizon)))
            for i, model in models.items()}
