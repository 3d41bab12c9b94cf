"""SPC of a proportion measured on a sample each month (victims satisfied of those surveyed, residents confident of
those asked): the p-chart, and Laney's p' chart when the samples are large and the proportions vary more than
sampling alone would make them.

- p-chart: the centre is p̄ = the process's numerators over its denominators (its baseline months); each month's
  limits are p̄ ± 3 √(p̄(1 − p̄) / n) from that month's own denominator n, within 0 and 1.
- Laney's p' chart (Laney 2002): each month standardised, z = (p − p̄) / √(p̄(1 − p̄) / n); σz = the mean moving
  range of z / 1.128; limits p̄ ± 3 σz √(p̄(1 − p̄) / n). It is chosen, and said, when the z's are over-dispersed
  (Σz² / (k − 1) against χ² with k − 1 degrees of freedom, p < 0.05) and σz > 1: with a thousand respondents a
  month the p-chart's limits are so narrow that every month signals.
- u-chart, for a rate per 1,000 residents (or households) where the population changes from month to month: the
  centre is ū = the process's counts over its population in thousands; each month's limits are ū ± 3 √(ū / n)
  from that month's population n in thousands, never below 0. Laney's u' chart widens them by σz, chosen the same
  way: with a borough's hundreds of thousands of residents, the u-chart's limits are narrower than a rate's real
  month-to-month spread.
- Step changes by the rule the counts follow (docs/SPC.md section 4): at each month, the run of ``run_length``
  months that ends there, all on one side of the process's p̄ as it stood then, after at least as many months of
  that process; the new process starts at the run's first month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from forecast.control.counts import D2, DISPERSION_P
from forecast.words import duration

CHARTS = {"p": "p-chart", "laney": "Laney p' chart", "u": "u-chart", "laney_u": "Laney u' chart"}
RUN_LENGTH = 8
BASELINE = 12
MULTIPLIER = 3.0


@dataclass(frozen=True)
class ProportionResult:
    """SPC of one measure in one area: each month's proportion and limits, the processes, the step changes, which
    chart, and the board's sentence."""

    measure: str
    area: str
    #: month, numerator, denominator, p, process, mean, lcl, ucl, rule
    points: pd.DataFrame
    #: process, start, end, n, mean, trial
    processes: pd.DataFrame
    #: month, detected, direction, old_mean, new_mean, points (the change in percentage points, or per ``per``)
    step_changes: pd.DataFrame
    chart: str
    sigma_z: float
    improvement: str
    sentences: tuple[str, ...]
    status: str
    notes: tuple[str, ...] = ()
    #: None: a proportion (p is a share, shown in percent); else a rate per ``per`` residents (a u-chart)
    per: int | None = None

    def show(self, x: float, decimals: int = 1) -> str:
        """A value as the board reads it: '84.6%', or '4.2 per 1,000'."""
        return shown(x, self.per, decimals)

    @property
    def scale(self) -> int:
        """What a value is multiplied by for tables and charts: 100 (percent), or 1 (a rate is per ``per``)."""
        return 100 if self.per is None else 1

    @property
    def current(self) -> pd.Series:
        return self.processes.iloc[-1]

    @property
    def last_month(self) -> pd.Period:
        return self.points["month"].iloc[-1]


def p_limits(pbar: float, n: np.ndarray, sigma_z: float = 1.0, multiplier: float = MULTIPLIER) \
        -> tuple[np.ndarray, np.ndarray]:
    """(lcl, ucl) of a p-chart (``sigma_z`` 1) or Laney's p' chart, per month from its denominator ``n``."""
    sd = sigma_z * _sd(pbar, n, rate=False)
    return np.clip(pbar - multiplier * sd, 0.0, 1.0), np.clip(pbar + multiplier * sd, 0.0, 1.0)


def u_limits(ubar: float, n: np.ndarray, sigma_z: float = 1.0, multiplier: float = MULTIPLIER) \
        -> tuple[np.ndarray, np.ndarray]:
    """(lcl, ucl) of a u-chart (``sigma_z`` 1) or Laney's u' chart, per month from its exposure ``n`` (population
    in thousands, for a rate per 1,000); a rate has no upper bound, and none below 0."""
    sd = sigma_z * _sd(ubar, n, rate=True)
    return np.maximum(ubar - multiplier * sd, 0.0), ubar + multiplier * sd


def _sd(centre, n, rate: bool) -> np.ndarray:
    """The sampling spread of one month: binomial for a proportion, Poisson for a rate."""
    n = np.asarray(n, dtype=float)
    return np.sqrt(centre / n) if rate else np.sqrt(centre * (1 - centre) / n)


def laney_sigma_z(p: np.ndarray, n: np.ndarray, pbar: np.ndarray, rate: bool = False) -> tuple[float, float, float]:
    """(sigma_z, dispersion index, its p-value) of proportions (or, with ``rate``, rates) ``p`` about their
    process centres ``pbar``."""
    sd = _sd(pbar, n, rate)
    keep = sd > 0
    z = (p[keep] - pbar[keep]) / sd[keep]
    if z.size < 3:
        return 1.0, float("nan"), float("nan")
    sigma_z = float(np.mean(np.abs(np.diff(z))) / D2)
    statistic = float(np.sum(z ** 2))
    return sigma_z, statistic / (z.size - 1), float(stats.chi2.sf(statistic, z.size - 1))


def step_changes(num: np.ndarray, den: np.ndarray, run_length: int = RUN_LENGTH,
                 baseline: int = BASELINE) -> list[tuple[int, int, str]]:
    """(start, declared, direction) of each step change, replayed month by month as the board would have
    declared them."""
    p = num / den
    changes, start = [], 0
    for t in range(p.size):
        if t - start + 1 < 2 * run_length:
            continue
        base = slice(start, min(start + baseline, t + 1))
        pbar = num[base].sum() / den[base].sum()
        run = p[t - run_length + 1:t + 1]
        if np.all(run > pbar) or np.all(run < pbar):
            changes.append((t - run_length + 1, t, "up" if run[0] > pbar else "down"))
            start = t - run_length + 1
    return changes


def analyse_proportion(months: pd.PeriodIndex, numerator, denominator, measure: str, area: str = "",
                       improvement: str = "increase") -> ProportionResult:
    """SPC of one monthly proportion: its processes, the p or p' chart their dispersion calls for, its step
    changes and the board's sentence."""
    num, den = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if np.any(den <= 0) or np.any(num < 0) or np.any(num > den):
        raise ValueError("each month needs 0 <= numerator <= denominator and a denominator above 0")
    return _analysed(months, num, den, measure, area, improvement, None)


def analyse_rate(months: pd.PeriodIndex, counts, population, measure: str, area: str = "", per: int = 1000,
                 improvement: str = "decrease") -> ProportionResult:
    """SPC of one monthly rate per ``per`` residents (crimes per 1,000) whose population changes: the u-chart, or
    Laney's u' chart when the rates vary more than Poisson counts would make them; step changes and sentences
    as for a proportion, in the rate's units."""
    num, den = np.asarray(counts, dtype=float), np.asarray(population, dtype=float) / per
    if np.any(den <= 0) or np.any(num < 0):
        raise ValueError("each month needs a count of 0 or more and a population above 0")
    return _analysed(months, num, den, measure, area, improvement, per)


def _analysed(months: pd.PeriodIndex, num: np.ndarray, den: np.ndarray, measure: str, area: str, improvement: str,
              per: int | None) -> ProportionResult:
    rate = per is not None
    p = num / den
    found = step_changes(num, den)
    starts = [0] + [s for s, _, _ in found]
    ends = [s - 1 for s in starts[1:]] + [p.size - 1]
    centre = np.empty(p.size)
    rows = []
    for k, (s, e) in enumerate(zip(starts, ends)):
        base = slice(s, min(s + BASELINE, e + 1))
        pbar = num[base].sum() / den[base].sum()
        centre[s:e + 1] = pbar
        rows.append({"process": k, "start": months[s], "end": months[e], "n": e - s + 1, "mean": pbar,
                     "trial": e - s + 1 < BASELINE})
    sigma_z, dispersion, p_value = laney_sigma_z(p, den, centre, rate)
    laney = p_value < DISPERSION_P and sigma_z > 1
    chart = ("laney_u" if laney else "u") if rate else ("laney" if laney else "p")
    lcl, ucl = (u_limits if rate else p_limits)(centre, den, sigma_z if laney else 1.0)
    rule = np.where(p > ucl, "Above UCL", np.where(p < lcl, "Below LCL", "Common cause"))
    process_of = np.repeat(np.arange(len(starts)), np.array(ends) - np.array(starts) + 1)
    points = pd.DataFrame({"month": months, "numerator": num, "denominator": den, "p": p, "process": process_of,
                           "mean": centre, "lcl": lcl, "ucl": ucl, "rule": rule})
    processes = pd.DataFrame(rows)
    changes = pd.DataFrame([{"month": months[s], "detected": months[t], "direction": d,
                             "old_mean": processes["mean"].iloc[k], "new_mean": processes["mean"].iloc[k + 1],
                             "points": (1 if rate else 100) * (processes["mean"].iloc[k + 1]
                                                               - processes["mean"].iloc[k])}
                            for k, (s, t, d) in enumerate(found)],
                           columns=["month", "detected", "direction", "old_mean", "new_mean", "points"])
    what = "rates" if rate else "proportions"
    note = (f"{CHARTS[chart]}: {what} {'over-dispersed' if laney else 'no more spread than sampling makes them'}"
            f" (dispersion {dispersion:.2f}, p = {p_value:.3f}"
            + (f"; limits widened by sigma_z {sigma_z:.2f})" if laney else ")"))
    sentence, status = narrate(points, processes, changes, measure, area, chart, improvement, per)
    return ProportionResult(measure, area, points, processes, changes, chart, sigma_z if laney else 1.0,
                            improvement, (sentence,), status, (note,), per)


def pct(x: float, decimals: int = 1) -> str:
    return f"{100 * x:.{decimals}f}%"


def shown(x: float, per: int | None, decimals: int = 1) -> str:
    """A proportion in percent ('84.6%'), or a rate per ``per`` ('4.2 per 1,000')."""
    return pct(x, decimals) if per is None else f"{x:,.{decimals}f} per {per:,}"


def narrate(points: pd.DataFrame, processes: pd.DataFrame, changes: pd.DataFrame, measure: str, area: str,
            chart: str, improvement: str, per: int | None = None) -> tuple[str, str]:
    """The board's sentence and the status: a step change declared in the latest month, the latest month beyond
    a limit, or the current average and how long it has been stable."""
    subject = f"{measure} in {area}" if area else measure

    def show(x: float) -> str:
        return shown(x, per)

    unit = "percentage points" if per is None else f"per {per:,}"

    last = points.iloc[-1]
    current = processes.iloc[-1]
    if not changes.empty and changes["detected"].iloc[-1] == last["month"]:
        c = changes.iloc[-1]
        better = (c["direction"] == "up") == (improvement == "increase")
        word = "increase" if c["direction"] == "up" else "decrease"
        return (f"{subject} has seen a significant step change {word}{' (an improvement)' if better else ''}, "
                f"starting {c['month']} and declared in {c['detected']}: the monthly average is now "
                f"{show(c['new_mean'])}, {'up' if c['direction'] == 'up' else 'down'} from {show(c['old_mean'])} "
                f"({c['points']:+.1f} {unit}).", f"step change {c['direction']}")
    if last["rule"] != "Common cause":
        above = last["rule"] == "Above UCL"
        return (f"{subject} was {'above the upper' if above else 'below the lower'} control limit in "
                f"{last['month']} ({show(last['p'])} against {show(last['ucl'] if above else last['lcl'])} on a "
                f"{CHARTS[chart]}; average {show(current['mean'])}).", last["rule"])
    return (f"{subject}: an average of {show(current['mean'])} a month; this monthly average has been stable for "
            f"{duration(int(current['n']))} (since {current['start']}).", "stable")


def extremes_sentence(results: list[ProportionResult]) -> str | None:
    """Across areas of one measure: where its current average is lowest and highest, whole percentages as the
    board gives them ("lowest in Birmingham W&C (78%), highest in Wolverhampton (88%)")."""
    if len(results) < 2:
        return None
    ordered = sorted(results, key=lambda r: r.current["mean"])
    low, high = ordered[0], ordered[-1]
    decimals = 0 if low.per is None else 1
    return (f"{results[0].measure}: lowest in {low.area} ({low.show(low.current['mean'], decimals)}), highest in "
            f"{high.area} ({high.show(high.current['mean'], decimals)}), of {len(results)} areas.")
