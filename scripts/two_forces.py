"""Write out/two-forces.csv (or the path given): the bundled Metropolitan Police boroughs summed to the force, and
the bundled West Midlands force total, both "All crime", over the months both cover (2011-01 to 2016-12): real
multi-force data for `forecast peers` (README, "Peers"). The two counts are not defined alike: the Met's are its
notifiable offences (London Datastore), the West Midlands' the data.police.uk monthly total of the SPC demo it came
from.

With ``--street ZIP``, the same counts of the last 24 months are written as data.police.uk street files instead (a
row per crime, each force named in "Falls within" as data.police.uk names it, ``YYYY-MM/YYYY-MM-<force>-street.csv``
in one zip), to show `forecast peers` matching street files to the bundled Most Similar Group. Only the month,
force, LSOA name and crime type of each row are real in kind; the rest is left blank."""

import sys
import zipfile
from pathlib import Path

import pandas as pd

from forecast.io.datasets import load

#: data.police.uk's name and slug of each force, and an LSOA name in it
STREET = {"Metropolitan Police": ("Metropolitan Police Service", "metropolitan", "Westminster 018A"),
          "West Midlands": ("West Midlands Police", "west-midlands", "Birmingham 050F")}
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context\n")


def two_forces() -> pd.DataFrame:
    met = load("met-major").frame
    met = met.groupby("month", as_index=False)["count"].sum().assign(area="Metropolitan Police")
    wmp = load("west-midlands").frame.assign(area="West Midlands")[["month", "count", "area"]]
    both = pd.concat([met, wmp], ignore_index=True).assign(crime_type="All crime")
    months = set(met["month"]) & set(wmp["month"])
    return both[both["month"].isin(months)]


def write_street(both: pd.DataFrame, path: str, months: int = 24) -> None:
    last = sorted(both["month"].unique())[-months:]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for row in both[both["month"].isin(last)].itertuples():
            name, slug, lsoa = STREET[row.area]
            line = f",{row.month},{name},{name},,,,,{lsoa},{row.crime_type},,\n"
            z.writestr(f"{row.month}/{row.month}-{slug}-street.csv", HEADER + line * int(row.count))
    print(f"wrote {path}: street files of 2 forces, {len(last)} months, {min(last)} to {max(last)}")


def main(args: list[str]) -> None:
    both = two_forces()
    if args[:1] == ["--street"]:
        return write_street(both, args[1] if len(args) > 1 else "out/two-forces-street.zip")
    path = args[0] if args else "out/two-forces.csv"
    months = set(both["month"])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    both[["month", "area", "crime_type", "count"]].astype({"month": str}).to_csv(path, index=False)
    print(f"wrote {path}: {len(months)} months, {min(months)} to {max(months)}")


if __name__ == "__main__":
    main(sys.argv[1:])
