"""MLflow: every run recorded (parent run, one child per series, the fitted models as one pyfunc model).

Only the parent process writes, in batches. The default store is one per user, whatever folder a command runs
from: ``mlflow.db`` with ``artifacts/`` beside it in :func:`default_store` (``~/.local/share/forecast/mlruns``);
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` override it. One
experiment per crime type, ``forecast/<slug>``. Writes to one store are serialised across processes
with a lock file beside the SQLite database, so that two runs can record at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from forecast.rounding import rounded_value
from forecast.version import __version__
from forecast.errors import DataError, ForecastError, SelectionError, TrackingError

MODEL_NAME = "model"
MODEL_URI_TAG = "forecast.model_uri"
CHECKSUMS = "CHECKSUMS.sha256"
#: months a recorded model forecasts ahead at most (forecast predict, a served model)
MAX_HORIZON = 24
#: MLflow 3 reports usage to its developers unless told not to; police data stays on this machine
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: entries of each kind per log_batch call (MLflow accepts at most 100 params and 100 tags a call)
BATCH = 100
REQUIREMENTS = ("pandas", "numpy", "scipy", "statsmodels", "pmdarima", "scikit-learn", "mlflow", "cloudpickle")


def preload() -> threading.Thread:
    """Import mlflow in a background thread (about 1.5 s) while the fits run in worker processes."""
    thread = threading.Thread(target=import_mlflow, daemon=True)
    thread.start()
    return thread


_importing = threading.Lock()


def import_mlflow():
    """mlflow (with mlflow.pyfunc), imported with its usage reporting off unless the caller set
    MLFLOW_DISABLE_TELEMETRY or imported mlflow first; the environment is as it was afterwards."""
    with _importing:
        if "mlflow.pyfunc" not in sys.modules:
            with environment({k: os.environ.get(k, v) for k, v in TELEMETRY_OFF.items()}):
                import mlflow.pyfunc  # noqa: F401
    import mlflow

    return mlflow


@contextlib.contextmanager
def environment(values: dict[str, str | None]):
    """Environment variables set (None: unset) inside the block only; each as it was afterwards."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def using_store(uri: str):
    """MLflow's fluent API (start_run, log_model, load_model of runs:/ and models:/ URIs) pointed at ``uri``
    inside the block only: the caller's tracking URI, and the MLFLOW_TRACKING_URI that MLflow sets with it, are
    as they were afterwards."""
    mlflow = import_mlflow()
    from mlflow.tracking._tracking_service import utils

    before = utils._tracking_uri
    with environment({"MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI")}):
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(before)


def default_store() -> Path:
    """The folder of the store every command records in unless told otherwise: ``forecast/mlruns`` in the user's
    data folder ($XDG_DATA_HOME, else ~/.local/share), the same whatever folder a command runs from, so that a
    run made anywhere is seen by `forecast ui` started anywhere."""
    return (Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "forecast" / "mlruns").resolve()


def tracking_uri(uri: str | None = None) -> str:
    """The store to use: the argument, else MLFLOW_TRACKING_URI, else SQLite in :func:`default_store`."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{default_store() / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def server_log(uri: str, name: str) -> Path:
    """Where a server started on the store (the MLflow UI) keeps its own log: beside a SQLite store, else in the
    cache folder."""
    path = _sqlite_path(uri)
    if path is not None:
        folder = path.parent
    else:
        from forecast.io.load import cache_folder

        folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def artifact_root(uri: str) -> str | None:
    """Artifacts live in ``artifacts/`` beside a SQLite store."""
    path = _sqlite_path(uri)
    return (path.parent / "artifacts").resolve().as_uri() if path else None


def experiment_name(crime_slug: str, override: str | None = None) -> str:
    return override or f"forecast/{crime_slug}"


#: MLflow refuses longer experiment names; run names are cut to stay readable in its UI
MAX_EXPERIMENT_NAME = 500
MAX_RUN_NAME = 250


def check_store(uri: str | None, experiment: str | None = None) -> str:
    """Refuse, before any work, a store that cannot be written or an experiment name MLflow would reject."""
    store = tracking_uri(uri)
    if experiment is not None and len(experiment) > MAX_EXPERIMENT_NAME:
        raise TrackingError(f"experiment name is {len(experiment):,} characters; MLflow takes at most "
                            f"{MAX_EXPERIMENT_NAME} (give a shorter --experiment)")
    path = _sqlite_path(store)
    if path is not None:
        from forecast.files import check_folder

        try:
            check_folder(path.parent, "MLflow store folder")
        except ForecastError as exc:
            raise TrackingError(f"MLflow store {store}: {exc}") from None
        if path.exists() and not os.access(path, os.W_OK):
            raise TrackingError(f"MLflow store {store}: cannot write there (read-only or no permission)")
    return store


def bounded_name(text: str) -> str:
    return text if len(text) <= MAX_RUN_NAME else text[:MAX_RUN_NAME - 3] + "..."


@contextlib.contextmanager
def store_lock(uri: str):
    """Serialise writers of one SQLite store across processes (SQLite and MLflow's migrations dislike races)."""
    path = _sqlite_path(uri)
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.parent / ".forecast.lock", "a")
    except OSError as exc:
        raise TrackingError(f"MLflow store {uri}: cannot write there ({exc.strerror or exc})") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def mapped_errors(uri: str):
    """Turn the store's own failures (MLflow's, SQLAlchemy's and SQLite's, the file system's) into one-line
    TrackingErrors. Anything else is a bug of ours and keeps its traceback."""
    try:
        yield
    except store_errors() as exc:
        message = first_line(exc, None)
        if "file is not a database" in message or "malformed" in message:
            message = "the SQLite file is not a database (corrupt?)"
        elif "readonly" in message or "Permission denied" in message or "unable to open" in message:
            message = "cannot write there (read-only or no permission)"
        raise TrackingError(f"MLflow store {uri}: {message[:200]}") from None


def store_errors() -> tuple[type[BaseException], ...]:
    """The errors an MLflow store raises: MLflow's own, its database layers' (SQLAlchemy, Alembic's migrations,
    SQLite) and the file system's."""
    import sqlite3

    import_mlflow()
    from alembic.util.exc import CommandError
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    return MlflowException, SQLAlchemyError, CommandError, sqlite3.Error, OSError


def first_line(exc: BaseException, width: int | None = 160) -> str:
    """An error's first line (at most ``width`` characters; None: all of it), or its type's name when it has no
    message."""
    text = str(exc).strip()
    return text.splitlines()[0][:width] if text else type(exc).__name__


@contextlib.contextmanager
def quiet():
    """MLflow's own chatter (migrations, pickling advice) is not for planners: silenced while inside, and the
    loggers and warning filters are as they were afterwards. mlflow is imported first (inside, so that the filters
    it adds as it loads go too): it sets its loggers' levels as it loads."""
    import logging
    import warnings

    with warnings.catch_warnings():
        import_mlflow()
        loggers = [logging.getLogger(name) for name in ("mlflow", "alembic", "alembic.runtime.migration")]
        levels = [logger.level for logger in loggers]
        warnings.filterwarnings("ignore", module="mlflow")
        warnings.filterwarnings("ignore", message=".*input example.*")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def writing(uri: str | None):
    """An MLflow client on the store, its writers serialised and its failures mapped to TrackingError; MLflow's
    fluent API points at the store inside the block only."""
    store = tracking_uri(uri)
    with quiet(), mapped_errors(store), store_lock(store), using_store(store):
        yield client(store), store


def client(uri: str):
    """A client of the store at ``uri``; MLflow's global tracking URI is left alone."""
    import_mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


#: an experiment's kind for MLflow 3's UI: "custom_model_development" is its "Machine learning" (the runs table and
#: the compare view) rather than generative AI; where the UI's own workflow switch decides (3.17), see runs_link
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def mark_kind(c, experiment) -> None:
    """Tag an experiment as machine-learning training where it has no kind yet (a kind set by hand is kept)."""
    if EXPERIMENT_KIND_TAG not in (experiment.tags or {}):
        c.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def mark_experiments(uri: str | None) -> dict[str, str]:
    """Tag this toolkit's experiments in an existing store (``forecast/...``, some made before the tag) as
    machine-learning experiments; their ids by name, most recently used first."""
    store = tracking_uri(uri)
    path = _sqlite_path(store)
    if path is not None and not path.exists():
        return {}
    with writing(store) as (c, _):
        experiments = c.search_experiments(filter_string="name LIKE 'forecast/%'",
                                           order_by=["last_update_time DESC"])
        for experiment in experiments:
            mark_kind(c, experiment)
        return {e.name: e.experiment_id for e in experiments}


def runs_link(base: str, experiment_id: str) -> str:
    """The UI's page of an experiment's runs. MLflow 3.17's UI shows experiments in its generative-AI view unless
    told otherwise (its workflow switch, not the experiment's kind, decides), so the link says which."""
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def ensure_experiment(c, name: str, uri: str) -> str:
    """The id of the experiment ``name``, created (as a machine-learning experiment) when it is new."""
    experiment = c.get_experiment_by_name(name)
    if experiment is not None:
        mark_kind(c, experiment)
        return experiment.experiment_id
    try:
        return c.create_experiment(name, artifact_location=artifact_root(uri),
                                   tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    except Exception:  # noqa: BLE001 - another process may have created it meanwhile
        experiment = c.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def git_commit() -> str | None:
    """The commit of the source tree the package runs from, where it is a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def pip_requirements() -> list[str]:
    """Explicit pins of what the pyfunc model needs (logging is ~20x faster than letting MLflow infer them)."""
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _clean(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _metric_key(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in text)


# ------------------------------------------------------------------ the pyfunc model

def bundle_class():
    """The pyfunc class, defined lazily so that importing this module does not import mlflow."""
    mlflow = import_mlflow()
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    class BadRequest(MlflowException, SelectionError):
        """A request the models cannot answer (an unknown area, a bad horizon): a one-line error for the CLI, and
        for MLflow's scoring server a 400 with the message and no traceback."""

        def __init__(self, message: str):
            super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    class ForecastBundle(mlflow.pyfunc.PythonModel):
        """The fitted models of one run: forecasts any of its series given ``area`` (and ``horizon``)."""

        def __init__(self, models: dict, crime_type: str, levels=(80, 95), panel_model=None,
                     published: pd.DataFrame | None = None, reconciliation: str = "none"):
            self.models = models
            self.crime_type = crime_type
            self.levels = tuple(levels)
            #: the global model trained on every month of the panel (its forecasts are held by the series' models)
            self.panel_model = panel_model
            #: the run's own forecast table (forecast.csv) and how it was reconciled: predict gives these figures
            self.published = published
            self.reconciliation = reconciliation

        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
            try:
                return predict_bundle(self.models, model_input, self.levels, getattr(self, "published", None),
                                      getattr(self, "reconciliation", "none"))
            except (SelectionError, TrackingError) as exc:
                raise BadRequest(str(exc)) from None

    return ForecastBundle


def figures_of(reconciliation: str) -> tuple[str, str]:
    """What `predict`'s ``figures`` column says: (the run's months, the months past them)."""
    if reconciliation in ("none", "", None):
        return "the run's published figures", "the model's own forecast (past the run's months)"
    return (f"the run's published figures, reconciled {reconciliation}",
            "the model's own forecast, not reconciled (past the run's months)")


def whole_months(value) -> int:
    """A request's horizon as a whole number of months (3 when not given); 2.7, "two" or True are refused, not
    cut to a whole number."""
    import numbers

    if value is None or isinstance(value, float) and value != value or value == "":
        return 3
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise SelectionError(f"horizon {value!r} is not a whole number of months")


def predict_bundle(models: dict, model_input: pd.DataFrame, levels=(80, 95), published: pd.DataFrame | None = None,
                   reconciliation: str = "none") -> pd.DataFrame:
    """Forecast every requested (area, horizon) row from already fitted models, without refitting. The months the
    run published are the run's own figures (``published``: its forecast table, reconciled as the run was), so that
    predict never gives a second number for one month; months past them are the model's, said in ``figures``.
    Every month is rounded as the run's tables are (:func:`forecast.rounding.rounded`), whoever asks: `predict`,
    or a client of `serve`."""
    from forecast.data import resolve_names

    frame = pd.DataFrame(model_input)
    if "area" not in frame:
        raise TrackingError("model input needs an 'area' column")
    areas = sorted({area for (_, area) in models})
    out = []
    for row in frame.to_dict(orient="records"):
        horizon = whole_months(row.get("horizon"))
        if not 1 <= horizon <= MAX_HORIZON:
            raise SelectionError(f"horizon {horizon}: give 1 to {MAX_HORIZON} months")
        area_asked = row.get("area")
        if not isinstance(area_asked, str) or not area_asked.strip():
            raise SelectionError(f"area {area_asked!r}: give an area's name (one of {', '.join(areas)}) or 'all'")
        for area in resolve_names(area_asked, areas, "area"):
            (key,) = [k for k in models if k[1] == area]
            name, model = models[key]
            f = model.predict(horizon, levels).reset_index(names="month")
            f["month"] = f["month"].astype(str)
            f.insert(0, "model", name)
            f.insert(0, "area", area)
            f.insert(0, "crime_type", key[0])
            f.insert(4, "step", np.arange(1, horizon + 1))
            f["figures"] = figures_of(reconciliation)[1] if published is not None else "the model's own forecast"
            if published is not None:
                run = published[(published["crime_type"] == key[0]) & (published["area"] == area)]
                run = run.set_index("month").reindex(f["month"])
                known = run["mean"].notna().to_numpy()
                columns = [c for c in f.columns if c.startswith(("mean", "lo_", "hi_")) and c in run]
                f.loc[known, columns] = run[columns].to_numpy()[known]
                f.loc[known, "figures"] = figures_of(reconciliation)[0]
            out.append(f)
    from forecast.rounding import rounded

    return rounded(pd.concat(out, ignore_index=True))


def model_signature(example_input: pd.DataFrame, example_output: pd.DataFrame):
    from mlflow.models import infer_signature

    return infer_signature(example_input, example_output)


def build_bundle(result) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """The pyfunc object of a RunResult, an input example and its output."""
    from forecast.rounding import rounded

    models = {key: (f.chosen, f.model) for key, f in result.forecasts.items()}
    bundle = bundle_class()(models, result.crime_type, panel_model=result.global_fit.final_model(),
                            published=rounded(result.forecast_frame()), reconciliation=result.reconciliation)
    example = pd.DataFrame({"area": [result.keys[0][1]], "horizon": [result.horizon]})
    return bundle, example, predict_bundle(models, example, published=bundle.published,
                                           reconciliation=bundle.reconciliation)


def save_model(result, path: Path) -> Path:
    """Save the run's fitted models in MLflow's model format (``forecast run --export``), atomically, with the
    checksums ``predict`` verifies."""
    mlflow = import_mlflow()

    from forecast.files import atomic_folder

    bundle, example, output = build_bundle(result)
    with atomic_folder(path) as work, quiet():
        mlflow.pyfunc.save_model(str(work), python_model=bundle, pip_requirements=pip_requirements(),
                                 signature=model_signature(example, output), input_example=example)
        write_checksums(work)
    return Path(path)


def _file_digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != CHECKSUMS}


def write_checksums(folder: Path) -> Path:
    """Record the SHA-256 of every file of an exported model, so that ``predict`` can refuse a changed one."""
    lines = [f"{digest}  {name}" for name, digest in _file_digests(folder).items()]
    (folder / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / CHECKSUMS


def verify_checksums(folder: Path) -> None:
    """Refuse a model folder whose files differ from those recorded at export: loading one runs its code."""
    listed = folder / CHECKSUMS
    if not listed.is_file():
        raise DataError(f"{folder}: no {CHECKSUMS} (export it again with forecast run --export); a model "
                        "folder is code, so only a verified one is loaded")
    expected = {}
    for line in listed.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            expected[name] = digest
    actual = _file_digests(folder)
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            raise DataError(f"{folder}: {name} is missing (the folder changed since export); not loaded")
        if name not in expected:
            raise DataError(f"{folder}: {name} was not part of the export; not loaded")
        if actual[name] != expected[name]:
            raise DataError(f"{folder}: {name} does not match its checksum (changed or damaged since "
                            "export); not loaded")


def existing_store(uri: str | None) -> str:
    """The store a read-only command reads: refused (and not created empty) when it does not exist."""
    store = tracking_uri(uri)
    path = _sqlite_path(store)
    if path is not None and not path.exists():
        raise SelectionError(f"MLflow store {store}: there is no store there; give the one the run was recorded "
                             "in with --tracking-uri (or MLFLOW_TRACKING_URI)")
    return store


def recorded_run(c, run_id: str, store: str):
    """A run of the store, or a one-line error naming the store and how to choose another."""
    from mlflow.exceptions import MlflowException

    try:
        return c.get_run(run_id)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise SelectionError(f"run {run_id} is not in the MLflow store {store}; give the store it was recorded "
                             "in with --tracking-uri (or MLFLOW_TRACKING_URI)") from None


def load_model(run_id: str | None = None, model_dir: str | None = None, uri: str | None = None):
    """The pyfunc model of a tracked run (by run id) or of an exported folder (verified against its checksums
    before anything in it is unpickled)."""
    mlflow = import_mlflow()

    if model_dir:
        if not Path(model_dir, "MLmodel").exists():
            raise DataError(f"{model_dir}: not an exported model folder (no MLmodel file)")
        verify_checksums(Path(model_dir))
        with quiet():
            return mlflow.pyfunc.load_model(str(model_dir))
    store = existing_store(uri)
    with quiet(), mapped_errors(store):
        c = client(store)
        run = recorded_run(c, run_id, store)
        model_uri = run.data.tags.get(MODEL_URI_TAG)
        if not model_uri:
            raise TrackingError(f"run {run_id} has no logged forecast model")
        with using_store(store):
            return mlflow.pyfunc.load_model(model_uri)


def download_outputs(run_id: str, folder: Path, uri: str | None = None) -> str:
    """Fetch a run's CSV outputs into ``folder``; returns a description of the source for captions."""
    store = existing_store(uri)
    with quiet(), mapped_errors(store):
        c = client(store)
        run = recorded_run(c, run_id, store)
        folder.mkdir(parents=True, exist_ok=True)
        names = [a.path for a in c.list_artifacts(run_id) if not a.is_dir]
        for name in names:
            if name.endswith((".csv", ".txt")):
                c.download_artifacts(run_id, name, str(folder))
        return f"{run.data.params.get('data', 'data')} (MLflow run {run_id[:8]})"


# ------------------------------------------------------------------ logging a run

def run_params(result, extra: dict | None = None) -> dict:
    panel = result.panel
    outlook_paths = next(iter(result.outlooks.values())).n_paths if result.outlooks else 0
    areas = sorted({a for _, a in result.keys})
    params = {
        "data": panel.name, "data_source": panel.source, "data_hash": panel.content_hash()[:16],
        "crime_type": result.crime_type, "n_series": len(result.keys), "areas": ", ".join(areas),
        "horizon": result.horizon, "models": ",".join(result.settings.models),
        "ensemble_members": ",".join(result.settings.members), "backtest_origins": result.settings.origins,
        "backtest_step": result.settings.step,
        "backtest_horizon": result.settings.horizon, "last_month": str(panel.months[-1]),
        "package_version": __version__, "git_commit": git_commit() or "unknown", "outlook_paths": outlook_paths,
        "reconciliation": result.reconciliation,
    }
    params.update({f"spc_{k}": v for k, v in result.spc_options.as_params().items()})
    params.update(global_params(result.global_fit))
    params.update(extra or {})
    return params


def global_params(fit) -> dict:
    """The global model's settings and features (``global_*``), from its last cut-off, or why there is none."""
    model = fit.final_model()
    if model is None:
        return {"global_model": fit.note or "not used"}
    limited = {"global_model": fit.note} if fit.note else {}
    return {"global_cutoffs": ",".join(sorted(fit.models)), "global_training_series": model.n_series_, **limited,
            **{f"global_{k}": v for k, v in model.params().items()}}


#: the scores of a backtest summary's row logged per model (``won`` last: a per-series row has none)
SUMMARY_SCORES = ("mase", "rmsse", "spl", "smape", "coverage_80", "coverage_95", "won")


def summary_metrics(summary: pd.DataFrame, prefix: str = "") -> dict:
    """mase_<model>, rmsse_<model>, spl_<model>, smape_<model>, coverage_80_<model>, coverage_95_<model>,
    won_<model>."""
    metrics = {}
    for row in summary.itertuples():
        for name in SUMMARY_SCORES:
            value = getattr(row, name)
            if value == value:
                metrics[f"{prefix}{name}_{row.model}"] = float(value)
    return metrics


def _batch(c, run_id: str, params: dict | None = None, metrics: Iterable[tuple] = (), tags: dict | None = None):
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    params = [Param(k, _clean(v)) for k, v in (params or {}).items()]
    metrics = [Metric(_metric_key(k), rounded_value(float(v), k), now, step) for k, v, step in metrics
               if v == v and np.isfinite(v)]
    tags = [RunTag(k, _clean(v)) for k, v in (tags or {}).items()]
    for i in range(0, max(len(params), len(metrics), len(tags), 1), BATCH):
        c.log_batch(run_id, metrics=metrics[i:i + BATCH], params=params[i:i + BATCH], tags=tags[i:i + BATCH])


def _finished_run(c, experiment_id: str, run_name: str, tags: dict, params: dict, metrics: Iterable[tuple],
                  artifacts: Sequence[Path] = (), started: float | None = None) -> str:
    """Create a run, log its params and metrics in batches and its files, and mark it finished. ``started``
    (seconds since the epoch) is when the work it records began: its duration in MLflow is the work's."""
    start_time = None if started is None else int(started * 1000)
    run_id = c.create_run(experiment_id, start_time=start_time, run_name=run_name, tags=tags).info.run_id
    _batch(c, run_id, params, metrics)
    for path in artifacts:
        c.log_artifact(run_id, str(path))
    c.set_terminated(run_id)
    return run_id


def child_records(result, key) -> tuple[dict, list[tuple], dict]:
    """Params, metrics (with steps) and tags of one series' child run."""
    f = result.forecasts[key]
    params = {"model": f.chosen, **{f"fit.{k}": v for k, v in f.model.fitted_params().items()}}
    metrics: list[tuple] = []
    scored = f.metrics[f.metrics["model"] == f.scored_as] if not f.metrics.empty else pd.DataFrame()
    for step, row in enumerate(scored.itertuples()):
        metrics += [("origin_mase", row.mase, step), ("origin_smape", row.smape, step)]
    scores = f.model_scores()
    metrics += [(f"mase_{model}", row["mase"], 0) for model, row in scores.iterrows()]
    reported = f.reported_scores()
    if reported is not None:
        metrics += [(name, reported[name], 0) for name in SUMMARY_SCORES[:-1]]
    for step, (month, row) in enumerate(f.forecast.iterrows(), start=1):
        for col in ("mean", "lo_80", "hi_80", "lo_95", "hi_95"):
            metrics.append((f"forecast_{col}", row[col], step))
    if key in result.outlooks:
        o = result.outlooks[key]
        metrics += [("p_step_up", o.p_step_up, 0), ("p_step_down", o.p_step_down, 0),
                    ("p_above_ucl", o.p_above_ucl, 0), ("p_below_lcl", o.p_below_lcl, 0)]
    tags = {"crime_type": key[0], "area": key[1], "model": f.chosen, "spc_status": result.spc[key].status,
            "mlflow.runName": key[1], "forecast_months": ",".join(str(m) for m in f.forecast.index)}
    if f.notes:
        tags["notes"] = "; ".join(f.notes)
    return params, metrics, tags


def run_label(crime_type: str, data: str, areas: Sequence[str], started: float, model: str | None = None) -> str:
    """A run's name in the MLflow UI, what tells runs apart first (its runs table cuts long names): what, when,
    with which model, on which data and where, e.g. 'Robbery · 2026-11-27 13:40 · ensemble · met-major · 34
    areas'."""
    where = ", ".join(areas) if len(areas) <= 3 else f"{len(areas)} areas"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
    return bounded_name(" · ".join(filter(None, (crime_type, when, model, data, where))))


def begin_run(result, uri: str | None = None, experiment: str | None = None, run_name: str | None = None,
              extra_params: dict | None = None, extra_metrics: dict | None = None, log_model: bool = True,
              started: float | None = None) -> str:
    """Record a RunResult but for its files: parent run with params and metrics, a child per series, the model.

    The run is left open for :func:`end_run`, so that files written meanwhile (charts, report) can join it;
    ``forecast run`` calls this in a thread while the charts render in worker processes. ``started`` (seconds
    since the epoch) is when the command began, so that the run's duration in MLflow is the command's.
    """
    from forecast.engine.backtest import BacktestResult

    with writing(uri) as (c, store):
        import mlflow.pyfunc
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        experiment_id = ensure_experiment(c, experiment_name(result.slug, experiment), store)
        summary = BacktestResult(result.settings, tuple(result.forecasts[k] for k in result.keys)).summary()
        started = time.time() if started is None else started
        name = run_name or run_label(result.crime_type, result.panel.name, [k[1] for k in result.keys], started,
                                     result.model)
        parent = c.create_run(experiment_id, start_time=int(started * 1000), run_name=bounded_name(name),
                              tags={"command": "run", "crime_type": result.crime_type, "data": result.panel.name})
        run_id = parent.info.run_id
        metrics = {**summary_metrics(summary), "n_series": len(result.keys), **(extra_metrics or {})}
        if result.outlooks:
            p = [o.p_step for o in result.outlooks.values()]
            metrics.update({"outlook_mean_p_step": float(np.mean(p)),
                            "outlook_series_likely_step": float(sum(v >= 0.5 for v in p))})
        _batch(c, run_id, run_params(result, extra_params), [(k, v, 0) for k, v in metrics.items()])
        log_comparison_chart(c, run_id, summary, result)
        for key in result.keys:
            params, child_metrics, tags = child_records(result, key)
            tags = {MLFLOW_PARENT_RUN_ID: run_id, **{k: _clean(v) for k, v in tags.items() if k != MLFLOW_RUN_NAME}}
            _finished_run(c, experiment_id, bounded_name(key[1]), tags, params, child_metrics)
        if log_model:
            bundle, example, output = build_bundle(result)
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(name=MODEL_NAME, python_model=bundle, pip_requirements=pip_requirements(),
                                               signature=model_signature(example, output), input_example=example)
            c.set_tag(run_id, MODEL_URI_TAG, info.model_uri)
        return run_id


def log_comparison_chart(c, run_id: str, summary: pd.DataFrame, result) -> None:
    """The run page's picture of its backtest table: MASE and interval coverage per model (comparison.png); none
    when no series was long enough to be scored."""
    import tempfile
    from collections import Counter

    from forecast.present.plots import comparison_chart, save

    if not summary["mase"].notna().any():
        return

    published = Counter(f.scored_as for f in result.forecasts.values()).most_common(1)[0][0]
    fig = comparison_chart(summary, published, f"{result.crime_type}, {len(result.keys)} series: backtest per "
                           f"model ({published} published)")
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = save(fig, Path(tmp) / "comparison.png")
        c.log_artifact(run_id, str(path))


def end_run(run_id: str, artifacts: Sequence[Path] = (), uri: str | None = None) -> str:
    """Attach the run's files (charts under ``charts/``) and mark it finished."""
    with writing(uri) as (c, _):
        for path in map(Path, artifacts):
            if path.is_file():
                c.log_artifact(run_id, str(path), "charts" if path.parent.name == "charts" else None)
        c.set_terminated(run_id)
        return run_id


def log_run(result, artifacts: Sequence[Path] = (), uri: str | None = None, **kwargs) -> str:
    """Record a RunResult and its files in one go (see :func:`begin_run`)."""
    return end_run(begin_run(result, uri=uri, **kwargs), artifacts, uri)


def log_backtest(result, panel, artifacts: Sequence[Path] = (), uri: str | None = None,
                 experiment: str | None = None, extra_params: dict | None = None, min_months: int = 0,
                 started: float | None = None) -> str:
    """Record a ``forecast backtest``: one run with the windows, data and per-model accuracy metrics."""
    from forecast.data import slug

    crimes = panel.crime_types
    name = experiment or (f"forecast/{slug(crimes[0])}" if len(crimes) == 1 else "forecast/backtest")
    with writing(uri) as (c, store):
        experiment_id = ensure_experiment(c, name, store)
        s = result.settings
        params = {"data": panel.name, "data_source": panel.source, "data_hash": panel.content_hash()[:16],
                  "crime_types": ", ".join(crimes), "n_series": len(result.series), "models": ",".join(s.models),
                  "ensemble_members": ",".join(s.members),
                  "backtest_origins": s.origins, "backtest_horizon": s.horizon, "backtest_step": s.step,
                  "min_months": min_months, "first_month": str(panel.months[0]), "last_month": str(panel.months[-1]),
                  "package_version": __version__, "git_commit": git_commit() or "unknown",
                  **global_params(result.global_fit), **(extra_params or {})}
        metrics = summary_metrics(result.summary(min_months=min_months))
        metrics["fit_failures"] = result.failures()
        started = time.time() if started is None else started
        what = crimes[0] if len(crimes) == 1 else f"{len(crimes)} crime types"
        name = f"backtest · {run_label(what, panel.name, panel.areas, started)}"
        return _finished_run(c, experiment_id, bounded_name(name), {"command": "backtest", "data": panel.name},
                             params, [(k, v, 0) for k, v in metrics.items()], artifacts, started)


def log_comparison(spec_name: str, crime_types: Sequence[str], summary: pd.DataFrame, params: dict,
                   uri: str | None = None, experiment: str | None = None,
                   artifacts: Sequence[Path] = (), started: float | None = None) -> dict[str, str]:
    """One run per model of an experiment spec, all with the same metric names; returns run ids by model. The
    models are backtested together, so each run's duration is the whole comparison's (from ``started``)."""
    with writing(uri) as (c, store):
        experiment_id = ensure_experiment(c, experiment or f"forecast/compare/{spec_name}", store)
        ids = {}
        for row in summary.itertuples():
            metrics = [(m, getattr(row, m), 0) for m in SUMMARY_SCORES]
            metrics.append(("series", row.series, 0))
            ids[row.model] = _finished_run(
                c, experiment_id, f"{spec_name}: {row.model}",
                {"command": "compare", "spec": spec_name, "model": row.model},
                {**params, "model": row.model, "crime_types": ", ".join(crime_types)}, metrics, artifacts, started)
        return ids


def log_winter(plan, artifacts: Sequence[Path] = (), uri: str | None = None, experiment: str | None = None,
               extra_metrics: dict | None = None, started: float | None = None) -> str:
    """Record a winter plan: a parent run with the plan's settings and the past-winter backtest per model (MASE,
    error of the winter total, coverage of its intervals; over every series and over the force totals), and a
    child run per headline series (every series of a small plan, else the force totals) with its winter total,
    intervals, last winter and backtest."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    s, panel = plan.settings, plan.panel
    params = {"data": panel.name, "data_source": panel.source, "data_hash": panel.content_hash()[:16],
              "season": s.season.label, "winter": plan.name, "planning_month": str(s.last),
              "forecast_months": f"{plan.ahead[0]}..{plan.ahead[-1]}", "recorded_months": len(s.recorded),
              "model": s.model, "models": ",".join(s.models), "ensemble_members": ",".join(s.members),
              "past_winters_max": s.winters or "all",
              "min_train": s.min_train, "backtest_paths": s.backtest_paths, "seed": s.seed,
              "reconciliation": plan.reconciliation, "n_series": len(plan.keys),
              "crime_types": ", ".join(sorted({k[0] for k in plan.keys})), "package_version": __version__,
              "git_commit": git_commit() or "unknown", **global_params(plan.global_fit)}
    metrics = {}
    for row in plan.backtest_summary().itertuples():
        prefix = "" if row.level == "every series" else "force_"
        for name in ("mase", "error_pct", "median_error_pct", "coverage_80", "coverage_95"):
            metrics[f"{prefix}{name}_{row.model.replace(' ', '_')}"] = float(getattr(row, name))
        metrics[f"{prefix}winters_{row.model.replace(' ', '_')}"] = float(row.winters)
    metrics.update({"n_series": len(plan.keys), **(extra_metrics or {})})
    totals = plan.totals().set_index(["crime_type", "area"])
    with writing(uri) as (c, store):
        experiment_id = ensure_experiment(c, experiment or "forecast/winter", store)
        started = time.time() if started is None else started
        what = ", ".join(sorted({k[0] for k in plan.keys})) if len({k[0] for k in plan.keys}) <= 2 else \
            f"{len({k[0] for k in plan.keys})} crime types"
        name = f"winter {plan.name} · {run_label(what, panel.name, sorted({k[1] for k in plan.keys}), started)}"
        run_id = _finished_run(c, experiment_id, bounded_name(name),
                               {"command": "winter", "data": panel.name, "winter": plan.name},
                               params, [(k, v, 0) for k, v in metrics.items()], (), started)
        for path in map(Path, artifacts):
            if path.is_file():
                c.log_artifact(run_id, str(path), "charts" if path.parent.name == "charts" else None)
        for key in plan.headline():
            row = totals.loc[key]
            child = [(f, float(row[f]), 0) for f in ("total", "lo_80", "hi_80", "lo_95", "hi_95", "last_winter",
                                                    "average", "vs_last_winter_pct", "vs_average_pct", "p_peak",
                                                    "backtest_mase", "backtest_error_pct", "backtest_covered_80",
                                                    "snaive_error_pct")]
            tags = {MLFLOW_PARENT_RUN_ID: run_id, "crime_type": key[0], "area": key[1], "model": str(row["model"]),
                    "peak_month": str(row["peak_month"])}
            _finished_run(c, experiment_id, bounded_name(f"{key[0]} · {key[1]}"), tags, {"model": row["model"]},
                          child, (), started)
        return run_id
