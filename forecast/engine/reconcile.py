"""Forecasts that add up: areas to each crime type's force total, crime types to each area's All crime.

Base forecasts of the total and of each part are made separately and do not add up. Reconciliation replaces them
with coherent ones, ``S @ G @ base``, where ``S`` sums the parts into the total and ``G`` maps all base forecasts
to the parts:

- ``bottom-up``: the parts as forecast, the total their sum (``G`` picks the parts);
- ``top-down``: the total as forecast, shared among the parts in proportion to their forecasts;
- ``wls``: MinT with a diagonal covariance, the variance of each base forecast (from its own interval), so that
  the total and the parts move in proportion to how uncertain each is (Wickramasuriya, Athanasopoulos and
  Hyndman, 2019);
- ``mint``: MinT with the covariance of the base forecasts' past errors, shrunk towards its diagonal
  (Schäfer and Strimmer, 2005), which also uses how the areas' errors move together.

These are the whole of the methods for a total over its parts, in numpy (:func:`plan` chains them when areas and
crime types are reconciled together); Nixtla's hierarchicalforecast implements the same estimators for deep
hierarchies, at the cost of narwhals, qpsolvers, clarabel and utilsforecast, which these levels do not need.
Counts are never negative: a part reconciled below zero is set to zero and the total re-summed, which keeps the
forecasts coherent.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

METHODS = ("none", "bottom-up", "top-down", "wls", "mint")
#: chosen from benchmarks/bench_reconcile.py: the only method that made neither level worse on the Met panel
DEFAULT = "top-down"


def summing_matrix(n_parts: int) -> np.ndarray:
    """``S`` for a total over ``n_parts`` parts: the total's row of ones, then the identity (parts in order)."""
    return np.vstack([np.ones((1, n_parts)), np.eye(n_parts)])


def shrunk_covariance(errors: np.ndarray) -> np.ndarray:
    """The covariance of ``errors`` (samples x series), its correlations shrunk towards zero by the
    Schäfer-Strimmer intensity (the diagonal is kept)."""
    errors = np.asarray(errors, dtype=float)
    n = errors.shape[0]
    centred = errors - errors.mean(axis=0)
    cov = centred.T @ centred / (n - 1)
    sd = np.sqrt(np.diag(cov))
    sd = np.where(sd > 0, sd, 1.0)
    std = centred / sd
    products = std[:, :, None] * std[:, None, :]
    corr = products.sum(axis=0) / (n - 1)
    var_corr = n / (n - 1) ** 3 * ((products - products.mean(axis=0)) ** 2).sum(axis=0)
    off = ~np.eye(cov.shape[0], dtype=bool)
    denominator = (corr[off] ** 2).sum()
    intensity = float(np.clip(var_corr[off].sum() / denominator, 0, 1)) if denominator > 0 else 1.0
    shrunk = (1 - intensity) * cov
    shrunk[np.diag_indices_from(shrunk)] = np.diag(cov)
    return shrunk


def mapping(n_parts: int, method: str, variances: np.ndarray | None = None,
            covariance: np.ndarray | None = None) -> np.ndarray:
    """``G`` (parts x all series, the total first) of a reconciliation method."""
    S = summing_matrix(n_parts)
    if method == "bottom-up":
        return np.hstack([np.zeros((n_parts, 1)), np.eye(n_parts)])
    if method == "wls":
        if variances is None:
            raise ValueError("wls reconciliation needs each base forecast's variance")
        W = np.diag(np.maximum(np.asarray(variances, dtype=float), 1e-9))
    elif method == "mint":
        if covariance is None:
            raise ValueError("mint reconciliation needs the covariance of past errors")
        W = covariance + 1e-9 * np.eye(n_parts + 1)
    else:
        raise ValueError(f"reconciliation must be one of {METHODS[1:]}, got {method!r}")
    Winv = np.linalg.inv(W)
    return np.linalg.solve(S.T @ Winv @ S, S.T @ Winv)


def shares(base: np.ndarray) -> np.ndarray:
    """Each part's share of the total under top-down: in proportion to its own forecast, evenly where the parts
    forecast nothing."""
    parts = np.maximum(base[1:], 0.0)
    sums = parts.sum(axis=0, keepdims=True)
    return np.divide(parts, sums, out=np.full_like(parts, 1 / parts.shape[0]), where=sums > 0)


def top_down(base: np.ndarray) -> np.ndarray:
    """The total as forecast, shared among the parts in proportion to their own forecasts (Athanasopoulos,
    Ahmed and Hyndman, 2009)."""
    total = np.maximum(base[:1], 0.0)
    return np.vstack([total, shares(base) * total])


def reconcile(base: np.ndarray, method: str, variances: np.ndarray | None = None,
              covariance: np.ndarray | None = None) -> np.ndarray:
    """Coherent forecasts from ``base`` (all series x anything: months, or sample paths; the total in row 0):
    the parts reconciled, negative parts set to zero, and the total their sum."""
    base = np.asarray(base, dtype=float)
    if method == "none":
        return base.copy()
    if method == "top-down":
        return top_down(base)
    parts = mapping(base.shape[0] - 1, method, variances, covariance) @ base
    parts = np.maximum(parts, 0.0)
    return np.vstack([parts.sum(axis=0, keepdims=True), parts])


def rake(parts: np.ndarray, totals: np.ndarray, means: np.ndarray, rounds: int = 200) -> np.ndarray:
    """Non-negative ``parts`` (parts x paths x months) scaled until every path adds up to ``totals`` (paths x
    months) and each part's mean over the paths is its ``means`` (parts x months): iterative proportional fitting
    (Deming and Stephan, 1940), month by month. The part means must add up to the totals' mean; a part whose paths
    are all zero in a month gets its share of the total first, so that a fit exists."""
    parts = np.maximum(np.asarray(parts, dtype=float), 0.0)
    share = np.divide(means, means.sum(axis=0, keepdims=True), out=np.full_like(means, 1 / len(means)),
                      where=means.sum(axis=0, keepdims=True) > 0)
    empty = parts.sum(axis=1, keepdims=True) == 0
    parts = np.where(empty, share[:, None, :] * totals[None], parts)
    target = means * parts.shape[1]
    for _ in range(rounds):
        sums = parts.sum(axis=0)
        parts *= np.divide(totals, sums, out=np.zeros_like(sums), where=sums > 0)[None]
        got = parts.sum(axis=1)
        if np.allclose(got, target, rtol=1e-9, atol=1e-9):
            break
        parts *= np.divide(target, got, out=np.ones_like(got), where=got > 0)[:, None, :]
    sums = parts.sum(axis=0)
    return parts * np.divide(totals, sums, out=np.zeros_like(sums), where=sums > 0)[None]


def reconcile_paths(base: np.ndarray, paths: np.ndarray, method: str, variances: np.ndarray | None = None,
                    covariance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Coherent means and sample paths: ``base`` (series x months) and ``paths`` (series x paths x months), the
    total first. Every reconciled path adds up: the total's path is the sum of the parts' paths.

    Top-down keeps the total's own paths and gives each part its share of them, plus its own variation around
    its paths' mean less its share of the parts' joint variation (so that the shares still add up to the total).
    Counts are never below zero: where that takes a part below zero, the parts are cut at zero and raked
    (:func:`rake`) back to the total's paths and to their shares of its mean, so that each part's paths keep the
    mean of its reconciled forecast and every path still adds up; cutting alone would lift the parts of a skewed,
    zero-bounded series above their forecasts and their total above its own. The linear methods map every path
    as they map the means (``S G``); parts below zero are set to zero and the total re-summed, path by path.
    """
    means = reconcile(base, method, variances, covariance)
    if method == "none":
        return means, paths.copy()
    if method == "top-down":
        own = paths[1:] - paths[1:].mean(axis=1, keepdims=True)
        share = shares(base)
        parts = share[:, None, :] * (paths[0][None] - own.sum(axis=0)[None]) + own
        if (parts < 0).any():
            parts = rake(parts, paths[0], share * paths[0].mean(axis=0)[None])
        return means, np.concatenate([paths[:1], parts])
    parts = np.einsum("ps,snh->pnh", mapping(base.shape[0] - 1, method, variances, covariance), paths)
    parts = np.maximum(parts, 0.0)
    return means, np.concatenate([parts.sum(axis=0, keepdims=True), parts])


def reconciled_spread(base: np.ndarray, sd: np.ndarray, method: str, variances: np.ndarray | None = None,
                      covariance: np.ndarray | None = None) -> np.ndarray:
    """The standard deviation of each reconciled forecast (series x months) when the series' own forecasts vary
    independently with ``sd``: what the reconciled sample paths of :func:`reconcile_paths` spread by."""
    if method == "none":
        return sd.copy()
    if method == "top-down":
        share = shares(base)
        own = sd[1:] ** 2
        parts = np.sqrt(np.maximum(share ** 2 * sd[:1] ** 2 + own * (1 - 2 * share) + share ** 2 * own.sum(axis=0), 0))
        return np.vstack([sd[:1], parts])
    n = base.shape[0] - 1
    SG = summing_matrix(n) @ mapping(n, method, variances, covariance)
    return np.column_stack([np.sqrt(np.diag(SG @ np.diag(sd[:, h] ** 2) @ SG.T)) for h in range(sd.shape[1])])


def adds_up(series: Mapping[tuple[str, str], pd.Series], total: tuple[str, str],
            parts: Sequence[tuple[str, str]]) -> bool:
    """Whether the parts' histories add up to the total's, month by month."""
    if total not in series or len(parts) < 2 or any(p not in series for p in parts):
        return False
    summed = sum(series[p].reindex(series[total].index).fillna(0) for p in parts)
    return bool(np.allclose(summed.to_numpy(), series[total].to_numpy()))


def hierarchy_problem(series: Mapping[tuple[str, str], pd.Series], total: tuple[str, str]) -> str:
    """Why the series of ``total``'s crime type cannot be reconciled (empty when they can): the force total and
    every one of its areas, whose histories add up to it, are needed."""
    parts = [k for k in series if k[0] == total[0] and k != total]
    if total not in series or len(parts) < 2:
        return "not reconciled: the run needs the force total and its areas"
    if not adds_up(series, total, parts):
        return ("not reconciled: the areas in the run do not add up to the force total (areas left out, or crimes "
                "without a location)")
    return ""


#: a step of a reconciliation plan: (method, or "sum" for a total that is the sum of its parts; total; parts)
Step = tuple[str, tuple[str, str], list[tuple[str, str]]]


def plan(series: Mapping[tuple[str, str], pd.Series], method: str) -> list[Step]:
    """How to make a panel's series add up: areas to each crime type's force total, crime types to each area's
    All crime, or both (the grouped structure: then top-down shares the force's All crime among the crime types'
    force totals, each of those among its areas, and each area's All crime is the sum of its crime types;
    bottom-up sums from the area x type series up). Only totals whose history is the sum of their parts count."""
    from forecast.data import ALL_AREAS, ALL_CRIME

    crimes = sorted({c for c, _ in series if c != ALL_CRIME})
    areas = sorted({a for _, a in series if a != ALL_AREAS})
    by_area = {c: [(c, a) for a in areas] for c in [*crimes, ALL_CRIME]}
    by_type = {a: [(c, a) for c in crimes] for a in [*areas, ALL_AREAS]}
    force = [c for c in crimes if adds_up(series, (c, ALL_AREAS), by_area[c])]
    types = [a for a in [*areas, ALL_AREAS] if adds_up(series, (ALL_CRIME, a), by_type[a])]
    grouped = (len(force) == len(crimes) and len(set(types) - {ALL_AREAS}) == len(areas) and crimes and areas
               and adds_up(series, (ALL_CRIME, ALL_AREAS), by_type[ALL_AREAS]))
    if not grouped:
        return ([(method, (c, ALL_AREAS), by_area[c]) for c in force]
                + [(method, (ALL_CRIME, a), by_type[a]) for a in types])
    grand = (ALL_CRIME, ALL_AREAS)
    if method == "top-down":
        return ([("top-down", grand, by_type[ALL_AREAS])] + [("top-down", (c, ALL_AREAS), by_area[c]) for c in crimes]
                + [("sum", (ALL_CRIME, a), by_type[a]) for a in areas])
    if method == "bottom-up":
        return ([("sum", (ALL_CRIME, a), by_type[a]) for a in areas]
                + [("sum", (c, ALL_AREAS), by_area[c]) for c in crimes] + [("sum", grand, by_type[ALL_AREAS])])
    raise ValueError(f"{method} reconciles one level at a time; areas and crime types together take top-down or "
                     "bottom-up")


def reconcile_predictions(predictions: pd.DataFrame, steps: Sequence[Step]) -> tuple[pd.DataFrame, int, int]:
    """Backtest predictions made to add up at every origin, for each model, by the steps of :func:`plan` (means as
    :func:`reconcile`, intervals normal with :func:`reconciled_spread`; a summed total's spread as if its parts
    were independent). Origins where a series of the plan has no forecast are left as they were. Returns the
    frame and the number of (model, origin) groups reconciled and left alone."""
    from forecast.models.base import LEVELS, z_value  # scipy: not at the command line's start-up
    from forecast.models.paths import implied_sd

    if any(method == "mint" for method, _, _ in steps):
        raise ValueError("mint needs past errors at every origin; a backtest reconciles with bottom-up, top-down "
                         "or wls")
    if not steps or predictions.empty:
        return predictions, 0, 0
    keys = list(dict.fromkeys(k for _, total, parts in steps for k in (total, *parts)))
    out, done, left = [], 0, 0
    for _, group in predictions.groupby(["model", "origin"], sort=False):
        rows = {key: g.sort_values("step") for key, g in group.groupby(["crime_type", "area"])}
        if any(k not in rows or len(rows[k]) != len(rows[keys[0]]) or rows[k]["mean"].isna().any() for k in keys):
            out.append(group)
            left += 1
            continue
        mean = {k: rows[k]["mean"].to_numpy(dtype=float) for k in keys}
        sd = {k: implied_sd(rows[k]) for k in keys}
        for method, total, parts in steps:
            order = [total, *parts]
            if method == "sum":
                mean[total] = sum(mean[p] for p in parts)
                sd[total] = np.sqrt(sum(sd[p] ** 2 for p in parts))
                continue
            base = np.vstack([mean[k] for k in order])
            spread_of = np.vstack([sd[k] for k in order])
            variances = (spread_of ** 2).mean(axis=1)
            new_mean = reconcile(base, method, variances=variances)
            new_sd = reconciled_spread(base, spread_of, method, variances=variances)
            for i, k in enumerate(order):
                mean[k], sd[k] = new_mean[i], new_sd[i]
        for k in keys:
            frame = rows[k].copy()
            frame["mean"] = mean[k]
            for level in LEVELS:
                frame[f"lo_{level}"] = np.maximum(mean[k] - z_value(level) * sd[k], 0.0)
                frame[f"hi_{level}"] = mean[k] + z_value(level) * sd[k]
            out.append(frame)
        out.append(group[~group.set_index(["crime_type", "area"]).index.isin(keys)])
        done += 1
    return pd.concat(out, ignore_index=True), done, left
