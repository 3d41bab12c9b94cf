"""The SPC of every series of the bundled panels, as one row each: a SHA-256 of its JSON (``forecast spc --format
json``: every point, process and step change), its status, icon and sentence.

Run: python scripts/spc_snapshot.py tests/data/spc-snapshot.csv.gz
Written before the SPC core moved onto arrays; tests/test_spc_snapshot.py holds today's outputs equal to it.
"""

from __future__ import annotations

import hashlib
import json
import sys

import pandas as pd

from forecast.control.xmr import SPCOptions, analyse
from forecast.io import datasets

#: (label, dataset, options): the defaults on both bundled panels with their totals, and the settings that take
#: other paths through the rules (all points as baseline, screened moving ranges, seasonal adjustment)
CASES = (
    ("default", "met-major", SPCOptions()),
    ("default", "met-minor", SPCOptions()),
    ("default", "city-of-london-lsoa", SPCOptions()),
    ("baseline-all,screen", "met-major", SPCOptions(baseline=None, screen_mr=True, run_length=6)),
    ("seasonal", "met-major", SPCOptions(adjust="seasonal")),
)


def snapshot(cases=CASES) -> pd.DataFrame:
    """One row per series of each case."""
    rows = []
    for label, name, options in cases:
        panel = datasets.load(name).with_totals()
        for (crime_type, area), y in panel.iter_series():
            r = analyse(y, crime_type, area, options)
            text = json.dumps(r.to_dict(), sort_keys=True)
            rows.append({"case": label, "data": name, "crime_type": crime_type, "area": area,
                         "sha256": hashlib.sha256(text.encode()).hexdigest(), "status": r.status, "icon": r.icon,
                         "sentence": " ".join(r.sentences)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    snapshot().to_csv(sys.argv[1], index=False)
