"""A combination of model families: the median of their forecasts and of their interval bounds."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecast.models.base import LEVELS, ForecastModel


def combine(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Element-wise median of member forecast frames (same index and columns); members with NaN are skipped."""
    stacked = np.stack([f.to_numpy(dtype=float) for f in frames])
    with np.errstate(all="ignore"):
        values = np.nanmedian(stacked, axis=0) if np.isfinite(stacked).any() else stacked[0]
    return pd.DataFrame(values, index=frames[0].index, columns=frames[0].columns)


class Ensemble(ForecastModel):
    """Fits each member on the same series; predicts the median of their forecasts and bounds."""

    name = "ensemble"
    default_members = ("ets", "theta", "stl-arima")

    def __init__(self, members: Sequence[str] = default_members):
        self.members = tuple(members)

    def _fit(self, y: np.ndarray) -> None:
        from forecast.models import make

        self.models_ = [make(name).fit(self.y_) for name in self.members]

    def predict(self, horizon: int = 3, levels=LEVELS) -> pd.DataFrame:
        if not hasattr(self, "models_"):
            return super().predict(horizon, levels)
        return combine([m.predict(horizon, levels) for m in self.models_])

    def params(self) -> dict:
        out = {"members": ",".join(self.members)}
        for model in self.models_:
            out.update({f"{model.name}.{k}": v for k, v in model.fitted_params().items()})
        return out
