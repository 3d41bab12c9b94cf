import pandas as pd
import pytest

from conftest import DATA

GOOD = "month,area,crime_type,count\n2020-01,Sandwell,Robbery,10\n2020-02,Sandwell,Robbery,12\n"


def bad_file(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


CASES = {
    "missing file": (None, "nope.csv", r"nope.csv: no such file, folder or bundled data set"),
    "empty file": ("", "empty.csv", r"empty.csv: file is empty"),
    "header only": ("month,count\n", "header.csv", r"header.csv: has a header but no data rows"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "chart.csv", r"chart.csv: not a CSV file \(binary content\)"),
    "column missing": ("month,area,crimes_total\n2020-01,A,3\n", "cols.csv",
                       r"cols.csv: required column missing: count \(one of: count, crimes, value, number, offences\); "
                       r"found: month, area, crimes_total"),
    "bad month": (GOOD + "2020-13,Sandwell,Robbery,4\n", "month.csv", r"month.csv, line 4: month '2020-13' is not a month"),
    "negative": (GOOD + "2020-03,Sandwell,Robbery,-4\n", "neg.csv", r"neg.csv, line 4: count -4 is negative"),
    "blank count": (GOOD + "2020-03,Sandwell,Robbery,\n", "blank.csv", r"blank.csv, line 4: count is blank"),
    "not a number": (GOOD + "2020-03,Sandwell,Robbery,ten\n", "nan.csv", r"nan.csv, line 4: count 'ten' is not a number"),
    "too many fields": (GOOD + "2020-03,Sandwell,Robbery,4,extra\n", "wide.csv", r"wide.csv, line 4: 5 fields where the header has 4"),
    "duplicate": (GOOD + "2020-02,Sandwell,Robbery,13\n", "dup.csv",
                  r"dup.csv, line 4: duplicate row for 2020-02 x Sandwell x Robbery \(first at line 3\)"),
    "gap": (GOOD + "2020-05,Sandwell,Robbery,4\n", "gap.csv",
            r"gap.csv: series Robbery / Sandwell is missing 2 month\(s\) inside its span \(first 2020-03\); "
            r"pass --fill-missing zero"),
    "future": (GOOD + "2999-01,Sandwell,Robbery,4\n", "future.csv", r"future.csv, line 4: month 2999-01 is in the future"),
    "counts disagree": ("month,area,crime_type,count,crimes\n2020-01,Sandwell,Robbery,10,10\n"
                        "2020-02,Sandwell,Robbery,12,21\n", "alias.csv",
                        r"alias.csv, line 3: columns 'count' and 'crimes' are both read as the count and disagree "
                        r"\('12' against '21'\); remove one of them"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["ingest", "spc"])
def test_bad_input_is_one_line_exit_2_and_no_traceback(tmp_path, invoke, case, command):
    text, name, message = CASES[case]
    path = tmp_path / name if text is None else bad_file(tmp_path, name, text)
    out = tmp_path / "panel.csv"
    out.write_text("precious\n")
    args = ["ingest", path, "-o", out] if command == "ingest" else ["spc", "--data", path]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert pd.Series([lines[0]]).str.contains(message).all(), lines[0]
    assert out.read_text() == "precious\n"  # nothing the user had is overwritten


def test_missing_and_empty_folders(tmp_path, invoke):
    result = invoke("ingest", tmp_path / "no-such-dir", "-o", tmp_path / "p.csv")
    assert result.exit_code == 2 and "no-such-dir: no such file, folder or bundled data set" in result.stderr
    (tmp_path / "empty").mkdir()
    result = invoke("ingest", tmp_path / "empty", "-o", tmp_path / "p.csv")
    assert result.exit_code == 2 and "empty: folder has no YYYY-MM-<force>-street.csv files" in result.stderr


def test_street_file_gap_in_months(tmp_path, invoke):
    for month in ("2020-02", "2020-04"):
        src = DATA / "raw_sample_city_of_london" / f"{month}-city-of-london-street.csv"
        (tmp_path / src.name).write_bytes(src.read_bytes())
    result = invoke("ingest", tmp_path, "-o", tmp_path / "p.csv")
    assert result.exit_code == 2 and "no street file covers 2020-03" in result.stderr


def test_unknown_crime_lists_valid_names(invoke):
    result = invoke("spc", "--crime", "arson")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: crime type 'arson' matches no crime types; valid: All crime, Burglary, "
                                     "Criminal Damage, Drugs, Fraud or Forgery, Other Notifiable Offences, Robbery, "
                                     "Sexual Offences, Theft and Handling, Violence Against the Person")


def test_ingest_street_folder_writes_tidy_panel(tmp_path, invoke):
    out = tmp_path / "panel.csv"
    result = invoke("ingest", DATA / "raw_sample_city_of_london", "-o", out, "--totals")
    assert result.exit_code == 0, result.output
    # the series the files hold, counted with the csv module: crime type x local authority (LSOA name less its
    # code), crimes without a location left out as an area; plus All crime per area and the force total per type
    import csv
    import re

    rows = [r for f in sorted((DATA / "raw_sample_city_of_london").iterdir())
            for r in csv.DictReader(f.open(encoding="utf-8-sig"))]
    areas = {re.sub(r"\s+\d{3}[A-Z]$", "", r["LSOA name"].strip()) for r in rows if r["LSOA name"].strip()}
    types = {r["Crime type"] for r in rows}
    pairs = {(r["Crime type"], re.sub(r"\s+\d{3}[A-Z]$", "", r["LSOA name"].strip())) for r in rows
             if r["LSOA name"].strip()}
    series = len(pairs) + len(areas) + len(types) + 1  # + All crime per area, force total per type and All crime
    assert result.output.strip().endswith(f"{series} series, 2020-02..2020-04, {len(areas) + 1} areas, "
                                          f"{len(types) + 1} crime types, {series} short (< 24 months)")
    panel = pd.read_csv(out)
    assert panel.columns.tolist() == ["month", "area", "crime_type", "count", "force"]
    assert set(panel["force"]) == {"City of London Police"}
    city_all = panel[(panel["area"] == "City of London") & (panel["crime_type"] == "All crime")]
    asb = panel[(panel["area"] == "City of London") & (panel["crime_type"] == "Anti-social behaviour")]
    assert (city_all["count"].to_numpy() + asb["count"].to_numpy()).tolist() == [679, 534, 192]
    assert not list(tmp_path.glob(".*.tmp"))


def test_ingest_then_read_back_round_trips(tmp_path, invoke):
    out = tmp_path / "wm.csv"
    assert invoke("ingest", DATA / "west_midlands_force_monthly_2011_2016.csv", "-o", out).exit_code == 0
    result = invoke("spc", "--data", out, "--format", "csv")
    points = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert points["count"].iloc[0] == 25515 and len(points) == 72


def test_datasets_lists_bundled_data(invoke):
    result = invoke("datasets")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    met = next(line for line in lines if line.startswith("met-major"))
    assert met.split()[:6] == ["met-major", "2008-01..2018-12", "132", "33", "9", "297"]
    assert any(line.startswith("west-midlands") and "2011-01..2016-12" in line for line in lines)


def test_two_columns_for_one_field_say_which_was_used(tmp_path, invoke):
    path = bad_file(tmp_path, "alias.csv", "month,area,borough,crime_type,count,crimes\n"
                    "2020-01,Sandwell,Sandwell,Robbery,10,10\n2020-02,Sandwell,Sandwell,Robbery,12,12\n")
    result = invoke("spc", "--data", path, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        f"note: {path}: the area is read from column 'area'; column 'borough' holds the same values",
        f"note: {path}: the count is read from column 'count'; column 'crimes' holds the same values"]
    assert pd.read_csv(pd.io.common.StringIO(result.stdout))["count"].tolist() == [10, 12]


def test_a_second_name_column_naming_other_things_is_ignored_and_said(tmp_path, invoke):
    path = bad_file(tmp_path, "lpu.csv", "month,lpu,local_authority,count\n"
                    "2020-01,Birmingham East,Birmingham,10\n2020-02,Birmingham East,Birmingham,12\n")
    result = invoke("spc", "--data", path, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (f"note: {path}: the area is read from column 'lpu'; column "
                                             "'local_authority' names other things, and is ignored")
    assert set(pd.read_csv(pd.io.common.StringIO(result.stdout))["area"]) == {"Birmingham East"}
