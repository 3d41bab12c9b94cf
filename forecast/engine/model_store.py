"""Trained global models kept on disk, so that the next command on the same data does not train them again.

Every `run`, `backtest`, `outlook` and `winter` on a panel trains the panel's global model at each cut-off (about
2 s of CPU each on the Met panel, 5 to a run); a second command on the same panel, another crime type or the
outlook after the run, trained the same models again. Here each model is kept as a pickle in
``$FORECAST_MODEL_CACHE``, else the ``global-models`` folder of the cache folder (``$FORECAST_CACHE``, else
``~/.cache/forecast``), named by a digest of what it was trained on and of what made it (the versions, the model's
source), with its SHA-256 beside it; the newest :data:`KEEP` are kept. A model unpickles to the same trees, so
every forecast is the same as from a fresh training.

A pickle runs code when it is read. So a file is read only when it and its folder belong to this user and no one
else may write to them (as ssh treats its keys), it is not a symbolic link, and it matches its checksum; anything
else is trained again and written anew.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from pathlib import Path

from forecast.io.load import cache_folder

MODEL_CACHE_ENV = "FORECAST_MODEL_CACHE"
#: models kept (about 0.7 MB each on the Met panel): several panels' cut-offs at two horizons
KEEP = 40


def folder() -> Path:
    return Path(os.environ.get(MODEL_CACHE_ENV) or cache_folder() / "global-models")


def _name(key: str) -> str:
    """The file name of a training digest, with what made the model: the versions whose pickles it can read and
    the source of the model's own module (its features), which the package's version does not follow."""
    import numpy
    import sklearn

    from forecast.models import gbm
    from forecast.version import __version__

    source = hashlib.sha256(Path(gbm.__file__).read_bytes()).hexdigest()
    made_by = repr((key, source, __version__, sklearn.__version__, numpy.__version__, sys.version_info[:2]))
    return f"global-{hashlib.sha256(made_by.encode()).hexdigest()[:32]}"


def _private(path: Path) -> bool:
    """Whether ``path`` (not followed if a link) belongs to this user and is writable by no one else."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def read(key: str):
    """The model trained on ``key``'s data, or None when there is none that may be read (see the module)."""
    place = folder()
    path = place / f"{_name(key)}.pkl"
    try:
        if not (_private(place) and _private(path) and stat.S_ISREG(path.lstat().st_mode)):
            return None
        raw = path.read_bytes()
        kept = path.with_suffix(".sha256").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if hashlib.sha256(raw).hexdigest() != kept:
        return None
    try:
        model = pickle.loads(raw)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None
    try:
        os.utime(path)  # the newest are kept: a model read is as new as one written
    except OSError:
        pass
    return model


def write(key: str, model) -> None:
    """Keep ``model`` for the next command; a folder that cannot be written (full, read-only) keeps nothing."""
    place = folder()
    name = _name(key)
    raw = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(place):
            return
        for suffix, data in ((".sha256", hashlib.sha256(raw).hexdigest().encode("ascii")), (".pkl", raw)):
            tmp = place / f".{name}.{os.getpid()}.tmp{suffix}"
            tmp.write_bytes(data)
            os.chmod(tmp, 0o600)
            tmp.replace(place / f"{name}{suffix}")
        _keep_newest(place)
    except OSError:
        return


def _keep_newest(place: Path) -> None:
    models = sorted(place.glob("global-*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[KEEP:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".sha256").unlink(missing_ok=True)
