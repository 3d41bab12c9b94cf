"""Control charts for low counts: the c-chart (Poisson limits) and Laney's adjustment of it for over-dispersed
counts, chosen per series, and the test that lets a run on one side of the average declare a step change only
where the counts support it.

An XmR chart on a series of 0, 1 and 2 crimes a month signals on single crimes, and a run of eight months on
one side of an average of 0.4 is mostly a run of empty months, which happens by chance (at 0.4 a month, a month
is empty two times in three). A c-chart's limits are the average +/- 3 x its square root, the spread of a
Poisson count. Where the counts vary more than a Poisson count would (the dispersion test below), Laney's
adjustment widens them by sigma_z, the spread of the standardised counts measured from their moving ranges
(Laney 2002); with one count a month, Laney's limits are the XmR chart's. A step change is declared only when
the run's total is improbable under the process it leaves (one-sided, below RUN_P), by the same distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

#: the dispersion test's level: counts over-dispersed at this p-value get Laney's limits
DISPERSION_P = 0.05
#: a run's total must be this improbable (one-sided) under the process it leaves to declare a step change; a run
#: of 8 on one side of the average is about 0.008 likely (two-sided) where months fall either side at even odds
RUN_P = 0.01
#: d2 for moving ranges of two points: mean moving range / d2 estimates sigma
D2 = 1.128
CHARTS = {"c": "Poisson c-chart", "laney": "Laney-adjusted c-chart"}


@dataclass(frozen=True)
class CountChart:
    """Which chart a series gets, and why: the dispersion index (variance / mean about the process averages), its
    p-value under Poisson counts, and sigma_z (1 on a c-chart)."""

    kind: str
    dispersion: float
    p_value: float
    sigma_z: float

    @property
    def name(self) -> str:
        return CHARTS[self.kind]

    def note(self) -> str:
        """One line for the series' notes."""
        if self.kind == "c":
            return (f"low counts: {self.name} limits (counts no more spread than Poisson: dispersion "
                    f"{self.dispersion:.2f}, p = {self.p_value:.2f})")
        return (f"low counts: {self.name} limits (counts over-dispersed: dispersion {self.dispersion:.2f}, "
                f"p = {self.p_value:.3f}; limits widened by sigma_z {self.sigma_z:.2f})")

    def limits(self, mean: float) -> tuple[float, float, float, float]:
        """(lcl, ucl, near_lcl, near_ucl) of a process averaging ``mean``: 3 and 2 sigma, never below 0."""
        sd = self.sigma_z * np.sqrt(max(mean, 0.0))
        return max(mean - 3 * sd, 0.0), mean + 3 * sd, max(mean - 2 * sd, 0.0), mean + 2 * sd

    def run_supported(self, run: np.ndarray, mean: float, up: bool) -> bool:
        """Whether a run's total is improbable (below RUN_P, one-sided) for that many months at ``mean``: Poisson
        or, widened by sigma_z, negative binomial (their CDFs as the regularised incomplete gamma and beta
        functions; the replay asks this at every month of every run, and scipy's frozen distributions cost a
        millisecond each to make)."""
        expected = len(run) * mean
        total = float(np.sum(run))
        if expected <= 0:
            return up and total > 0
        variance = self.sigma_z ** 2 * expected
        if variance > expected:
            size = expected ** 2 / (variance - expected)
            def cdf(k):
                return special.betainc(size, k + 1, size / (size + expected)) if k >= 0 else 0.0
        else:
            def cdf(k):
                return special.gammaincc(k + 1, expected) if k >= 0 else 0.0
        p = 1 - cdf(np.ceil(total) - 1) if up else cdf(np.floor(total))
        return bool(p < RUN_P)


def choose_chart(values: np.ndarray, means: np.ndarray) -> CountChart:
    """The c-chart, or Laney's when the counts are over-dispersed about their process averages (``means``, one per
    value): the dispersion index sum((y - mean)^2 / mean) / (n - 1) tested against chi-squared with n - 1 degrees
    of freedom; sigma_z from the standardised counts' moving ranges."""
    y, m = np.asarray(values, dtype=float), np.asarray(means, dtype=float)
    keep = np.isfinite(y) & (m > 0)
    y, m = y[keep], m[keep]
    if y.size < 3:
        return CountChart("c", float("nan"), float("nan"), 1.0)
    statistic = float(np.sum((y - m) ** 2 / m))
    df = y.size - 1
    # the chi-squared survival function as scipy.stats.chi2.sf computes it, without importing scipy.stats: a
    # parent process that only hands series to its workers was spending most of a second on that import
    p = float(special.chdtrc(df, statistic))
    z = (y - m) / np.sqrt(m)
    sigma_z = float(np.mean(np.abs(np.diff(z))) / D2)
    if p < DISPERSION_P and sigma_z > 1:
        return CountChart("laney", statistic / df, p, sigma_z)
    return CountChart("c", statistic / df, p, 1.0)
