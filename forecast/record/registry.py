"""The store's Model Registry: a run's forecasting bundle registered as a version of ``forecast-<crime>``, its
backtest on the version, and the ``champion`` alias moved only to a version that forecast the same data better.

A planning team points other tools at ``models:/forecast-robbery@champion``; the alias must therefore never
move to a model that merely ran last, nor to one scored on other data, whose MASE says nothing against the
champion's. ``--promote`` moves it on purpose (a new month of data changes the data, and the old champion's
score no longer compares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.errors import SelectionError, TrackingError
from forecast.files import file_stems
from forecast.record.tracking import (MODEL_URI_TAG, existing_store, first_line, import_mlflow, quiet, recorded_run,
                                      using_store, writing)

CHAMPION = "champion"
#: what a version carries from its run's backtest (the published model of each series, averaged over series)
SCORES = ("mase", "coverage_80", "coverage_95")


def model_name(crime_type: str) -> str:
    """The registered model of a crime type: forecast-robbery, forecast-all-crime."""
    return f"forecast-{file_stems([crime_type])[crime_type]}"


@dataclass(frozen=True)
class Registration:
    """One registration: the new version, its scores, and who is champion afterwards and why."""

    name: str
    version: str
    run_id: str
    scores: dict
    champion: str
    reason: str

    def sentence(self) -> str:
        s = self.scores
        return (f"registered {self.name} version {self.version} (run {self.run_id}): backtest MASE {s['mase']:.3f}, "
                f"80% / 95% intervals held {s['coverage_80']:.0%} / {s['coverage_95']:.0%}. {self.reason}")


def run_scores(c, run) -> dict:
    """The mean over a run's series of the backtest of the model each series published (its child runs)."""
    children = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'",
                             max_results=50000)
    values = {k: [r.data.metrics[k] for r in children if k in r.data.metrics] for k in SCORES}
    if not values["mase"]:
        raise SelectionError(f"run {run.info.run_id} has no backtest to register it by (its series were not "
                             "scored: too short for a backtest)")
    return {k: float(np.mean(v)) if v else float("nan") for k, v in values.items()}


def _champion(c, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def _decide(scores: dict, data_hash: str, current, promote: bool) -> tuple[bool, str]:
    """Whether the new version becomes champion, and the sentence that says why."""
    if current is None:
        return True, "It is the first champion."
    theirs = current.tags
    if promote:
        return True, f"Promoted by hand over version {current.version}."
    if theirs.get("data_hash") != data_hash:
        return False, (f"The champion stays version {current.version}: it was scored on other data "
                       f"({theirs.get('data', '?')} to {theirs.get('last_month', '?')}), so the two MASE figures "
                       "do not compare; forecast register RUN_ID --promote makes this version the champion.")
    best = float(theirs.get("mase", "nan"))
    if scores["mase"] < best:
        return True, (f"It is the new champion: MASE {scores['mase']:.3f} against version {current.version}'s "
                      f"{best:.3f} on the same data.")
    return False, (f"The champion stays version {current.version}: on the same data its MASE, {best:.3f}, is no "
                   f"worse than this version's {scores['mase']:.3f}.")


def register(run_id: str, uri: str | None = None, promote: bool = False) -> Registration:
    """Register a recorded ``forecast run``'s model as a new version of forecast-<crime>, with its backtest
    scores and data as version tags, and move the champion alias where :func:`_decide` says."""
    from mlflow.exceptions import MlflowException

    store = existing_store(uri)
    with writing(store) as (c, _):
        run = recorded_run(c, run_id, store)
        tags, params = run.data.tags, run.data.params
        if tags.get("command") != "run" or not tags.get(MODEL_URI_TAG):
            raise SelectionError(f"run {run_id} is not a forecast run with a logged model: only 'forecast run' "
                                 "records one (its child runs, backtest, winter and compare runs do not)")
        name = model_name(params.get("crime_type") or tags.get("crime_type", ""))
        scores = run_scores(c, run)
        data_hash = params.get("data_hash", "")
        try:
            c.create_registered_model(name, description=f"forecast run models of {params.get('crime_type')}: "
                                      "each version one run's fitted models of every series")
        except MlflowException as exc:
            if getattr(exc, "error_code", "") not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        current = _champion(c, name)
        model_uri = tags[MODEL_URI_TAG]
        version_tags = {**{k: f"{v:.4f}" for k, v in scores.items()}, "data_hash": data_hash,
                        "data": params.get("data", ""), "last_month": params.get("last_month", ""),
                        "areas": params.get("areas", "")[:5000], "n_series": params.get("n_series", "")}
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        version = c.create_model_version(name, source=model_uri, run_id=run_id, tags=version_tags,
                                         model_id=model_id)
        crowned, reason = _decide(scores, data_hash, current, promote)
        if crowned:
            c.set_registered_model_alias(name, CHAMPION, version.version)
        return Registration(name, str(version.version), run_id, scores,
                            str(version.version) if crowned else str(current.version), reason)


def resolve(model_uri: str, uri: str | None = None) -> str:
    """Check that a registry URI (models:/forecast-robbery@champion, models:/forecast-robbery/3) names a version
    of the store's registry; returns "version N of NAME", or a one-line error."""
    from mlflow.exceptions import MlflowException

    from forecast.record.tracking import client

    name, sep, which = model_uri.removeprefix("models:/").partition("@")
    if not model_uri.startswith("models:/") or not name:
        raise SelectionError(f"--model {model_uri}: give a registry URI such as models:/forecast-robbery@champion")
    store = existing_store(uri)
    c = client(store)
    try:
        with quiet():
            if sep:
                version = c.get_model_version_by_alias(name, which).version
            else:
                name, _, version = name.partition("/")
                version = c.get_model_version(name, version).version
    except MlflowException as exc:
        raise TrackingError(f"--model {model_uri}: not in the registry of {store} ({first_line(exc)})") from None
    return f"version {version} of {name}"


def load(model_uri: str, uri: str | None = None):
    """The pyfunc model behind a registry URI, after :func:`resolve` has checked it names a version."""
    mlflow = import_mlflow()
    from mlflow.exceptions import MlflowException

    store = existing_store(uri)
    resolve(model_uri, store)
    try:
        with quiet(), using_store(store):
            return mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        raise TrackingError(f"--model {model_uri}: could not be loaded ({first_line(exc)})") from None
