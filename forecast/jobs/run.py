"""The planners' main job for one crime type: SPC status, backtested model choice and next quarter's forecast
for every area and the force total, with the board's sentences."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from forecast.jobs import board
from forecast.control import xmr as spc
from forecast.engine import batch
from forecast.engine.backtest import (PREDICTION_COLUMNS, BacktestSettings, PanelFit, SeriesForecast, forecast_series,
                               panel_forecasts, run_batches, run_parallel)
from forecast.data import ALL_AREAS, Panel
from forecast.errors import DataError
from forecast.files import file_stems
from forecast.models import BASELINE, DEFAULT_MODEL, SPARSE_MODEL
from forecast.models.paths import implied_sd, model_paths, total_interval
from forecast.engine.reconcile import DEFAULT as RECONCILE, hierarchy_problem
from forecast.words import plural
from forecast.control.seasonality import (MIN_CHANGE_PCT, MIN_STRENGTH, Decomposition, decompose, outlook_sentences,
                                  seasonal_outlook)

#: sample paths per series for the quarter total's intervals when the outlook asks for fewer
QUARTER_PATHS = 2000
#: months a series needs for a forecast of its own: three times the quarter it forecasts (fewer, and a level, let
#: alone a trend, rests on a handful of months); shorter series still get their SPC chart
MIN_FORECAST_MONTHS = 9
FORECAST_COLUMNS = ["crime_type", "area", "model", "month", "step", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]


@dataclass(frozen=True)
class RunDigest:
    """What the index of a run of several crime types reads of each (:meth:`RunResult.digest`): its summary rows and
    board sentences, without the fitted models, forecasts and sample paths (about a quarter of a megabyte a series of
    a neighbourhood panel), so that a run of every crime type need not hold them all until its index is written."""

    panel: Panel
    crime_type: str
    summary_rows: pd.DataFrame = field(repr=False)
    board_sentences: tuple[str, ...] = field(repr=False)

    def summary(self) -> pd.DataFrame:
        return self.summary_rows.copy()

    def sentences(self) -> list[str]:
        return list(self.board_sentences)


@dataclass(frozen=True)
class RunResult:
    """One ``forecast run``: per series its SPC, backtest, chosen model, forecast and decomposition."""

    panel: Panel
    crime_type: str
    horizon: int
    settings: BacktestSettings
    spc_options: spc.SPCOptions
    keys: tuple[tuple[str, str], ...]
    spc: dict
    forecasts: dict
    decompositions: dict
    paths: dict = field(default_factory=dict)
    outlooks: dict = field(default_factory=dict)
    #: how the forecasts were made to add up ("none": not reconciled), and why not when asked but not done
    reconciliation: str = "none"
    reconciliation_note: str = ""
    #: what the run left out or limited, for the user to hear once (series too short to forecast)
    notes: tuple[str, ...] = ()
    #: the panel's global model at each cut-off, and its forecasts (empty when it was not used)
    global_fit: PanelFit = field(default_factory=lambda: PanelFit({}, {}))
    #: the model the run was asked for (a family, or 'auto'); sparse series may use ``sparse_model``
    model: str = DEFAULT_MODEL

    @property
    def slug(self) -> str:
        """The crime type as a bounded file-name stem (out/<slug>, forecast/<slug>, models/<slug>)."""
        return file_stems([self.crime_type])[self.crime_type]

    def summary(self) -> pd.DataFrame:
        """One row per series: SPC status, model and accuracy, the forecast months and quarter total."""
        return self._summary.copy()

    @cached_property
    def _summary(self) -> pd.DataFrame:
        rows, series = [], dict(self.panel.iter_arrays())
        for key in self.board_order():
            s, f = self.spc[key], self.forecasts[key]
            months, counts = series[key]
            quarter = total_interval(self.paths[key], f.forecast["mean"].sum())
            summary = s.summary()
            row = {"crime_type": key[0], "area": key[1], "last_month": str(pd.Period(ordinal=months[-1], freq="M")),
                   "status": s.status, "icon": s.icon, "attention": self.attention[key].label,
                   "step_change": summary["step_change"] or "",
                   "process_mean": float(summary["mean"]), "model": f.chosen,
                   "mase": self._mase.get((*key, f.scored_as), np.nan),
                   "snaive_mase": self._mase.get((*key, BASELINE), np.nan)}
            for i, (month, value) in enumerate(f.forecast["mean"].items(), start=1):
                row[f"m{i}"] = float(value)
                row[f"m{i}_month"] = str(month)
            row.update({"quarter": quarter["total"], "quarter_lo_80": quarter["lo_80"],
                        "quarter_hi_80": quarter["hi_80"], "quarter_lo_95": quarter["lo_95"],
                        "quarter_hi_95": quarter["hi_95"]})
            # the same months a year before, when the series has a count for every one of them
            before = f.forecast.index.asi8 - 12
            at = np.searchsorted(months, before).clip(max=len(months) - 1)
            found = (months[at] == before).all() and np.isfinite(counts[at]).all()
            row["vs_last_year_pct"] = _pct(quarter["total"], counts[at].sum()) if found else np.nan
            row["vs_average_pct"] = _pct(quarter["total"] / self.horizon, row["process_mean"])
            if key in self.outlooks:
                o = self.outlooks[key]
                row.update({"p_step_up": o.p_step_up, "p_step_down": o.p_step_down,
                            "likely_month": str(o.likely_month) if o.likely_month else "",
                            "p_above_ucl": o.p_above_ucl, "p_below_lcl": o.p_below_lcl})
            row["reconciliation"] = self.reconciliation
            row["notes"] = "; ".join(s.notes + tuple(f.notes))
            rows.append(row)
        return pd.DataFrame(rows)

    @cached_property
    def _mase(self) -> dict[tuple[str, str, str], float]:
        """Each series' mean backtest MASE by model, from one grouping of every series' scores (a grouping per
        series cost more than the rest of its summary row)."""
        scored = [f.metrics for f in self.forecasts.values() if not f.metrics.empty]
        if not scored:
            return {}
        return pd.concat(scored, ignore_index=True).groupby(["crime_type", "area", "model"])["mase"].mean().to_dict()

    def forecast_frame(self) -> pd.DataFrame:
        """Every series' forecast, a row per month (forecast.csv): one concatenation, labelled once."""
        forecasts = [self.forecasts[key] for key in self.keys]
        lengths = [len(f.forecast) for f in forecasts]
        frame = pd.concat([f.forecast for f in forecasts]).reset_index(names="month")
        frame["month"] = frame["month"].astype(str)
        frame["crime_type"] = np.repeat([key[0] for key in self.keys], lengths)
        frame["area"] = np.repeat([key[1] for key in self.keys], lengths)
        frame["model"] = np.repeat([f.chosen for f in forecasts], lengths)
        frame["step"] = np.concatenate([np.arange(1, n + 1) for n in lengths])
        return frame[FORECAST_COLUMNS]

    def spc_frame(self) -> pd.DataFrame:
        return spc.points_frame([self.spc[k] for k in self.keys]).astype({"month": str})

    def backtest_frame(self) -> pd.DataFrame:
        frames = [self.forecasts[k].predictions for k in self.keys if not self.forecasts[k].predictions.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)

    def seasonal_outlook(self) -> pd.DataFrame:
        return seasonal_outlook(self.decompositions[k] for k in self.keys)

    @cached_property
    def attention(self) -> dict:
        """Each series' place in the board's order (:mod:`forecast.jobs.board`)."""
        return {k: board.attention(self.spc[k], self.outlooks.get(k), self.horizon) for k in self.keys}

    def board_order(self) -> list[tuple[str, str]]:
        """The series keys exceptions first, the force total leading its rank."""
        return board.ranked(self.keys, self.attention)

    def seasonal_sentences(self) -> list[str]:
        """The seasonal outlook: the force total's expected change, then the areas that may rise or fall;
        nothing for series without a clear seasonal pattern."""
        return list(self._seasonal_sentences)

    @cached_property
    def _seasonal_sentences(self) -> list[str]:
        """:meth:`seasonal_sentences`, made once: the summary and the sentences both ask, at 2 ms a series."""
        outlook = self.seasonal_outlook()
        if outlook.empty:
            return []
        out = []
        force = outlook[(outlook["area"] == ALL_AREAS) & (outlook["strength"] >= MIN_STRENGTH)
                        & (outlook["seasonal_change_pct"].abs() >= MIN_CHANGE_PCT)]
        for row in force.itertuples():
            direction = "rise" if row.seasonal_change_pct > 0 else "fall"
            out.append(f"Based on seasonality, {row.crime_type} (force total) may {direction} by about "
                       f"{abs(row.seasonal_change_pct):.0f}% a month over {row.next_months} compared with the last "
                       f"{self.horizon} months (seasonal strength {row.strength:.2f}).")
        out += outlook_sentences(outlook[outlook["area"] != ALL_AREAS], self.horizon, by="area", crime=self.crime_type)
        return out

    def sentences(self) -> list[str]:
        """What the board needs to know, exceptions first (:func:`forecast.jobs.board.board_sentences`)."""
        return board.board_sentences(self.keys, self.attention, self.seasonal_sentences())

    def digest(self) -> RunDigest:
        """This run's summary and sentences alone, for an index of several crime types."""
        return RunDigest(self.panel, self.crime_type, self._summary, tuple(self.sentences()))

    def manifest(self, started: float, run_id: str | None = None) -> dict:
        """What this run was (data, crime type, areas, when, its MLflow run): run.json, so that a folder of outputs
        says where it came from and can be told from any other folder."""
        import time

        return {"data": self.panel.name, "source": self.panel.source, "crime_type": self.crime_type,
                "areas": [k[1] for k in self.keys], "last_month": str(self.panel.months[-1]),
                "horizon": self.horizon, "ensemble_members": list(self.settings.members),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
                "mlflow_run_id": run_id}


def _pct(new: float, old: float) -> float:
    return float((new - old) / old * 100) if old else float("nan")


def run_forecast(panel: Panel, crime_type: str, horizon: int = 3, model: str = DEFAULT_MODEL,
                 settings: BacktestSettings | None = None, spc_options: spc.SPCOptions = spc.SPCOptions(),
                 n_jobs: int | None = None, progress: Callable[[FittedSeries], None] | None = None,
                 n_paths: int = 0, seed: int = 0, reconcile: str = RECONCILE, train: Panel | None = None,
                 sparse_model: str | None = SPARSE_MODEL) -> RunResult:
    """SPC, decomposition, backtest, model choice and forecast for every series of one crime type; with
    ``n_paths`` > 0, also the step-change outlook from that many sample paths per series. When the run holds
    the force total and every area, the forecasts, their sample paths (so their intervals and the outlook) are
    reconciled so that the areas add up to the force total (``reconcile``: a method of
    :mod:`forecast.engine.reconcile`). The global model learns from every series of ``train`` (default: ``panel``,
    every crime type), so that Robbery's forecasts draw on what Burglary's series show too. A series whose SPC
    finds too few crimes a month for signals (:func:`forecast.control.xmr.is_low_count`) is forecast with
    ``sparse_model`` (a count model, :mod:`forecast.models.intermittent`) instead of ``model``, unless it is None
    or ``model`` is ``auto``, which then has it among its candidates."""
    from forecast.models import DEFAULT_RUN

    full, panel = panel, panel.select(crime=crime_type)
    panel, notes = forecastable(panel, crime_type)
    keys = tuple(panel.keys())
    series = dict(panel.iter_series())
    spc_results = {k: spc.analyse(series[k], *k, options=spc_options) for k in keys}
    low = [k for k in keys if sparse_model and spc.is_low_count(spc_results[k])]
    settings = with_models(settings or BacktestSettings(models=DEFAULT_RUN), model, *([sparse_model] if low else []))
    plans = {k: (settings, model) for k in keys}
    sparse_settings = None
    if model != "auto":
        # a sparse series is scored only against the baseline: the smooth families and the global model would be
        # most of the cost of a neighbourhood run, for a forecast that is not used
        sparse_settings = replace(settings, models=tuple(dict.fromkeys((BASELINE, sparse_model))))
        plans.update({k: (sparse_settings, sparse_model) for k in low})
    if low and model not in ("auto", sparse_model):
        notes += (f"{plural(len(low), 'series')} with too few crimes a month for SPC signals (current average under "
                  f"{spc.fmt(spc_options.min_mean)}) forecast with the {sparse_model} model (counts, by demand "
                  f"pattern), not {model}: {', '.join(area for _, area in low[:5])}"
                  f"{f' and {len(low) - 5} more' if len(low) > 5 else ''}",)
    global_fit = PanelFit({}, {})
    wanting = {k: series[k] for k in keys if plans[k][0].uses_global()}
    if wanting:
        global_fit = panel_forecasts(train or full, wanting, settings, horizon, n_jobs)
    # the sparse series in jobs of many: a job a series cost more than its fits
    batched = set(low) if sparse_settings is not None and batch.batches(sparse_settings, sparse_model) else set()
    fitted = {(f.crime_type, f.area): f for f in run_parallel(
        fit_series, ((k, y) for k, y in series.items() if k not in batched), horizon, max(n_paths, QUARTER_PATHS),
        seed, n_jobs=n_jobs, progress=progress, plan=plans, given=global_fit.series)}
    if batched:
        fitted.update({(f.crime_type, f.area): f for f in run_batches(
            fit_sparse_series, ((k, y) for k, y in series.items() if k in batched), horizon,
            max(n_paths, QUARTER_PATHS), seed, sparse_settings, n_jobs=n_jobs, progress=progress,
            given=global_fit.series)})
    forecasts = {k: fitted[k].forecast for k in keys}
    paths = {k: fitted[k].paths for k in keys}
    decompositions: dict[tuple[str, str], Decomposition] = {k: fitted[k].decomposition for k in keys}
    applied, note = "none", ""
    if reconcile != "none":
        note = hierarchy_problem(series, (crime_type, ALL_AREAS))
        if not note:
            forecasts, paths = reconciled(crime_type, series, forecasts, paths, reconcile)
            applied = reconcile
    result = RunResult(panel, crime_type, horizon, settings, spc_options, keys, spc_results, forecasts, decompositions,
                       paths, reconciliation=applied, reconciliation_note=note, notes=notes, global_fit=global_fit,
                       model=model)
    if n_paths and horizon < spc_options.run_length:
        from forecast.engine.outlook import run_outlooks

        result.outlooks.update(run_outlooks(result, n_paths))
    return result


def with_models(settings: BacktestSettings, *models: str) -> BacktestSettings:
    """``settings`` whose backtest also scores ``models`` (bar ``auto``, the choice among them)."""
    return replace(settings, models=tuple(dict.fromkeys((*settings.models, *(m for m in models if m != "auto")))))


@dataclass(frozen=True)
class FittedSeries:
    """One series' share of a run, done in the worker that fits it: the forecast (backtest, model, final forecast),
    its sample paths and the series' seasonal decomposition. Made beside the fit, the paths and the STL no longer
    wait in the run's own process, one series after another, for the last fit to finish."""

    forecast: SeriesForecast
    paths: np.ndarray
    decomposition: Decomposition

    @property
    def crime_type(self) -> str:
        return self.forecast.crime_type

    @property
    def area(self) -> str:
        return self.forecast.area


def fit_series(key: tuple[str, str], y: pd.Series, horizon: int, n_paths: int, seed: int, plan: tuple,
               given=None) -> FittedSeries:
    """A series' forecast (:func:`forecast.engine.backtest.forecast_series` with its ``plan``: backtest settings
    and model), ``n_paths`` sample paths of it drawn from its own seeded generator (:func:`series_rng`: the same
    wherever it runs) and its decomposition."""
    settings, model = plan
    forecast = forecast_series(key, y, settings, model, horizon, given)
    paths = model_paths(forecast.model, forecast.forecast, n_paths, series_rng(seed, key))
    return FittedSeries(forecast, paths, decompose(y, *key))


def fit_sparse_series(keys: list[tuple[str, str]], ys: list[pd.Series], horizon: int, n_paths: int, seed: int,
                      settings: BacktestSettings, given: list | None = None) -> list[FittedSeries]:
    """:func:`fit_series` of many series planned with ``sparse`` (:mod:`forecast.engine.batch`), in one job: the
    same forecasts, paths and decompositions, for about half the CPU of a job a series (benchmarks/bench_batch.py)."""
    forecasts = batch.forecast_sparse(list(zip(keys, ys)), settings, horizon,
                                      dict(zip(keys, given)) if given else None)
    return FittedBatch(FittedSeries(f, model_paths(f.model, f.forecast, n_paths, series_rng(seed, key)),
                                    decompose(y, *key)) for key, y, f in zip(keys, ys, forecasts))


class FittedBatch(list):
    """The :class:`FittedSeries` of one job, sent back with their backtest frames joined: two frames a job
    instead of two a series, which cost more to unpickle (in the run's own process, one after another) than the
    series' fits. Unpickled, each series has its own frames again, equal to those it was made with."""

    def __reduce__(self):
        joined = {name: _joined([getattr(f.forecast, name) for f in self]) for name in ("predictions", "metrics")}
        light = [replace(f, forecast=replace(f.forecast, predictions=None, metrics=None)) for f in self]
        return _unjoined, (light, joined)


def _joined(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame | None, list]:
    """The frames with the first's columns and dtypes, end to end, and for each frame its length in the joined
    frame, or the frame itself when it has other columns (an empty backtest's)."""
    first = next((f for f in frames if len(f)), None)
    if first is None:
        return None, frames
    same = [bool(len(f)) and f.columns.equals(first.columns) and f.dtypes.equals(first.dtypes) for f in frames]
    joined = pd.concat([f for f, s in zip(frames, same) if s], ignore_index=True)
    return joined, [len(f) if s else f for f, s in zip(frames, same)]


def _unjoined(light: list[FittedSeries], joined: dict) -> FittedBatch:
    parts = {}
    for name, (frame, entries) in joined.items():
        cuts = iter(batch.cut(frame, [e for e in entries if isinstance(e, int)]) if frame is not None else [])
        parts[name] = [next(cuts) if isinstance(e, int) else e for e in entries]
    return FittedBatch(replace(f, forecast=replace(f.forecast, predictions=p, metrics=m))
                       for f, p, m in zip(light, parts["predictions"], parts["metrics"]))


def forecastable(panel: Panel, crime_type: str) -> tuple[Panel, tuple[str, ...]]:
    """The panel without the series too short to forecast (MIN_FORECAST_MONTHS), and a note naming them; a
    :class:`DataError` naming the file, the series and the minimum when none is long enough."""
    lengths = panel.lengths()
    short = lengths[lengths < MIN_FORECAST_MONTHS]
    if short.empty:
        return panel, ()
    named = ", ".join(f"{area} ({plural(n, 'month')})" for (_, area), n in short.items())
    if len(short) == len(lengths):
        raise DataError(f"{panel.source}: no {crime_type} series is long enough to forecast ({named}); a forecast "
                        f"needs at least {MIN_FORECAST_MONTHS} months")
    keep = ~panel.frame.set_index(["crime_type", "area"]).index.isin(short.index)
    note = (f"not forecast, too short (a forecast needs at least {MIN_FORECAST_MONTHS} months): {crime_type} in "
            f"{named}")
    return replace(panel, frame=panel.frame[keep].reset_index(drop=True)), (note,)


def reconciled(crime_type: str, series: dict, forecasts: dict, paths: dict, method: str) -> tuple[dict, dict]:
    """The forecasts and sample paths made coherent: each month's means add up, and so does every path; the
    intervals are the reconciled paths' quantiles."""
    from forecast.engine.reconcile import reconcile_paths

    order = [(crime_type, ALL_AREAS), *[k for k in series if k[1] != ALL_AREAS]]
    frames = [forecasts[k].forecast for k in order]
    base = np.vstack([f["mean"].to_numpy(dtype=float) for f in frames])
    variances = np.array([np.mean(implied_sd(f) ** 2) for f in frames])
    covariance = None
    if method == "mint":
        from forecast.engine.reconcile import shrunk_covariance

        errors = pd.concat({k: _errors(forecasts[k]) for k in order}, axis=1).dropna()
        covariance = shrunk_covariance(errors.to_numpy()) if len(errors) > 2 else np.diag(variances)
    means, joint = reconcile_paths(base, np.stack([paths[k] for k in order]), method, variances, covariance)
    new_forecasts, new_paths = dict(forecasts), dict(paths)
    for i, key in enumerate(order):
        q = np.quantile(joint[i], [0.10, 0.90, 0.025, 0.975], axis=0)
        frame = pd.DataFrame({"mean": means[i], "lo_80": q[0], "hi_80": q[1], "lo_95": q[2], "hi_95": q[3]},
                             index=frames[i].index)
        new_forecasts[key] = replace(forecasts[key], forecast=frame)
        new_paths[key] = joint[i]
    return new_forecasts, new_paths


def _errors(f: SeriesForecast) -> pd.Series:
    """Backtest errors of the model a series' forecast was made with, by (origin, step)."""
    rows = f.predictions[f.predictions["model"] == f.chosen]
    return (rows["actual"] - rows["mean"]).set_axis(pd.MultiIndex.from_frame(rows[["origin", "step"]]))


def series_rng(seed: int, key: tuple[str, str]) -> np.random.Generator:
    """A generator seeded by the run's seed and the series' name: a series draws the same paths whichever
    other series run beside it."""
    return np.random.default_rng([seed, zlib.crc32("\x00".join(key).encode())])
