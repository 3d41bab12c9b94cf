"""Step-change outlook: how likely is next quarter to bring a significant step change?

Sample paths for the next months come from the chosen model (simulated by the library where it
can, else drawn from its predictive distribution with its own errors; non-negative, whole numbers
for counts). Each path is appended to the history and the SPC step-change rule is replayed on it,
for all paths at once. Seeded: the same inputs and seed give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from forecast.control import xmr as spc
from forecast.models.paths import model_paths

LIKELY = 0.5
POSSIBLE = 0.1


@dataclass(frozen=True)
class Outlook:
    """The step-change outlook of one series."""

    crime_type: str
    area: str
    last_month: pd.Period
    run_side: int
    run_length: int
    p_step_up: float
    p_step_down: float
    p_by_month: tuple[float, ...]
    p_above_ucl: float
    p_below_lcl: float
    p_run_completes: float | None
    n_paths: int
    sentences: tuple[str, ...] = field(default=())
    low_count: bool = False
    #: replayed through the rules on seasonally adjusted counts
    adjusted: bool = False

    @property
    def p_step(self) -> float:
        return self.p_step_up + self.p_step_down

    @property
    def likely_month(self) -> pd.Period | None:
        """The month in which a step change would most likely be declared (None when no path makes one)."""
        if not any(self.p_by_month):
            return None
        return self.last_month + 1 + int(np.argmax(self.p_by_month))

    def to_dict(self) -> dict:
        side = {1: "above", -1: "below", 0: "on"}[self.run_side]
        return {"crime_type": self.crime_type, "area": self.area, "last_month": str(self.last_month),
                "current_run": {"side": side, "length": self.run_length},
                "p_step_up": round(self.p_step_up, 6), "p_step_down": round(self.p_step_down, 6),
                "likely_month": None if self.likely_month is None else str(self.likely_month),
                "p_above_ucl": round(self.p_above_ucl, 6), "p_below_lcl": round(self.p_below_lcl, 6),
                "p_run_completes": None if self.p_run_completes is None else round(self.p_run_completes, 6),
                "paths": self.n_paths, "sentences": list(self.sentences)}


def declared_changes(history: np.ndarray, paths: np.ndarray, options: spc.SPCOptions = spc.SPCOptions(),
                     usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each path appended to the history: the future step (0-based) at which the first step change
    is declared (-1 for none) and its direction (+1 up, -1 down), by the rule of
    :func:`forecast.control.xmr.find_step_changes` (the run that ends that month, against the average as it
    stands then). All paths are replayed together."""
    history = np.asarray(history, dtype=float)
    usable = np.ones(history.size, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    start = spc.current_process_start(spc.find_step_changes(history, options, usable))
    segment = history[np.flatnonzero(usable[start:]) + start]
    n_paths, horizon = paths.shape
    declared = np.full(n_paths, -1)
    direction = np.zeros(n_paths, dtype=int)
    n = options.run_length
    if not options.auto_step_change:
        return declared, direction
    for h in range(horizon):
        values = np.concatenate([np.broadcast_to(segment, (n_paths, segment.size)), paths[:, :h + 1]], axis=1)
        if values.shape[1] < 2 * n:
            continue
        base = values[:, :options.baseline] if options.baseline else values
        sides = np.sign(values[:, -n:] - base.mean(axis=1, keepdims=True)).astype(int)
        new = (sides[:, 0] != 0) & np.all(sides == sides[:, :1], axis=1) & (declared < 0)
        declared[new] = h
        direction[new] = sides[new, 0]
    return declared, direction


def run_completes(paths: np.ndarray, mean: float, side: int, length: int, run_length: int) -> float | None:
    """Probability that the current run (``length`` months on ``side``) reaches ``run_length`` within the paths."""
    if side == 0 or length == 0:
        return None
    needed = run_length - length
    if needed > paths.shape[1]:
        return 0.0
    if needed <= 0:
        return 1.0
    return float(np.mean(np.all(np.sign(paths[:, :needed] - mean) == side, axis=1)))


def outlook(result: spc.SPCResult, paths: np.ndarray) -> Outlook:
    """The step-change outlook of one series from its SPC result and sample paths of its next months. When the
    SPC was seasonally adjusted, so are the paths (by the factors estimated at the last month), and the rules
    are replayed on the adjusted history."""
    a = result.arrays
    usable = np.asarray(a.labels, dtype=object) != spc.IGNORED
    # what the rules saw: the counts, or the seasonally adjusted counts
    history = a.values
    if result.adjustment is not None:
        paths = paths / result.adjustment.ahead(paths.shape[1])
    declared, direction = declared_changes(np.nan_to_num(history), paths, result.options, usable)
    horizon = paths.shape[1]
    by_month = tuple(float(np.mean(declared == h)) for h in range(horizon))
    cur = a.process_rows[-1]
    side, length = result.current_run()
    with np.errstate(invalid="ignore"):
        above = float(np.mean(np.any(paths > cur["ucl"], axis=1))) if np.isfinite(cur["ucl"]) else 0.0
        below = float(np.mean(np.any(paths < cur["lcl"], axis=1))) if np.isfinite(cur["lcl"]) else 0.0
    o = Outlook(result.crime_type, result.area, result.last_month, side, length,
                float(np.mean((declared >= 0) & (direction > 0))), float(np.mean((declared >= 0) & (direction < 0))),
                by_month, above, below, run_completes(paths, cur["mean"], side, length, result.options.run_length),
                paths.shape[0], low_count=result.chart is not None,
                adjusted=result.adjustment is not None)
    return replace(o, sentences=(sentence(o),))


def step_label(up: float, down: float) -> str:
    """'0.71 up', '0.12 down' or '0.00': the chance of a step change next quarter and its likelier way."""
    if up + down < 0.005:
        return "0.00"
    return f"{up:.2f} up" if up >= down else f"{down:.2f} down"


def sentence(o: Outlook) -> str:
    """The board's sentence, e.g. "Robbery in Dudley: 7 months above average; a significant step change up is
    likely next month (probability 0.71)"."""
    measure = spc.measure_name(o.crime_type, o.area, o.adjusted)
    if o.low_count:
        return f"{measure}: too few crimes a month for a step-change outlook."
    run = f"{o.run_length} months {'above' if o.run_side > 0 else 'below'} average; " if o.run_length >= 2 else ""
    if o.p_step < POSSIBLE:
        return f"{measure}: {run}no step change is expected next quarter (probability of a change {o.p_step:.2f})."
    up = o.p_step_up >= o.p_step_down
    p = o.p_step_up if up else o.p_step_down
    word = "likely" if p >= LIKELY else "possible"
    when = "next month" if o.likely_month == o.last_month + 1 else f"in {o.likely_month}"
    return (f"{measure}: {run}a significant step change {'up' if up else 'down'} is {word} {when} "
            f"(probability {p:.2f}).")


def run_outlooks(run, n_paths: int = 2000) -> dict:
    """The outlook of every series of a :class:`forecast.jobs.run.RunResult`, from the run's own sample paths (seeded
    per series by its name, so that a series gets the same numbers whichever others are selected with it)."""
    out, counts = {}, run.panel.is_count
    for key in run.keys:
        paths = run.paths[key][:n_paths]
        out[key] = outlook(run.spc[key], np.round(paths) if counts else paths)
    return out


def outlook_frame(outlooks) -> pd.DataFrame:
    return pd.DataFrame([{**{k: v for k, v in o.to_dict().items() if k not in ("current_run", "sentences")},
                          "run_side": o.run_side, "run_length": o.run_length, "sentence": o.sentences[0]}
                         for o in outlooks])


# ------------------------------------------------------------------ calibration against history

def current_run_of(history: np.ndarray, options: spc.SPCOptions = spc.SPCOptions()) -> tuple[int, int, float]:
    """(side, length) of the latest run on one side of the current process average, and that average, from the
    history alone."""
    history = np.asarray(history, dtype=float)
    start = spc.current_process_start(spc.find_step_changes(history, options))
    segment = history[start:]
    mean = float(segment[:options.baseline or None].mean())
    sides = spc.side_of_mean(segment, mean)
    if sides.size == 0 or sides[-1] == 0:
        return 0, 0, mean
    changes = np.flatnonzero(sides != sides[-1])
    return int(sides[-1]), int(sides.size - (changes[-1] + 1 if changes.size else 0)), mean


def evaluate_series(key: tuple[str, str], y: pd.Series, options: spc.SPCOptions, models: Sequence[str],
                    every: int = 3, min_history: int = 36, horizon: int = 3, n_paths: int = 1000, seed: int = 0,
                    window: int = 4, members: Sequence[str] | None = None) -> pd.DataFrame:
    """Replay the outlook procedure at past origins: the forecast probability of a step change in the next
    ``horizon`` months, and whether the SPC replay of what really happened declared one.

    At each origin every family in ``models`` is fitted on the months so far; with several, the one used is
    chosen as ``forecast run`` chooses (lowest mean MASE), from the ``window`` latest earlier origins whose
    outcome was known by then (the ensemble at the first), so the choice never sees the future. As in the
    backtest, a family's form (ETS form, ARIMA orders) is searched afresh every ``window`` origins and refitted
    in between. With ``options.adjust == "seasonal"`` the rules see the causally adjusted counts, and each
    origin's paths are adjusted by the factors known at that origin, as :func:`outlook` does.
    """
    from forecast.engine.backtest import FIT_ERRORS, choose_model, default_family, fit_predict, is_template, mase, mase_scale
    from forecast.models.ensemble import Ensemble, combine

    values = y.to_numpy(dtype=float)
    seen, factors = values, None  # what the SPC rules see: the counts, or the seasonally adjusted counts
    if options.adjust == "seasonal":
        from forecast.control.adjust import ahead, replay_values

        seen, factors = replay_values(y)
    detected = np.array([c.detected for c in spc.find_step_changes(seen, options)])
    whole = bool(np.all(values % 1 == 0))
    members = tuple(members or Ensemble.default_members)
    base = [m for m in models if m != Ensemble.name]
    if Ensemble.name in models:
        base += [m for m in members if m not in base]
    scores: list[dict] = []
    rows = []
    templates: dict = {}
    for j, t in enumerate(range(min_history - 1, len(values) - horizon, every)):
        side, length, level = current_run_of(seen[:t + 1], options)
        if level < options.min_mean:
            continue  # too few crimes for SPC signals: the outlook makes no claim here
        train = y.iloc[:t + 1]
        actual = values[t + 1:t + 1 + horizon]
        fitted, forecasts, failed = {}, {}, 0
        if j % window == 0:
            templates.clear()
        for name in base:
            try:
                fitted[name], forecasts[name] = fit_predict(name, train, horizon, templates.get(name))
            except FIT_ERRORS:
                failed += 1
                continue
            if is_template(fitted[name]):
                templates.setdefault(name, fitted[name])
        if Ensemble.name in models and all(m in fitted for m in members):
            fitted[Ensemble.name] = Ensemble.of([fitted[m] for m in members])
            forecasts[Ensemble.name] = combine([forecasts[m] for m in members])
        known = [r for r in scores if r["origin"] + horizon <= t]
        recent = sorted({r["origin"] for r in known})[-window:]
        table = pd.DataFrame([r for r in known if r["origin"] in recent])
        candidates = [m for m in models if m in fitted]
        chosen = None
        if len(candidates) > 1 and not table.empty:
            chosen = choose_model(table.groupby("model")[["mase", "mae"]].mean(), candidates)
        chosen = chosen or (default_family(candidates) if candidates else None)
        if chosen is None:
            continue
        scale = mase_scale(values[:t + 1])
        for name in candidates:
            mean = forecasts[name]["mean"].to_numpy()
            scores.append({"origin": t, "model": name, "mase": mase(actual, mean, scale),
                           "mae": float(np.mean(np.abs(actual - mean)))})
        paths = model_paths(fitted[chosen], forecasts[chosen], n_paths, np.random.default_rng([seed, j]), whole)
        if factors is not None and np.isfinite(factors[t]).all():
            paths = paths / ahead(factors[t], y.index[t], horizon)
        declared, _ = declared_changes(seen[:t + 1], paths, options)
        rows.append({"crime_type": key[0], "area": key[1], "origin": str(y.index[t]), "model": chosen,
                     "run_side": side, "run_length": length, "p_step": float(np.mean(declared >= 0)),
                     "step_change": bool(np.any((detected > t) & (detected <= t + horizon))), "failed": failed})
    return pd.DataFrame(rows, columns=["crime_type", "area", "origin", "model", "run_side", "run_length", "p_step",
                                       "step_change", "failed"])


def run_length_baseline(records: pd.DataFrame) -> pd.Series:
    """The honest baseline of the outlook: how often a step change followed a run of the same length (and side)
    at other series' origins. Cross-validated by series: a series' own history never informs its forecast."""
    r = records.assign(series=records["crime_type"] + "\x00" + records["area"],
                       state=records["run_side"].astype(str) + ":" + records["run_length"].astype(str),
                       hit=records["step_change"].astype(float))
    by_state = r.groupby("state")["hit"].agg(["sum", "count"])
    own = r.groupby(["series", "state"])["hit"].agg(["sum", "count"])
    own_series = r.groupby("series")["hit"].agg(["sum", "count"])
    index = pd.MultiIndex.from_frame(r[["series", "state"]])
    hits = by_state["sum"].reindex(r["state"]).to_numpy() - own["sum"].reindex(index).to_numpy()
    n = by_state["count"].reindex(r["state"]).to_numpy() - own["count"].reindex(index).to_numpy()
    others_rate = ((r["hit"].sum() - own_series["sum"].reindex(r["series"]).to_numpy())
                   / np.maximum(1, len(r) - own_series["count"].reindex(r["series"]).to_numpy()))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, hits / np.maximum(n, 1), others_rate)
    return pd.Series(p, index=records.index, name="p_run_length")


@dataclass(frozen=True)
class Calibration:
    """Brier score of the outlook against the base rate, and its reliability table; ``models`` replayed on
    ``series`` series (``failed``: the fits that failed at the origins scored, left out of the choice)."""

    records: pd.DataFrame
    models: tuple[str, ...] = ()
    series: int = 0

    def __post_init__(self):
        # records gathered per series may include empty frames (a series with too few crimes has no origins),
        # whose object columns would otherwise make the outcome column untyped
        typed = self.records.astype({"step_change": bool, "p_step": float})
        object.__setattr__(self, "records", typed.reset_index(drop=True))

    @property
    def failed(self) -> int:
        return int(self.records["failed"].sum()) if "failed" in self.records else 0

    @property
    def base_rate(self) -> float:
        return float(self.records["step_change"].mean())

    @property
    def brier(self) -> float:
        from sklearn.metrics import brier_score_loss

        return float(brier_score_loss(self.records["step_change"], self.records["p_step"]))

    @property
    def brier_base_rate(self) -> float:
        from sklearn.metrics import brier_score_loss

        y = self.records["step_change"]
        return float(brier_score_loss(y, np.full(len(y), y.mean())))

    @property
    def brier_run_length(self) -> float:
        """Brier score of the run-length baseline (:func:`run_length_baseline`)."""
        from sklearn.metrics import brier_score_loss

        return float(brier_score_loss(self.records["step_change"], run_length_baseline(self.records)))

    @property
    def skill(self) -> float:
        """Brier skill score against the base rate (1 perfect, 0 no better than the base rate)."""
        return 1 - self.brier / self.brier_base_rate if self.brier_base_rate else float("nan")

    @property
    def skill_run_length(self) -> float:
        """Brier skill score against the run-length baseline: what the forecast adds to the run's state."""
        return 1 - self.brier / self.brier_run_length if self.brier_run_length else float("nan")

    def reliability(self, bins=(0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)) -> pd.DataFrame:
        """Predicted probability bins against the observed frequency of step changes."""
        r = self.records
        cut = pd.cut(r["p_step"], bins=list(bins), include_lowest=True)
        table = r.groupby(cut, observed=True).agg(n=("step_change", "size"), predicted=("p_step", "mean"),
                                                   observed=("step_change", "mean"))
        table.index = [f"{max(i.left, 0.0):.2f}-{i.right:.2f}" for i in table.index]
        return table.reset_index(names="bin")
