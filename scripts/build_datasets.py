"""Rebuild the bundled data sets in forecast/io/datasets/ from the real files in ../shared/data.

Run from the repository root: ``python scripts/build_datasets.py [SHARED_DATA_DIR [STREET_FILES_DIR]]``. The
package never reads ../shared at run time; this script is how its compact copies were made.

``city-of-london-lsoa`` is counted from the 60 raw data.police.uk street files themselves (STREET_FILES_DIR: the
``Data/`` folder of ``pradyutnair/Data-Challenge-2`` at commit 5c05b900327ec6090649dcf1fa16d6c9382cb67e; the
shared folder holds only 3 of them) by the package's own reader at LSOA level; without the folder it is left as
it is.
"""

import gzip
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "forecast" / "datasets"


def fill_spans(frame: pd.DataFrame, span_by: str, from_area_start: bool = False) -> pd.DataFrame:
    """Add zero rows for months a series lacks inside the span of its ``span_by`` group; with
    ``from_area_start``, not before the area's first month anywhere in the data (the Met's airports are
    published from 2017-01 only: earlier months are not zeros, they are not there)."""
    area_start = frame.groupby("area")["month"].min()
    parts = []
    for _, group in frame.groupby(span_by):
        months = pd.period_range(group["month"].min(), group["month"].max(), freq="M")
        pairs = group[["area", "crime_type"]].drop_duplicates()
        grid = pairs.merge(pd.DataFrame({"month": months}), how="cross")
        if from_area_start:
            grid = grid[grid["month"] >= grid["area"].map(area_start)]
        parts.append(grid.merge(group, on=["area", "crime_type", "month"], how="left").fillna({"count": 0}))
    return pd.concat(parts, ignore_index=True)


def write(frame: pd.DataFrame, name: str) -> None:
    frame = frame[["month", "area", "crime_type", "count"]].copy()
    frame["month"] = frame["month"].astype(str)
    frame["count"] = frame["count"].astype(int)
    frame = frame.sort_values(["crime_type", "area", "month"])
    with gzip.open(OUT / f"{name}.csv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        frame.to_csv(fh, index=False)
    print(f"{name}: {len(frame)} rows, {(OUT / f'{name}.csv.gz').stat().st_size} bytes")


def main(shared: Path, street: Path | None = None) -> None:
    met = pd.read_csv(shared / "met_borough_monthly_2008_2018.csv")
    met["month"] = pd.PeriodIndex(met["month"], freq="M")
    major = met.groupby(["month", "area", "major_category"], as_index=False)["count"].sum() \
        .rename(columns={"major_category": "crime_type"})
    write(major, "met-major")
    minor = met.groupby(["month", "area", "crime_type_harmonised"], as_index=False)["count"].sum() \
        .rename(columns={"crime_type_harmonised": "crime_type"})
    write(fill_spans(minor, "crime_type", from_area_start=True), "met-minor")
    groups = met[["crime_type_harmonised", "major_category"]].drop_duplicates()
    assert not groups["crime_type_harmonised"].duplicated().any(), "a minor category under two major ones"
    groups.rename(columns={"crime_type_harmonised": "crime_type", "major_category": "group"}) \
        .sort_values(["group", "crime_type"]).to_csv(OUT / "met-minor-groups.csv", index=False)

    wm = pd.read_csv(shared / "west_midlands_force_monthly_2011_2016.csv")
    wm = pd.DataFrame({"month": pd.PeriodIndex(wm["month"], freq="M"), "area": "All areas",
                       "crime_type": "All crime", "count": wm["count"]})
    write(wm, "west-midlands")

    city = pd.read_csv(shared / "city_of_london_street_monthly_2017_2021.csv")
    city["month"] = pd.PeriodIndex(city["month"], freq="M")
    city["span"] = "all"
    write(fill_spans(city, "span"), "city-of-london")
    shutil.copy(shared / "README.md", OUT / "SOURCE_README.md")
    if street is not None:
        from forecast.io.police_uk import count_street_files, street_files

        write(count_street_files(street_files([street]), "lsoa", None, []), "city-of-london-lsoa")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data",
         Path(sys.argv[2]) if len(sys.argv) > 2 else None)
