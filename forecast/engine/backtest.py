"""Rolling-origin backtests, accuracy metrics (MASE, RMSSE, scaled pinball loss, sMAPE, interval coverage) and
model choice per series.

The default windows are the last 12 months as four quarters: origins at n-12, n-9, n-6 and n-3
(``origin`` is the last training month), each forecasting the next 3 months. Every series is one
job; jobs run in parallel processes with BLAS pinned to one thread, and statsmodels' warnings are
silenced inside them and counted as failures only when a fit really fails.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.data import Panel
from forecast.engine.cluster import cores, on_cluster, tasks
from forecast.errors import ModelFitError
from forecast.models import (BASELINE, FAMILIES, GLOBAL, ForecastModel, GlobalModel, GlobalSeries, LEVELS, make,
                             parse_members)
from forecast.models.base import forecast_frame, months_after
from forecast.models.ensemble import Ensemble, blend_columns, combine_columns
from forecast.models.gbm import LEVEL_MONTHS, QUANTILES as GLOBAL_QUANTILES
from forecast.models.intermittent import Sparse
from forecast.threads import one_thread
from forecast.words import plural

#: the errors a fit can genuinely raise on awkward data; anything else is a bug and must surface
#: the failures a fit is allowed: a family's own (its library's numerical errors become one, see
#: :func:`forecast.models.base.estimating`); counted and said where they happen, never a silent gap
FIT_ERRORS = (ModelFitError,)
#: the name under which the nested model choice is scored, and the family it starts from
AUTO = "auto"
DEFAULT_FAMILY = Ensemble.name

#: what each (series, model, origin) is scored by
SCORES = ("mase", "rmsse", "spl", "smape", "coverage_80", "coverage_95", "mae")
PREDICTION_COLUMNS = ["crime_type", "area", "model", "origin", "month", "step", "actual",
                      "mean", "lo_80", "hi_80", "lo_95", "hi_95"]


@dataclass(frozen=True)
class BacktestSettings:
    """Windows and models of a backtest."""

    origins: int = 4
    horizon: int = 3
    step: int = 3
    models: tuple[str, ...] = FAMILIES
    m: int = 12
    min_train: int = 15
    #: the ensemble's local members (forecast.models.parse_members): fewer cost less (docs/SCALE.md)
    members: tuple[str, ...] = Ensemble.default_members

    def __post_init__(self):
        for name in ("origins", "horizon", "step"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in self.models:
            make(name)
        if not self.members:
            raise ValueError("the ensemble needs at least one member")
        parse_members(self.members)

    def base_models(self) -> tuple[str, ...]:
        """Families fitted on each series: those asked for, plus the ensemble's members when it is asked for
        (the global model is trained on the panel, not here)."""
        names = [n for n in self.models if n not in (Ensemble.name, GLOBAL)]
        if Ensemble.name in self.models:
            names += [n for n in self.members if n not in names]
        return tuple(names)

    def uses_global(self) -> bool:
        """Whether the panel's global model is wanted: asked for, or a part of the ensemble or the sparse model."""
        return any(name in self.models for name in (GLOBAL, Ensemble.name, Sparse.name))


def rolling_origins(n: int, settings: BacktestSettings = BacktestSettings()) -> list[int]:
    """Training lengths of the origins that fit in a series of ``n`` months (oldest first)."""
    ends = [n - settings.horizon - settings.step * k for k in range(settings.origins - 1, -1, -1)]
    return [e for e in ends if e >= settings.min_train]


# ------------------------------------------------------------------ metrics

def mase_scale(train: np.ndarray, m: int = 12) -> float:
    """Mean absolute in-sample seasonal naive error (naive when the window is too short for m)."""
    lag = m if len(train) > m else 1
    diffs = np.abs(train[lag:] - train[:-lag])
    return float(diffs.mean()) if diffs.size else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error; NaN when the scale is zero (a flat training window)."""
    if not scale or not np.isfinite(scale):
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale)


def rmsse_scale(train: np.ndarray, m: int = 12) -> float:
    """Root mean squared in-sample seasonal naive error (naive when the window is too short for m)."""
    lag = m if len(train) > m else 1
    diffs = np.asarray(train[lag:], dtype=float) - np.asarray(train[:-lag], dtype=float)
    return float(np.sqrt(np.mean(diffs ** 2))) if diffs.size else float("nan")


def rmsse(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Root mean squared scaled error (the M5 competition's point measure, with the seasonal naive scale). Squared
    error is least for the mean, where absolute error (MASE) is least for the median: on a series with crime in
    fewer than half its months the median is 0, and MASE prefers a forecast of no crime at all."""
    if not scale or not np.isfinite(scale):
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)) ** 2)) / scale)


#: the quantile of each interval bound a backtest keeps, for the pinball loss
QUANTILES = {"lo_95": 0.025, "lo_80": 0.10, "hi_80": 0.90, "hi_95": 0.975}


def scaled_pinball(actual: np.ndarray, bounds: Mapping[str, np.ndarray], scale: float) -> float:
    """Mean pinball (quantile) loss over the four interval bounds (QUANTILES), scaled like MASE: it rewards
    intervals that are both narrow and where they should be, which coverage alone does not."""
    if not scale or not np.isfinite(scale):
        return float("nan")
    a = np.asarray(actual, dtype=float)
    losses = []
    for column, q in QUANTILES.items():
        diff = a - np.asarray(bounds[column], dtype=float)
        losses.append(np.mean(np.maximum(q * diff, (q - 1) * diff)))
    return float(np.mean(losses) / scale)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0/0 counted as a perfect forecast."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    denom = np.abs(a) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denom == 0, 0.0, 2 * np.abs(a - f) / denom)
    return float(np.mean(terms) * 100)


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of actuals inside [lo, hi], over the months that have an interval; NaN when none has (a model that
    made no forecast, such as the global model on a panel too small to train it), not 0."""
    a, lo, hi = (np.asarray(v, dtype=float) for v in (actual, lo, hi))
    known = ~(np.isnan(lo) | np.isnan(hi))
    return float(np.mean((a[known] >= lo[known]) & (a[known] <= hi[known]))) if known.any() else float("nan")


# ------------------------------------------------------------------ one series

@dataclass
class SeriesForecast:
    """Everything a run learns about one series: backtest, model choice, final forecast and fitted model."""

    crime_type: str
    area: str
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    chosen: str | None = None
    forecast: pd.DataFrame | None = None
    model: ForecastModel | None = None
    notes: list[str] = field(default_factory=list)
    failures: int = 0
    scored_as: str | None = None

    def reported_scores(self) -> pd.Series | None:
        """Backtest means of what the run did: ``auto``'s nested choices when the model was chosen, else the
        family given. Never the in-sample score of the family that won the backtest."""
        scores = self.model_scores()
        name = self.scored_as or self.chosen
        return scores.loc[name] if name in scores.index else None

    def model_scores(self) -> pd.DataFrame:
        """Mean metrics per model over the origins."""
        if self.metrics.empty:
            return pd.DataFrame(columns=list(SCORES))
        return self.metrics.groupby("model")[list(SCORES)].mean()


def fit_family(name: str, y: pd.Series, template: ForecastModel | None = None) -> ForecastModel:
    """Fit one family: from a template that keeps an earlier search's choices (form, orders) if given, so that only
    the parameters are estimated; searched afresh when there is none or its choices no longer fit."""
    if template is not None and hasattr(template, "template"):
        try:
            return template.template().fit(y)
        except FIT_ERRORS:
            pass
    return make(name).fit(y)


def fit_forecast(name: str, y: pd.Series, horizon: int, template: ForecastModel | None = None,
                 panel: ForecastModel | None = None) -> tuple[ForecastModel, dict[str, np.ndarray]]:
    """Fit one family (:func:`fit_family`) and forecast, as a backtest asks it: the forecast's columns without a
    frame; a sparse model's with the global model's forecast (``panel``) blended in, its own alone not made (its
    count quantiles were a sixth of a sparse series' cost)."""
    model = fit_family(name, y, template)
    joined = model.joined(panel) if panel is not None and isinstance(model, Sparse) else model
    return model, joined.forecast_columns(horizon, LEVELS)


def fit_predict(name: str, y: pd.Series, horizon: int, template: ForecastModel | None = None):
    """Fit one family and forecast (:func:`fit_forecast`), the forecast as a frame."""
    model, columns = fit_forecast(name, y, horizon, template)
    return model, forecast_frame(columns, model.future_index(horizon))


def is_template(model: ForecastModel) -> bool:
    """A model whose choices (form, orders) can be reused: one that was really fitted, not a flat-series constant."""
    return model.constant_ is None


def default_family(candidates: Sequence[str]) -> str:
    """The family used where there is no earlier score to choose by."""
    return DEFAULT_FAMILY if DEFAULT_FAMILY in candidates else candidates[0]


def nested_choices(metrics: pd.DataFrame, candidates: Sequence[str]) -> dict[str, str]:
    """For each origin, the family chosen from the scores of earlier origins only (the default at the first).

    This is the choice ``auto`` would have made at that origin, so its error there is out of sample.
    """
    if metrics.empty:
        return {}
    return _nested(metrics[["model", "origin", "mase", "mae"]].to_dict("records"), candidates)


def _nested(rows: Sequence[Mapping], candidates: Sequence[str]) -> dict[str, str]:
    """:func:`nested_choices` from the metric rows as dicts (each with model, origin, mase and mae), without a
    frame: a backtest makes these rows for every series, and a groupby per origin cost more than the count
    models' fits."""
    origins = sorted({row["origin"] for row in rows})
    out = {}
    for i, origin in enumerate(origins):
        earlier = [row for row in rows if row["origin"] in origins[:i]]
        chosen = _choose(_means(earlier), candidates) if i else None
        out[origin] = chosen or default_family(candidates)
    return out


def _means(rows: Sequence[Mapping], columns: Sequence[str] = ("mase", "mae")) -> dict[str, list[float]]:
    """Per model, the mean of each column over ``rows``, NaN left out (NaN where nothing is left). Summed exactly
    (``math.fsum``): pandas' groupby mean can differ from it in the last bit, which changes a choice only between
    two families whose means are within a part in 10^15 of each other."""
    import math

    values: dict[str, list[list[float]]] = {}
    for row in rows:
        lists = values.setdefault(row["model"], [[] for _ in columns])
        for j, column in enumerate(columns):
            value = float(row[column])
            if value == value:
                lists[j].append(value)
    return {model: [math.fsum(v) / len(v) if v else float("nan") for v in lists] for model, lists in values.items()}


def _choose(means: Mapping[str, Sequence[float]], candidates: Sequence[str]) -> str | None:
    """The candidate with the lowest mean MASE, or mean absolute error where no candidate has one, from the
    (mase, mae) means per model (:func:`_means`); the first in ``candidates`` among equals."""
    present = [c for c in candidates if c in means]
    for j in range(2):
        valid = [(means[c][j], i, c) for i, c in enumerate(present) if means[c][j] == means[c][j]]
        if valid:
            return min(valid)[2]
    return None


#: a forecast's columns, in the order of its frame and of PREDICTION_COLUMNS
MEAN_AND_BOUNDS = ("mean", "lo_80", "hi_80", "lo_95", "hi_95")


def _missing(horizon: int) -> dict[str, np.ndarray]:
    return {c: np.full(horizon, np.nan) for c in MEAN_AND_BOUNDS}


def backtest_series(key: tuple[str, str], y: pd.Series, settings: BacktestSettings,
                    given: "PanelForecasts | None" = None) -> SeriesForecast:
    """Forecast from every origin with every model, and score each forecast against what happened. ``given``
    holds the global model's forecasts of this series (:func:`panel_forecasts`); without them the global
    model is missing and the ensemble is the local families' alone."""
    return _backtest(key, y, settings, given)[0]


def _backtest(key: tuple[str, str], y: pd.Series, settings: BacktestSettings,
              given: "PanelForecasts | None" = None) -> tuple[SeriesForecast, dict[str, ForecastModel]]:
    """:func:`backtest_series`, and each family's template: the form and orders searched at the first origin,
    which the later origins (and the final fit) reuse."""
    crime_type, area = key
    values = y.to_numpy(dtype=float)
    origins = rolling_origins(len(values), settings)
    out = SeriesForecast(crime_type, area, pd.DataFrame(columns=PREDICTION_COLUMNS), pd.DataFrame())
    if len(origins) < settings.origins:
        out.notes.append(f"{len(values)} months: backtest limited to {len(origins)} of {settings.origins} origins"
                         if origins else f"{len(values)} months: too short to backtest (needs "
                         f"{settings.min_train + settings.horizon})")
    templates: dict[str, ForecastModel] = {}
    rows, metric_rows = [], []
    wants_panel = GLOBAL in settings.models or Ensemble.name in settings.models
    for n_train in origins:
        train = y.iloc[:n_train]
        actual = values[n_train:n_train + settings.horizon]
        scale, squared_scale = mase_scale(values[:n_train], settings.m), rmsse_scale(values[:n_train], settings.m)
        forecasts, fitted = {}, {}
        panel = given.origins.get(str(train.index[-1])) if given is not None else None
        for name in settings.base_models():
            try:
                fitted[name], forecasts[name] = fit_forecast(name, train, settings.horizon, templates.get(name),
                                                             panel)
                if is_template(fitted[name]):
                    templates[name] = fitted[name]
            except FIT_ERRORS as exc:
                out.failures += 1
                out.notes.append(f"{name} failed at origin {train.index[-1]}: {exc}")
                forecasts[name] = _missing(settings.horizon)
        panel_columns = None
        if panel is not None and wants_panel:
            panel_columns = panel.forecast_columns(settings.horizon, LEVELS)
        if GLOBAL in settings.models:
            forecasts[GLOBAL] = panel_columns if panel_columns is not None else _missing(settings.horizon)
        if Ensemble.name in settings.models:
            forecasts[Ensemble.name] = blend_columns(
                combine_columns([forecasts[n] for n in settings.members]), panel_columns)
        origin, months = str(train.index[-1]), [str(m) for m in months_after(train.index[-1], settings.horizon)]
        for name in settings.models:
            f = {c: forecasts[name][c] for c in MEAN_AND_BOUNDS}
            rows += [(crime_type, area, name, origin, month, step, a, *(f[c][i] for c in f))
                     for i, (month, step, a) in enumerate(zip(months, range(1, settings.horizon + 1), actual))]
            metric_rows.append({"crime_type": crime_type, "area": area, "model": name, "origin": origin,
                                **scores(actual, f, scale, squared_scale), "scale": scale,
                                "squared_scale": squared_scale, "n_train": n_train, "series_months": len(values)})
    if rows:
        if len(settings.models) > 1:
            rows, metric_rows = _with_auto(rows, metric_rows, settings.models)
        out.predictions = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
        out.metrics = pd.DataFrame(metric_rows)
    return out, templates


def scores(actual: np.ndarray, forecast: Mapping[str, np.ndarray], scale: float, squared_scale: float) -> dict:
    """Every score (SCORES) of one forecast (mean and interval bounds) against what happened."""
    mean = np.asarray(forecast["mean"], dtype=float)
    return {"mase": mase(actual, mean, scale), "rmsse": rmsse(actual, mean, squared_scale),
            "spl": scaled_pinball(actual, forecast, scale), "smape": smape(actual, mean),
            "coverage_80": coverage(actual, forecast["lo_80"], forecast["hi_80"]),
            "coverage_95": coverage(actual, forecast["lo_95"], forecast["hi_95"]),
            "mae": float(np.mean(np.abs(actual - mean)))}


def _with_auto(rows: list[tuple], metric_rows: list[dict], candidates: Sequence[str]) -> tuple[list, list]:
    """The rows of ``auto`` added: at each origin, the predictions and scores of the nested choice (the scores
    with the family chosen)."""
    choice = _nested(metric_rows, candidates)
    model_at, origin_at = PREDICTION_COLUMNS.index("model"), PREDICTION_COLUMNS.index("origin")
    picked = [(*row[:model_at], AUTO, *row[model_at + 1:]) for row in rows if row[model_at] == choice[row[origin_at]]]
    chosen = [{**row, "model": AUTO, "chosen": choice[row["origin"]]} for row in metric_rows
              if row["model"] == choice[row["origin"]]]
    return rows + picked, metric_rows + chosen


def choose_model(scores: pd.DataFrame, candidates: Sequence[str]) -> str | None:
    """The candidate with the lowest mean MASE (mean absolute error where MASE is undefined)."""
    return _choose({str(m): [float(row["mase"]), float(row["mae"])] for m, row in scores.iterrows()}, candidates)


def forecast_series(key: tuple[str, str], y: pd.Series, settings: BacktestSettings, model: str = "auto",
                    horizon: int = 3, given: "PanelForecasts | None" = None) -> SeriesForecast:
    """Backtest, choose the model (``auto``) or take the one given, then fit it once on all months and forecast
    (the global model's forecast comes in ``given``, made from all months of the panel). The final fit keeps the
    form and orders the backtest searched at its first origin and scored at the later ones, instead of searching
    again: the search is most of a series' cost, and the forecast is then made the way it was scored."""
    result, templates = _backtest(key, y, settings, given)
    if model == AUTO:
        chosen = choose_model(result.model_scores(), settings.models)
        if chosen is None:
            chosen = Ensemble.name if len(y) >= 2 * settings.m else BASELINE
            result.notes.append(f"no backtest score: {chosen} used without a backtest")
    else:
        chosen = model
    result.chosen = chosen
    result.scored_as = AUTO if model == AUTO and len(settings.models) > 1 else chosen
    final = given.final if given is not None else None
    try:
        if chosen == GLOBAL:
            if final is None:
                raise ModelFitError("no forecast from the global model")
            result.model = final
        elif chosen == Ensemble.name:
            result.model = Ensemble.of([fit_family(n, y, templates.get(n)) for n in settings.members], final)
        else:
            result.model = fit_family(chosen, y, templates.get(chosen))
            if isinstance(result.model, Sparse) and final is not None:
                result.model = result.model.joined(final)
    except FIT_ERRORS as exc:
        result.failures += 1
        result.notes.append(f"{chosen} failed on the full series ({exc}); seasonal naive used")
        result.chosen = BASELINE
        result.model = make(BASELINE).fit(y)
    result.forecast = result.model.predict(horizon, LEVELS)
    return result


# ------------------------------------------------------------------ many series in parallel

def _job(func: Callable, key, y, *args, **kwargs):
    with one_thread(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return func(key, y, *args, **kwargs)


def run_parallel(func: Callable, series: Iterable[tuple[tuple[str, str], pd.Series]], *args,
                 n_jobs: int | None = None, progress: Callable[[SeriesForecast], None] | None = None,
                 **each: Mapping | None) -> list[SeriesForecast]:
    """Apply ``func(key, y, *args)`` to every series, in parallel processes; results in input order. Each keyword
    is a mapping by series (``given=``: the global model's forecasts; ``plan=``: settings and model): each series
    is passed its own entry (None where it has none) and not the mapping, whose size grows with the panel's."""
    items = list(series)
    each = {name: mapping for name, mapping in each.items() if mapping}
    calls = [((func, key, y, *args), {name: mapping.get(key) for name, mapping in each.items()}) for key, y in items]
    return _collected(calls, [key for key, _ in items], n_jobs, progress, lambda out: [out])


#: series in one job of :func:`run_batches`, at most: enough that a job's own cost is small beside its series'
#: (about 1.5 ms each on the batch path), few enough that two workers finish a crime type about together
MAX_BATCH = 64


def run_batches(func: Callable, series: Iterable[tuple[tuple[str, str], pd.Series]], *args,
                n_jobs: int | None = None, progress: Callable[[SeriesForecast], None] | None = None,
                **each: Mapping | None) -> list:
    """:func:`run_parallel` for a ``func`` that takes many series at once: ``func(keys, ys, *args, **lists)``
    returns a result for each key (each with ``crime_type`` and ``area``), each keyword a list of the keys'
    entries. At most MAX_BATCH series a job, and about four jobs a process (a worker thread, on a cluster): a job a
    series cost a sparse series more in sending it and its result than in fitting it."""
    items = list(series)
    processes = cores() if on_cluster() else n_jobs or os.cpu_count() or 1
    size = max(1, min(MAX_BATCH, -(-len(items) // (4 * processes))))
    each = {name: mapping for name, mapping in each.items() if mapping}
    calls = []
    for start in range(0, len(items), size):
        keys = [key for key, _ in items[start:start + size]]
        calls.append(((func, keys, [y for _, y in items[start:start + size]], *args),
                      {name: [mapping.get(key) for key in keys] for name, mapping in each.items()}))
    return _collected(calls, [key for key, _ in items], n_jobs, progress, list)


def _collected(calls: list[tuple[tuple, dict]], keys: list, n_jobs: int | None, progress, results: Callable) -> list:
    """Each call of :func:`_job` (``(args, kwargs)``) run in parallel processes, on the cluster when connected;
    ``results`` gives a call's results, each named by its crime type and area. The results in ``keys``' order."""
    from joblib import Parallel, delayed

    n_jobs = n_jobs or os.cpu_count() or 1
    order = {key: i for i, key in enumerate(keys)}
    out: list = [None] * len(keys)
    if on_cluster():
        outputs = tasks(_job, calls, ordered=False)
    elif n_jobs == 1 or len(calls) < 3:
        outputs = (_job(*args, **kwargs) for args, kwargs in calls)
    else:
        outputs = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)(
            delayed(_job)(*args, **kwargs) for args, kwargs in calls)
    for output in outputs:
        for result in results(output):
            out[order[(result.crime_type, result.area)]] = result
            if progress:
                progress(result)
    return out


# ------------------------------------------------------------------ summaries

@dataclass(frozen=True)
class BacktestResult:
    """The backtest of many series: every prediction, every score, and the summary per model."""

    settings: BacktestSettings
    series: tuple[SeriesForecast, ...]
    #: the global model at each origin (empty when it was not used)
    global_fit: "PanelFit" = field(default_factory=lambda: PanelFit({}, {}))

    @property
    def predictions(self) -> pd.DataFrame:
        frames = [s.predictions for s in self.series if not s.predictions.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)

    @property
    def metrics(self) -> pd.DataFrame:
        frames = [s.metrics for s in self.series if not s.metrics.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summary(self, min_months: int = 0) -> pd.DataFrame:
        """Per model: mean MASE, RMSSE, scaled pinball loss and sMAPE over series and origins, interval coverage,
        share of series won."""
        metrics = self.metrics
        columns = ["model", "series", "mase", "rmsse", "spl", "smape", "coverage_80", "coverage_95", "won"]
        if metrics.empty:
            return pd.DataFrame(columns=columns)
        metrics = metrics[metrics["series_months"] >= min_months].assign(
            key=lambda f: f["crime_type"] + "\x00" + f["area"])
        per_series = metrics[metrics["model"] != AUTO].groupby(["key", "model"])["mase"].mean().unstack("model")
        winners = per_series.dropna(how="all").idxmin(axis=1).value_counts()
        table = metrics.groupby("model").agg(series=("key", "nunique"),
                                             **{c: (c, "mean") for c in columns[2:-1]})
        table["won"] = (winners / max(1, winners.sum())).reindex(table.index).fillna(0.0)
        if AUTO in table.index:
            table.loc[AUTO, "won"] = np.nan  # a choice among the others, not a competitor
        order = [m for m in (*self.settings.models, AUTO) if m in table.index]
        return table.loc[order].reset_index()[columns]

    def failures(self) -> int:
        return sum(s.failures for s in self.series)


def rescored(result: BacktestResult, predictions: pd.DataFrame) -> BacktestResult:
    """The same backtest with its predictions replaced (reconciled, say) and every score recomputed from them,
    against the same MASE scale."""
    from dataclasses import replace

    groups = {key: frame for key, frame in predictions.groupby(["crime_type", "area", "model", "origin"])}
    series = []
    for s in result.series:
        if s.metrics.empty:
            series.append(s)
            continue
        metrics = s.metrics.copy()
        for i, row in enumerate(metrics.itertuples()):
            f = groups[(s.crime_type, s.area, row.model, row.origin)].sort_values("step")
            actual = f["actual"].to_numpy(dtype=float)
            new = scores(actual, {c: f[c].to_numpy(dtype=float) for c in ("mean", *QUANTILES)}, row.scale,
                         row.squared_scale)
            metrics.iloc[i, metrics.columns.get_indexer(list(SCORES))] = [new[c] for c in SCORES]
        mine = predictions[(predictions["crime_type"] == s.crime_type) & (predictions["area"] == s.area)]
        series.append(replace(s, predictions=mine[PREDICTION_COLUMNS].reset_index(drop=True), metrics=metrics))
    return BacktestResult(result.settings, tuple(series), result.global_fit)


def backtest_panel(series: Iterable[tuple[tuple[str, str], pd.Series]], settings: BacktestSettings = BacktestSettings(),
                   n_jobs: int | None = None, progress=None) -> BacktestResult:
    """Backtest every series (see :func:`backtest_series`); the global model learns from all of them."""
    items = dict(series)
    fit = panel_forecasts(items, items, settings, n_jobs=n_jobs) if settings.uses_global() else PanelFit({}, {})
    results = run_parallel(backtest_series, items.items(), settings, n_jobs=n_jobs, progress=progress, given=fit.series)
    return BacktestResult(settings, tuple(results), fit)


# ------------------------------------------------------------------ the panel's global model

#: the global model is trained only on panels of at least this many series; from 3 unrelated series up it made the
#: ensemble better (benchmarks/bench_global.py), and fewer are not a panel
MIN_GLOBAL_SERIES = 3
#: nor on fewer training rows than this at a cut-off: on 32 short real panels (18 to 60 months, 3 boroughs,
#: benchmarks/bench_short_panels.py) the global model made the ensemble better from about 600 rows up and no better
#: below (MASE 0.879 with this threshold, 0.882 training at any size, 0.899 never)
MIN_GLOBAL_ROWS = 600
#: and on at most this many rows: past it, a fixed sample of whole series (the same whichever series are forecast, so
#: that a run of every crime type trains once a cut-off, not once a crime type). The Met panels
#: make 58,740 (met-major) and 206,529 (met-minor) rows, so no measured accuracy rests on the sample. A 3-million-
#: row panel of 24,759 series makes 4.2 million, whose features alone (float64) would take 1.3 GB in each worker;
#: the cap keeps a cut-off's training (time and memory grow with the rows) near met-minor's
MAX_GLOBAL_ROWS = 250_000


#: a series trains the global model only if it had crime in at least this share of its last ACTIVE_MONTHS months.
#: Its median model cannot learn where most training rows are 0: a neighbourhood panel is mostly series with a
#: crime or two in five years (338 of the 576 City of London LSOA series, with the totals, have crime in under 5% of
#: their months), and trained with them the model's median was 0 for every series, even one of 6.6 crimes a month
#: (with series from 5% of months up, still 0; from 10% up, 9.7). It costs a little where there is no such flood: on
#: the Met's sparse borough series its MASE is 0.765 from 10%, 0.735 with every series and 0.844 from 20%
#: (benchmarks/bench_sparse.py)
MIN_ACTIVE_SHARE, ACTIVE_MONTHS = 0.1, 60


def active(y: pd.Series | np.ndarray) -> bool:
    """Whether a series had crime often enough to train the global model (MIN_ACTIVE_SHARE)."""
    return bool((np.asarray(y)[-ACTIVE_MONTHS:] > 0).mean() >= MIN_ACTIVE_SHARE)


def _sampled(lengths: dict, model: "GlobalModel", cap: int) -> dict:
    """The series of ``lengths`` (key: months to the cut-off) that train the model: all of them, or past ``cap``
    training rows whole series in an order fixed by their names' digests, the same at every cut-off, in every run
    and whichever series are forecast."""
    import hashlib

    if model.training_rows(lengths.values()) <= cap:
        return lengths
    keep, total = {}, 0
    for k in sorted(lengths, key=lambda k: hashlib.sha256(repr(k).encode()).digest()):
        more = model.training_rows([lengths[k]])
        if total + more > cap:
            break
        keep[k], total = lengths[k], total + more
    return keep


Arrays = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def _training_arrays(train: "Mapping[tuple[str, str], pd.Series] | Panel") -> Arrays:
    """Every training series as (month ordinals, counts), read once for every cut-off; from a panel without a
    pandas object a series (5,000 of them were a second of every crime type's run)."""
    if isinstance(train, Panel):
        return dict(train.iter_arrays())
    return {k: (s.index.asi8, s.to_numpy(dtype=float)) for k, s in train.items()}


def _cut_series(months: Arrays, lengths: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], pd.Series]:
    """The training series of one cut-off (``lengths``: months to it), as the model reads them."""
    return {k: pd.Series(months[k][1][:n], index=pd.PeriodIndex.from_ordinals(months[k][0][:n], freq="M"))
            for k, n in lengths.items()}


def _cut_lengths(months: Arrays) -> Callable[[pd.Period], dict]:
    """For a cut-off month, the months to it of every series of ``months`` long and active enough to train the
    global model (LEVEL_MONTHS, :func:`active`)."""

    def lengths(cutoff: pd.Period) -> dict:
        out = {}
        for k, (ordinals, values) in months.items():
            n = int(np.searchsorted(ordinals, cutoff.ordinal, side="right"))
            if n > LEVEL_MONTHS and active(values[:n]):
                out[k] = n
        return out

    return lengths


@dataclass(frozen=True)
class PanelForecasts:
    """The global model's forecasts of one series: at each backtest origin (by month), and from all its months."""

    origins: dict[str, GlobalSeries]
    final: GlobalSeries | None = None


@dataclass(frozen=True)
class PanelFit:
    """The global model at every cut-off (by month) and what it forecast for each series; ``note`` says why
    there is none."""

    series: dict[tuple[str, str], PanelForecasts]
    models: dict[str, "GlobalModel"]
    note: str = ""

    def final_model(self):
        """The model trained on every month (the latest cut-off), or None."""
        return self.models[max(self.models)] if self.models else None


def _train(train: dict, horizon: int, quantiles: tuple[float, ...] | None = None):
    """One cut-off's global model, trained on ``train`` (for some of its quantiles only, when given).

    On one thread: the cut-offs run in parallel processes instead, and OpenMP's threads, which wait for each
    other by spinning, slow to a crawl when other processes share the cores (a run beside another took minutes).
    """
    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GlobalModel(horizon=horizon, quantiles=quantiles or GLOBAL_QUANTILES).fit(train)


def training_jobs(cutoffs: Sequence, n_jobs: int) -> list[tuple]:
    """The trainings of these cut-offs' models on ``n_jobs`` processes, as (cut-off, quantiles or None for all):
    whole models while there is one for every process, then the rest a quantile at a time. Five cut-offs on two
    processes trained as whole models took three rounds, the last on one process while the other waited; the
    fifth's three quantiles (independent models, a third of the cost each) keep both busy."""
    whole = len(cutoffs) - len(cutoffs) % n_jobs if n_jobs > 1 else len(cutoffs)
    return [(c, None) for c in cutoffs[:whole]] + [(c, (q,)) for c in cutoffs[whole:]
                                                   for q in GLOBAL_QUANTILES]


class TrainedModels:
    """Global models already trained, by a digest of what they were trained on (:func:`_training_key`), so that a
    second run on the same data (another crime type, another call in one notebook session) does not train again.
    Bounded: past ``keep`` models, the least recently used goes; :meth:`clear` empties it."""

    def __init__(self, keep: int = 16):
        self.keep = keep
        self._models: dict[str, GlobalModel] = {}

    def __len__(self) -> int:
        return len(self._models)

    def take(self, key: str) -> "GlobalModel | None":
        return self._models.pop(key, None)

    def keep_newest(self, key: str, model: "GlobalModel") -> None:
        self._models[key] = model
        while len(self._models) > self.keep:
            self._models.pop(next(iter(self._models)))

    def clear(self) -> None:
        self._models.clear()


#: this process's trained global models (about 1 MB each, at most 16)
TRAINED = TrainedModels()


def _training_key(months: Arrays, lengths: Mapping[tuple[str, str], int], horizon: int) -> str:
    """A digest of one cut-off's training panel (names, first months, counts) and the model's settings."""
    import hashlib

    digest = hashlib.sha256(repr((horizon, sorted(GlobalModel(horizon).params().items()))).encode())
    for key in sorted(lengths):
        ordinals, values = months[key]
        digest.update("\x00".join(key).encode() + str(int(ordinals[0])).encode())
        digest.update(np.ascontiguousarray(values[:lengths[key]], dtype=float).tobytes())
    return digest.hexdigest()


def trained_models(months: Arrays, trains: dict, horizon: int, n_jobs: int) -> dict:
    """The global model for each cut-off's training panel (``trains``: each series' months to the cut-off, of the
    series ``months``): from this process's cache, else from the models an earlier command kept on disk
    (:mod:`forecast.engine.model_store`), else trained in parallel (and kept)."""
    from joblib import Parallel, delayed

    from forecast.engine import model_store

    keys = {c: _training_key(months, lengths, horizon) for c, lengths in trains.items()}
    found = {c: model for c in trains if (model := TRAINED.take(keys[c])) is not None}
    found.update({c: model for c in trains if c not in found and (model := model_store.read(keys[c])) is not None})
    missing = [c for c in trains if c not in found]
    if missing:
        cut = {c: _cut_series(months, trains[c]) for c in missing}
        if on_cluster():
            found.update(zip(missing, tasks(_train, (((cut[c], horizon), {}) for c in missing))))
        else:
            jobs = training_jobs(missing, n_jobs)
            trained = Parallel(n_jobs=min(n_jobs, len(jobs)), batch_size=1)(
                delayed(_train)(cut[c], horizon, quantiles) for c, quantiles in jobs)
            for c in missing:
                parts = [model for (cutoff, _), model in zip(jobs, trained) if cutoff == c]
                found[c] = parts[0] if len(parts) == 1 else GlobalModel.joined(parts)
        for c in missing:
            model_store.write(keys[c], found[c])
    for c in trains:
        TRAINED.keep_newest(keys[c], found[c])
    return found


def panel_forecasts(train: "Mapping[tuple[str, str], pd.Series] | Panel",
                    series: Mapping[tuple[str, str], pd.Series], settings: BacktestSettings,
                    horizon: int | None = None, n_jobs: int | None = None,
                    origins: Callable[[pd.Series], list[int]] | None = None) -> "PanelFit":
    """The global model's forecasts of ``series``: at each backtest origin from a model trained on every series
    of ``train`` (a panel, or series by key) cut at that month (never later months), and, with ``horizon``, from
    all months. One model per cut-off month, trained in parallel (once per process for the same data); none for a
    panel of fewer than MIN_GLOBAL_SERIES series. ``origins`` gives a series' training lengths (default:
    :func:`rolling_origins`; the winter plan's are a year apart)."""
    size = len(train.keys())
    if size < MIN_GLOBAL_SERIES:
        return PanelFit({}, {}, f"{size} series: the global model needs a panel of {MIN_GLOBAL_SERIES} or more")
    batches: dict[pd.Period, dict] = {}
    for key, y in series.items():
        for n_train in (origins(y) if origins else rolling_origins(len(y), settings)):
            batches.setdefault(y.index[n_train - 1], {})[key] = y.iloc[:n_train]
    finals = {}
    if horizon:
        for key, y in series.items():
            if len(y) >= 3:
                finals.setdefault(y.index[-1], {})[key] = y
    ahead = max(settings.horizon, horizon or 0)
    model = GlobalModel(horizon=ahead)
    trains, short, sampled = {}, [], []
    months = _training_arrays(train)
    cut_lengths = _cut_lengths(months)
    for c in sorted(set(batches) | set(finals)):
        cut = cut_lengths(c)
        rows = model.training_rows(cut.values())
        if len(cut) >= MIN_GLOBAL_SERIES and rows >= MIN_GLOBAL_ROWS:
            kept = _sampled(cut, model, MAX_GLOBAL_ROWS)
            trains[c] = kept
            if len(kept) < len(cut):
                sampled.append((len(kept), len(cut)))
        else:
            short.append((c, rows))
    note = ""
    if sampled:
        low, high = min(n for n, _ in sampled), max(n for n, _ in sampled)
        note = (f"the global model learns from a sample of {low:,}{f' to {high:,}' if high != low else ''} of "
                f"{max(m for _, m in sampled):,} series at {plural(len(sampled), 'cut-off')} (at most "
                f"{MAX_GLOBAL_ROWS:,} training rows), the same whichever series are forecast")
    if short:
        where = "at every cut-off" if not trains else \
            f"at {len(short)} of {len(short) + len(trains)} cut-offs ({short[0][0]} to {short[-1][0]})"
        left_out = (f"the global model is left out of the ensemble {where}: it needs {MIN_GLOBAL_ROWS} training "
                    f"rows from {MIN_GLOBAL_SERIES} or more series of over {LEVEL_MONTHS} months, and had at most "
                    f"{max(r for _, r in short)}")
        note = f"{note}; {left_out}" if note else left_out
    if not trains:
        return PanelFit({}, {}, note or "no series long enough for the global model")
    cutoffs = sorted(trains)
    models = trained_models(months, trains, ahead, n_jobs or os.cpu_count() or 1)
    out: dict[tuple[str, str], PanelForecasts] = {}
    for cutoff in cutoffs:
        forecasts = models[cutoff].predict({**batches.get(cutoff, {}), **finals.get(cutoff, {})}, ahead)
        for key in batches.get(cutoff, {}):
            out.setdefault(key, PanelForecasts({})).origins[str(cutoff)] = forecasts[key]
        for key in finals.get(cutoff, {}):
            out[key] = PanelForecasts(out[key].origins if key in out else {}, forecasts[key])
    return PanelFit(out, {str(c): model for c, model in models.items()}, note)
