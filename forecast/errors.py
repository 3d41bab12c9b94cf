"""One family of errors, so that the CLI can turn every one of them into a one-line message."""


class ForecastError(Exception):
    """Base of every error this package raises on purpose."""


class DataError(ForecastError):
    """Input data that cannot be read or does not pass validation."""


class SelectionError(ForecastError):
    """A crime type or area name that matches nothing, or more than one thing."""


class OutputError(ForecastError):
    """An output that cannot or must not be written (unwritable, or one of the inputs)."""


class ModelFitError(ForecastError):
    """A model that could not be fitted."""


class TrackingError(ForecastError):
    """The MLflow store could not be written or read."""


class ModelFitWarning(UserWarning):
    """A candidate model failed to fit; the caller recorded the failure and went on."""
