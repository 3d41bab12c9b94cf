"""Hostile input files, third round: zip and gzip bombs, corrupt members, fields over the csv module's limit,
member names that are paths elsewhere, NULs, and a Parquet cache that is not what the counting wrote. Each test
is named for the attack it stands for; each failed (a traceback, memory without bound, or a silently wrong
result) at ce3d484."""

import gzip
import hashlib
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import write
from test_street_zip import archive, expected, street_csv

from forecast.io.load import load_panel


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    return line


def declared_size(path: Path, member: str, size: int) -> Path:
    """Make a zip's member declare ``size`` bytes unpacked, in its local header and the central directory, as a
    bomb's honest header does."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    struct.pack_into("<I", raw, info.header_offset + 22, size)
    central = raw.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46:central + 46 + name_length].decode() == member:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))
    return path


def test_a_zip_bomb_is_refused_before_it_is_read_with_memory_bounded(tmp_path):
    bomb = declared_size(archive(tmp_path / "bomb.zip", forces=("merseyside",)),
                         "2024-02/2024-02-merseyside-street.csv", 0xFFFFFFFE)
    # the peak is this process's own (VmHWM: ru_maxrss would count the forked pytest process's memory too)
    script = ("import re, sys\nfrom forecast.io.load import load_panel\nfrom forecast.errors import DataError\n"
              "try:\n    load_panel(sys.argv[1])\nexcept DataError as exc:\n    print(exc)\n"
              "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n")
    done = subprocess.run([sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "FORECAST_CACHE": str(tmp_path / "cache")})
    message, peak_kb = done.stdout.strip().splitlines()
    assert message == (f"{bomb}/2024-02/2024-02-merseyside-street.csv: expands to 4,295 MB, over the 256 MB limit of "
                       "one input file (a street file is at most about 25 MB); set FORECAST_MAX_FILE_MB to read larger "
                       "files")
    assert int(peak_kb) < 500_000


def test_a_member_larger_than_the_limit_is_refused_and_the_limit_can_be_raised(tmp_path, invoke, monkeypatch):
    big = tmp_path / "big.zip"
    rows = street_csv("2024-01", "merseyside", ("2024-01",))
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("2024-01-merseyside-street.csv", rows + rows.split("\r\n", 1)[1] * 2_000)
    monkeypatch.setenv("FORECAST_MAX_FILE_MB", "1")
    line = one_line_error(invoke("ingest", big, "-o", tmp_path / "out.csv"))
    assert line == (f"Error: {big}/2024-01-merseyside-street.csv: expands to 3 MB, over the 1 MB limit of one input "
                    "file (a street file is at most about 25 MB); set FORECAST_MAX_FILE_MB to read larger files")
    monkeypatch.setenv("FORECAST_MAX_FILE_MB", "5")
    assert invoke("ingest", big, "-o", tmp_path / "out.csv").exit_code == 0
    assert pd.read_csv(tmp_path / "out.csv")["count"].sum() == 14 * 2_001


def test_a_member_longer_than_its_header_says_is_refused_not_read_on(tmp_path, invoke):
    liar = declared_size(archive(tmp_path / "liar.zip", forces=("merseyside",)),
                         "2024-03/2024-03-merseyside-street.csv", 100)
    line = one_line_error(invoke("ingest", liar, "-o", tmp_path / "out.csv"))
    assert line.startswith(f"Error: {liar}/2024-03/2024-03-merseyside-street.csv: cannot be read from the zip (")


def test_a_gzip_bomb_is_refused_at_the_limit(tmp_path, invoke, monkeypatch):
    rows = street_csv("2024-01", "merseyside", ("2024-01",))
    bomb = tmp_path / "2024-01-merseyside-street.csv.gz"
    bomb.write_bytes(gzip.compress((rows + rows.split("\r\n", 1)[1] * 30_000).encode()))
    monkeypatch.setenv("FORECAST_MAX_FILE_MB", "2")
    line = one_line_error(invoke("ingest", bomb, "-o", tmp_path / "out.csv"))
    assert line == (f"Error: {bomb}: expands to more than 2 MB, over the 2 MB limit of one input file (a street file "
                    "is at most about 25 MB); set FORECAST_MAX_FILE_MB to read larger files")


def test_a_corrupt_deflated_member_is_one_line_naming_it(tmp_path, invoke):
    path = archive(tmp_path / "corrupt.zip", forces=("merseyside",))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("2024-02/2024-02-merseyside-street.csv")
    raw = bytearray(path.read_bytes())
    data = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[data:data + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    line = one_line_error(invoke("ingest", path, "-o", tmp_path / "out.csv"))
    assert line.startswith(f"Error: {path}/2024-02/2024-02-merseyside-street.csv: cannot be read from the zip (")


def test_a_member_named_as_an_absolute_path_is_named_inside_its_zip(tmp_path, invoke):
    path = tmp_path / "names.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("/etc/2024-01-merseyside-street.csv", "Month,LSOA name,Crime type\n2024-02,Wirral 004D,Robbery\n")
        z.writestr("../2024-02-merseyside-street.csv", street_csv("2024-02", "merseyside"))
    line = one_line_error(invoke("ingest", path, "-o", tmp_path / "out.csv"))
    assert line.startswith(f"Error: {path}/etc/2024-01-merseyside-street.csv, line 2: month 2024-02 inside a file ")


def test_a_password_protected_member_is_said_to_be_encrypted(tmp_path, invoke):
    path = archive(tmp_path / "locked.zip", forces=("merseyside",))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    for info in infos:
        raw[info.header_offset + 6] |= 1
    central = raw.find(b"PK\x01\x02")
    while central >= 0:
        raw[central + 8] |= 1
        central = raw.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))
    line = one_line_error(invoke("ingest", path, "-o", tmp_path / "out.csv"))
    assert line.endswith("-merseyside-street.csv: is encrypted (the zip has a password); unpack it and give the folder")


def test_a_field_over_the_csv_modules_limit_is_one_line_naming_its_line(tmp_path, invoke):
    path = write(tmp_path / "long.csv", "month,area,crime_type,count\n2020-01,Camden,Robbery,5\n"
                 f"2020-02,\"{'x' * 200_000}\",Robbery,6\n2020-03,Camden,Robbery,seven\n")
    line = one_line_error(invoke("spc", "--data", path))
    assert line == f"Error: {path}, line 3: a field longer than 131,072 characters (a quote left open?)"


def test_a_street_file_with_a_field_over_the_limit_names_its_line(tmp_path, invoke):
    text = street_csv("2024-01", "merseyside", ("2024-01",)).replace("Wirral 004D", "W" * 140_000, 1)
    path = write(tmp_path / "2024-01-merseyside-street.csv", text.replace(",2024-01,", ",2024-1x,", 1))
    line = one_line_error(invoke("ingest", path, "-o", tmp_path / "out.csv"))
    assert line.startswith(f"Error: {path}, line ")
    assert line.endswith(": a field longer than 131,072 characters (a quote left open?)")


def test_a_nul_after_the_first_8_kb_is_refused_naming_its_line(tmp_path, invoke):
    rows = "".join(f"20{y:02d}-{m:02d},{a},Robbery,{m}\n" for a in ("Camden", "Barnet", "Brent")
                   for y in range(0, 24) for m in range(1, 13))
    rows += "2024-01,Cam\x00den,Robbery,3\n"
    path = write(tmp_path / "nul.csv", "month,area,crime_type,count\n" + rows)
    assert path.stat().st_size > 8192
    line = one_line_error(invoke("spc", "--data", path))
    assert line == f"Error: {path}, line 866: a NUL character (binary data inside the text)"


def test_a_nul_in_a_street_files_name_is_refused(tmp_path, invoke):
    text = street_csv("2024-01", "merseyside", ("2024-01",))
    text += text.split("\r\n", 1)[1] * 100 + text.split("\r\n")[1].replace("Liverpool", "Liver\x00pool") + "\r\n"
    path = write(tmp_path / "2024-01-merseyside-street.csv", text)
    line = one_line_error(invoke("ingest", path, "-o", tmp_path / "out.csv"))
    assert line == f"Error: {path}, line {15 + 14 * 100 + 1}: a NUL character (binary data inside the text)"


# ------------------------------------------------------------------ the Parquet cache of counted street files

@pytest.fixture
def counted(tmp_path, street_cache):
    """Street files counted once into the cache: the zip, the cache file, and the counts by hand."""
    path = archive(tmp_path / "cached.zip", forces=("merseyside",))
    load_panel(path)
    (cache,) = street_cache.glob("street-*.parquet")
    return path, cache, expected(("merseyside",))


def _counts(panel) -> dict:
    frame = panel.frame
    return {(str(r.month), r.area, r.crime_type): r.count for r in frame.itertuples() if r.count}


def _rewrite(cache: Path, frame: pd.DataFrame, checksum: bool = True) -> None:
    frame.to_parquet(cache, index=False)
    if checksum:
        cache.with_suffix(".sha256").write_text(hashlib.sha256(cache.read_bytes()).hexdigest())


def test_the_cache_is_used_when_whole(counted):
    path, cache, want = counted
    panel = load_panel(path)
    assert _counts(panel) == want and panel.notes == ()


def test_tampered_cached_counts_are_recounted_with_a_note(counted):
    path, cache, want = counted
    frame = pd.read_parquet(cache)
    frame["count"] *= 10
    _rewrite(cache, frame, checksum=False)
    panel = load_panel(path)
    assert _counts(panel) == want
    assert panel.notes == (f"the cached counts {cache} do not match their checksum (changed since they were "
                           "written); the files were counted again",)
    assert load_panel(path).notes == ()


@pytest.mark.parametrize("change,problem", [
    (lambda f: f.drop(columns="force"), "have the columns month, area, crime_type, count, not month, area, "
                                        "crime_type, count, force"),
    (lambda f: f.assign(month="2020-13"), "hold a month that is not one (YYYY-MM)"),
    (lambda f: f.assign(count=f["count"].astype(str)), "hold counts that are not whole numbers of crimes"),
    (lambda f: f.iloc[:0], "hold no rows"),
])
def test_a_cache_of_the_wrong_shape_is_recounted_even_with_a_matching_checksum(counted, change, problem):
    path, cache, want = counted
    _rewrite(cache, change(pd.read_parquet(cache)))
    panel = load_panel(path)
    assert _counts(panel) == want
    assert panel.notes == (f"the cached counts {cache} {problem}; the files were counted again",)


def test_a_folder_in_the_caches_place_is_counted_past_with_notes(counted):
    path, cache, want = counted
    cache.unlink()
    cache.mkdir()
    panel = load_panel(path)
    assert _counts(panel) == want
    assert panel.notes[0] == f"the cached counts {cache} is not a file; the files were counted again"
    assert panel.notes[1].startswith(f"could not keep the counted files in the cache ({cache.parent}: ")


def test_control_characters_in_a_message_are_escaped(tmp_path, invoke):
    result = invoke("spc", "--crime", "robbery", "--area", "\x1b]0;pwned\x07\x1b[2J")
    line = one_line_error(result)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert line.startswith("Error: area '\\x1b]0;pwned\\x07\\x1b[2J' matches no ")
    header = "month,area,crime_type,count\x1b[31m\n"
    path = write(tmp_path / "header.csv", header + "2020-01,Camden,Robbery,5\n")
    line = one_line_error(invoke("spc", "--data", path))
    assert "\x1b" not in line and "count\\x1b[31m" in line


def test_a_file_with_no_area_column_says_so_not_that_a_row_repeats(tmp_path, invoke):
    path = write(tmp_path / "no-area.csv", "month,crime_type,count\n2016-01,Robbery,5\n2016-01,Robbery,7\n")
    line = one_line_error(invoke("spc", "--data", path))
    assert line == (f"Error: {path}, line 3: a second row for 2016-01 (first at line 2), and the file has no area "
                    "column (one of: lpu, area, borough, local_policing_unit, local_authority, district): add it, or "
                    "give one series per file")


@pytest.mark.parametrize("population", ["1e-320", "0.4"])
def test_a_population_under_one_is_refused(tmp_path, invoke, population):
    path = write(tmp_path / "pop.csv", f"year,area,population\n2018,Camden,250000\n2019,Camden,{population}\n")
    line = one_line_error(invoke("peers", "--crime", "robbery", "--population", path))
    assert line == (f"Error: {path}, line 3: population {population} is under 1: a rate per 1,000 residents needs "
                    "at least one (a decimal point out of place?)")


def _workbook(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_a_formula_with_no_saved_value_is_refused_not_read_as_blank(tmp_path, invoke):
    path = _workbook(tmp_path / "formulas.xlsx", [["month", "area", "crime_type", "count"],
                                                 ["2020-01", "Camden", "Robbery", 5],
                                                 ["2020-02", "Camden", "Robbery", "=B9*2"]])
    line = one_line_error(invoke("spc", "--data", path))
    assert line == (f"Error: {path}, sheet 'Sheet', cell D3: a formula (=B9*2) with no saved value; open the workbook "
                    "in Excel and save it, so that the values are stored")


def test_a_password_protected_workbook_says_so(tmp_path, invoke):
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096)
    line = one_line_error(invoke("spc", "--data", path))
    assert line == (f"Error: {path}: is password-protected (encrypted); save a copy without the password and give "
                    "that")


def test_a_workbook_bomb_is_refused_before_openpyxl_reads_it(tmp_path, invoke):
    path = _workbook(tmp_path / "bomb.xlsx", [["month", "area", "crime_type", "count"], ["2020-01", "Camden", "R", 5]])
    declared_size(path, "xl/worksheets/sheet1.xml", 0xFFFFFFFE)
    line = one_line_error(invoke("spc", "--data", path))
    assert line == (f"Error: {path}/xl/worksheets/sheet1.xml: expands to 4,295 MB, over the 256 MB limit of one "
                    "input file (a street file is at most about 25 MB); set FORECAST_MAX_FILE_MB to read larger files")
