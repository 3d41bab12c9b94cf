"""Failures are said, never hidden: a family's failed fit is its own ModelFitError, counted and said; a bug in our
code keeps its traceback instead of passing for a failed fit or a store error."""

import numpy as np
import pandas as pd
import pytest

from forecast.engine import backtest as bt
from forecast.errors import ModelFitError, TrackingError
from forecast.models import make

SETTINGS = bt.BacktestSettings(origins=2, horizon=3, step=3, models=("snaive", "theta"))


@pytest.fixture
def camden():
    from forecast.io.datasets import load

    return load("met-major").series("Robbery", "Camden")


def test_a_library_failure_is_the_familys_own_error(camden, monkeypatch):
    from statsmodels.tsa.forecasting.theta import ThetaModel

    def singular(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(ThetaModel, "fit", singular)
    with pytest.raises(ModelFitError, match=r"^theta: Singular matrix$") as caught:
        make("theta").fit(camden)
    assert isinstance(caught.value.__cause__, np.linalg.LinAlgError)


def test_a_failed_fit_is_counted_and_said(camden, monkeypatch):
    from statsmodels.tsa.forecasting.theta import ThetaModel

    monkeypatch.setattr(ThetaModel, "fit", lambda self, *a, **k: (_ for _ in ()).throw(ValueError("bad start")))
    result = bt.backtest_series(("Robbery", "Camden"), camden, SETTINGS)
    assert result.failures == 2
    assert result.notes == ["theta failed at origin 2018-06: theta: bad start",
                            "theta failed at origin 2018-09: theta: bad start"]
    scored = result.metrics.set_index(["model", "origin"])["mase"]
    assert scored.loc["theta"].isna().all() and scored.loc["snaive"].notna().all()


def test_a_bug_in_our_code_is_not_taken_for_a_failed_fit(camden, monkeypatch):
    def shape_bug(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(bt, "fit_forecast", shape_bug)
    with pytest.raises(ValueError, match="broadcast"):
        bt.backtest_series(("Robbery", "Camden"), camden, SETTINGS)


def test_ets_records_the_forms_it_could_not_fit(camden, monkeypatch):
    from forecast.models import ets

    real = ets._Model.fit

    def no_damped(self, *args, **kwargs):
        if self.damped_trend:
            raise ValueError("damping out of bounds")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ets._Model, "fit", no_damped)
    model = make("ets").fit(camden)
    assert model.params()["forms_failed"] == len(model.skipped_) >= 1
    assert all(s.startswith("ETS(A,Ad,") and s.endswith("damping out of bounds") for s in model.skipped_)
    assert "Ad" not in model.form()


def test_the_outlook_replay_counts_its_failed_fits(camden, monkeypatch):
    from forecast.control.xmr import SPCOptions
    from forecast.engine import outlook

    real = bt.fit_predict

    def theta_fails(name, *args, **kwargs):
        if name == "theta":
            raise ModelFitError("theta: no")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(bt, "fit_predict", theta_fails)
    records = outlook.evaluate_series(("Robbery", "Camden"), camden, SPCOptions(), ("snaive", "theta"), every=24,
                                      n_paths=100)
    assert len(records) == 4 and records["failed"].tolist() == [1, 1, 1, 1]
    assert outlook.Calibration(records).failed == 4


def test_a_bug_while_recording_keeps_its_traceback(tmp_path, monkeypatch):
    from forecast.record import tracking

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def broken(*args, **kwargs):
        raise KeyError("n_series")

    with pytest.raises(KeyError):
        with tracking.writing(store) as (c, _):
            broken()
    # the store's own failure is still one line
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "mlflow.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrackingError, match="not a database"):
        with tracking.writing(f"sqlite:///{tmp_path / 'bad' / 'mlflow.db'}") as (c, _):
            c.search_experiments()


def test_publishing_a_run_does_not_hide_a_bug_in_its_record(tmp_path, monkeypatch):
    import forecast as fc
    from forecast.record import tracking

    panel = fc.load(pd.DataFrame({"month": pd.period_range("2016-01", periods=40, freq="M").astype(str),
                                  "area": "Sandwell", "crime_type": "Robbery",
                                  "count": (50 + 10 * np.sin(np.arange(40))).round()}))
    run = fc.run(panel, "robbery", n_paths=0)
    monkeypatch.setattr(tracking, "run_params", lambda *a, **k: {}["data_hash"])
    with pytest.raises(KeyError):
        run.publish(tmp_path / "out", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not (tmp_path / "out").exists()
