"""The SPC of every series of the bundled panels is what it was before the SPC core moved onto arrays: each series'
JSON (every point, process and step change), status, icon and sentence, against tests/data/spc-snapshot.csv.gz
(written by scripts/spc_snapshot.py at the commit before)."""

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from spc_snapshot import CASES, snapshot  # noqa: E402

EXPECTED = pd.read_csv(ROOT / "tests" / "data" / "spc-snapshot.csv.gz", keep_default_na=False)


@pytest.mark.parametrize("case", CASES, ids=[f"{label}-{name}" for label, name, _ in CASES])
def test_every_series_is_analysed_as_before(case):
    label, name, _ = case
    expected = EXPECTED[(EXPECTED["case"] == label) & (EXPECTED["data"] == name)].reset_index(drop=True)
    now = snapshot([case])
    assert len(now) == len(expected) > 300
    for column in ("crime_type", "area", "status", "icon", "sentence", "sha256"):
        differ = now[column].astype(str) != expected[column].astype(str)
        assert not differ.any(), (column, now.loc[differ, ["crime_type", "area", column]].head(3).to_dict("records"),
                                  expected.loc[differ, column].head(3).tolist())


@pytest.mark.parametrize("name", ["met-major", "city-of-london"])
def test_the_points_table_is_every_series_points_frame_in_turn(name):
    """spc.csv's frame, built from the arrays in one go, is each series' own points frame labelled and stacked,
    value for value and type for type (the declared month None in a series without one, NaN beside a declared
    month; text only when every series has one)."""
    from forecast.control import xmr as spc
    from forecast.io import datasets

    results = spc.analyse_panel(list(datasets.load(name).with_totals().iter_series()))
    stacked = pd.concat([r.points.assign(crime_type=r.crime_type, area=r.area)[
        ["crime_type", "area", *r.points.columns]] for r in results], ignore_index=True)
    pd.testing.assert_frame_equal(spc.points_frame(results), stacked)
    assert stacked["declared"].dtype == object and stacked["declared"].map(type).astype(str).nunique() == 3
