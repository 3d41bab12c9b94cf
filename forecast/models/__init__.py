"""Model families, registered by name so that the CLI, experiments and MLflow share one vocabulary."""

from __future__ import annotations

from typing import Sequence

from forecast.errors import SelectionError
from forecast.models.base import LEVELS, ForecastModel
from forecast.models.ensemble import Ensemble, combine
from forecast.models.ets import ETS
from forecast.models.gbm import GlobalModel, GlobalSeries
from forecast.models.intermittent import ADIDA, TSB, CrostonSBA, Sparse
from forecast.models.sarima import SArima
from forecast.models.snaive import SeasonalNaive
from forecast.models.stl_arima import STLArima
from forecast.models.theta import Theta

#: the families of a backtest unless told ('all'): the smooth ones, the global model and the ensemble
FAMILIES = tuple(cls.name for cls in (SeasonalNaive, STLArima, SArima, ETS, Theta, GlobalSeries, Ensemble))
#: families for intermittent counts (forecast.models.intermittent), asked for by name
SPARSE = tuple(cls.name for cls in (CrostonSBA, TSB, ADIDA, Sparse))
REGISTRY: dict[str, type[ForecastModel]] = {
    cls.name: cls for cls in (SeasonalNaive, STLArima, SArima, ETS, Theta, GlobalSeries, Ensemble, CrostonSBA, TSB,
                              ADIDA, Sparse)
}
BASELINE = "snaive"
#: the family trained once on the whole panel (forecast.models.gbm) rather than on each series
GLOBAL = GlobalSeries.name
#: the families an ensemble may have as local members: those fitted on each series alone
MEMBERS = tuple(cls.name for cls in (SeasonalNaive, STLArima, SArima, ETS, Theta))


def run_families(members: tuple[str, ...] = Ensemble.default_members) -> tuple[str, ...]:
    """The families ``forecast run`` backtests: the baseline, the ensemble's local members, the global model and
    the ensemble. A family outside the ensemble would cost its fits for a row of backtest.csv alone."""
    return tuple(dict.fromkeys((BASELINE, *members, GLOBAL, Ensemble.name)))


#: families fitted by default in ``forecast run``: the baseline, the ensemble's members, the global model and the
#: ensemble (sarima, about 2.5 s a fit, and stl-arima are not members by default)
DEFAULT_RUN = run_families()
#: what ``run`` and ``outlook`` forecast with unless told: on the Met major panel the ensemble's backtest MASE
#: (0.642) beats choosing a family per series from earlier origins ('auto', 0.689; benchmarks/bench_backtest.py)
DEFAULT_MODEL = "ensemble"
#: what they forecast a sparse series with (one whose SPC finds too few crimes a month for XmR signals) unless told
SPARSE_MODEL = Sparse.name


def make(name: str, **settings) -> ForecastModel:
    """A new, unfitted model of the named family."""
    if name not in REGISTRY:
        raise SelectionError(f"model {name!r} is not a model family; valid: {', '.join(REGISTRY)}")
    return REGISTRY[name](**settings)


def parse_members(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The ensemble's local members from 'ets,theta' (or a sequence of names): each a family fitted on each series
    (MEMBERS), none twice; None or empty: the default members."""
    if text is None:
        return Ensemble.default_members
    names = tuple(n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip())
    if not names:
        return Ensemble.default_members
    for name in names:
        if name not in MEMBERS:
            raise SelectionError(f"ensemble member {name!r} is not a family fitted on each series; valid: "
                                 f"{', '.join(MEMBERS)} (the global model is blended in whenever the panel trains it)")
    if len(set(names)) < len(names):
        raise SelectionError(f"ensemble members {', '.join(names)}: a family named twice")
    return names


def parse_models(text: str | None, default=FAMILIES) -> tuple[str, ...]:
    """'ets,theta' -> ('ets', 'theta'); 'all' -> every family; checks each name."""
    if not text:
        return tuple(default)
    names = FAMILIES if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        make(name)
    return names


__all__ = ["ADIDA", "CrostonSBA", "ETS", "Ensemble", "FAMILIES", "ForecastModel", "GLOBAL", "GlobalModel",
           "GlobalSeries", "LEVELS", "MEMBERS", "REGISTRY", "SArima", "SPARSE", "SPARSE_MODEL", "STLArima",
           "SeasonalNaive", "Sparse", "TSB", "Theta", "combine", "make", "parse_members", "parse_models",
           "run_families"]
