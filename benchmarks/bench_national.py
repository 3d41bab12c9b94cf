"""data.police.uk at the national scale: a synthetic monthly archive of the real shape, read, counted and charted.

Run: python benchmarks/bench_national.py [ROWS_PER_MONTH] [MONTHS] [FORCES]
(default 500,000 rows a month, 36 months, 43 forces: about 18 million rows, the size of England and Wales).

Builds a zip laid out as data.police.uk's monthly archive (``YYYY-MM/YYYY-MM-<force>-street.csv``, the real 12
columns, LSOA names "<local authority> 012A", about 14 crime types with their real shares of crime, a few
crimes with no location) in a temporary folder, then, each as a fresh process as a planner would run them:

1. ``forecast ingest archive.zip`` (read and count every file: the cache is empty),
2. the same again (from the Parquet cache),
3. ``forecast spc`` over every force x crime type x local authority series of the counted panel,
4. ``load_panel`` of the zip in this process (the cache's own cost, without Python's start and the CSV written),

and prints wall time, CPU time and peak resident memory of each beside its target (reading: 18 million rows in
under 60 s and under 2 GB).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io.load import load_panel
from timing import Clock, conditions, measured

#: the crime types of the street files with roughly their share of street-level crime in England and Wales
CRIME_TYPES = {
    "Violence and sexual offences": 0.34, "Anti-social behaviour": 0.16, "Public order": 0.09,
    "Criminal damage and arson": 0.08, "Shoplifting": 0.07, "Other theft": 0.06, "Vehicle crime": 0.05,
    "Burglary": 0.04, "Drugs": 0.03, "Theft from the person": 0.02, "Robbery": 0.01, "Bicycle theft": 0.01,
    "Possession of weapons": 0.01, "Other crime": 0.03,
}
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context\n")
OUTCOMES = ("Investigation complete; no suspect identified", "Unable to prosecute suspect", "Under investigation",
            "Status update unavailable", "")


def force_names(n: int) -> list[tuple[str, str]]:
    """(slug, name) of n forces; the real slugs where there are enough of them."""
    real = ["avon-and-somerset", "bedfordshire", "cambridgeshire", "cheshire", "city-of-london", "cleveland",
            "cumbria", "derbyshire", "devon-and-cornwall", "dorset", "durham", "dyfed-powys", "essex",
            "gloucestershire", "greater-manchester", "gwent", "hampshire", "hertfordshire", "humberside", "kent",
            "lancashire", "leicestershire", "lincolnshire", "merseyside", "metropolitan", "norfolk",
            "north-wales", "north-yorkshire", "northamptonshire", "northumbria", "nottinghamshire",
            "south-wales", "south-yorkshire", "staffordshire", "suffolk", "surrey", "sussex", "thames-valley",
            "warwickshire", "west-mercia", "west-midlands", "west-yorkshire", "wiltshire"]
    slugs = real[:n] + [f"force-{i}" for i in range(len(real), n)]
    return [(s, s.replace("-", " ").title() + " Police") for s in slugs]


def force_file(rng: np.random.Generator, month: str, name: str, areas: list[str], rows: int) -> bytes:
    """One street file of ``rows`` crimes, as data.police.uk writes it (CRLF, quoted where needed)."""
    lsoa_per_area = 120
    area = rng.integers(0, len(areas), rows)
    lsoa = rng.integers(0, lsoa_per_area, rows)
    lsoa_names = np.array([f"{a} {i // 26 + 1:03d}{chr(65 + i % 26)}" for a in areas for i in range(lsoa_per_area)])
    lsoa_name = lsoa_names[area * lsoa_per_area + lsoa]
    lsoa_name[rng.random(rows) < 0.01] = ""
    kinds = np.array(list(CRIME_TYPES))
    shares = np.array(list(CRIME_TYPES.values()))
    crime = kinds[rng.choice(len(kinds), rows, p=shares / shares.sum())]
    ids = np.char.add(np.char.mod("%064x", rng.integers(0, 2**62, rows)), "")
    ids[crime == "Anti-social behaviour"] = ""
    frame = pd.DataFrame({
        "Crime ID": ids, "Month": month, "Reported by": name, "Falls within": name,
        "Longitude": np.round(rng.uniform(-3, 1, rows), 6), "Latitude": np.round(rng.uniform(50.5, 54, rows), 6),
        "Location": "On or near High Street", "LSOA code": np.char.mod("E0%07d", area * 1000 + lsoa),
        "LSOA name": lsoa_name, "Crime type": crime,
        "Last outcome category": np.array(OUTCOMES)[rng.integers(0, len(OUTCOMES), rows)], "Context": ""})
    return (HEADER + frame.to_csv(header=False, index=False, lineterminator="\r\n")).encode()


def build(path: Path, rows_per_month: int, months: int, forces: int) -> tuple[int, float]:
    """The archive at ``path``: every force each month, its rows in proportion to a random size."""
    rng = np.random.default_rng(2024)
    named = force_names(forces)
    size = rng.lognormal(0, 0.6, forces)
    size /= size.sum()
    areas = {slug: [f"{name.removesuffix(' Police')} LA{j:02d}" for j in range(int(rng.integers(3, 14)))]
             for slug, name in named}
    total = 0
    started = time.perf_counter()
    last = pd.Period("2024-09", "M")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for month in pd.period_range(last - months + 1, last, freq="M"):
            for (slug, name), share in zip(named, size):
                n = max(1, int(rows_per_month * share * rng.uniform(0.9, 1.1)))
                z.writestr(f"{last}/{month}-{slug}-street.csv", force_file(rng, str(month), name, areas[slug], n))
                total += n
            print(f"  built {month}: {total:,} rows so far, {time.perf_counter() - started:.0f} s", flush=True)
    return total, time.perf_counter() - started


def main(rows_per_month: int = 500_000, months: int = 36, forces: int = 43) -> None:
    print(conditions())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FORECAST_CACHE"] = str(tmp / "cache")
        zipped = tmp / "archive.zip"
        rows, took = build(zipped, rows_per_month, months, forces)
        print(f"{zipped.name}: {rows:,} rows in {months * forces:,} files, {zipped.stat().st_size / 1e6:,.0f} MB "
              f"zipped (built in {took:.0f} s)")
        panel = tmp / "national.csv"
        steps = [("read and count every file (target: under 60 s, under 2 GB)",
                  ("ingest", str(zipped), "-o", str(panel))),
                 ("the same from the Parquet cache (target: well under a second of reading)",
                  ("ingest", str(zipped), "-o", str(tmp / "again.csv"))),
                 ("forecast spc over every force x crime type x local authority series",
                  ("spc", "--data", str(zipped), "-o", str(tmp / "spc.txt")))]
        for label, args in steps:
            result, peak = measured(*args)
            if result.returncode:
                print(result.stderr)
                sys.exit(result.returncode)
            print(result.line(label) + f"; peak memory {peak:,} MB")
            print("   ", (result.stdout.strip() or result.stderr.strip()).splitlines()[-1])
        with Clock() as clock:
            cached = load_panel(zipped)
        print(f"load_panel from the cache, in-process (listing the zip's {months * forces:,} files, then reading "
              f"{len(cached.frame):,} counted rows): {clock}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
