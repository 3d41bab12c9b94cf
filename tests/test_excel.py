"""Excel in and out: the run's workbook holds the CSVs' numbers as numbers and its text as text; a planner's
sheet, dated rows and incident lists are read as the tidy panel they mean."""

import re

import numpy as np
import pandas as pd
import pytest

from conftest import write

EVIL = "=HYPERLINK(\"http://x.invalid\",\"click\")"


@pytest.fixture(scope="module")
def workbook_run(tmp_path_factory):
    from click.testing import CliRunner

    from forecast.cli import cli
    from forecast.io.datasets import load

    root = tmp_path_factory.mktemp("xlsx")
    frame = load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(["Camden", "Westminster"])].copy()
    frame["area"] = frame["area"].replace({"Westminster": EVIL})
    data = root / "two.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(data, index=False)
    out = root / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(data), "--crime", "robbery", "--no-track", "--jobs", "1",
                                      "--paths", "300", "--format", "xlsx", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result


def sheet_frame(path, name) -> pd.DataFrame:
    from openpyxl import load_workbook

    book = load_workbook(path)
    rows = list(book[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


@pytest.mark.parametrize("sheet, csv", [("Summary", "summary"), ("Forecast", "forecast"), ("SPC", "spc"),
                                        ("Backtest", "backtest")])
def test_the_workbook_holds_the_csvs_numbers_as_numbers(workbook_run, sheet, csv):
    from forecast.files import read_csv
    from forecast.present.workbook import header

    out, result = workbook_run
    book = out / "robbery.xlsx"
    assert f"wrote {book}" in result.stdout
    got = sheet_frame(book, sheet)
    expected = read_csv(out / f"{csv}.csv")
    # readable headers, one per CSV column in its order; none is a code name
    assert list(got.columns) == [header(c, sheet) for c in expected.columns] and len(got) == len(expected)
    assert not any("_" in c or re.fullmatch(r"m\d.*|p .*|lo .*|hi .*", c) for c in got.columns), list(got.columns)
    got.columns = list(expected.columns)
    for column in expected.columns:
        if pd.api.types.is_numeric_dtype(expected[column]) and not pd.api.types.is_bool_dtype(expected[column]):
            values = got[column].to_numpy(dtype=float)
            assert np.allclose(values, expected[column].to_numpy(dtype=float), rtol=0, atol=0, equal_nan=True), column
            assert all(isinstance(v, (int, float)) for v in got[column].dropna()), column


def test_numbers_are_rounded_to_what_their_column_means(workbook_run):
    out, _ = workbook_run
    forecast = pd.read_csv(out / "forecast.csv")
    for column in ("mean", "lo_80", "hi_95"):
        assert np.allclose(forecast[column], forecast[column].round(2), rtol=0, atol=0)
    summary = pd.read_csv(out / "summary.csv")
    assert np.allclose(summary["mase"], summary["mase"].round(3), rtol=0, atol=0)
    assert np.allclose(summary["p_step_down"], summary["p_step_down"].round(4), rtol=0, atol=0)
    assert np.allclose(summary["vs_last_year_pct"], summary["vs_last_year_pct"].round(1), rtol=0, atol=0)
    text = (out / "forecast.csv").read_text()
    assert not any(len(part.split(".")[1]) > 2 for line in text.splitlines()[1:] for part in line.split(",")
                   if part.replace(".", "", 1).isdigit() and "." in part)


def test_text_that_looks_like_a_formula_is_stored_as_text(workbook_run):
    from openpyxl import load_workbook

    out, _ = workbook_run
    sheet = load_workbook(out / "robbery.xlsx")["Summary"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value == EVIL]
    assert cells and all(c.data_type == "s" for c in cells)
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    sentences = sheet_frame(out / "robbery.xlsx", "Sentences")["Sentence"].tolist()
    assert sentences == (out / "sentences.txt").read_text().splitlines()


def counts_workbook(path, frame: pd.DataFrame, sheet: str = "Counts"):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["made by hand"])
    counts = book.create_sheet(sheet)
    counts.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        counts.append(list(row))
    book.save(path)
    return path


def test_a_sheet_of_a_workbook_reads_as_the_same_csv(invoke, tmp_path):
    from forecast.io.datasets import load

    frame = load("met-major").frame
    frame = frame[(frame["crime_type"] == "Burglary") & (frame["area"] == "Merton")]
    tidy = frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]]
    csv = tmp_path / "merton.csv"
    tidy.to_csv(csv, index=False)
    book = counts_workbook(tmp_path / "merton.xlsx", tidy.assign(count=tidy["count"].astype(int)))
    from_csv = invoke("spc", "--data", csv, "--crime", "burglary")
    from_book = invoke("spc", "--data", book, "--sheet", "Counts", "--crime", "burglary")
    assert from_book.exit_code == 0, from_book.output
    assert from_book.stdout == from_csv.stdout and "Burglary in Merton" in from_book.stdout
    first = invoke("spc", "--data", book, "--crime", "burglary")  # the first sheet holds no counts
    assert first.exit_code != 0 and "required column missing" in first.stderr
    missing = invoke("spc", "--data", book, "--sheet", "Nope")
    assert missing.exit_code != 0 and "no sheet 'Nope' (sheets: Notes, Counts)" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    junk = write(tmp_path / "junk.xlsx", "month,area\n")
    bad = invoke("spc", "--data", junk)
    assert bad.exit_code != 0 and "not a readable Excel workbook" in bad.stderr and "Traceback" not in bad.output


def test_daily_rows_are_summed_into_months_only_when_asked(invoke, tmp_path):
    days = pd.date_range("2016-01-01", "2018-12-31", freq="D")
    rng = np.random.default_rng(3)
    counts = rng.poisson(4, len(days))
    daily = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "area": "Sandwell", "crime_type": "Robbery",
                          "count": counts})
    path = tmp_path / "daily.csv"
    daily.to_csv(path, index=False)
    refused = invoke("spc", "--data", path, "--format", "csv")
    assert refused.exit_code != 0 and "duplicate row for 2016-01 x Sandwell x Robbery" in refused.stderr
    result = invoke("spc", "--data", path, "--aggregate", "--format", "csv")
    assert result.exit_code == 0, result.output
    points = pd.read_csv(pd.io.common.StringIO(result.stdout))
    expected = daily.groupby(daily["date"].str[:7])["count"].sum()
    assert points.set_index("month")["count"].to_dict() == expected.astype(float).to_dict()
    assert "1,096 rows summed into 36 month x area x crime type totals (--aggregate)" in result.stderr


def test_an_incident_list_is_counted(invoke, tmp_path):
    rows = ["offence_date,district,offence"]
    rows += [f"2018-{m:02d}-{d:02d} 21:15,Walsall,Robbery" for m in range(1, 13) for d in range(1, m + 11)]
    rows += [f"14/{m:02d}/2018 09:00,Dudley,Burglary" for m in range(1, 13) for _ in range(2 * m)]
    path = write(tmp_path / "incidents.csv", "\n".join(rows) + "\n")
    refused = invoke("spc", "--data", path)
    assert refused.exit_code != 0 and "an incident list (one row per crime) is counted with --aggregate" in \
        refused.stderr
    result = invoke("spc", "--data", path, "--aggregate", "--format", "csv")
    assert result.exit_code == 0, result.output
    points = pd.read_csv(pd.io.common.StringIO(result.stdout))
    walsall = points[(points["area"] == "Walsall") & (points["crime_type"] == "Robbery")].set_index("month")["count"]
    dudley = points[(points["area"] == "Dudley") & (points["crime_type"] == "Burglary")].set_index("month")["count"]
    assert walsall.tolist() == [float(m + 10) for m in range(1, 13)]
    assert dudley.tolist() == [float(2 * m) for m in range(1, 13)]
