"""A combination of model families: the median of the local families' forecasts and interval bounds, and, where
the panel's global model forecast the series too, the mean of that median and the global forecast."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.models.base import LEVELS, ForecastModel, z_value


Columns = Mapping[str, np.ndarray]


def combine_columns(members: Sequence[Columns]) -> dict[str, np.ndarray]:
    """Element-wise median of members' forecast columns (the same months and columns); members with NaN are
    skipped."""
    names = list(members[0])
    stacked = np.stack([np.column_stack([np.asarray(m[c], dtype=float) for c in names]) for m in members])
    with np.errstate(all="ignore"):
        values = np.nanmedian(stacked, axis=0) if np.isfinite(stacked).any() else stacked[0]
    return {c: values[:, i] for i, c in enumerate(names)}


def blend_columns(local: Columns, panel: Columns | None) -> Columns:
    """The mean of the local median and the global model's forecast, column by column; the local median alone
    where there is no global forecast (or it is missing, or shorter)."""
    if panel is None:
        return local
    out = {}
    for c, mine in local.items():
        theirs = np.full(len(mine), np.nan)
        theirs[:min(len(mine), len(panel[c]))] = panel[c][:len(mine)]
        both = (mine + theirs) / 2
        out[c] = np.where(np.isnan(both), mine, both)
    return out


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns}


def combine(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """:func:`combine_columns` of forecast frames (the same index and columns)."""
    return pd.DataFrame(combine_columns([_columns(f) for f in frames]), index=frames[0].index)


def blend(local: pd.DataFrame, panel: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`blend_columns` of forecast frames, the global one's months matched to the local one's."""
    if panel is None:
        return local
    return pd.DataFrame(blend_columns(_columns(local), _columns(panel.reindex(local.index))), index=local.index)


class Ensemble(ForecastModel):
    """Fits each local member on the same series and predicts the median of their forecasts and bounds; given the
    series' forecast from the panel's global model (``panel``), the mean of that median and it.

    The equal-weight mean of the two kinds measured better than the median of all four (the global model's
    forecasts are the best single family's, and a median of four would let the three local ones outvote it;
    benchmarks/bench_global.py). The default members are ETS and Theta (the median of two is their mean): on the
    Met's 288 series STL + ARIMA as a third scored the same MASE, sMAPE and pinball loss for a third to a half more
    CPU a run (docs/SCALE.md, "The default members become ETS and Theta")."""

    name = "ensemble"
    default_members = ("ets", "theta")

    def __init__(self, members: Sequence[str] = default_members, panel: ForecastModel | None = None):
        self.members = tuple(members)
        self.panel = panel

    @classmethod
    def of(cls, fitted: Sequence[ForecastModel], panel: ForecastModel | None = None) -> "Ensemble":
        """The ensemble of members already fitted on the same series (no refit)."""
        ensemble = cls(tuple(m.name for m in fitted), panel)
        ensemble.y_, ensemble.constant_ = fitted[0].y_, fitted[0].constant_
        if ensemble.constant_ is None:
            ensemble.models_ = list(fitted)
        return ensemble

    def _fit(self, y: np.ndarray) -> None:
        from forecast.models import make

        self.models_ = [make(name).fit(self.y_) for name in self.members]

    def predict(self, horizon: int = 3, levels=LEVELS) -> pd.DataFrame:
        if not hasattr(self, "models_"):
            return super().predict(horizon, levels)
        return self._blended([m.predict(horizon, levels) for m in self.models_], horizon, levels)

    def _blended(self, local: Sequence[pd.DataFrame], horizon: int, levels=LEVELS) -> pd.DataFrame:
        """The forecast from the local members' forecasts: their median, blended with the global model's."""
        return blend(combine(local), self._panel_forecast(horizon, levels))

    def _panel_forecast(self, horizon: int, levels=LEVELS) -> pd.DataFrame | None:
        """The global model's forecast for the months it covers (it is trained for a fixed number ahead)."""
        if self.panel is None:
            return None
        return self.panel.predict(min(horizon, self.panel.horizon_), levels)

    def _simulate(self, horizon: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Paths with the ensemble's own monthly forecasts and intervals (the medians of its members', which
        need not be symmetric), and the dependence between months of its members: an equal mixture of the
        members' own paths gives each path its rank in each month, and the rank is read off the ensemble's
        margin, interpolated through its forecast and interval bounds (a copula)."""
        from scipy.stats import norm

        from forecast.models.paths import model_paths

        members = self.models_ + ([self.panel] if self.panel is not None and self.panel.horizon_ >= horizon else [])
        shares = np.diff(np.linspace(0, n_paths, len(members) + 1).round().astype(int))
        frames = [m.predict(horizon) for m in members]
        mixture = np.concatenate([model_paths(m, f, k, rng) for m, f, k in zip(members, frames, shares) if k])
        ranks = mixture.argsort(axis=0, kind="stable").argsort(axis=0, kind="stable")
        z = norm.ppf((ranks + 0.5) / len(mixture))
        frame = self._blended(frames[:len(self.models_)], horizon)
        knots = np.array([-z_value(95), -z_value(80), 0.0, z_value(80), z_value(95)])
        paths = np.empty_like(z)
        for h in range(horizon):
            f = frame.iloc[h]
            values = np.array([f["lo_95"], f["lo_80"], f["mean"], f["hi_80"], f["hi_95"]])
            low, high = np.polyfit(knots[:2], values[:2], 1), np.polyfit(knots[-2:], values[-2:], 1)
            zh = z[:, h]
            paths[:, h] = np.where(zh < knots[0], np.polyval(low, zh),
                                   np.where(zh > knots[-1], np.polyval(high, zh), np.interp(zh, knots, values)))
        return rng.permutation(paths)

    def params(self) -> dict:
        out = {"members": ",".join(self.members)}
        for model in self.models_:
            out.update({f"{model.name}.{k}": v for k, v in model.fitted_params().items()})
        if self.panel is not None:
            out["members"] += ",global"
        return out
