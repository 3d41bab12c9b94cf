"""Write out/two-forces.csv (or the path given): the bundled Metropolitan Police boroughs summed to the force, and the bundled West Midlands
force total, both "All crime", over the months both cover (2011-01 to 2016-12): real multi-force data for
`forecast peers` (README, "Peers"). The two counts are not defined alike: the Met's are its notifiable offences
(London Datastore), the West Midlands' the data.police.uk monthly total of the SPC demo it came from."""

import sys
from pathlib import Path

import pandas as pd

from forecast.io.datasets import load


def main(path: str = "out/two-forces.csv") -> None:
    met = load("met-major").frame
    met = met.groupby("month", as_index=False)["count"].sum().assign(area="Metropolitan Police")
    wmp = load("west-midlands").frame.assign(area="West Midlands")[["month", "count", "area"]]
    both = pd.concat([met, wmp], ignore_index=True).assign(crime_type="All crime")
    months = set(met["month"]) & set(wmp["month"])
    both = both[both["month"].isin(months)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    both[["month", "area", "crime_type", "count"]].astype({"month": str}).to_csv(path, index=False)
    print(f"wrote {path}: {len(months)} months, {min(months)} to {max(months)}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
