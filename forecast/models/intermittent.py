"""Families for intermittent counts, the neighbourhood series of many months with 0, 1 or 2 crimes: Croston with
the Syntetos-Boylan correction (SBA), TSB (Teunter, Syntetos and Babai 2011) and ADIDA (aggregate, forecast,
disaggregate; Nikolopoulos et al. 2011); and ``sparse``, which chooses by the series' demand pattern.

The pattern is the Syntetos-Boylan-Croston classification (Syntetos, Boylan and Croston 2005): the average
interval between months with crime (ADI) against 1.32 and the squared coefficient of variation of the non-zero
counts (CV²) against 0.49 make four patterns, smooth, erratic, intermittent and lumpy. Their rule, which
``sparse`` follows, is Croston's original method for smooth series and SBA for the other three. It is decided on
the months a model is fitted to, so a backtest's choice at each origin sees only the months before it.

Their forecasts are flat rates. Smooth models' symmetric normal intervals mean little at a rate of 0.4 a month, so
these give a count distribution's integer quantiles instead: Poisson with the forecast rate, or negative
binomial where the in-sample one-step errors are over-dispersed (their mean square above the rate). Smoothing
weights are chosen from a small grid by the in-sample one-step mean squared error.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from forecast.models.base import ForecastModel, ses

#: smoothing weights tried (the range the intermittent-demand literature uses: 0.05 to 0.3)
ALPHAS = (0.05, 0.1, 0.2, 0.3)
#: the Syntetos-Boylan-Croston cut-offs: average interval between demands, squared coefficient of variation
ADI_CUT, CV2_CUT = 1.32, 0.49
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")


def demand_pattern(y: np.ndarray) -> tuple[str, float, float]:
    """The series' Syntetos-Boylan-Croston pattern, its ADI (months per month with crime) and CV² (of the non-zero
    counts); ``none`` (ADI and CV² NaN) with fewer than two months with crime, too few to tell."""
    sizes = np.asarray(y, dtype=float)
    sizes = sizes[sizes > 0]
    if sizes.size < 2:
        return "none", float("nan"), float("nan")
    adi = len(y) / sizes.size
    cv2 = float((sizes.std() / sizes.mean()) ** 2)
    if adi < ADI_CUT:
        return ("smooth" if cv2 < CV2_CUT else "erratic"), adi, cv2
    return ("intermittent" if cv2 < CV2_CUT else "lumpy"), adi, cv2


def demand_intervals(y: np.ndarray) -> np.ndarray:
    """Months from each demand (a non-zero month) to the next, the first counted from the series' start."""
    positions = np.flatnonzero(y > 0)
    return np.diff(np.concatenate([[-1], positions])).astype(float)


def croston_sba(y: np.ndarray, alpha: float, corrected: bool = True) -> tuple[float, np.ndarray]:
    """SBA's rate (1 - alpha/2) x size / interval from smoothed demand sizes and intervals (Croston's original
    size / interval when not ``corrected``), and the in-sample one-step forecasts (NaN before the second demand:
    nothing to forecast from yet)."""
    positions = np.flatnonzero(y > 0)
    sizes, gaps = y[positions], demand_intervals(y)
    size_before, size = ses(sizes, alpha)
    gap_before, gap = ses(gaps, alpha)
    factor = 1 - alpha / 2 if corrected else 1.0
    fitted = np.full(len(y), np.nan)
    for k in range(1, len(positions)):
        fitted[positions[k - 1] + 1:positions[k] + 1] = factor * size_before[k] / gap_before[k]
    fitted[positions[-1] + 1:] = factor * size / gap
    return factor * size / gap, fitted


def tsb(y: np.ndarray, alpha: float, beta: float) -> tuple[float, np.ndarray]:
    """TSB's rate: the smoothed probability of a demand (updated every month, so that it decays through a run of
    zeros) times the smoothed demand size (updated on demands); and the in-sample one-step forecasts."""
    positions = np.flatnonzero(y > 0)
    probability, size = float(np.mean(y > 0)), float(y[positions[0]])
    fitted = np.empty(len(y))
    for t, value in enumerate(y):
        fitted[t] = probability * size
        probability += beta * ((value > 0) - probability)
        if value > 0:
            size += alpha * (value - size)
    return probability * size, fitted


def adida(y: np.ndarray, alpha: float) -> tuple[float, np.ndarray, int]:
    """ADIDA: sums over buckets as long as the mean interval between demands (counted back from the last month),
    smoothed, and shared out evenly over a bucket's months; the in-sample one-step forecasts and the bucket."""
    bucket = max(1, int(round(float(np.mean(demand_intervals(y))))))
    usable = len(y) // bucket * bucket
    sums = y[len(y) - usable:].reshape(-1, bucket).sum(axis=1)
    before, level = ses(sums, alpha)
    fitted = np.full(len(y), np.nan)
    fitted[len(y) - usable:] = np.repeat(before, bucket) / bucket
    return level / bucket, fitted, bucket


def count_bounds(rates: np.ndarray, dispersion: float | np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The integer bounds of the central ``level`` percent of each month's count at ``rates`` (one series' months,
    or a row of months a series) with the series' dispersion (variance over mean, one a row): Poisson where it is 1
    or less, else negative binomial, whose count at a rate of 0 is 0. Many series in one call: each scipy call
    costs about a millisecond whatever its size, and the counts' quantiles were a sixth of a sparse series' cost."""
    rates = np.asarray(rates, dtype=float)
    dispersion = np.broadcast_to(np.asarray(dispersion, dtype=float)[..., None], rates.shape)
    q = np.array([[0.5 - level / 200], [0.5 + level / 200]])
    out = np.empty((2, *rates.shape))
    poisson = dispersion <= 1
    if poisson.any():
        out[:, poisson] = stats.poisson.ppf(q, rates[poisson])
    if not poisson.all():
        mean = rates[~poisson]
        out[:, ~poisson] = np.where(mean > 0, stats.nbinom.ppf(q, *nbinom_parameters(mean, dispersion[~poisson])),
                                    0.0)
    return out[0], out[1]


def nbinom_parameters(rates: np.ndarray, dispersion: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The negative binomial's (size, probability) at each of ``rates`` with the dispersion (variance over mean,
    above 1) given; a rate of 0 is kept just above it, and its count set to 0 by the callers."""
    size = np.maximum(rates, 1e-12) / (dispersion - 1)
    return size, size / (size + rates)


class CountModel(ForecastModel):
    """A forecast rate with intervals and paths from a count distribution fitted to the in-sample errors: Poisson,
    or negative binomial with the errors' dispersion (mean square over rate) where that is above 1."""

    def _fit(self, y: np.ndarray) -> None:
        rate, fitted = self._rate(y)
        self.rate_ = max(float(rate), 0.0)
        scored = np.isfinite(fitted)
        mse = float(np.mean((y[scored] - fitted[scored]) ** 2)) if scored.any() else self.rate_
        #: variance over mean of a month's count; 1 (Poisson) unless the errors are over-dispersed
        self.dispersion_ = mse / self.rate_ if mse > self.rate_ > 0 else 1.0

    @property
    def size_(self) -> float | None:
        """The negative binomial size at the model's own rate; None for Poisson."""
        return self.rate_ / (self.dispersion_ - 1) if self.dispersion_ > 1 else None

    def _rate(self, y: np.ndarray) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def rates(self, horizon: int) -> np.ndarray:
        """The forecast rate of each month ahead (flat for these families)."""
        return np.full(horizon, self.rate_)

    def _choose(self, y: np.ndarray, candidates, rate) -> tuple[tuple, float, np.ndarray]:
        """The candidate settings with the lowest in-sample one-step mean squared error."""
        best = None
        for settings in candidates:
            out = rate(y, *settings)
            fitted = out[1]
            scored = np.isfinite(fitted)
            mse = float(np.mean((y[scored] - fitted[scored]) ** 2)) if scored.any() else np.inf
            if best is None or mse < best[0]:
                best = (mse, settings, out)
        return best[1], best[0], best[2]

    def _nbinom(self, rates):
        """:func:`nbinom_parameters` at the model's dispersion."""
        return nbinom_parameters(rates, self.dispersion_)

    def distribution(self, rate: float | None = None):
        """The frozen scipy distribution of one month's count at ``rate`` (default: the model's own)."""
        rate = self.rate_ if rate is None else float(rate)
        if self.dispersion_ <= 1 or rate <= 0:
            return stats.poisson(rate)
        return stats.nbinom(*self._nbinom(rate))

    def _forecast(self, horizon: int):
        rates = self.rates(horizon)
        return rates, np.sqrt(rates * max(self.dispersion_, 1.0))

    def _interval(self, mean: np.ndarray, sd: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Integer quantiles of each month's count distribution (never negative); a flat series (no crime in the
        whole window, say) keeps its constant with no spread, as in every family."""
        if self.constant_ is not None or not np.any(mean > 0):
            return mean.copy(), mean.copy()
        return count_bounds(mean, self.dispersion_, level)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Independent counts each month at that month's rate (a sparse series' months barely depend on each
        other beyond their rate)."""
        return self._counts(self.rates(horizon), n_paths, rng)

    def _counts(self, rates: np.ndarray, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Independent counts at each month's rate, from the model's distribution."""
        if self.dispersion_ <= 1:
            return rng.poisson(rates, (n_paths, len(rates))).astype(float)
        draws = rng.negative_binomial(*self._nbinom(rates), (n_paths, len(rates))).astype(float)
        return np.where(rates > 0, draws, 0.0)

    def params(self) -> dict:
        return {"rate": self.rate_, "distribution": "poisson" if self.size_ is None else "negative binomial",
                **({} if self.size_ is None else {"nb_size": self.size_, "dispersion": self.dispersion_})}


class CrostonSBA(CountModel):
    """Croston's method with the Syntetos-Boylan correction of its bias."""

    name = "croston"

    def _rate(self, y: np.ndarray):
        (self.alpha_,), _, (rate, fitted) = self._choose(y, [(a,) for a in ALPHAS], croston_sba)
        return rate, fitted

    def params(self) -> dict:
        return {"alpha": self.alpha_, **super().params()}


class TSB(CountModel):
    """Teunter-Syntetos-Babai: the demand probability is smoothed every month, so the rate falls through a long
    run of zeros (Croston's stays where the last demand left it)."""

    name = "tsb"

    def _rate(self, y: np.ndarray):
        (self.alpha_, self.beta_), _, (rate, fitted) = self._choose(y, itertools.product(ALPHAS, ALPHAS), tsb)
        return rate, fitted

    def params(self) -> dict:
        return {"alpha": self.alpha_, "beta": self.beta_, **super().params()}


class ADIDA(CountModel):
    """Aggregate-disaggregate intermittent demand: smoothing on sums over the mean interval between demands."""

    name = "adida"

    def _rate(self, y: np.ndarray):
        (self.alpha_,), _, (rate, fitted, self.bucket_) = self._choose(y, [(a,) for a in ALPHAS], adida)
        return rate, fitted

    def params(self) -> dict:
        return {"alpha": self.alpha_, "bucket": self.bucket_, **super().params()}


class Sparse(CountModel):
    """The sparse-series default. Its rate is the mean of a local count model's and, where the panel's global
    model forecast the series (``panel``, as for the ensemble), that model's forecast for the month; its intervals
    and paths are the count distribution's at that rate, with the local model's dispersion.

    The local model follows the Syntetos-Boylan-Croston rule on the fitted months' demand pattern: Croston's
    original method for a smooth series, SBA for an erratic, intermittent or lumpy one (or one with too few months
    with crime to tell). The global model learns the seasons and levels that one neighbourhood's few crimes
    cannot show; on both sparse real panels it was the most accurate family alone, and its intervals are not
    counts (benchmarks/bench_sparse.py)."""

    name = "sparse"

    def __init__(self, panel: ForecastModel | None = None):
        self.panel = panel

    def _rate(self, y: np.ndarray):
        self.pattern_, self.adi_, self.cv2_ = demand_pattern(y)
        corrected = self.pattern_ != "smooth"
        (self.alpha_, _), _, (rate, fitted) = self._choose(y, [(a, corrected) for a in ALPHAS], croston_sba)
        return rate, fitted

    def joined(self, panel: ForecastModel | None) -> "Sparse":
        """This fitted model with the global model's forecast of the series blended in (no refit)."""
        import copy

        out = copy.copy(self)
        out.panel, out._forecasts = panel, {}
        #: the global model's forecast of each month it covers, asked once
        out.panel_mean_ = None if panel is None else panel.median()
        return out

    def rates(self, horizon: int) -> np.ndarray:
        rates = super().rates(horizon)
        if getattr(self, "panel_mean_", None) is not None:
            ahead = min(horizon, len(self.panel_mean_))
            rates[:ahead] = (rates[:ahead] + self.panel_mean_[:ahead]) / 2
        return rates

    def params(self) -> dict:
        return {"pattern": self.pattern_, "method": "croston" if self.pattern_ == "smooth" else "sba",
                **({} if self.pattern_ == "none" else {"adi": self.adi_, "cv2": self.cv2_}),
                "alpha": self.alpha_, "global": self.panel is not None, **super().params()}
