import os
import tempfile
from pathlib import Path

# BLAS pinned to one thread before numpy loads: on 2 shared cores a multi-threaded OpenBLAS spins (a SARIMA fit took
# 26.7 s instead of 1.8 s), and the suite's parallelism is across processes
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# the default MLflow store is the user's (in the data folder): fixtures of any scope record into a folder of the run's
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="forecast-tests-")

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from forecast.cli import cli  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def street_cache(tmp_path, monkeypatch) -> Path:
    """Each test counts street files into a cache folder of its own and records into an MLflow store of its own
    (the default store is in the data folder), never the user's."""
    folder = tmp_path / "street-cache"
    monkeypatch.setenv("FORECAST_CACHE", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


@pytest.fixture(scope="session", autouse=True)
def shared_models(tmp_path_factory) -> Path:
    """Trained global models kept for every test of the session, in both xdist processes (the models of one panel
    are the same whichever test trains them first), in pytest's own temporary folder of the session."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "global-models"
    os.environ["FORECAST_MODEL_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def met_major_models(shared_models) -> Path:
    """The bundled panel's global models at the cut-offs of a default `run` (its 4 backtest origins and its last
    month), trained once a session: they are the same for every crime type and set of areas run on met-major, and
    test_api, test_run, test_report and the help examples all run on it (12.3 s of CPU to train them)."""
    import forecast as fc

    fc.run(fc.load("met-major"), crime="robbery", areas=["Camden"], n_paths=0)
    return shared_models


@pytest.fixture
def untrained(tmp_path, monkeypatch):
    """No global model trained before this test, in this process or on disk: for tests that count trainings."""
    import forecast.engine.backtest as bt

    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(tmp_path / "models"))
    return bt


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def invoke():
    """Run the real CLI; returns click's Result (stdout and stderr kept apart)."""
    def run(*args, **kwargs):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)
    return run


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def seasonal_naive_scale(y, origin: str) -> float:
    """MASE's scale written out longhand: the mean absolute difference from the same month a year before, over
    the months up to ``origin``."""
    train = y[:origin].to_numpy()
    return sum(abs(train[i] - train[i - 12]) for i in range(12, len(train))) / (len(train) - 12)


def backtest_mase(backtest, y_of, model: str) -> float:
    """Mean MASE of one model over the series and origins of a backtest.csv frame, from the data alone."""
    import numpy as np

    scores = [np.mean(np.abs(g["actual"] - g["mean"])) / seasonal_naive_scale(y_of(area), origin)
              for (area, origin), g in backtest[backtest["model"] == model].groupby(["area", "origin"])]
    return float(np.mean(scores))
