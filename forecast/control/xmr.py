"""Statistical process control the way police boards read it (see shared/spc/SPC.md).

XmR limits per process, significant step changes found by replaying history month by month (a run
of ``run_length`` months on one side of the current process average starts a new process at the
first month of the run), the Making Data Count point rules within each process, and the board's
sentences for the latest month. The rules are small functions over plain arrays; :func:`analyse`
wires them together for one series and returns an :class:`SPCResult`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from forecast.control.counts import CountChart, choose_chart

if TYPE_CHECKING:
    from forecast.control.adjust import Adjustment

LIMIT_MULTIPLIER = 2.66
NEAR_FRACTION = 2 / 3
SCREEN_MULTIPLIER = 3.267
DIRECTIONS = ("decrease", "increase", "neutral")
ADJUSTMENTS = ("none", "seasonal")
SEASONALLY_ADJUSTED = "seasonally adjusted"
MIN_MEAN = 5.0
TOO_FEW = "too few crimes"
NONE_RECORDED = "no crimes recorded"

COMMON_CAUSE = "Common Cause"
IGNORED = "Ignored"


@dataclass(frozen=True)
class SPCOptions:
    """The parameters of one SPC analysis; carried by its result so that it can be explained later."""

    run_length: int = 8
    baseline: int | None = 12
    screen_mr: bool = False
    shift_points: int = 7
    trend_points: int = 7
    two_in_three_beyond_limits: bool = True
    improvement_direction: str = "decrease"
    auto_step_change: bool = True
    step_changes_at: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    limit_multiplier: float = LIMIT_MULTIPLIER
    #: below this process average (crimes a month), single crimes would make signals: none are reported
    min_mean: float = MIN_MEAN
    #: counts cannot be negative, so a lower limit below zero is reported as 0
    floor_at_zero: bool = True
    #: "seasonal": the rules work on seasonally adjusted counts (:mod:`forecast.control.adjust`); "none": on the counts
    adjust: str = "none"
    #: decimals of the numbers in the sentences (None: counts whole, other values to one decimal); rates of a
    #: few crimes per 1,000 a month need two
    decimals: int | None = None

    def __post_init__(self):
        if self.run_length < 2:
            raise ValueError(f"run_length must be at least 2, got {self.run_length}")
        if self.baseline is not None and self.baseline < 2:
            raise ValueError(f"baseline must be at least 2 points or None (all points), got {self.baseline}")
        if not self.min_mean >= 0:
            raise ValueError(f"min_mean must be zero or more, got {self.min_mean}")
        if self.adjust not in ADJUSTMENTS:
            raise ValueError(f"adjust must be one of {ADJUSTMENTS}, got {self.adjust!r}")
        if self.improvement_direction not in DIRECTIONS:
            raise ValueError(f"improvement_direction must be one of {DIRECTIONS}, got {self.improvement_direction!r}")

    def as_params(self) -> dict:
        """Flat parameters for logging (MLflow) and JSON."""
        d = asdict(self)
        d["step_changes_at"] = ",".join(self.step_changes_at)
        d["ignore"] = ",".join(self.ignore)
        return d


# ------------------------------------------------------------------ limits

@dataclass(frozen=True)
class Limits:
    """A process's average, mean moving range and limits: floats, or (to classify the points of several processes at
    once) one value per point."""

    mean: float
    amr: float
    lcl: float
    ucl: float
    near_lcl: float
    near_ucl: float


def moving_ranges(y: np.ndarray) -> np.ndarray:
    """|y_i - y_(i-1)| for consecutive points."""
    y = np.asarray(y, dtype=float)
    return np.abs(y[1:] - y[:-1])


def _mean(y: np.ndarray) -> np.float64:
    """``y.mean()`` of a non-empty float array, to the last bit (the same sum, divided by the count), without
    numpy's dispatch: a series' analysis takes a score of means of a few months each."""
    return y.sum() / y.size


def mean_moving_range(y: np.ndarray, screen: bool = False) -> float:
    """Average moving range; with ``screen``, moving ranges >= 3.267 x the average are dropped once."""
    mr = moving_ranges(y)
    if mr.size == 0:
        return float("nan")
    amr = _mean(mr)
    if screen:
        kept = mr[mr < SCREEN_MULTIPLIER * amr]
        amr = _mean(kept) if kept.size else amr
    return float(amr)


def xmr_limits(y: np.ndarray, screen_mr: bool = False, multiplier: float = LIMIT_MULTIPLIER,
               floor: float | None = None) -> Limits:
    """Process average, control limits (mean +/- 2.66 mR-bar) and near limits (2/3 of the way); lower limits
    are raised to ``floor`` where given (0 for counts, which cannot be negative)."""
    y = np.asarray(y, dtype=float)
    mean = float(_mean(y)) if y.size else float("nan")
    amr = mean_moving_range(y, screen_mr)
    width = multiplier * amr
    near = NEAR_FRACTION * width
    lcl, near_lcl = mean - width, mean - near
    if floor is not None:
        lcl, near_lcl = max(lcl, floor), max(near_lcl, floor)
    return Limits(mean, amr, lcl, mean + width, near_lcl, mean + near)


# ------------------------------------------------------------------ point rules (one function each)

def side_of_mean(y: np.ndarray, mean: float | np.ndarray) -> np.ndarray:
    """+1 above, -1 below, 0 on the mean (which breaks a run)."""
    return np.sign(np.asarray(y, dtype=float) - mean).astype(int)


def outside_limits(y: np.ndarray, lcl: float | np.ndarray, ucl: float | np.ndarray) -> np.ndarray:
    """+1 above the upper limit, -1 below the lower one (strictly), else 0."""
    y = np.asarray(y, dtype=float)
    return np.where(y > ucl, 1, np.where(y < lcl, -1, 0))


def run_end_flags(sides: np.ndarray, n: int = 7, segments: np.ndarray | None = None) -> np.ndarray:
    """1 at each point that ends a run of at least ``n`` equal non-zero sides (within one of ``segments``)."""
    sides = np.asarray(sides, dtype=int).tolist()
    segments = [0] * len(sides) if segments is None else np.asarray(segments).tolist()
    out, length, previous, previous_segment = [], 0, 0, segments[0] if segments else 0
    for s, segment in zip(sides, segments):
        length = length + 1 if s != 0 and s == previous and segment == previous_segment else (1 if s != 0 else 0)
        out.append(int(length >= n))
        previous, previous_segment = s, segment
    return np.array(out, dtype=int)


def trend_end_flags(y: np.ndarray, n: int = 7, segments: np.ndarray | None = None) -> np.ndarray:
    """+1 / -1 at each point that ends ``n`` strictly rising / falling points (ties, and the step from one of
    ``segments`` to the next, break a trend)."""
    steps = np.sign(np.diff(np.asarray(y, dtype=float))).astype(int)
    if segments is not None:
        steps[np.diff(segments) != 0] = 0
    steps = steps.tolist()
    out = [0] * len(y)
    length, previous = 0, 0
    for i, s in enumerate(steps, start=1):
        length = length + 1 if s != 0 and s == previous else (1 if s != 0 else 0)
        if length >= n - 1:
            out[i] = s
        previous = s
    return np.array(out, dtype=int)


def part_of_run(end_flags: np.ndarray, n: int = 7) -> np.ndarray:
    """1 for every point of a flagged run: the flagged point and the ``n - 1`` before it."""
    flagged = np.asarray(end_flags) != 0
    out = np.zeros(flagged.size, dtype=int)
    for i in np.flatnonzero(flagged):
        out[max(0, i - n + 1): i + 1] = 1
    return out


def two_in_three(close: np.ndarray, sides: np.ndarray, segments: np.ndarray | None = None) \
        -> tuple[np.ndarray, np.ndarray]:
    """Windows of 3 with at least 2 close points, all 3 on one side (and in one of ``segments``, which are
    contiguous): (window flags, flagged close points)."""
    close = np.asarray(close, dtype=int)
    c, s = close.tolist(), np.asarray(sides, dtype=int).tolist()
    g = [0] * len(c) if segments is None else np.asarray(segments).tolist()
    window = [0] * len(c)
    for i in range(len(c) - 2):
        if s[i] != 0 and s[i] == s[i + 1] == s[i + 2] and g[i] == g[i + 2] and c[i] + c[i + 1] + c[i + 2] >= 2:
            window[i:i + 3] = (1, 1, 1)
    window = np.array(window, dtype=int)
    return window, window * close


def close_to_limits(y: np.ndarray, limits: Limits, beyond_limits: bool = True) -> np.ndarray:
    """Points beyond the near (2-sigma) limits; the 2023 MDC definition also counts points beyond 3 sigma."""
    y = np.asarray(y, dtype=float)
    close = (y > limits.near_ucl) | (y < limits.near_lcl)
    if not beyond_limits:
        close &= (y <= limits.ucl) & (y >= limits.lcl)
    return close.astype(int)


def trend_directions(y: np.ndarray, part: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
    """Direction of the trend at each trend point: the slope on its right if the next point is in it (and in its
    one of ``segments``), else its left."""
    y = np.asarray(y, dtype=float)
    g = np.zeros(y.size, dtype=int) if segments is None else np.asarray(segments)
    out = np.zeros(y.size, dtype=int)
    for i in np.flatnonzero(part):
        if i + 1 < y.size and part[i + 1] and g[i + 1] == g[i]:
            out[i] = int(np.sign(y[i + 1] - y[i]))
        elif i > 0 and g[i - 1] == g[i]:
            out[i] = int(np.sign(y[i] - y[i - 1]))
    return out


def special_cause_labels(outside: np.ndarray, trend: np.ndarray, two_of_three: np.ndarray,
                         shift: np.ndarray) -> list[str]:
    """One label per point from signed rule flags, in MDC priority: outside > trend > 2-of-3 > shift."""
    labels = []
    for o, t, w, s in zip(*(np.asarray(a).tolist() for a in (outside, trend, two_of_three, shift))):
        if o:
            labels.append("Above UCL" if o > 0 else "Below LCL")
        elif t:
            labels.append("7 Point Trend (Increasing)" if t > 0 else "7 Point Trend (Decreasing)")
        elif w:
            labels.append("2 in 3 Above CL" if w > 0 else "2 in 3 Below CL")
        elif s:
            labels.append("7 Points Above CL" if s > 0 else "7 Points Below CL")
        else:
            labels.append(COMMON_CAUSE)
    return labels


def label_direction(label: str) -> int:
    """+1 for a high signal, -1 for a low one, 0 for common cause."""
    if "Above" in label or "Increasing" in label:
        return 1
    if "Below" in label or "Decreasing" in label:
        return -1
    return 0


def point_type(label: str, improvement_direction: str) -> str:
    """special_cause_improvement / _concern / _neutral_high|low, or common_cause."""
    high = label_direction(label)
    if high == 0:
        return "common_cause"
    if improvement_direction == "neutral":
        return "special_cause_neutral_high" if high > 0 else "special_cause_neutral_low"
    sign = 1 if improvement_direction == "increase" else -1
    return "special_cause_improvement" if high * sign > 0 else "special_cause_concern"


def variation_icon(label: str, improvement_direction: str) -> str:
    """The MDC variation icon of a point: common_cause, improvement_/concern_/neutral_ high|low."""
    high = label_direction(label)
    if high == 0:
        return "common_cause"
    side = "high" if high > 0 else "low"
    kind = point_type(label, improvement_direction)
    prefix = {"special_cause_improvement": "improvement", "special_cause_concern": "concern"}.get(kind, "neutral")
    return f"{prefix}_{side}"


def assurance(target: float | None, limits: Limits, improvement_direction: str) -> str | None:
    """consistent_pass / consistent_fail / inconsistent from a target and the latest process's limits."""
    if target is None or improvement_direction == "neutral":
        return None
    if target > limits.ucl:
        return "consistent_fail" if improvement_direction == "increase" else "consistent_pass"
    if target < limits.lcl:
        return "consistent_pass" if improvement_direction == "increase" else "consistent_fail"
    return "inconsistent"


def classify_points(y: np.ndarray, limits: Limits, options: SPCOptions = SPCOptions(),
                    segments: np.ndarray | None = None) -> list[str]:
    """The MDC rule label of each point of one process, judged against that process's limits; or of the points
    of several processes at once, ``segments`` saying which process each point is in (no run, trend or window
    reaches from one into the next) and ``limits`` holding each point's process's limits."""
    y = np.asarray(y, dtype=float)
    sides = side_of_mean(y, limits.mean)
    outside = outside_limits(y, limits.lcl, limits.ucl)
    trend_part = part_of_run(trend_end_flags(y, options.trend_points, segments), options.trend_points)
    trend = trend_directions(y, trend_part, segments)
    _, close_part = two_in_three(close_to_limits(y, limits, options.two_in_three_beyond_limits), sides, segments)
    shift = part_of_run(run_end_flags(sides, options.shift_points, segments), options.shift_points) * sides
    return special_cause_labels(outside, trend, close_part * sides, shift)


def anhoej_limits(n_useful: int) -> tuple[int, int]:
    """Anhoej runs-test thresholds for n useful points: (longest run allowed, fewest crossings allowed)."""
    from scipy.stats import binom

    longest = int(round(np.log2(n_useful))) + 3
    crossings = int(binom.ppf(0.05, n_useful - 1, 0.5))
    return longest, crossings


def anhoej_signal(y: np.ndarray, centre: float) -> bool:
    """The optional runs test of qicharts2: a run longer than allowed or too few crossings of the centre."""
    sides = side_of_mean(y, centre)
    useful = sides[sides != 0]
    if useful.size < 2:
        return False
    longest_allowed, fewest_crossings = anhoej_limits(useful.size)
    changes = np.flatnonzero(np.diff(useful) != 0)
    runs = np.diff(np.concatenate(([0], changes + 1, [useful.size])))
    return bool(runs.max() > longest_allowed or changes.size < fewest_crossings)


# ------------------------------------------------------------------ step changes

def baseline_indices(usable: np.ndarray, baseline: int | None) -> np.ndarray:
    """The points of a process that set its average and limits: its first ``baseline`` usable points."""
    return usable[:baseline] if baseline else usable


@dataclass(frozen=True)
class StepChange:
    start: int
    detected: int
    direction: str
    manual: bool = False


def find_step_changes(y: np.ndarray, options: SPCOptions = SPCOptions(), usable: np.ndarray | None = None,
                      known: Iterable[int] = (), chart: CountChart | None = None) -> list[StepChange]:
    """Replay a series month by month and return the step changes each monthly report would have declared
    (shared/spc/SPC.md section 4).

    At each month t the only candidate is the run that ends at t: the last ``run_length`` usable points, all on one
    side of the current process's average as it stood at t (from its baseline points so far), and only when the
    process has at least ``run_length`` usable points before the run (no process is shorter than the run that
    ends it). Such a run declares a step change at t, and the new process starts at the run's first point; so a
    step change is declared in the month its run completes, never later, when a trial average has moved.
    ``known`` are positions where an analyst says a new process starts; ``usable`` masks out ignored or missing
    months. With a count ``chart`` (:mod:`forecast.control.counts`), the run declares a change only when its total
    is improbable under the process.
    """
    y = np.asarray(y, dtype=float)
    values = y.tolist()
    usable = np.ones(y.size, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    n, baseline = options.run_length, options.baseline
    # the replay steps through the usable months (pos), the process's first at pos[first]; its average is
    # recomputed only when its baseline grows, and the run of latest points on one side of it is carried along
    pos = usable.nonzero()[0].tolist()
    manual = sorted(k for k in set(known) if 0 < k < y.size)
    changes: list[StepChange] = []
    start = first = m = p = 0
    mean, mean_of, side, length = float("nan"), -1, 0, 0
    while True:
        t = pos[p] if p < len(pos) else y.size
        while m < len(manual) and manual[m] <= t:
            if manual[m] > start:
                k = manual[m]
                changes.append(StepChange(k, k, _direction(y, usable, start, k, options), manual=True))
                start, first, mean_of = k, p, -1
            m += 1
        if p == len(pos):
            return changes
        count = p - first + 1
        if not options.auto_step_change or count < 2 * n:
            p += 1
            continue
        base = baseline if baseline and baseline < count else count
        if base != mean_of:
            mean, mean_of = float(_mean(y[pos[first:first + base]])), base
            side, length = _latest_run(values, pos[first:p + 1], mean, n)
        else:
            s = (values[t] > mean) - (values[t] < mean)
            side, length = (s, length + 1) if s != 0 and s == side else (s, int(s != 0))
        if side != 0 and length >= n:
            run = pos[p - n + 1:p + 1]
            if chart is None or chart.run_supported(y[run], mean, side > 0):
                changes.append(StepChange(run[0], t, "up" if side > 0 else "down"))
                start, first, mean_of = run[0], p - n + 1, -1
        p += 1


def _latest_run(values: list[float], idx: list[int], mean: float, n: int) -> tuple[int, int]:
    """(side, length up to ``n``) of the run of the latest points ``idx`` of ``values`` on one side of ``mean``."""
    last = values[idx[-1]]
    side = (last > mean) - (last < mean)
    length = 0
    if side:
        for i in reversed(idx):
            if ((values[i] > mean) - (values[i] < mean)) != side or length == n:
                break
            length += 1
    return side, length


def current_process_start(changes: Sequence[StepChange]) -> int:
    """Position where the latest process starts (0 when there has been no step change)."""
    return changes[-1].start if changes else 0


def _direction(y, usable, start, new_start, options) -> str:
    old = y[baseline_indices(np.flatnonzero(usable[start:new_start]) + start, options.baseline)]
    new = y[np.flatnonzero(usable[new_start:]) + new_start][: options.baseline or None]
    if old.size == 0 or new.size == 0:
        return "up"
    return "up" if new.mean() >= old.mean() else "down"


# ------------------------------------------------------------------ the whole analysis of one series

@dataclass(frozen=True)
class SPCArrays:
    """What the rules found for one series, as arrays and lists: the frames of :class:`SPCResult` are built from
    it only when asked for (a panel's table and sentences never need them)."""

    months: pd.PeriodIndex
    #: the values the rules saw (seasonally adjusted ones, in an adjusted analysis)
    values: np.ndarray
    #: the months the rules used (not missing, not ignored)
    usable: np.ndarray
    process_of: np.ndarray
    #: each point's process average and limits, one row per point
    limits: np.ndarray
    labels: list[str]
    point_types: list[str]
    declared: list[str | None]
    process_rows: list[dict]
    step_rows: list[dict]
    #: the raw counts and each month's seasonal factor, in an adjusted analysis
    raw: np.ndarray | None = None
    factor: np.ndarray | None = None

    def current_run(self) -> tuple[int, int]:
        """(side, length) of the run of latest months on one side of the current process average."""
        in_current = (self.process_of == self.process_of[-1]) & self.usable
        return _latest_side_run(self.values[in_current], self.limits[in_current, 0])

    def months_beyond(self, sign: int) -> int:
        """Latest consecutive months of the current process on or beyond its upper (``sign`` 1) or lower (-1)
        limit."""
        return _months_beyond(self.values, self.limits[:, 2 if sign > 0 else 1], self.limits[:, 0],
                              self.process_of, sign)


@dataclass(frozen=True)
class SPCResult:
    """SPC of one series: its processes, step changes, per-point rules and the board's sentences."""

    crime_type: str
    area: str
    arrays: SPCArrays = field(repr=False, compare=False)
    sentences: tuple[str, ...]
    status: str
    icon: str
    notes: tuple[str, ...]
    options: SPCOptions = field(default_factory=SPCOptions)
    #: how the counts were seasonally adjusted (None: the rules saw the counts themselves)
    adjustment: Adjustment | None = None
    #: the count chart of a low-count series (None: an XmR chart)
    chart: CountChart | None = None

    @functools.cached_property
    def points(self) -> pd.DataFrame:
        """One row per month: its count, process, average and limits, rule and point type."""
        a = self.arrays
        if a.raw is None:
            return pd.DataFrame({"month": a.months, "count": a.values, "process": a.process_of,
                                 "declared": [a.declared[k] for k in a.process_of], "mean": a.limits[:, 0],
                                 "lcl": a.limits[:, 1], "ucl": a.limits[:, 2], "rule": a.labels,
                                 "point_type": a.point_types})
        scaled = a.limits * a.factor[:, None]
        return pd.DataFrame({"month": a.months, "count": a.raw, "adjusted": a.values, "factor": a.factor,
                             "process": a.process_of, "mean": scaled[:, 0], "lcl": scaled[:, 1], "ucl": scaled[:, 2],
                             "rule": a.labels, "point_type": a.point_types})

    @functools.cached_property
    def processes(self) -> pd.DataFrame:
        """One row per process: start, end, months, average, mean moving range, limits and near limits, trial."""
        return pd.DataFrame(self.arrays.process_rows)

    @functools.cached_property
    def step_changes(self) -> pd.DataFrame:
        """One row per step change: the month its process starts, the month declared, direction and averages."""
        return pd.DataFrame(self.arrays.step_rows, columns=STEP_COLUMNS)

    @property
    def measure(self) -> str:
        """What the sentences call the series: 'Burglary in Merton', '... (seasonally adjusted)'."""
        return measure_name(self.crime_type, self.area, self.adjustment is not None)

    @property
    def current(self) -> pd.Series:
        """The current (last) process."""
        return self.processes.iloc[-1]

    @property
    def last_month(self) -> pd.Period:
        return self.arrays.months[-1]

    def current_run(self) -> tuple[int, int]:
        """:func:`current_run` of :attr:`points` (the counts against their process average, carried back onto them
        when seasonally adjusted), from the arrays: a run asks it of every series, and the frame costs more."""
        a = self.arrays
        counts, means = (a.values, a.limits[:, 0]) if a.raw is None else (a.raw, a.limits[:, 0] * a.factor)
        in_current = (a.process_of == a.process_of[-1]) & (np.asarray(a.labels, dtype=object) != IGNORED)
        return _latest_side_run(counts[in_current], means[in_current])

    def latest_step_change(self) -> pd.Series | None:
        return None if self.step_changes.empty else self.step_changes.iloc[-1]

    def summary(self) -> dict:
        """One row for the board's table."""
        cur = self.arrays.process_rows[-1]
        last = self.arrays.step_rows[-1] if self.arrays.step_rows else None
        return {
            "crime_type": self.crime_type, "area": self.area, "last_month": str(self.last_month),
            "status": self.status, "mean": cur["mean"], "lcl": cur["lcl"], "ucl": cur["ucl"],
            "months_in_process": int(cur["n"]), "trial": bool(cur["trial"]), "icon": self.icon,
            "step_change": None if last is None else
            f"{last['month']} {last['direction']} (declared {last['detected']}): {fmt(last['old_mean'])} -> "
            f"{fmt(last['new_mean'])} ({fmt_pct(last['pct_change'])})",
        }

    def to_dict(self) -> dict:
        """The JSON shape of ``forecast spc --format json``."""
        a = self.arrays
        months = a.months.astype(str).tolist()
        counts = a.values if a.raw is None else a.raw
        limits = a.limits if a.raw is None else a.limits * a.factor[:, None]
        extra = [{"adjusted": _num(v), "factor": _num(f)} for v, f in zip(a.values.tolist(), a.factor.tolist())] \
            if self.adjustment else [{}] * len(months)
        return {
            "crime_type": self.crime_type, "area": self.area,
            "processes": [{"start": str(r["start"]), "end": str(r["end"]), "mean": _num(r["mean"]),
                           "lcl": _num(r["lcl"]), "ucl": _num(r["ucl"]), "trial": bool(r["trial"])}
                          for r in a.process_rows],
            "step_changes": [{"month": str(r["month"]), "detected": str(r["detected"]), "direction": r["direction"],
                              "old_mean": _num(r["old_mean"]), "new_mean": _num(r["new_mean"]),
                              "pct_change": _num(r["pct_change"]), "manual": bool(r["manual"])}
                             for r in a.step_rows],
            "points": [{"month": m, "count": _num(c), **e, "mean": _num(lim[0]), "lcl": _num(lim[1]),
                        "ucl": _num(lim[2]), "rule": rule, "point_type": kind}
                       for m, c, e, lim, rule, kind in zip(months, counts.tolist(), extra, limits.tolist(), a.labels,
                                                           a.point_types)],
            "icon": self.icon, "status": self.status, "chart": self.chart.kind if self.chart else "xmr",
            "sentences": list(self.sentences), "notes": list(self.notes),
            **({"adjustment": self.adjustment.to_dict()} if self.adjustment is not None else {}),
        }


STEP_COLUMNS = ["month", "detected", "direction", "old_mean", "new_mean", "pct_change", "manual"]


def _num(x) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def fmt(x: float, missing: str = "n/a", decimals: int | None = None) -> str:
    """Counts as whole numbers, other values to one decimal place (or ``decimals``); ``missing`` for None or
    NaN."""
    if x is None or not np.isfinite(x):
        return missing
    if decimals is not None:
        return f"{x:,.{decimals}f}"
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.1f}"


def fmt_pct(x: float, missing: str = "n/a") -> str:
    """A signed whole percentage, e.g. '+15%'; ``missing`` for None or NaN."""
    return missing if x is None or not np.isfinite(x) else f"{x:+.0f}%"


def analyse(y: pd.Series, crime_type: str = "", area: str = "", options: SPCOptions = SPCOptions(),
            target: float | None = None) -> SPCResult:
    """The full SPC of one monthly series (values indexed by a monthly PeriodIndex). With
    ``options.adjust == "seasonal"`` the rules work on seasonally adjusted counts, and the points carry the raw
    count, its ``factor`` and ``adjusted`` value, with the average and limits carried back onto the raw scale
    (they follow the season); processes and step changes stay on the adjusted scale."""
    notes: list[str] = []
    if not isinstance(y.index, pd.PeriodIndex):
        y = y.copy()
        y.index = pd.PeriodIndex(y.index, freq="M")
    if not y.index.is_monotonic_increasing:
        y = y.sort_index()
    if len(y) == 0:
        raise ValueError("an SPC analysis needs at least one month")
    span = y.index[-1].ordinal - y.index[0].ordinal + 1
    if span != len(y):
        notes.append(f"{span - len(y)} missing month(s) left out of the limits and runs")
        y = y.reindex(pd.period_range(y.index[0], y.index[-1], freq="M"))
    if options.adjust == "seasonal":
        from forecast.control.adjust import adjusted_values, seasonal_adjustment

        adjustment = seasonal_adjustment(y) if y.notna().all() else None
        if adjustment is None:
            notes.append("too short (or with missing months) for seasonal adjustment, which needs three years: "
                         "analysed raw")
        else:
            if adjustment.first_adjusted != y.index[0]:
                notes.append(f"seasonally adjusted from {adjustment.first_adjusted}; the months before are raw "
                             "(factors need two full years of history)")
            adjusted = adjusted_values(y, adjustment)
            result = _analyse(y.index, adjusted, crime_type, area, options, target, notes, adjustment)
            factor = np.where(adjustment.adjusted, adjustment.factors, 1.0)
            return replace(result, arrays=replace(result.arrays, raw=y.to_numpy(dtype=float), factor=factor))
    return _analyse(y.index, y.to_numpy(dtype=float), crime_type, area, options, target, notes)


def _analyse(months: pd.PeriodIndex, values: np.ndarray, crime_type: str, area: str, options: SPCOptions,
             target: float | None, notes: list[str], adjustment=None, chart: CountChart | None = None) -> SPCResult:
    """One series on an XmR chart; on a count chart (:mod:`forecast.control.counts`) when it is counts (none negative)
    whose current process averages under ``min_mean`` a month, or when ``chart`` is given."""
    values = np.asarray(values, dtype=float)
    usable = ~np.isnan(values)
    if options.ignore:
        usable &= ~np.isin(months, [pd.Period(m, "M") for m in options.ignore])
    known = [months.get_loc(pd.Period(m, "M")) for m in options.step_changes_at
             if pd.Period(m, "M") in months and pd.Period(m, "M") != months[0]]
    changes = find_step_changes(values, options, usable, known, chart)
    starts = [0] + [c.start for c in changes]
    ends = [s - 1 for s in starts[1:]] + [len(values) - 1]

    process_rows = []
    #: each point's process's mean, lcl, ucl, near_lcl, near_ucl
    point_limits = np.full((len(values), 5), np.nan)
    counts = np.nanmin(values, initial=0.0) >= 0
    floor = 0.0 if options.floor_at_zero and counts else None
    for k, (s, e) in enumerate(zip(starts, ends)):
        idx = usable[s:e + 1].nonzero()[0] + s
        base = baseline_indices(idx, options.baseline)
        if not base.size:
            limits = Limits(*[float("nan")] * 6)
        elif chart is None:
            limits = xmr_limits(values[base], options.screen_mr, options.limit_multiplier, floor)
        else:
            mean = float(values[base].mean())
            lcl, ucl, near_lcl, near_ucl = chart.limits(mean)
            limits = Limits(mean, mean_moving_range(values[base]), lcl, ucl, near_lcl, near_ucl)
        trial = idx.size < (options.baseline or 12)
        process_rows.append({"process": k, "start": months[s], "end": months[e], "n": int(idx.size),
                             "mean": limits.mean, "amr": limits.amr, "lcl": limits.lcl, "ucl": limits.ucl,
                             "near_lcl": limits.near_lcl, "near_ucl": limits.near_ucl, "trial": trial})
        point_limits[s:e + 1] = [limits.mean, limits.lcl, limits.ucl, limits.near_lcl, limits.near_ucl]
    process_of = np.repeat(np.arange(len(starts)), np.array(ends) - np.array(starts) + 1)
    labels = [IGNORED] * len(values)
    idx = usable.nonzero()[0]
    if idx.size:
        mean, lcl, ucl, near_lcl, near_ucl = point_limits[idx].T
        limits = Limits(mean, np.nan, lcl, ucl, near_lcl, near_ucl)
        found = classify_points(values[idx], limits, options, process_of[idx]) if chart is None else \
            count_labels(values[idx], limits)
        for i, label in zip(idx.tolist(), found):
            labels[i] = label
    if chart is None and counts and _under_min_mean(process_rows[-1]["mean"], options):
        return _count_analysis(months, values, crime_type, area, options, target, notes, adjustment)
    if process_rows[-1]["n"] < 2:
        notes.append("fewer than 2 months in the current process: no control limits yet")
    elif process_rows[-1]["trial"]:
        notes.append(f"trial limits: the current process has {process_rows[-1]['n']} of "
                     f"{options.baseline or 12} baseline months")

    step_rows = []
    for k, c in enumerate(changes, start=1):
        old, new = process_rows[k - 1]["mean"], process_rows[k]["mean"]
        pct = (new - old) / old * 100 if old else float("nan")
        direction = c.direction if new == old or not np.isfinite(new - old) else ("up" if new > old else "down")
        step_rows.append({"month": months[c.start], "detected": months[c.detected], "direction": direction,
                          "old_mean": old, "new_mean": new, "pct_change": pct, "manual": c.manual})
    kinds = {label: point_type(label, options.improvement_direction) if label != IGNORED else "ignored"
             for label in set(labels)}
    arrays = SPCArrays(months, values, usable, process_of, point_limits, labels, [kinds[label] for label in labels],
                       [None] + [str(months[c.detected]) for c in changes], process_rows, step_rows)
    last_label = next((label for label in reversed(labels) if label != IGNORED), COMMON_CAUSE)
    icon = variation_icon(last_label, options.improvement_direction)
    measure = measure_name(crime_type, area, adjustment is not None)
    if chart is None:
        sentence, status = narrate(arrays, measure, options)
    else:
        sentence, status = narrate_counts(arrays, measure, options, chart)
    return SPCResult(crime_type, area, arrays, (sentence,), status, icon, tuple(notes), options, adjustment, chart)


def is_low(processes: pd.DataFrame, options: SPCOptions) -> bool:
    """Whether the current process averages fewer than ``min_mean`` crimes a month."""
    return _under_min_mean(processes["mean"].iloc[-1], options)


def is_low_count(result: SPCResult) -> bool:
    """Whether the series' current process averages fewer crimes a month than XmR signals need (``min_mean``)."""
    return _under_min_mean(result.arrays.process_rows[-1]["mean"], result.options)


def _under_min_mean(mean: float, options: SPCOptions) -> bool:
    return bool(np.isfinite(mean) and mean < options.min_mean)


def count_labels(y: np.ndarray, limits: Limits) -> list[str]:
    """The point rules of a count chart: a month beyond a limit, and nothing else (the run, trend and 2-of-3
    rules assume a continuous measure; on 0, 1 and 2 crimes a month they fire by chance)."""
    return [("Above UCL" if o > 0 else "Below LCL") if o else COMMON_CAUSE
            for o in outside_limits(y, limits.lcl, limits.ucl).tolist()]


def _count_analysis(months: pd.PeriodIndex, values: np.ndarray, crime_type: str, area: str, options: SPCOptions,
                    target: float | None, notes: list[str], adjustment=None) -> SPCResult:
    """A low-count series on a count chart: first on the c-chart, to find its processes; then on the chart their
    dispersion calls for (:func:`forecast.control.counts.choose_chart`), said in the notes."""
    first = _analyse(months, values, crime_type, area, options, target, list(notes), adjustment,
                     CountChart("c", 1.0, 1.0, 1.0))
    usable = first.arrays.usable
    chart = choose_chart(first.arrays.values[usable], first.arrays.limits[usable, 0])
    if chart.kind == "c":
        # the c-chart's limits and run test depend on sigma_z (1) alone: the first analysis is the answer
        return replace(first, chart=chart, notes=(*notes, chart.note(), *first.notes[len(notes):]))
    return _analyse(months, values, crime_type, area, options, target, [*notes, chart.note()], adjustment, chart)


# ------------------------------------------------------------------ the board's sentences

def measure_name(crime_type: str, area: str, adjusted: bool = False) -> str:
    """'Burglary in Merton', 'Burglary (force total)'; with ``adjusted``, followed by '(seasonally adjusted)'."""
    from forecast.data import ALL_AREAS

    note = f", {SEASONALLY_ADJUSTED}" if adjusted else ""
    if area == ALL_AREAS:
        return f"{crime_type} (force total{note})"
    name = f"{crime_type} in {area}" if area else crime_type or "The series"
    return f"{name} ({SEASONALLY_ADJUSTED})" if adjusted else name


def current_run(points: pd.DataFrame) -> tuple[int, int]:
    """(side, length) of the run of latest months on one side of the current process average."""
    cur = points[points["process"] == points["process"].iloc[-1]]
    cur = cur[cur["rule"] != IGNORED]
    return _latest_side_run(cur["count"].to_numpy(dtype=float), cur["mean"].to_numpy(dtype=float))


def _latest_side_run(values: np.ndarray, means: np.ndarray) -> tuple[int, int]:
    sides = side_of_mean(values, means).tolist()
    if not sides or sides[-1] == 0:
        return 0, 0
    length = 0
    for s in reversed(sides):
        if s != sides[-1]:
            break
        length += 1
    return int(sides[-1]), length


def months_beyond(points: pd.DataFrame, sign: int) -> int:
    """Latest consecutive months of the current process on or beyond its upper (``sign`` 1) or lower (-1) limit."""
    return _months_beyond(*(points[c].to_numpy(dtype=float) for c in ("count", "ucl" if sign > 0 else "lcl", "mean")),
                          points["process"].to_numpy(), sign)


def _months_beyond(values: np.ndarray, limit: np.ndarray, mean: np.ndarray, process: np.ndarray, sign: int) -> int:
    in_process = process == process[-1]
    with np.errstate(invalid="ignore"):
        beyond = (values * sign >= limit * sign) & (values * sign > mean * sign) & in_process & np.isfinite(limit)
    # counted back from the latest month to the first that is not beyond
    return int(beyond.size) if beyond.all() else int(np.argmin(beyond[::-1]))


def step_change_text(measure: str, change: pd.Series | dict, decimals: int | None = None) -> str:
    """The board's sentence for a step change, declared this month or earlier in the quarter: one register, and
    both months, the one the new process starts and the one the run that declared it completed."""
    up = change["direction"] == "up"
    show = functools.partial(fmt, decimals=decimals)
    pct = (f", which is a percentage change of {fmt_pct(change['pct_change'])}" if np.isfinite(change["pct_change"])
           else "")
    return (f"{measure} has seen a significant step change {'increase' if up else 'reduction'} in average monthly "
            f"levels, starting {change['month']} and declared in {change['detected']}. Average monthly recorded "
            f"{measure} is now {show(change['new_mean'])}, {'up' if up else 'down'} from "
            f"{show(change['old_mean'])}{pct}.")


#: months in which a declared step change is the board's news: the quarter it reports on
RECENT_MONTHS = 3


def recent_step_change(step_changes: pd.DataFrame, last_month: pd.Period, months: int = RECENT_MONTHS) \
        -> pd.Series | None:
    """The latest step change if it was declared in the last ``months`` months (the board's quarter)."""
    if step_changes.empty:
        return None
    latest = step_changes.iloc[-1]
    return latest if latest["detected"] > last_month - months else None


def new_process_status(change: pd.Series | dict) -> str:
    """The status of a series whose current process began with a step change declared earlier in the quarter:
    'new process since 2018-04, up', so that the table and the chart title say what the board's sentence says."""
    return f"new process since {change['month']}, {change['direction']}"


def narrate(a: SPCArrays, measure: str, options: SPCOptions) -> tuple[str, str]:
    """The board's sentence for the latest month and a short status, by the priority of SPC.md section 5."""
    show = functools.partial(fmt, decimals=options.decimals)
    last_month, last_rule = a.months[-1], a.labels[-1]
    cur = a.process_rows[-1]
    trial = ", trial limits" if cur["trial"] else ""
    latest = a.step_rows[-1] if a.step_rows else None

    if latest is not None and latest["detected"] == last_month:
        return step_change_text(measure, latest, options.decimals), f"step change {latest['direction']}"

    for sign, word, limit_word in ((1, "increases", "above the upper"), (-1, "reductions", "below the lower")):
        k = a.months_beyond(sign)
        if k >= 2:
            return (f"{measure} has seen significant {word} in the last {k} months, with monthly levels on or "
                    f"{limit_word} control limit.", f"{'above UCL' if sign > 0 else 'below LCL'} {k} months")

    side, k = a.current_run()
    word = "above" if side > 0 else "below"
    if side and k == options.run_length - 1:
        return (f"{measure} has been {word} average for the last {k} months; another month {word} average will "
                f"bring about a significant step change {'up' if side > 0 else 'down'}.", f"{k} months {word} average")
    if side and options.shift_points <= k < options.run_length - 1:
        return f"{measure} has been {word} average for the last {k} months.", f"{k} months {word} average"

    if latest is not None and latest["detected"] > last_month - RECENT_MONTHS:
        return step_change_text(measure, latest, options.decimals), new_process_status(latest)

    if last_rule == COMMON_CAUSE and len(a.values) > 1:
        extreme = _highest_lowest(a.values, a.months)
        if extreme:
            return f"Whilst still just within normal limits, {extreme[0].format(measure=measure)}", extreme[1]

    if last_rule.startswith("7 Point Trend"):
        rising = "Increasing" in last_rule
        k = 1
        for s in np.sign(np.diff(a.values))[::-1].tolist():
            if s != (1 if rising else -1):
                break
            k += 1
        return (f"{measure} has {'risen' if rising else 'fallen'} for {k} consecutive months (a significant trend).",
                f"trend {'up' if rising else 'down'}")

    if last_rule not in (COMMON_CAUSE, IGNORED):
        return (f"{measure} is in its current process (average {show(cur['mean'])}{trial}); the latest month "
                f"shows special cause variation ({last_rule}).", last_rule)
    return f"{measure} is stable in its current process (average {show(cur['mean'])}{trial}).", "stable"


def narrate_counts(a: SPCArrays, measure: str, options: SPCOptions, chart: CountChart) -> tuple[str, str]:
    """The board's sentence and status for a series on a count chart: a step change declared this month and
    months beyond a limit in the board's words (as on an XmR chart); otherwise what the chart is and that the
    latest month is within it, status "too few crimes" (or "no crimes recorded")."""
    counts = a.values[a.usable]
    if counts.size and (counts == 0).all():
        return f"{measure}: no crimes recorded in the {counts.size} months to {a.months[-1]}.", NONE_RECORDED
    last_rule, cur = a.labels[-1], a.process_rows[-1]
    declared = bool(a.step_rows) and a.step_rows[-1]["detected"] == a.months[-1]
    if declared or last_rule in ("Above UCL", "Below LCL"):
        if declared or max(a.months_beyond(1), a.months_beyond(-1)) >= 2:
            return narrate(a, measure, options)
        above = last_rule == "Above UCL"
        return (f"{measure}: {fmt(a.values[-1])} crimes in {a.months[-1]}, "
                f"{'above the upper' if above else 'below the lower'} control limit of "
                f"{fmt(cur['ucl'] if above else cur['lcl'])} on a {chart.name} for a process averaging "
                f"{fmt(cur['mean'])} a month.", last_rule)
    return (f"{measure}: too few crimes a month (average {fmt(cur['mean'])}) for an XmR chart; on a {chart.name} "
            f"(limits {fmt(cur['lcl'])} to {fmt(cur['ucl'])}) the latest month is within its limits.", TOO_FEW)


def _highest_lowest(values: np.ndarray, months: pd.PeriodIndex, min_gap: int = 24) -> tuple[str, str] | None:
    latest = values[-1]
    for word, beaten in (("highest", values[:-1] >= latest), ("lowest", values[:-1] <= latest)):
        earlier = np.flatnonzero(beaten & ~np.isnan(values[:-1]))
        if earlier.size == 0:
            n = len(values)
            if n > min_gap:
                return (f"{months[-1]} was the {word} recording month for {{measure}} in {n} months.",
                        f"{word} for {n} months")
            continue
        gap = len(values) - 1 - earlier[-1]
        if gap >= min_gap:
            since = months[earlier[-1]]
            return (f"{months[-1]} was the {word} recording month for {{measure}} since {since}.",
                    f"{word} since {since}")
    return None


# ------------------------------------------------------------------ panels

#: a panel of at least this many series is analysed in parallel processes: `forecast spc` on 1,249 series took
#: 7.6 s in one process and 8.2 s in two (their start costs what they save), on 2,461 series 22 s and 16.4 s
PARALLEL_SERIES = 2000


@dataclass(frozen=True)
class _Chunk:
    """Series sent to a worker process as three arrays (months, values, where each series ends) and their keys:
    pickled in microseconds, where a pandas Series with its PeriodIndex takes tens."""

    keys: list[tuple[str, str]]
    months: np.ndarray
    values: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, series: list[tuple[tuple[str, str], "pd.Series | tuple[np.ndarray, np.ndarray]"]]) -> "_Chunk | None":
        if not series:
            return None
        pairs = [_ordinals_and_values(y) for _, y in series]
        return cls([key for key, _ in series], np.concatenate([m for m, _ in pairs]),
                   np.concatenate([v for _, v in pairs]), np.cumsum([len(m) for m, _ in pairs]))

    def series(self) -> Iterator[tuple[tuple[str, str], pd.Series]]:
        for key, start, end in zip(self.keys, [0, *self.ends[:-1].tolist()], self.ends.tolist()):
            yield key, pd.Series(self.values[start:end], pd.PeriodIndex.from_ordinals(self.months[start:end], freq="M"))


def _ordinals_and_values(y: "pd.Series | tuple[np.ndarray, np.ndarray]") -> tuple[np.ndarray, np.ndarray]:
    if isinstance(y, tuple):
        return np.asarray(y[0], dtype="int64"), np.asarray(y[1], dtype=float)
    months = y.index.asi8 if isinstance(y.index, pd.PeriodIndex) else pd.PeriodIndex(y.index, freq="M").asi8
    return months, y.to_numpy(dtype=float)


def _as_series(y: "pd.Series | tuple[np.ndarray, np.ndarray]") -> pd.Series:
    if isinstance(y, tuple):
        return pd.Series(np.asarray(y[1], dtype=float), index=pd.PeriodIndex.from_ordinals(y[0], freq="M"))
    return y


def _analyse_chunk(chunk: _Chunk, options: SPCOptions, then: Callable | None = None) -> list:
    results = (analyse(y, crime_type, area, options) for (crime_type, area), y in chunk.series())
    return [then(r) for r in results] if then else list(results)


def analyse_panel(series: Iterable[tuple[tuple[str, str], "pd.Series | tuple[np.ndarray, np.ndarray]"]],
                  options: SPCOptions = SPCOptions(), lazy: bool = False, n_jobs: int = 1, n_series: int = 0,
                  then: Callable | None = None) -> list[SPCResult] | Iterator[SPCResult]:
    """SPC of every series of a panel (from :meth:`forecast.data.Panel.iter_series`, or the month ordinals and
    values of each from :meth:`~forecast.data.Panel.iter_arrays`), in input order; with
    ``lazy``, one result at a time, so that a caller can write each and let it go. With ``n_jobs`` > 1 and
    ``n_series`` of at least PARALLEL_SERIES, chunks of series go to that many processes (each is sent only its
    series), a few chunks ahead of the caller. ``then`` (picklable) is applied to each result where it was
    made: what comes back is its value, e.g. the text to write, smaller to send than the result."""
    if n_jobs > 1 and n_series >= PARALLEL_SERIES:
        results = _in_processes(series, options, n_jobs, max(50, min(500, n_series // (8 * n_jobs))), then)
    else:
        results = (analyse(_as_series(y), crime_type, area, options) for (crime_type, area), y in series)
        results = map(then, results) if then else results
    return results if lazy else list(results)


def _in_processes(series: Iterable, options: SPCOptions, n_jobs: int, chunk: int, then: Callable | None) \
        -> Iterator:
    from itertools import islice

    from joblib import Parallel, delayed

    series = iter(series)
    parts = iter(lambda: _Chunk.of(list(islice(series, chunk))), None)
    chunks = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs")(
        delayed(_analyse_chunk)(part, options, then) for part in parts)
    for results in chunks:
        yield from results


def points_frame(results: Sequence[SPCResult]) -> pd.DataFrame:
    """All points of several results as one tidy frame (``forecast spc --format csv``): from their arrays in one
    go when none is seasonally adjusted (a frame a series cost 1.6 ms, most of a large run's SPC table)."""
    if results and all(r.arrays.raw is None for r in results):
        arrays = [r.arrays for r in results]
        lengths = [len(a.values) for a in arrays]
        limits = np.concatenate([a.limits[:, :3] for a in arrays])
        columns = [_declared_column(a) for a in arrays]
        # text when every series' column is (each has a declared month), as the series' frames concatenate
        text = all(any(isinstance(d, str) for d in column) for column in columns)
        declared = pd.Series([d for column in columns for d in column], dtype="str" if text else object)
        return pd.DataFrame({
            "crime_type": np.repeat([r.crime_type for r in results], lengths),
            "area": np.repeat([r.area for r in results], lengths),
            "month": pd.PeriodIndex.from_ordinals(np.concatenate([a.months.asi8 for a in arrays]), freq="M"),
            "count": np.concatenate([a.values for a in arrays]),
            "process": np.concatenate([a.process_of for a in arrays]), "declared": declared,
            "mean": limits[:, 0], "lcl": limits[:, 1], "ucl": limits[:, 2],
            "rule": [label for a in arrays for label in a.labels],
            "point_type": [kind for a in arrays for kind in a.point_types]})
    frames = []
    for r in results:
        f = r.points.copy()
        f.insert(0, "area", r.area)
        f.insert(0, "crime_type", r.crime_type)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _declared_column(a: SPCArrays) -> list:
    """Each point's month its process was declared, as a series' own points frame holds it: None where none was,
    or NaN once the series has a declared month (its column is then text, where a missing value is NaN)."""
    values = [a.declared[k] for k in a.process_of]
    return [np.nan if v is None else v for v in values] if any(v is not None for v in values) else values


def summary_frame(results: Sequence[SPCResult]) -> pd.DataFrame:
    return pd.DataFrame([r.summary() for r in results])
