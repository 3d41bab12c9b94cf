"""Trained global models kept on disk between commands (forecast.engine.model_store): read back only when they
are this user's, private and unchanged; the forecasts the same as from a fresh training."""

import os
import pickle

import numpy as np
import pandas as pd

from forecast.engine import model_store

RUN = ("run", "--data", "city-of-london", "--crime", "burglary", "--area", "city-of-london", "--no-track",
       "--paths", "0", "--jobs", "1")


def _counted(bt, monkeypatch) -> list:
    calls = []
    real = bt._train
    monkeypatch.setattr(bt, "_train", lambda train, *rest: calls.append(len(train)) or real(train, *rest))
    return calls


def test_a_second_command_reads_the_models_the_first_trained_and_forecasts_the_same(tmp_path, invoke, monkeypatch,
                                                                                   untrained):
    bt = untrained
    calls = _counted(bt, monkeypatch)
    first = invoke(*RUN, "--out", tmp_path / "first")
    assert first.exit_code == 0, first.output
    trained = len(calls)
    kept = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert trained == 5 and len(kept) == 10  # a model and its checksum for each of the 5 cut-offs
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())  # as in a new process
    second = invoke(*RUN, "--out", tmp_path / "second")
    assert second.exit_code == 0, second.output
    assert len(calls) == trained  # nothing trained again
    for name in ("forecast.csv", "backtest.csv", "summary.csv", "sentences.txt"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    assert oct((tmp_path / "models").stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "models").iterdir()} == {"0o600"}


class _Marker:
    """A pickle that writes a file when it is read: what a planted model could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _plant(folder, key: str, obj) -> None:
    """``obj`` where the store looks for ``key``'s model, with a matching checksum."""
    import hashlib

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    raw = pickle.dumps(obj)
    name = model_store._name(key)
    (folder / f"{name}.pkl").write_bytes(raw)
    (folder / f"{name}.sha256").write_text(hashlib.sha256(raw).hexdigest(), encoding="ascii")
    for p in folder.iterdir():
        os.chmod(p, 0o600)


def test_only_a_private_unchanged_model_file_is_read(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(folder))
    _plant(folder, "k", {"a": 1})
    assert model_store.read("k") == {"a": 1}  # the control: private, unchanged, read
    pkl = folder / f"{model_store._name('k')}.pkl"
    os.chmod(pkl, 0o620)
    assert model_store.read("k") is None  # the file writable by the group
    os.chmod(pkl, 0o600)
    os.chmod(folder, 0o770)
    assert model_store.read("k") is None  # the folder writable by the group
    os.chmod(folder, 0o700)
    raw = bytearray(pkl.read_bytes())
    raw[-2] ^= 1
    pkl.write_bytes(bytes(raw))
    assert model_store.read("k") is None  # changed since written
    assert model_store.read("another key") is None
    marker = tmp_path / "ran"
    _plant(folder, "k", _Marker(marker))
    os.chmod(folder, 0o777)
    assert model_store.read("k") is None and not marker.exists()  # planted in a folder others may write to
    os.chmod(folder, 0o700)
    elsewhere = tmp_path / "planted.pkl"
    pkl.rename(elsewhere)
    pkl.symlink_to(elsewhere)
    assert model_store.read("k") is None and not marker.exists()  # a link to a file elsewhere


def test_a_broken_model_file_is_trained_again_and_rewritten(tmp_path, monkeypatch, untrained):
    from forecast.engine.backtest import BacktestSettings, panel_forecasts

    bt = untrained
    months = pd.period_range("2015-01", periods=48, freq="M")
    rng = np.random.default_rng(2)
    panel = {("Robbery", f"Area {i:02d}"): pd.Series(rng.poisson(20, 48).astype(float), months) for i in range(12)}
    calls = _counted(bt, monkeypatch)
    settings = BacktestSettings(origins=1, horizon=3, step=3, models=("global",))
    first = panel_forecasts(panel, panel, settings, horizon=3, n_jobs=1)
    assert len(calls) == 2
    folder = tmp_path / "models"
    broken = sorted(folder.glob("global-*.pkl"))[0]
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(bt, "TRAINED", bt.TrainedModels())
    again = panel_forecasts(panel, panel, settings, horizon=3, n_jobs=1)
    assert len(calls) == 3  # the broken one trained again, the other read
    assert broken.read_bytes() != b"not a model"
    key = ("Robbery", "Area 03")
    pd.testing.assert_frame_equal(again.series[key].final.predict(3), first.series[key].final.predict(3))


def test_the_newest_models_are_kept_and_a_folder_that_cannot_be_written_keeps_none(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(folder))
    monkeypatch.setattr(model_store, "KEEP", 2)
    for i, key in enumerate("abc"):
        model_store.write(key, {"model": key})
        os.utime(folder / f"{model_store._name(key)}.pkl", (1000 + i, 1000 + i))
    model_store.write("d", {"model": "d"})
    assert model_store.read("a") is None and model_store.read("b") is None
    assert model_store.read("c") == {"model": "c"} and model_store.read("d") == {"model": "d"}
    assert len(list(folder.iterdir())) == 4
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("FORECAST_MODEL_CACHE", str(blocked))
    model_store.write("e", {"model": "e"})  # nothing kept, nothing raised
    assert model_store.read("e") is None and blocked.read_text() == "not a folder"


def test_a_model_is_kept_under_a_name_of_its_data_and_its_makers(monkeypatch):
    import sklearn

    name = model_store._name("k")
    assert name == model_store._name("k") != model_store._name("k2")
    assert name.startswith("global-") and len(name) == len("global-") + 32
    monkeypatch.setattr(sklearn, "__version__", "0.0")  # another scikit-learn: its pickles are not read
    assert model_store._name("k") != name
