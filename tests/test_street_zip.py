"""data.police.uk downloads as they come: the monthly archive's zip (every force, ``YYYY-MM/`` folders), the same
unpacked, --force and --level, the Parquet cache of the counted files."""

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from forecast.io import police_uk
from forecast.io.load import load_panel

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context")
#: force slug -> its name and, per LSOA, the crimes of each type in the first month (the next months add 1, 2)
FORCES = {
    "west-midlands": ("West Midlands Police", {"Birmingham 001A": {"Robbery": 5, "Burglary": 3},
                                               "Sandwell 002B": {"Robbery": 2, "Burglary": 4},
                                               "Sandwell 003C": {"Robbery": 1}}),
    "merseyside": ("Merseyside Police", {"Liverpool 010A": {"Robbery": 7, "Burglary": 1},
                                         "Wirral 004D": {"Burglary": 6}}),
    "city-of-london": ("City of London Police", {"City of London 001F": {"Robbery": 2}, "": {"Robbery": 1}}),
}
MONTHS = ("2024-01", "2024-02", "2024-03")


def street_csv(month: str, slug: str, months=MONTHS) -> str:
    name, lsoas = FORCES[slug]
    extra = list(months).index(month)
    rows = [HEADER]
    for lsoa, counts in lsoas.items():
        for crime, n in counts.items():
            rows += [f",{month},{name},{name},-1.9,52.4,On or near High Street,E0100,{lsoa},{crime},,"] * (n + extra)
    return "\r\n".join(rows) + "\r\n"


def archive(path: Path, months=MONTHS, forces=tuple(FORCES)) -> Path:
    """A zip laid out as data.police.uk's monthly archive, with the outcomes files beside the street files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for month in months:
            for slug in forces:
                z.writestr(f"{month}/{month}-{slug}-street.csv", street_csv(month, slug, months))
                z.writestr(f"{month}/{month}-{slug}-outcomes.csv", "Crime ID,Month\n")
    return path


def expected(slugs, level: str = "la") -> dict:
    """(month, area, crime type) -> count, worked out from FORCES by hand."""
    out = {}
    for slug in slugs:
        name, lsoas = FORCES[slug]
        for lsoa, counts in lsoas.items():
            unplaced = "(no location)" + (f" {name}" if len(slugs) > 1 else "")
            area = {"la": lsoa.rsplit(" ", 1)[0] if lsoa else unplaced, "lsoa": lsoa or unplaced, "force": name}[level]
            for i, month in enumerate(MONTHS):
                for crime, n in counts.items():
                    out[month, area, crime] = out.get((month, area, crime), 0) + n + i
    return out


def counts_of(frame: pd.DataFrame) -> dict:
    frame = frame[frame["count"] > 0]
    return {(str(m), a, c): int(n) for m, a, c, n in frame[["month", "area", "crime_type", "count"]].itertuples(False)}


def test_archive_zip_with_force_counts_as_worked_out(tmp_path):
    panel = load_panel(archive(tmp_path / "2024-03.zip"), forces="west midlands police")
    assert counts_of(panel.frame) == expected(["west-midlands"])
    assert sorted(panel.frame["area"].unique()) == ["Birmingham", "Sandwell"]
    assert set(panel.frame["force"]) == {"West Midlands Police"}
    assert panel.name == "2024-03"


def test_zip_counts_equal_the_same_files_unpacked_into_month_folders(tmp_path, invoke):
    zipped = archive(tmp_path / "archive.zip")
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(zipped).extractall(unpacked)
    assert sorted(p.name for p in unpacked.iterdir()) == list(MONTHS)
    outs = {}
    for source in (zipped, unpacked):
        outs[source] = tmp_path / f"{source.stem}.csv"
        result = invoke("ingest", source, "--force", "merseyside,west-midlands", "-o", outs[source])
        assert result.exit_code == 0, result.output
    a, b = (pd.read_csv(p) for p in outs.values())
    pd.testing.assert_frame_equal(a, b)
    assert counts_of(a) == expected(["merseyside", "west-midlands"])
    assert sorted(set(zip(a["area"], a["force"]))) == [
        ("Birmingham", "West Midlands Police"), ("Liverpool", "Merseyside Police"),
        ("Sandwell", "West Midlands Police"), ("Wirral", "Merseyside Police")]


def test_several_forces_get_a_force_total_each(tmp_path, invoke):
    zipped = archive(tmp_path / "archive.zip")
    result = invoke("spc", "--data", zipped, "--force", "west-mid,mersey", "--crime", "robbery", "--format", "csv")
    assert result.exit_code == 0, result.output
    points = pd.read_csv(io.StringIO(result.stdout))
    totals = points[points["area"].str.endswith("Police")]
    by_force = totals.groupby("area")["count"].apply(list).to_dict()
    # Robbery: West Midlands 5 + 2 + 1 = 8 in January, one more per LSOA each month; Merseyside 7
    assert by_force == {"Merseyside Police": [7, 8, 9], "West Midlands Police": [8, 11, 14]}
    assert "All areas" not in set(points["area"])


def test_unknown_force_lists_the_forces_present(tmp_path, invoke):
    result = invoke("spc", "--data", archive(tmp_path / "archive.zip"), "--force", "essex")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr == (f"Error: {tmp_path / 'archive.zip'}: force 'essex' matches no forces; valid: "
                             "city-of-london, merseyside, west-midlands\n")


def test_levels_lsoa_and_force(tmp_path):
    zipped = archive(tmp_path / "archive.zip")
    for level in ("lsoa", "force"):
        panel = load_panel(zipped, level=level)
        assert counts_of(panel.frame) == expected(FORCES, level), level
    assert sorted(load_panel(zipped, level="force").frame["area"].unique()) == [
        "City of London Police", "Merseyside Police", "West Midlands Police"]


def test_a_month_missing_inside_the_zip_is_refused_naming_it(tmp_path, invoke):
    zipped = archive(tmp_path / "gap.zip", months=("2024-01", "2024-03"))
    result = invoke("spc", "--data", zipped)
    assert result.exit_code == 2
    assert "2024-02" in result.stderr and "consecutive" in result.stderr and "Traceback" not in result.stderr


def test_force_and_level_refused_for_a_tidy_csv(tmp_path, invoke, data_dir):
    result = invoke("spc", "--data", data_dir / "west_midlands_force_monthly_2011_2016.csv", "--force", "wmp")
    assert result.exit_code == 2
    assert "--force and --level apply to data.police.uk street files" in result.stderr


def test_second_read_comes_from_the_parquet_cache(tmp_path, street_cache, monkeypatch):
    zipped = archive(tmp_path / "archive.zip")
    first = load_panel(zipped, forces="merseyside")
    assert len(list(street_cache.glob("street-*.parquet"))) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("the street files were counted again")

    monkeypatch.setattr(police_uk, "count_street_file", no_reading)
    again = load_panel(zipped, forces="merseyside")
    pd.testing.assert_frame_equal(first.frame, again.frame)
    with pytest.raises(AssertionError, match="counted again"):
        load_panel(zipped, forces="merseyside", level="lsoa")


def test_a_changed_zip_is_counted_again(tmp_path):
    zipped = archive(tmp_path / "archive.zip", forces=("merseyside",))
    before = load_panel(zipped).frame["count"].sum()
    archive(zipped, forces=("merseyside", "west-midlands"))
    after = load_panel(zipped).frame["count"].sum()
    assert before == sum(expected(["merseyside"]).values())
    assert after == sum(expected(["merseyside", "west-midlands"]).values())


def test_not_a_zip_named_zip_is_one_line(tmp_path, invoke):
    fake = tmp_path / "download.zip"
    fake.write_text("<html>Service unavailable</html>")
    result = invoke("spc", "--data", fake)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"Error: {fake}: is not a zip file (it begins b'<html>Service unavailable</html>'); " \
                            "was the download cut short or an error page? Download it again\n"


def test_rows_in_the_zip_match_a_csv_count(tmp_path):
    zipped = archive(tmp_path / "archive.zip", forces=("west-midlands",))
    with zipfile.ZipFile(zipped) as z:
        rows = [r for name in z.namelist() if name.endswith("-street.csv")
                for r in csv.DictReader(io.StringIO(z.read(name).decode()))]
    assert load_panel(zipped).frame["count"].sum() == len(rows) == sum(expected(["west-midlands"]).values())


def test_each_force_total_keeps_its_own_crimes_of_no_location(tmp_path):
    panel = load_panel(archive(tmp_path / "archive.zip")).with_totals()
    robbery = panel.frame[panel.frame["crime_type"] == "Robbery"]
    city = robbery[robbery["area"] == "City of London Police"]["count"].tolist()
    # 2 located and 1 unlocated robbery in January, each one more a month
    assert city == [3, 5, 7]
    assert "(no location) City of London Police" not in panel.areas
    assert set(robbery[robbery["area"].str.endswith("Police")]["force"]) == {
        "City of London Police", "Merseyside Police", "West Midlands Police"}


def test_lsoa_panels_read_chart_and_forecast(tmp_path, invoke):
    months = [str(m) for m in pd.period_range("2023-10", "2024-09", freq="M")]
    zipped = archive(tmp_path / "year.zip", months=months, forces=("west-midlands",))
    spc = invoke("spc", "--data", zipped, "--level", "lsoa", "--crime", "burglary", "--format", "csv")
    assert spc.exit_code == 0, spc.output
    points = pd.read_csv(io.StringIO(spc.stdout))
    # Burglary: 3 in Birmingham 001A and 4 in Sandwell 002B in the first month, one more each month after
    by_area = points.groupby("area")["count"].apply(list).to_dict()
    assert by_area == {"All areas": [7 + 2 * i for i in range(12)], "Birmingham 001A": [3 + i for i in range(12)],
                       "Sandwell 002B": [4 + i for i in range(12)]}
    out = tmp_path / "out"
    run = invoke("run", "--data", zipped, "--level", "lsoa", "--crime", "robbery", "--out", out, "--no-track",
                 "--paths", "100", "--jobs", "1")
    assert run.exit_code == 0, run.output
    forecast = pd.read_csv(out / "forecast.csv")
    assert sorted(forecast["area"].unique()) == ["All areas", "Birmingham 001A", "Sandwell 002B", "Sandwell 003C"]
    assert (forecast["month"].unique() == ["2024-10", "2024-11", "2024-12"]).all()
    values = forecast[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert (values >= 0).all() and pd.notna(values).all()
