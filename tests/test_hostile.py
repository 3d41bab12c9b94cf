"""Hostile and broken input: each test feeds exactly the input that was silently wrong, destructive, executable
or a traceback, and checks what must happen now."""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, write
from forecast.files import csv_text, read_csv

HEAD = "month,area,crime_type,count\n"


def tidy(path: Path, rows: list[str]) -> Path:
    return write(path, HEAD + "".join(r + "\n" for r in rows))


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    return line


# ------------------------------------------------------------------ silently wrong before

@pytest.mark.parametrize("count,problem", [
    ('"12,5"', "count '12,5' is not a number (a comma is allowed only between groups of three digits"),
    ('"1,2,3"', "count '1,2,3' is not a number (a comma is allowed only between groups of three digits"),
    ('"1,23"', "count '1,23' is not a number"),
    ("1e308", "count 1e308 is beyond 1,000,000,000 a month"),
    ("inf", "count 'inf' is not a number"),
])
def test_counts_that_were_misread_are_refused_naming_the_line(tmp_path, invoke, count, problem):
    data = tidy(tmp_path / "c.csv", ["2020-01,Sandwell,Robbery,10", f"2020-02,Sandwell,Robbery,{count}"])
    line = one_line_error(invoke("spc", "--data", data))
    assert line.startswith(f"Error: {data}, line 3: {problem}")


def test_thousands_separators_in_whole_groups_are_read(tmp_path):
    from forecast.io.tidy import read_tidy_csv

    data = tidy(tmp_path / "t.csv", ['2020-01,Met,Theft,"1,234"', '2020-02,Met,Theft,"12,345,678"',
                                     '2020-03,Met,Theft,"1,234.5"', "2020-04,Met,Theft,999"])
    assert read_tidy_csv(data)["count"].tolist() == [1234.0, 12345678.0, 1234.5, 999.0]


def test_a_file_not_in_utf8_says_which_encoding_was_assumed_and_encoding_reads_it(tmp_path, invoke):
    text = HEAD + "2020-01,Łódź,Robbery,10\n2020-02,Łódź,Robbery,12\n"
    data = tmp_path / "pl.csv"
    data.write_bytes(text.encode("iso-8859-2"))
    out = tmp_path / "panel.csv"
    assumed = invoke("ingest", data, "-o", out)
    assert assumed.exit_code == 0
    assert (f"note: {data} is not UTF-8 (first at line 2); read as Windows-1252, as Excel writes it. If names look "
            "wrong, give its encoding with --encoding (e.g. iso-8859-2).") in assumed.stderr
    told = invoke("ingest", data, "-o", out, "--encoding", "iso-8859-2")
    assert told.exit_code == 0 and "note:" not in told.stderr
    assert read_csv(out)["area"].unique().tolist() == ["Łódź"]
    wrong = invoke("ingest", data, "-o", out, "--encoding", "klingon")
    assert one_line_error(wrong) == "Error: --encoding 'klingon' is not an encoding Python knows (e.g. utf-8, " \
                                    "cp1252, iso-8859-2)"


def test_a_street_file_whose_rows_are_another_month_is_refused(tmp_path, invoke):
    folder = tmp_path / "street"
    folder.mkdir()
    for month in ("2020-02", "2020-03", "2020-04"):
        src = DATA / "raw_sample_city_of_london" / f"{month}-city-of-london-street.csv"
        shutil.copy(src, folder / src.name)
    # May's file holding April's rows again would count April twice
    shutil.copy(folder / "2020-04-city-of-london-street.csv", folder / "2020-05-city-of-london-street.csv")
    line = one_line_error(invoke("ingest", folder, "-o", tmp_path / "p.csv"))
    assert line == (f"Error: {folder / '2020-05-city-of-london-street.csv'}, line 2: month 2020-04 inside a file named "
                    "for 2020-05; a street file holds the month in its name")


def test_names_differing_only_in_case_or_spaces_are_one_series_with_a_note(tmp_path, invoke):
    data = tidy(tmp_path / "case.csv", ["2020-01,Camden,Robbery,10", "2020-02,Camden,Robbery,11",
                                        "2020-03,camden ,Robbery,12", "2020-04,Camden,Robbery,13"])
    result = invoke("spc", "--data", data, "--area", "camden", "--format", "json")
    assert result.exit_code == 0, result.output
    (series,) = json.loads(result.stdout)
    assert series["area"] == "Camden" and [p["count"] for p in series["points"]] == [10, 11, 12, 13]
    assert (f"note: {data}: area 'camden' (line 4) is read as 'Camden' (line 2): names that differ only in case or "
            "spaces are one name") in result.stderr
    clash = tidy(tmp_path / "clash.csv", ["2020-01,Camden,Robbery,10", "2020-01,CAMDEN,Robbery,11"])
    line = one_line_error(invoke("spc", "--data", clash))
    assert line == f"Error: {clash}, line 3: duplicate row for 2020-01 x Camden x Robbery (first at line 2)"


def test_line_numbers_are_physical_lines(tmp_path, invoke):
    text = (HEAD + "\n2020-01,Sandwell,Robbery,10\n\n"
            '2020-02,"Sandwell\nNorth",Robbery,12\n2020-03,Sandwell,Robbery,ten\n')
    data = write(tmp_path / "lines.csv", text)
    assert "ten" in data.read_text().splitlines()[6]  # the 7th physical line
    line = one_line_error(invoke("spc", "--data", data))
    assert line == f"Error: {data}, line 7: count 'ten' is not a number"
    wide = write(tmp_path / "wide.csv", HEAD + '2020-01,"A\nB",Robbery,1\n\n2020-02,A,Robbery,1,9\n')
    assert one_line_error(invoke("spc", "--data", wide)) == f"Error: {wide}, line 5: 5 fields where the header has 4"


# ------------------------------------------------------------------ nothing lost

def test_an_output_that_is_an_input_is_refused_and_left_untouched(tmp_path, invoke):
    data = tidy(tmp_path / "data.csv", ["2020-01,Sandwell,Robbery,10", "2020-02,Sandwell,Robbery,12"])
    before = data.read_bytes()
    line = one_line_error(invoke("ingest", data, "-o", data))
    assert line == f"Error: {data}: output file is one of the inputs; choose another name (nothing was written)"
    line = one_line_error(invoke("spc", "--data", data, "-o", data))
    assert line == f"Error: {data}: output file is one of the inputs; choose another name (nothing was written)"
    line = one_line_error(invoke("backtest", "--data", data, "-o", data, "--no-track"))
    assert line == f"Error: {data}: output file is one of the inputs; choose another name (nothing was written)"
    line = one_line_error(invoke("run", "--data", data, "--crime", "robbery", "--out", tmp_path, "--no-track"))
    assert line == f"Error: {tmp_path}: the output folder holds the input {data}; choose another folder"
    assert data.read_bytes() == before


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path, invoke):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    out = blocker / "out"
    run = invoke("run", "--crime", "drugs", "--area", "sutton", "--out", out, "--no-track")
    assert one_line_error(run) == f"Error: {out}: cannot write the output folder ({blocker} is not a folder)"
    assert "forecasting" not in run.stderr  # no work was started
    spc_out = invoke("spc", "--crime", "drugs", "-o", out / "spc.txt")
    assert one_line_error(spc_out) == f"Error: {out / 'spc.txt'}: cannot write the output file ({blocker} is not a folder)"
    chart = invoke("spc", "--crime", "drugs", "--area", "sutton", "--chart", out / "c.png")
    assert one_line_error(chart) == f"Error: {out / 'c.png'}: cannot write the chart file ({blocker} is not a folder)"
    ingest = invoke("ingest", DATA / "west_midlands_force_monthly_2011_2016.csv", "-o", out / "p.csv")
    assert one_line_error(ingest) == f"Error: {out / 'p.csv'}: cannot write the output file ({blocker} is not a folder)"
    assert blocker.read_text() == "a file where a folder should be"


def test_a_chart_is_written_as_asked_or_refused(tmp_path, invoke):
    line = one_line_error(invoke("spc", "--crime", "drugs", "--area", "sutton", "--chart", tmp_path / "chart.txt"))
    assert line == f"Error: {tmp_path / 'chart.txt'}: chart file must end in .png"
    assert not list(tmp_path.iterdir())


def test_an_experiment_name_mlflow_would_reject_is_refused_before_any_work(tmp_path, invoke):
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    result = invoke("run", "--crime", "drugs", "--area", "sutton", "--out", tmp_path / "out", "--tracking-uri", uri,
                    "--experiment", "x" * 501)
    line = one_line_error(result, code=1)
    assert line == (f"Error: experiment name is 501 characters; MLflow takes at most 500 (give a shorter "
                    "--experiment)")
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlruns").exists()


def test_an_interrupted_run_leaves_the_previous_outputs_whole(tmp_path, invoke, monkeypatch):
    out = tmp_path / "out"
    # a small bundled panel: what is tested is the outputs' atomicity, whatever the panel
    first = invoke("run", "--data", "city-of-london", "--crime", "burglary", "--out", out, "--no-track", "--jobs", "1",
                   "--paths", "200")
    assert first.exit_code == 0, first.output
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert Path("report.html") in before and Path("forecast.csv") in before

    import forecast.present.report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C just after the CSV stage

    monkeypatch.setattr(forecast.present.report, "write_report", interrupted)
    aborted = invoke("run", "--data", "city-of-london", "--crime", "burglary", "--out", out, "--no-track", "--jobs",
                     "1", "--paths", "200", "--seed", "7")
    assert aborted.exit_code == 1 and "Aborted!" in aborted.stderr  # click's answer to Ctrl-C
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no half-written folder left beside it


# ------------------------------------------------------------------ nothing executed

HOSTILE = {
    "=HYPERLINK(\"http://x.invalid\",\"click\")": 30, "+cmd|' /C calc'!A0": 40, "-2+3": 25, "@SUM(A1)": 35,
    "\tTabbed": 28, "Camden/Islington": 50, "Camden-Islington": 45, "🚓🚓": 33, "NA": 38, "None": 41,
    "$\\frac{a$ Camden": 36, "L" * 10_000: 29,
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from click.testing import CliRunner

    from forecast.cli import cli

    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    months = pd.period_range("2016-01", periods=36, freq="M").astype(str)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["month", "area", "crime_type", "count"])
    for area, level in HOSTILE.items():
        for m in months:
            writer.writerow([m, area, "Robbery", int(rng.poisson(level))])
    data = write(root / "hostile.csv", buffer.getvalue())
    out = root / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(data), "--crime", "robbery", "--no-track", "--jobs", "1",
                                      "--paths", "200", "--origins", "1", "--charts", "all", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, data


def test_no_csv_cell_we_write_starts_a_formula(hostile_run):
    out, _ = hostile_run
    for name in ("forecast.csv", "spc.csv", "backtest.csv", "summary.csv"):
        with open(out / name, newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        text = [c for c in cells if not _is_number(c)]
        assert text and not [c for c in text if c[:1] in ("=", "+", "-", "@", "\t", "\r")], name
        assert "'=HYPERLINK(\"http://x.invalid\",\"click\")" in cells and "'+cmd|' /C calc'!A0" in cells, name
    forecast = pd.read_csv(out / "forecast.csv")
    assert pd.api.types.is_numeric_dtype(forecast["mean"])  # numbers stay numbers


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_names_round_trip_through_our_own_files(hostile_run):
    out, _ = hostile_run
    summary = read_csv(out / "summary.csv", dtype={"area": str})
    assert set(summary["area"]) == {name.strip() for name in HOSTILE} | {"All areas"}  # names are read stripped
    assert csv_text(pd.DataFrame({"area": ["'=x", "'plain", "=x", "\tx", "-1", "@a"], "n": [-1, 2, 3, 4, 5, 6]})) == \
        "area,n\n''=x,-1\n'plain,2\n'=x,3\n'\tx,4\n'-1,5\n'@a,6\n"
    back = read_csv(io.StringIO(csv_text(pd.DataFrame({"area": ["'=x", "'plain", "=x", "NA"]}))))
    assert back["area"].tolist() == ["'=x", "'plain", "=x", "NA"]


def test_every_series_gets_its_own_chart_and_file_names_are_bounded(hostile_run):
    out, _ = hostile_run
    charts = sorted((out / "charts").iterdir())
    assert len(charts) == len(HOSTILE) + 1 + 1  # every area, the force total, the small multiples
    assert all(len(p.name) <= 80 for p in charts)
    contents = [p.read_bytes() for p in charts]
    assert len(set(contents)) == len(contents)  # no two series share a picture
    html = (out / "report.html").read_text(encoding="utf-8")
    images = [part.split('"', 1)[0] for part in html.split('src="data:image/png;base64,')[1:]]
    assert len(images) == len(charts) and len(set(images)) == len(images)


def test_an_area_named_na_has_its_points_on_its_chart(hostile_run):
    out, _ = hostile_run
    from forecast.present.plots import series_points

    points = read_csv(out / "spc.csv", dtype={"area": str, "crime_type": str})
    for name in ("NA", "None"):
        assert len(series_points(points, "Robbery", name)) == 36


def test_a_tampered_or_truncated_model_folder_is_refused_before_loading(tmp_path, invoke, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = invoke("run", "--data", "city-of-london", "--crime", "burglary", "--area", "city-of-london", "--no-track",
                 "--export", "--jobs", "1", "--paths", "200")
    assert run.exit_code == 0, run.output
    folder = Path(run.stdout.split("exported model to ")[1].split()[0])
    good = invoke("predict", "--model-dir", folder, "--format", "json")
    assert good.exit_code == 0 and len(json.loads(good.stdout)) == 3
    pickled = next(p for p in folder.rglob("*") if p.suffix in (".pkl", ".pickle") or p.name == "python_model.pkl")
    original = pickled.read_bytes()
    pickled.write_bytes(original[: len(original) // 2])
    line = one_line_error(invoke("predict", "--model-dir", folder))
    assert line == (f"Error: {folder}: {pickled.relative_to(folder).as_posix()} does not match its checksum (changed "
                    "or damaged since export); not loaded")
    pickled.write_bytes(original)
    (folder / "extra.py").write_text("import os\n")
    line = one_line_error(invoke("predict", "--model-dir", folder))
    assert line == f"Error: {folder}: extra.py was not part of the export; not loaded"


def test_a_misspelt_name_gets_a_suggestion(invoke):
    line = one_line_error(invoke("spc", "--crime", "burglery"))
    assert line.startswith("Error: crime type 'burglery' matches no crime types; did you mean 'Burglary'? valid: ")
    line = one_line_error(invoke("spc", "--crime", "robbery", "--area", "westminister"))
    assert line.startswith("Error: area 'westminister' matches no areas; did you mean 'Westminster'? valid: ")


def test_backtest_takes_the_force_total_as_help_says(invoke, tmp_path):
    out = tmp_path / "bt.csv"
    result = invoke("backtest", "--crime", "drugs", "--area", "all-areas", "--models", "snaive", "--origins", "1",
                    "--jobs", "1", "--no-track", "-o", out)
    assert result.exit_code == 0, result.output
    frame = read_csv(out)
    assert set(frame["area"]) == {"All areas"}
    total = __import__("forecast.io.datasets", fromlist=["load"]).load("met-major").select(crime="drugs").frame
    last = total[total["month"] == total["month"].max()]["count"].sum()
    assert frame["actual"].iloc[-1] == last  # the force total is the sum of the areas


def test_predict_from_a_run_the_store_does_not_have(invoke, tmp_path):
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"
    line = one_line_error(invoke("predict", "--run-id", "0123abcd", "--tracking-uri", missing))
    assert line == (f"Error: MLflow store {missing}: there is no store there; give the one the run was recorded in "
                    "with --tracking-uri (or MLFLOW_TRACKING_URI)")
    assert not (tmp_path / "nowhere").exists()  # a read-only command creates no empty store
    from forecast.record import tracking

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracking.writing(store) as (c, s):
        tracking.ensure_experiment(c, "forecast/x", s)
    line = one_line_error(invoke("predict", "--run-id", "0123abcd", "--tracking-uri", store))
    assert line == (f"Error: run 0123abcd is not in the MLflow store {store}; give the store it was recorded in with "
                    "--tracking-uri (or MLFLOW_TRACKING_URI)")


def test_a_ctrl_c_after_the_command_has_finished_ends_it_quietly():
    # the interrupt arrives while Python shuts down, as from a user pressing Ctrl-C just as a run ends
    script = ("import atexit, os, signal, time, sys; "
              "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2))); "
              "sys.argv = ['forecast', 'datasets']; from forecast.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr == ""
    assert any(line.split()[:2] == ["met-major", "2008-01..2018-12"] for line in done.stdout.splitlines())
