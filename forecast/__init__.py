"""forecast: SPC step changes and next-quarter forecasts for police recorded-crime series.

The Python API (:mod:`forecast.api`) does everything the ``forecast`` command does and returns tidy frames:

>>> import forecast as fc
>>> panel = fc.load("met-major")
>>> s = fc.spc(panel, crime="burglary", area="camden")
>>> s.summary[["crime_type", "area"]].values.tolist()
[['Burglary', 'Camden']]
"""

from forecast.api import (SPC, Backtest, Outlook, Run, Winter, backtest, board, compare, contributions, datasets, decompose,
                          evaluate_outlook, fetch, iter_spc, load, outlook, peers, predict, publish, publish_index,
                          register, report, run, seasonal_outlook, select, shares, spc, spc_options, spc_proportions,
                          winter)
from forecast.data import Panel
from forecast.errors import DataError, ForecastError, ModelFitError, SelectionError, TrackingError
from forecast.version import __version__

__all__ = ["__version__", "load", "datasets", "fetch", "select", "spc", "spc_options", "spc_proportions", "shares", "contributions", "board", "iter_spc", "decompose", "seasonal_outlook",
           "run", "backtest", "outlook", "evaluate_outlook", "winter", "peers", "predict", "register", "compare",
           "report", "publish", "publish_index", "Panel", "Run", "SPC", "Backtest", "Outlook", "Winter", "ForecastError",
           "DataError", "SelectionError", "ModelFitError", "TrackingError"]
