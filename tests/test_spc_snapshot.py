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
