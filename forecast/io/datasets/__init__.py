"""Real police data shipped with the package, so that the first command works with no data of one's own."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from forecast.data import Panel
from forecast.io.tidy import read_tidy_csv
from forecast.errors import DataError

DEFAULT = "met-major"


@dataclass(frozen=True)
class Bundled:
    name: str
    file: str
    description: str
    source: str


BUNDLED = {b.name: b for b in (
    Bundled("met-major", "met-major.csv.gz", "Metropolitan Police, 33 boroughs x 9 major categories, monthly",
            "MPS recorded crime, borough level (London Datastore), 2008-01..2018-12"),
    Bundled("met-minor", "met-minor.csv.gz", "Metropolitan Police, 33 boroughs x 36 harmonised minor categories",
            "MPS recorded crime, borough level (London Datastore), 2008-01..2018-12"),
    Bundled("west-midlands", "west-midlands.csv.gz", "West Midlands Police, monthly force total",
            "data.police.uk (West Midlands crime SPC demo), 2011-01..2016-12"),
    Bundled("city-of-london", "city-of-london.csv.gz", "City of London Police, data.police.uk categories by local authority",
            "data.police.uk street-level files, 2017-01..2021-12"),
    Bundled("city-of-london-lsoa", "city-of-london-lsoa.csv.gz",
            "City of London Police, data.police.uk categories by LSOA neighbourhood (sparse counts)",
            "data.police.uk street-level files, 2017-01..2021-12"),
)}


def load(name: str = DEFAULT) -> Panel:
    """One bundled data set as a validated panel."""
    if name not in BUNDLED:
        raise DataError(f"{name}: no such bundled data set (bundled: {', '.join(BUNDLED)})")
    entry = BUNDLED[name]
    with resources.as_file(resources.files(__name__) / entry.file) as path:
        frame = read_tidy_csv(path)
    return Panel(frame, name, f"bundled:{name}")
