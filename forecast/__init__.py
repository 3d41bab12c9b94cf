"""forecast: SPC step changes and next-quarter forecasts for police recorded-crime series."""

__version__ = "0.1.0"
