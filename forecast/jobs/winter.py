"""The winter demand plan: every month from the data's last to the end of the coming winter, the winter's total
with intervals from sample paths, its likeliest peak month and how it compares with past winters; and a backtest
that forecasts each past winter from the same planning month (one origin a year), so that a planner can see how
far to trust a figure made months ahead.

A winter total's interval is the spread of the paths' sums, never a sum of monthly bounds: months of one winter
move together (a high December is followed by a high January more often than not), and bounds added up would
claim every month at its extreme at once. The expected figures are the models' own means, not the paths': paths
are cut at zero, and for a series whose spread is inflated by an old break in recording (Fraud or Forgery fell
from about 2,500 a month to about 100 in 2013) the cut paths' mean is far above what any model forecasts; the seasonal
naive baseline would no longer be last winter's months either. Where the mean falls outside its own 80% interval
the row says so: its interval cannot be trusted.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from forecast.engine.backtest import (AUTO, FIT_ERRORS, BacktestSettings, PanelFit, PanelForecasts, choose_model,
                               default_family, fit_family, is_template, mase, mase_scale, nested_choices,
                               panel_forecasts, run_parallel)
from forecast.data import ALL_AREAS, ALL_CRIME, Panel
from forecast.errors import DataError, ModelFitError
from forecast.models import BASELINE, DEFAULT_MODEL, DEFAULT_RUN, GLOBAL, LEVELS, Ensemble, make
from forecast.models.paths import model_paths
from forecast.engine.reconcile import DEFAULT as RECONCILE
from forecast.jobs.run import MIN_FORECAST_MONTHS, series_rng
from forecast.control.xmr import fmt
from forecast.words import plural

DEFAULT_SEASON = "nov-feb"
#: a plan of this many series or fewer is read in full (table, sentences, charts); a larger one by its force totals
HEADLINE_ALL = 12
#: a past winter is forecast only from an origin with two years of training or more: a seasonal model needs two
#: of each month to tell the season from the level
MIN_TRAIN = 24
#: sample paths per series and model at each past winter (enough for the 80% and 95% quantiles of a total)
BACKTEST_PATHS = 1000
#: sample paths per series for the winter being planned
WINTER_PATHS = 2000
#: the past winters averaged beside last winter
AVERAGE_WINTERS = 3

BACKTEST_COLUMNS = ["crime_type", "area", "model", "origin", "winter", "recorded_months", "forecast_months",
                    "actual_total", "total", "lo_80", "hi_80", "lo_95", "hi_95", "error_pct", "covered_80",
                    "covered_95", "mase", "mae", "chosen", "reconciled"]


def _month_number(text: str, whole: str) -> int:
    word = text.strip().lower()
    if word.isdigit() and 1 <= int(word) <= 12:
        return int(word)
    for number in range(1, 13):
        if len(word) >= 3 and calendar.month_name[number].lower().startswith(word):
            return number
    raise ValueError(f"{whole!r}: {text.strip()!r} is not a month (jan to dec, or 1 to 12)")


@dataclass(frozen=True)
class Season:
    """The calendar months of a winter (or any season), in order; it may run across the new year."""

    months: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> "Season":
        """'nov-feb' -> November to February; 'oct-mar', '11-2' and 'november-february' read the same way."""
        parts = str(text).split("-")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"{text!r}: expected the first and last month of the winter, such as nov-feb")
        first, last = (_month_number(p, text) for p in parts)
        return cls(tuple((first - 1 + i) % 12 + 1 for i in range((last - first) % 12 + 1)))

    @property
    def label(self) -> str:
        return f"{calendar.month_abbr[self.months[0]]}-{calendar.month_abbr[self.months[-1]]}"

    def ending(self, end: pd.Period) -> pd.PeriodIndex:
        """The season's months that end at ``end``."""
        return pd.period_range(end=end, periods=len(self.months), freq="M")

    def coming(self, last: pd.Period) -> pd.PeriodIndex:
        """The first season that ends after ``last``: the one being planned (it may have begun already)."""
        end = pd.Period(year=last.year, month=self.months[-1], freq="M")
        return self.ending(end if end > last else end + 12)


def winter_name(window: pd.PeriodIndex) -> str:
    """'2018/19' for a winter across the new year, '2019' for a season inside one."""
    first, last = window[0].year, window[-1].year
    return str(first) if first == last else f"{first}/{str(last)[-2:]}"


def month_span(months: pd.PeriodIndex) -> str:
    """'Nov 2018 to Feb 2019', or 'Jan 2019' for one month."""
    first, last = (m.strftime("%b %Y") for m in (months[0], months[-1]))
    return first if len(months) == 1 else f"{first} to {last}"


@dataclass(frozen=True)
class WinterSettings:
    """What a winter plan forecasts (the season from the planning month ``last``) and how it is backtested."""

    season: Season
    last: pd.Period
    models: tuple[str, ...] = DEFAULT_RUN
    model: str = DEFAULT_MODEL
    #: the ensemble's local members (forecast.models.parse_members)
    members: tuple[str, ...] = Ensemble.default_members
    #: the most past winters to backtest (None: as many as the data allows)
    winters: int | None = None
    min_train: int = MIN_TRAIN
    backtest_paths: int = BACKTEST_PATHS
    seed: int = 0
    m: int = 12

    def __post_init__(self):
        for name in (*self.models, *([] if self.model == AUTO else [self.model])):
            make(name)
        # the members are checked as a backtest checks them
        BacktestSettings(models=self.models, members=self.members)
        if self.model != AUTO and self.model not in self.models:
            object.__setattr__(self, "models", (*self.models, self.model))

    @property
    def window(self) -> pd.PeriodIndex:
        return self.season.coming(self.last)

    @property
    def horizon(self) -> int:
        """Months from the planning month to the end of the winter."""
        return (self.window[-1] - self.last).n

    @property
    def recorded(self) -> pd.PeriodIndex:
        """The winter's months already in the data (the plan is made inside the winter)."""
        return self.window[self.window <= self.last]

    def origins(self, y: pd.Series) -> list[int]:
        """Training lengths of the past planning months a year apart (oldest first) for which ``y`` has the
        training and the whole winter after."""
        out = []
        for k in range(1, len(y) // 12 + 1):
            n_train = len(y) - (self.last - y.index[-1]).n - 12 * k
            if n_train < self.min_train or (self.winters and len(out) == self.winters):
                break
            out.append(n_train)
        return out[::-1]


@dataclass
class WinterSeries:
    """One series' plan: its backtest over past winters, the model used and its forecast to the winter's end."""

    crime_type: str
    area: str
    backtest: pd.DataFrame
    chosen: str | None = None
    scored_as: str | None = None
    forecast: pd.DataFrame | None = None
    model: object = None
    notes: list[str] = field(default_factory=list)
    failures: int = 0
    #: per past planning month, the forecast as the plan would print it (the model used, or auto's choice from
    #: earlier winters): its months, expected counts, sample paths and MASE scale, to be reconciled with the plan
    printed: dict = field(default_factory=dict)


def _totals(known: float, means: np.ndarray, paths: np.ndarray) -> dict:
    sums = known + paths.sum(axis=1)
    q = np.quantile(sums, [0.10, 0.90, 0.025, 0.975])
    return {"total": float(known + means.sum()), "lo_80": q[0], "hi_80": q[1], "lo_95": q[2], "hi_95": q[3]}


def _expected(frame: pd.DataFrame) -> np.ndarray:
    """A forecast frame's monthly means as expected counts (never below zero)."""
    return np.maximum(frame["mean"].to_numpy(dtype=float), 0.0)


def holds_total(row: Mapping) -> bool:
    """Whether a row's 80% interval holds its own expected total; when it does not (paths cut at zero, a spread
    inflated by an old break in the series), the interval is not to be relied on."""
    return bool(row["lo_80"] <= row["total"] <= row["hi_80"])


def _outside(row: Mapping) -> list[str]:
    out = []
    if not holds_total(row):
        out.append(f"the expected {fmt(row['total'])} lies outside its own 80% interval ({fmt(row['lo_80'])} to "
                   f"{fmt(row['hi_80'])}): the paths are cut at zero and their spread is wider than the series now "
                   "is, so the interval and the peak month are not to be relied on")
    elif not row["peak_reliable"]:
        out.append(f"the likeliest peak in the paths ({row['peak_month']}) is not the month of the highest expected "
                   "count, so the peak month is not to be relied on")
    return out


def _scored(name: str, origin: pd.Period, window: pd.PeriodIndex, y: pd.Series, months: pd.PeriodIndex,
            means: np.ndarray, paths: np.ndarray, scale: float) -> dict:
    """One model's forecast of one past winter (expected counts and paths of ``months``), scored on the winter
    total and its forecast months."""
    recorded = window[window <= origin]
    ahead = months.isin(window)
    actual = y.reindex(window).to_numpy(dtype=float)
    forecast = means[ahead]
    row = _totals(float(y.reindex(recorded).sum()), forecast, paths[:, ahead])
    truth = float(actual.sum())
    actual_ahead = actual[len(recorded):]
    row.update({"model": name, "origin": str(origin), "winter": winter_name(window),
                "recorded_months": len(recorded), "forecast_months": int(ahead.sum()), "actual_total": truth,
                "error_pct": (row["total"] - truth) / truth * 100 if truth > 0 else np.nan,
                "covered_80": float(row["lo_80"] <= truth <= row["hi_80"]),
                "covered_95": float(row["lo_95"] <= truth <= row["hi_95"]),
                "mase": mase(actual_ahead, forecast, scale), "mae": float(np.mean(np.abs(actual_ahead - forecast)))})
    return row


def winter_series(key: tuple[str, str], y: pd.Series, settings: WinterSettings,
                  given: PanelForecasts | None = None) -> WinterSeries:
    """Backtest one series over past winters (each forecast from the planning month of its year, with every model
    and its sample paths), then fit the model used (the default, or ``auto``'s choice by mean backtest MASE) on
    all months and forecast to the end of the winter. The global model's forecasts come in ``given``."""
    crime_type, area = key
    out = WinterSeries(crime_type, area, pd.DataFrame(columns=BACKTEST_COLUMNS))
    rng = series_rng(settings.seed + 1, key)
    h, window = settings.horizon, settings.window
    base = BacktestSettings(models=settings.models, members=settings.members).base_models()
    templates, rows, drawn = {}, [], {}
    for n_train in settings.origins(y):
        train, origin = y.iloc[:n_train], y.index[n_train - 1]
        past = window - (settings.last - origin).n
        fitted = {}
        for name in base:
            try:
                fitted[name] = fit_family(name, train, templates.get(name))
            except FIT_ERRORS as exc:
                out.failures += 1
                out.notes.append(f"{name} failed at origin {origin}: {exc}")
                continue
            if is_template(fitted[name]):
                templates.setdefault(name, fitted[name])
        panel = given.origins.get(str(origin)) if given is not None else None
        if panel is not None and GLOBAL in settings.models:
            fitted[GLOBAL] = panel
        members = [fitted[n] for n in settings.members if n in fitted]
        if Ensemble.name in settings.models and members:
            fitted[Ensemble.name] = Ensemble.of(members, panel)
        scale = mase_scale(train.to_numpy(dtype=float), settings.m)
        for name in settings.models:
            if name in fitted:
                frame = fitted[name].predict(h, LEVELS)
                paths = model_paths(fitted[name], frame, settings.backtest_paths, rng)
                expected = _expected(frame)
                drawn[str(origin), name] = (frame.index, expected, paths.astype(np.float32), scale, past)
                rows.append(_scored(name, origin, past, y, frame.index, expected, paths, scale))
    if rows:
        scores = pd.DataFrame(rows).assign(crime_type=crime_type, area=area, chosen="", reconciled=False)
        choice = nested_choices(scores, settings.models) if len(settings.models) > 1 else {}
        nested = scores[scores["model"] == scores["origin"].map(choice)].assign(model=AUTO)
        out.backtest = pd.concat([scores, nested.assign(chosen=nested["origin"].map(choice))],
                                 ignore_index=True)[BACKTEST_COLUMNS]
        printed = choice if settings.model == AUTO else {o: settings.model for o in scores["origin"].unique()}
        out.printed = {o: drawn[o, name] for o, name in printed.items() if (o, name) in drawn}
    else:
        out.notes.append(f"{len(y)} months: no past winter to backtest (needs {settings.min_train} months before "
                         "the planning month of a year earlier)")
    if settings.model == AUTO:
        mine = out.backtest[out.backtest["model"] != AUTO]
        chosen = choose_model(mine.groupby("model")[["mase", "mae"]].mean(), settings.models) \
            if not mine.empty else None
        out.chosen, out.scored_as = chosen or default_family(settings.models), AUTO
    else:
        out.chosen = out.scored_as = settings.model
    final = given.final if given is not None else None
    try:
        if out.chosen == GLOBAL:
            if final is None:
                raise ModelFitError("no forecast from the global model")
            out.model = final
        elif out.chosen == Ensemble.name:
            out.model = Ensemble.of([fit_family(n, y, templates.get(n)) for n in settings.members], final)
        else:
            out.model = fit_family(out.chosen, y, templates.get(out.chosen))
    except FIT_ERRORS as exc:
        out.failures += 1
        out.notes.append(f"{out.chosen} failed on the full series ({exc}); seasonal naive used")
        out.chosen, out.model = BASELINE, make(BASELINE).fit(y)
    out.forecast = out.model.predict(h, LEVELS)
    return out


# ------------------------------------------------------------------ the plan

def reconcile_paths_by_plan(series: Mapping[tuple[str, str], pd.Series], means: dict, paths: dict,
                            method: str) -> tuple[dict, dict, int]:
    """Means and sample paths made to add up by the steps of :func:`forecast.engine.reconcile.plan` (areas to each
    crime type's force total, crime types to each area's All crime, or both); returns them and the steps done.
    Every path adds up at every level: where a step cut a part's path at zero, the totals above it are summed
    again from their parts, last step first."""
    from forecast.engine.reconcile import plan, reconcile_paths

    steps = plan(series, method)
    means, paths = dict(means), dict(paths)
    for how, total, parts in steps:
        if how == "sum":
            means[total] = sum(means[p] for p in parts)
            paths[total] = sum(paths[p] for p in parts)
            continue
        order = [total, *parts]
        variances = np.array([paths[k].var(axis=0).mean() for k in order])
        new_means, new_paths = reconcile_paths(np.vstack([means[k] for k in order]),
                                               np.stack([paths[k] for k in order]), how, variances)
        for i, k in enumerate(order):
            means[k], paths[k] = new_means[i], new_paths[i]
    for _, total, parts in reversed(steps):  # a part cut at zero by a later step raised its total: sum again
        means[total], paths[total] = sum(means[p] for p in parts), sum(paths[p] for p in parts)
    return means, paths, len(steps)


def reconciled_backtest(history: Mapping[tuple[str, str], pd.Series], series: Mapping[tuple[str, str], WinterSeries],
                        method: str) -> tuple[pd.DataFrame, int]:
    """Each past winter's forecasts as the plan prints them: the model used (auto: its choice from earlier
    winters) for every series, reconciled by the plan's own steps and scored, so that the backtest's coverage is
    that of the intervals a planner reads. Each past winter is reconciled over the series forecast from it (an
    area that joined the data later is left out of the earlier winters, as it is of their totals); returns the
    scores and the number of past winters whose series did not add up, left unreconciled."""
    from forecast.engine.reconcile import plan as steps_of

    if method == "none":
        return pd.DataFrame(columns=BACKTEST_COLUMNS), 0
    origins = sorted({o for s in series.values() for o in s.printed})
    rows, left = [], 0
    for origin in origins:
        drawn = {k: s.printed[origin] for k, s in series.items() if origin in s.printed}
        before = {k: history[k][history[k].index <= pd.Period(origin, freq="M")] for k in drawn}
        if not steps_of(before, method):
            left += 1
            continue
        means, paths, _ = reconcile_paths_by_plan(before, {k: d[1] for k, d in drawn.items()},
                                                  {k: d[2].astype(float) for k, d in drawn.items()}, method)
        for key, (months, _, _, scale, past) in drawn.items():
            row = _scored(series[key].scored_as, pd.Period(origin, freq="M"), past, history[key], months,
                          means[key], paths[key], scale)
            rows.append({**row, "crime_type": key[0], "area": key[1], "chosen": "", "reconciled": True})
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS), left


@dataclass(frozen=True)
class WinterPlan:
    """A winter plan: per series the backtest, the model, the forecast months and their (reconciled) paths."""

    panel: Panel
    settings: WinterSettings
    history: dict
    series: dict
    means: dict
    paths: dict
    reconciliation: str = "none"
    notes: tuple[str, ...] = ()
    global_fit: PanelFit = field(default_factory=lambda: PanelFit({}, {}))
    #: the past winters' forecasts as printed (reconciled by the plan's steps), scored
    reconciled_scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BACKTEST_COLUMNS))

    @property
    def keys(self) -> list[tuple[str, str]]:
        return list(self.series)

    @property
    def window(self) -> pd.PeriodIndex:
        return self.settings.window

    @property
    def ahead(self) -> pd.PeriodIndex:
        """The months forecast: from the month after the planning month to the winter's end."""
        return pd.period_range(self.settings.last + 1, self.window[-1], freq="M")

    @property
    def name(self) -> str:
        return winter_name(self.window)

    def headline(self) -> list[tuple[str, str]]:
        """The series the board reads first: every series of a small plan (a few areas asked for by name), else
        each crime type's force total (All crime first) where the plan has them; the rest are in winter.csv."""
        totals = [k for k in self.keys if k[1] == ALL_AREAS]
        if len(self.keys) <= HEADLINE_ALL or not totals:
            return self.keys
        return sorted(totals, key=lambda k: k[0] != ALL_CRIME)

    def _window_paths(self, key) -> np.ndarray:
        """Paths over the winter's months: the recorded months as they were, then the forecast ones."""
        recorded = self.history[key].reindex(self.settings.recorded).to_numpy(dtype=float)
        paths = self.paths[key][:, self.ahead.isin(self.window)]
        return np.hstack([np.broadcast_to(recorded, (len(paths), len(recorded))), paths])

    def _past_total(self, key, years_back: int) -> float:
        values = self.history[key].reindex(self.window - 12 * years_back)
        return float(values.sum()) if values.notna().all() else np.nan

    @cached_property
    def _totals(self) -> pd.DataFrame:
        rows = []
        scores = self.backtest_frame()
        for key in self.keys:
            s = self.series[key]
            window_paths = self._window_paths(key)
            recorded = self.history[key].reindex(self.settings.recorded)
            means = self.means[key][self.ahead.isin(self.window)]
            row = {"crime_type": key[0], "area": key[1], "winter": self.name,
                   "first_month": str(self.window[0]), "last_month": str(self.window[-1]),
                   "recorded_months": len(recorded), "forecast_months": len(means), "model": s.chosen,
                   **_totals(float(recorded.sum()), means, window_paths[:, len(recorded):])}
            peaks = np.bincount(window_paths.argmax(axis=1), minlength=len(self.window)) / len(window_paths)
            row["peak_month"], row["p_peak"] = str(self.window[int(peaks.argmax())]), float(peaks.max())
            expected = np.concatenate([recorded.to_numpy(dtype=float), means])
            row["peak_reliable"] = holds_total(row) and int(peaks.argmax()) == int(expected.argmax())
            row["last_winter"] = self._past_total(key, 1)
            past = [t for t in (self._past_total(key, k) for k in range(1, AVERAGE_WINTERS + 1)) if t == t]
            row["average_winters"] = len(past)
            row["average"] = float(np.mean(past)) if past else np.nan
            row["vs_last_winter_pct"] = _pct(row["total"], row["last_winter"])
            row["vs_average_pct"] = _pct(row["total"], row["average"])
            mine = scores[(scores["crime_type"] == key[0]) & (scores["area"] == key[1])]
            reconciled = mine["reconciled"].astype(bool)
            own, used = mine[~reconciled], mine[reconciled]
            used = used if not used.empty else own[own["model"] == s.scored_as]
            naive = own[own["model"] == BASELINE]
            row.update({"backtest_winters": len(used), "backtest_mase": used["mase"].mean(),
                        "backtest_error_pct": used["error_pct"].abs().mean(),
                        "backtest_covered_80": used["covered_80"].mean(),
                        "snaive_error_pct": naive["error_pct"].abs().mean(),
                        "reconciliation": self.reconciliation,
                        "notes": "; ".join([*s.notes, *_outside(row)])})
            rows.append(row)
        return pd.DataFrame(rows)

    def totals(self) -> pd.DataFrame:
        """One row per series: the winter's total with its intervals from the paths, peak month, last winter,
        the average of the last three, the changes, and how well past winters were forecast."""
        return self._totals.copy()

    def ranked(self, keys=None) -> pd.DataFrame:
        """The totals of ``keys`` (default: :meth:`headline`), largest expected rise against last winter first."""
        wanted = set(keys or self.headline())
        frame = self._totals[[k in wanted for k in zip(self._totals["crime_type"], self._totals["area"])]]
        return frame.sort_values("vs_last_winter_pct", ascending=False, na_position="last").reset_index(drop=True)

    def months_frame(self) -> pd.DataFrame:
        """Every month of the plan per series: the winter's recorded months as recorded, the forecast months
        with the mean and the intervals of the (reconciled) paths."""
        frames = []
        for key in self.keys:
            recorded = self.history[key].reindex(self.settings.recorded)
            q = np.quantile(self.paths[key], [0.10, 0.90, 0.025, 0.975], axis=0)
            frames.append(pd.DataFrame({
                "crime_type": key[0], "area": key[1],
                "month": [str(m) for m in (*recorded.index, *self.ahead)],
                "kind": ["recorded"] * len(recorded) + ["forecast"] * len(self.ahead),
                "in_winter": [True] * len(recorded) + list(self.ahead.isin(self.window)),
                "mean": [*recorded.to_numpy(), *self.means[key]], "lo_80": [*recorded.to_numpy(), *q[0]],
                "hi_80": [*recorded.to_numpy(), *q[1]], "lo_95": [*recorded.to_numpy(), *q[2]],
                "hi_95": [*recorded.to_numpy(), *q[3]]}))
        return pd.concat(frames, ignore_index=True)

    def backtest_frame(self) -> pd.DataFrame:
        """Every past winter's forecast of every series: each model's own (``reconciled`` False), then the
        forecasts as the plan prints them, reconciled (``reconciled`` True) where the plan reconciles."""
        frames = [s.backtest for s in self.series.values() if not s.backtest.empty]
        if not self.reconciled_scores.empty:
            frames.append(self.reconciled_scores)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BACKTEST_COLUMNS)

    def backtest_summary(self) -> pd.DataFrame:
        """Per model, over every series and past winter and over the force totals alone: mean MASE of the forecast
        months, mean and median absolute error of the winter total in %, and how often its intervals held it."""
        return summarise_backtest(self.backtest_frame(), self.settings.models)

    def sentences(self) -> list[str]:
        """A sentence per headline series in the board's register, largest expected rise first."""
        origin = calendar.month_name[self.settings.last.month]
        out = []
        for r in self.ranked().to_dict(orient="records"):
            what = r["crime_type"] if r["area"] == ALL_AREAS else f"{r['crime_type']} in {r['area']}"
            if r["crime_type"] == ALL_CRIME and r["area"] == ALL_AREAS:
                what = "All crime (the force's total demand)"
            interval = (f"80%: {fmt(r['lo_80'])} to {fmt(r['hi_80'])}" if holds_total(r) else
                        f"its 80% interval, {fmt(r['lo_80'])} to {fmt(r['hi_80'])}, does not hold that figure and is "
                        "not to be relied on")
            text = (f"Based on the forecast, {what} this winter ({month_span(self.window)}) is expected at "
                    f"{fmt(r['total'])} ({interval})")
            change = _change_words(r["vs_last_winter_pct"], "last winter")
            if change:
                text += f", {change}"
                average = _change_words(r["vs_average_pct"], f"the average of the last {r['average_winters']} "
                                        "winters") if r["average_winters"] > 1 else ""
                text += f" and {average}" if average else ""
            peak = pd.Period(r["peak_month"], freq="M")
            if not r["peak_reliable"]:
                text += "; no peak month can be told from its paths."
            else:
                text += (f"; the peak month looks to be {peak.strftime('%B')}, already recorded"
                         if peak <= self.settings.last else f"; the peak is expected in {peak.strftime('%B')}")
                text += f" (probability {r['p_peak']:.2f})."
            if r["backtest_winters"]:
                winters = int(r["backtest_winters"])
                text += (f" In {plural(winters, 'past winter')} forecast from {origin}, this total was off by "
                         f"{r['backtest_error_pct']:.0f}%{' on average' if winters > 1 else ''} "
                         f"(last winter's months as the forecast: {r['snaive_error_pct']:.0f}%).")
            out.append(text)
        return out

    def manifest(self, started: float, run_id: str | None = None) -> dict:
        """What the plan was (data, season, planning month, series), and its MLflow run: its run.json."""
        import time

        return {"command": "winter", "data": self.panel.name, "source": self.panel.source,
                "season": self.settings.season.label, "winter": self.name, "planning_month": str(self.settings.last),
                "forecast_months": [str(m) for m in self.ahead], "crime_types": sorted({k[0] for k in self.keys}),
                "areas": sorted({k[1] for k in self.keys}), "reconciliation": self.reconciliation,
                "ensemble_members": list(self.settings.members),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), "mlflow_run_id": run_id}


def _pct(new: float, old: float) -> float:
    return float((new - old) / old * 100) if old and old == old else float("nan")


def _change_words(pct: float, against: str) -> str:
    if pct != pct:
        return ""
    if round(abs(pct)) == 0:
        return f"about the same as {against}"
    return f"{abs(pct):.0f}% {'above' if pct > 0 else 'below'} {against}"


def summarise_backtest(frame: pd.DataFrame, models) -> pd.DataFrame:
    """Per model and level (every series; the force totals): series, winters, MASE, mean and median absolute %
    error of the winter total, coverage of its 80% and 95% intervals; each model's own forecasts, then the
    forecasts as the plan prints them, reconciled ("ensemble reconciled")."""
    columns = ["level", "model", "series", "winters", "mase", "error_pct", "median_error_pct", "coverage_80",
               "coverage_95"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    out = []
    for level, rows in (("every series", frame), ("force totals", frame[frame["area"] == ALL_AREAS])):
        if rows.empty:
            continue
        label = rows["model"].where(~rows["reconciled"].astype(bool), rows["model"] + " reconciled")
        table = rows.assign(abs_error=rows["error_pct"].abs(), key=rows["crime_type"] + "\x00" + rows["area"],
                            model=label) \
            .groupby("model").agg(series=("key", "nunique"), winters=("origin", "size"), mase=("mase", "mean"),
                                  error_pct=("abs_error", "mean"), median_error_pct=("abs_error", "median"),
                                  coverage_80=("covered_80", "mean"), coverage_95=("covered_95", "mean"))
        order = [m for m in (*models, AUTO) if m in table.index] + sorted(m for m in table.index
                                                                          if m.endswith(" reconciled"))
        out.append(table.loc[order].reset_index().assign(level=level))
    return pd.concat(out, ignore_index=True)[columns]


def plan_winter(panel: Panel, settings: WinterSettings, n_jobs: int | None = None,
                progress: Callable[[WinterSeries], None] | None = None, n_paths: int = WINTER_PATHS,
                reconcile: str = RECONCILE, train: Panel | None = None) -> WinterPlan:
    """The winter plan of every series of ``panel``: backtest over past winters, forecast to the winter's end,
    sample paths, and (where the panel holds totals with their parts) reconciled so that areas add up to the
    force total and crime types to All crime. The global model learns from every series of ``train`` (default
    ``panel``), cut a year apart at the past planning months."""
    notes = []
    history = {}
    for key, y in panel.iter_series():
        if y.index[-1] < settings.last:
            notes.append(f"{key[0]} in {key[1]}: ends at {y.index[-1]}, before the planning month {settings.last}")
        elif len(y) < MIN_FORECAST_MONTHS:
            notes.append(f"{key[0]} in {key[1]}: {plural(len(y), 'month')}, too short to forecast (a forecast needs "
                         f"at least {MIN_FORECAST_MONTHS})")
        else:
            history[key] = y
    if not history:
        raise DataError(f"{panel.source}: no series reaches the planning month {settings.last} with "
                        f"{MIN_FORECAST_MONTHS} months or more")
    h = settings.horizon
    backtest = BacktestSettings(horizon=h, models=settings.models, members=settings.members)
    global_fit = PanelFit({}, {})
    if backtest.uses_global():
        pool = {k: y[y.index <= settings.last] for k, y in (train or panel).iter_series()}
        global_fit = panel_forecasts(pool, history, backtest, h, n_jobs, origins=settings.origins)
    fitted = run_parallel(winter_series, history.items(), settings, n_jobs=n_jobs, progress=progress,
                          given=global_fit.series)
    series = {(f.crime_type, f.area): f for f in fitted}
    paths = {k: model_paths(f.model, f.forecast, n_paths, series_rng(settings.seed, k)) for k, f in series.items()}
    means = {k: _expected(f.forecast) for k, f in series.items()}
    applied, scores = "none", pd.DataFrame(columns=BACKTEST_COLUMNS)
    if reconcile != "none":
        means, paths, steps = reconcile_paths_by_plan(history, means, paths, reconcile)
        if steps:
            applied = reconcile
            scores, left = reconciled_backtest(history, series, reconcile)
            if left:
                notes.append(f"{plural(left, 'past winter')} scored before reconciliation only: its series do not "
                             "add up to their totals")
        else:
            notes.append("not reconciled: the plan needs a total and the parts that add up to it (the force total "
                         "and its areas, or All crime and its crime types)")
    for s in series.values():
        s.printed = {}
    return WinterPlan(panel, settings, history, series, means, paths, applied, tuple(notes), global_fit, scores)
