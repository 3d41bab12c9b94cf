"""Experiment specs: checked-in TOML files that describe a model comparison (``forecast compare FILE``).

```toml
name = "model-comparison"
data = "met-major"             # bundled name or a path (relative to the spec file)
crime_types = ["all"]          # or names, slugs or prefixes
areas = []                     # empty: every area
models = ["snaive", "ets", "theta", "stl-arima", "sarima", "ensemble"]
last_months = 96               # optional: keep the last N months
min_months = 36                # series shorter than this are left out of the means
totals = false                 # add the force total and All crime series

[backtest]
origins = 4
horizon = 3
step = 3
end = "2018-12"                # optional: the last month used (an autumn origin: end in December, horizon 3)
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from forecast.errors import DataError
from forecast.models import FAMILIES, REGISTRY

_TOP = {"name": str, "description": str, "data": str, "crime_types": list, "areas": list, "models": list,
        "last_months": int, "min_months": int, "totals": bool, "backtest": dict}
_BACKTEST = {"origins": int, "horizon": int, "step": int, "end": str}


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    path: Path
    data: str = "met-major"
    description: str = ""
    crime_types: tuple[str, ...] = ("all",)
    areas: tuple[str, ...] = ()
    models: tuple[str, ...] = FAMILIES
    last_months: int | None = None
    min_months: int = 36
    totals: bool = False
    origins: int = 4
    horizon: int = 3
    step: int = 3
    end: str | None = None
    raw: dict = field(default_factory=dict, compare=False)

    def params(self) -> dict:
        """Flat parameters for MLflow."""
        return {"spec": self.name, "spec_file": self.path.name, "data": self.data,
                "crime_types_spec": ",".join(self.crime_types), "areas_spec": ",".join(self.areas) or "all",
                "models": ",".join(self.models), "last_months": self.last_months or "all",
                "min_months": self.min_months, "backtest_origins": self.origins, "backtest_horizon": self.horizon,
                "backtest_step": self.step, "end": self.end or "last"}


def _check(value, kind, where: str, path: Path):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise DataError(f"{path}: key '{where}' must be {_describe(kind)}, got {value!r}")
    if kind is list and not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: key '{where}' must be a list of strings, got {value!r}")
    if kind is int and value < (0 if where == "min_months" else 1):
        raise DataError(f"{path}: key '{where}' must be at least 1, got {value!r}")


def _describe(kind) -> str:
    return {str: "a string", int: "a whole number", list: "a list", bool: "true or false", dict: "a table"}[kind]


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec; every problem names the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such experiment file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file") from None
    for key, value in raw.items():
        if key not in _TOP:
            raise DataError(f"{path}: unknown key '{key}' (known: {', '.join(_TOP)})")
        _check(value, _TOP[key], key, path)
    if "name" not in raw:
        raise DataError(f"{path}: key 'name' is required")
    backtest = raw.get("backtest", {})
    for key, value in backtest.items():
        if key not in _BACKTEST:
            raise DataError(f"{path}: unknown key 'backtest.{key}' (known: {', '.join(_BACKTEST)})")
        _check(value, _BACKTEST[key], f"backtest.{key}", path)
    models = tuple(raw.get("models", FAMILIES))
    for model in models:
        if model not in REGISTRY:
            raise DataError(f"{path}: key 'models': {model!r} is not a model family; valid: {', '.join(REGISTRY)}")
    data = raw.get("data", "met-major")
    from forecast.io.datasets import BUNDLED

    if data not in BUNDLED and not Path(data).is_absolute():
        data = str((path.parent / data).resolve())
    end = backtest.get("end")
    if end is not None:
        import pandas as pd

        try:
            end = str(pd.Period(end, freq="M"))
        except ValueError:
            raise DataError(f"{path}: key 'backtest.end' must be a month (YYYY-MM), got {end!r}") from None
    return ExperimentSpec(name=raw["name"], path=path, data=data, description=raw.get("description", ""),
                          crime_types=tuple(raw.get("crime_types", ["all"])), areas=tuple(raw.get("areas", [])),
                          models=models, last_months=raw.get("last_months"), min_months=raw.get("min_months", 36),
                          totals=raw.get("totals", False), origins=backtest.get("origins", 4),
                          horizon=backtest.get("horizon", 3), step=backtest.get("step", 3), end=end, raw=raw)


def spec_panel(spec: ExperimentSpec):
    """The panel a spec selects: its data, crime types, areas, end month and last months."""
    from forecast.io.load import load_panel

    panel = load_panel(spec.data)
    if spec.totals:
        panel = panel.with_totals()
    crimes = None if list(spec.crime_types) == ["all"] else list(spec.crime_types)
    panel = panel.select(crime=crimes, area=list(spec.areas) or None)
    if spec.end:
        import pandas as pd

        end = pd.Period(spec.end, freq="M")
        frame = panel.frame[panel.frame["month"] <= end].reset_index(drop=True)
        if frame.empty:
            raise DataError(f"{spec.path}: key 'backtest.end' {spec.end} is before the data starts")
        panel = type(panel)(frame, panel.name, panel.source, panel.fill_missing, panel.all_crime_excludes)
    if spec.last_months:
        panel = panel.last_months(spec.last_months)
    return panel
