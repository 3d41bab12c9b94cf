import csv
import gzip
from collections import defaultdict

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from forecast.io import datasets
from forecast.data import ALL_AREAS, ALL_CRIME, add_totals, resolve_names
from forecast.io.load import load_panel
from forecast.io import tidy
from forecast.io.tidy import Source, read_csv_text, read_tidy_csv
from forecast.errors import DataError, SelectionError
from forecast.io.police_uk import area_from_lsoa, read_street_files

from conftest import DATA, write


def test_street_files_match_the_published_aggregate_for_city_of_london():
    raw = read_street_files([DATA / "raw_sample_city_of_london"])
    city = raw[raw["area"] == "City of London"].assign(month=lambda f: f["month"].astype(str))
    agg = pd.read_csv(DATA / "city_of_london_street_monthly_2017_2021.csv.gz")
    agg = agg[(agg["area"] == "City of London") & agg["month"].between("2020-02", "2020-04")]
    merged = city.merge(agg, on=["month", "area", "crime_type"], how="outer", suffixes=("_raw", "_agg"))
    # the aggregate leaves zero months out; the reader fills them with 0
    assert merged["count_agg"].fillna(0).tolist() == merged["count_raw"].tolist()
    assert len(merged) == 42  # 14 crime types x 3 months
    by_hand = defaultdict(int)
    for f in sorted((DATA / "raw_sample_city_of_london").glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                by_hand[row["Month"]] += row["LSOA name"].startswith("City of London ")
    assert city.groupby("month")["count"].sum().to_dict() == {k: float(v) for k, v in by_hand.items()}
    assert dict(by_hand) == {"2020-02": 679, "2020-03": 534, "2020-04": 192}
    robbery_april = city[(city["crime_type"] == "Robbery") & (city["month"] == "2020-04")]["count"]
    assert robbery_april.tolist() == [0.0]  # no robbery row in April 2020: counted as zero


def test_street_rows_per_file_all_counted():
    raw = read_street_files([DATA / "raw_sample_city_of_london" / "2020-02-city-of-london-street.csv",
                             DATA / "raw_sample_city_of_london" / "2020-03-city-of-london-street.csv"])
    assert raw.groupby(raw["month"].astype(str))["count"].sum().to_dict() == {"2020-02": 763.0, "2020-03": 605.0}
    assert raw["force"].unique().tolist() == ["City of London Police"]


def test_lsoa_names_give_local_authorities():
    names = pd.Series(["Camden 028B", "City of London 001F", "", "Kensington and Chelsea 019A"])
    assert area_from_lsoa(names).tolist() == ["Camden", "City of London", "(no location)", "Kensington and Chelsea"]


def test_all_crime_excludes_anti_social_behaviour_unless_asked():
    panel = load_panel(DATA / "raw_sample_city_of_london")
    total = panel.with_totals().series(ALL_CRIME, "City of London")
    with_asb = panel.with_totals(include_asb=True).series(ALL_CRIME, "City of London")
    asb = panel.series("Anti-social behaviour", "City of London")
    assert (with_asb - total).tolist() == asb.tolist()
    crimes = panel.frame[(panel.frame["area"] == "City of London") & (panel.frame["crime_type"] != "Anti-social behaviour")]
    assert total.tolist() == crimes.groupby("month")["count"].sum().tolist()


def independent_met_totals():
    totals = defaultdict(int)
    with gzip.open(DATA / "met_borough_monthly_2008_2018.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            totals[row["month"]] += int(row["count"])
    return totals


def test_met_file_and_bundled_met_major_keep_every_count():
    expected = independent_met_totals()
    full = load_panel(DATA / "met_borough_monthly_2008_2018.csv.gz")
    assert len(full.frame) == 139248
    by_month = full.frame.groupby(full.frame["month"].astype(str))["count"].sum()
    assert by_month.to_dict() == {k: float(v) for k, v in expected.items()}
    major = datasets.load("met-major")
    major_by_month = major.frame.groupby(major.frame["month"].astype(str))["count"].sum()
    assert major_by_month.to_dict() == {k: float(v) for k, v in expected.items()}
    assert expected["2008-01"] == 71564 and expected["2018-12"] == 71390  # also checked with awk


def test_bundled_met_major_shape_and_short_airport_series():
    panel = datasets.load("met-major")
    assert len(panel.areas) == 33 and len(panel.crime_types) == 9 and len(panel.months) == 132
    lengths = panel.lengths()
    assert lengths.value_counts().to_dict() == {132: 288, 24: 9}
    assert lengths[("Robbery", "London Heathrow and London City Airports")] == 24
    assert panel.short_series() == []  # short means fewer than 24 months
    # 61 crime type x area pairs in the files, 14 of them crimes without a location, which are no area of their own
    assert len(load_panel(DATA / "raw_sample_city_of_london").short_series()) == 61 - 14


def test_crimes_without_a_location_count_in_the_force_total_but_are_no_area():
    import csv

    folder = DATA / "raw_sample_city_of_london"
    rows = [r for f in sorted(folder.iterdir()) for r in csv.DictReader(f.open(encoding="utf-8-sig"))]
    unlocated = [r for r in rows if not r["LSOA name"].strip() and r["Crime type"] == "Violence and sexual offences"]
    assert len(unlocated) > 0
    panel = load_panel(folder).with_totals()
    assert "(no location)" not in panel.areas
    assert all(area != "(no location)" for _, area in panel.keys())
    total = panel.series("Violence and sexual offences", ALL_AREAS)
    by_month = {m: sum(r["Month"] == m and r["Crime type"] == "Violence and sexual offences" for r in rows)
                for m in ("2020-02", "2020-03", "2020-04")}
    assert total.tolist() == list(by_month.values())


def test_force_total_is_the_sum_of_areas():
    panel = datasets.load("met-major").select(crime="robbery").with_totals()
    total = panel.series("Robbery", ALL_AREAS)
    areas = panel.frame[panel.frame["area"] != ALL_AREAS].groupby("month")["count"].sum()
    assert total.tolist() == areas.tolist()
    assert total.iloc[0] == 3157.0  # 2008-01: awk -F, '$1=="2008-01" && $4=="Robbery"{s+=$7}' on the source


def test_west_midlands_file_without_area_or_type_is_one_series(tmp_path):
    frame = read_tidy_csv(DATA / "west_midlands_force_monthly_2011_2016.csv")
    assert frame["area"].unique().tolist() == [ALL_AREAS]
    assert frame["crime_type"].unique().tolist() == [ALL_CRIME]
    assert frame["count"].iloc[:3].tolist() == [25515.0, 25558.0, 28958.0]


def test_forgiving_headers_rates_and_excel_encodings(tmp_path):
    text = "Month,LPU,Crime type,Value\n2020-01,Sandwell,Victim satisfaction,81.5\n2020-02,Sandwell,Victim satisfaction,79.25\n"
    for encoding, prefix in (("utf-8", ""), ("utf-8", "\ufeff"), ("cp1252", "")):
        path = write(tmp_path / f"f-{encoding}{len(prefix)}.csv", prefix + text, encoding)
        frame = read_tidy_csv(path)
        assert frame.columns.tolist()[:4] == ["month", "area", "crime_type", "count"]
        assert frame["count"].tolist() == [81.5, 79.25]
    accented = write(tmp_path / "accent.csv", "date,borough,category,crimes\n2020-01,Bl\u00e9,Robbery,3\n", "cp1252")
    assert read_tidy_csv(accented)["area"].tolist() == ["Bl\u00e9"]


def test_month_formats_are_understood(tmp_path):
    path = write(tmp_path / "m.csv", "month,count\nJan-20,1\nFeb-20,2\n2020-03-01,3\n")
    assert read_tidy_csv(path)["month"].astype(str).tolist() == ["2020-01", "2020-02", "2020-03"]


def test_fill_missing_zero_fills_inside_gaps(tmp_path):
    path = write(tmp_path / "gap.csv", "month,area,crime_type,count\n2020-01,A,Robbery,5\n2020-04,A,Robbery,7\n")
    with pytest.raises(DataError, match="missing 2 month"):
        read_tidy_csv(path)
    frame = read_tidy_csv(path, fill_missing="zero")
    assert frame["count"].tolist() == [5.0, 0.0, 0.0, 7.0]


@pytest.mark.parametrize("query,expected", [
    ("robbery", ["Robbery"]), ("ROBBERY", ["Robbery"]), ("violence-against-the-person", ["Violence Against the Person"]),
    ("theft", ["Theft and Handling"]), ("Fraud or Forgery", ["Fraud or Forgery"]), ("sex", ["Sexual Offences"]),
    ("burglary,drugs", ["Burglary", "Drugs"]),
])
def test_crime_names_resolve_by_name_slug_or_prefix(query, expected):
    assert resolve_names(query, datasets.load("met-major").crime_types, "crime type") == expected


def test_unknown_and_ambiguous_names_list_the_valid_ones():
    types = datasets.load("met-major").crime_types
    with pytest.raises(SelectionError, match=r"crime type 'arson' matches no crime types; valid: Burglary, Criminal Damage"):
        resolve_names("arson", types, "crime type")
    with pytest.raises(SelectionError, match=r"'b' matches several areas; valid: Barking and Dagenham, Barnet, Bexley, Brent, Bromley$"):
        resolve_names("b", datasets.load("met-major").areas, "area")


def test_panel_content_hash_is_stable_and_sensitive():
    a, b = datasets.load("west-midlands"), datasets.load("west-midlands")
    assert a.content_hash() == b.content_hash()
    frame = a.frame.copy()
    frame.loc[0, "count"] += 1
    assert type(a)(frame, "x", "x").content_hash() != a.content_hash()


def test_add_totals_does_not_double_count():
    frame = datasets.load("met-major").frame
    once = add_totals(frame)
    assert add_totals(once).equals(once)
    assert np.isclose(once[(once["area"] == ALL_AREAS) & (once["crime_type"] == ALL_CRIME)]["count"].sum(),
                      frame["count"].sum())


# ------------------------------------------------------------------ large files: pyarrow's parser, the keys once

_FIELD_TEXT = st.lists(st.sampled_from(["a", "1", " ", "\\", "#", "\t", "'", "é", "NA", "2020-01", "", '"', "\r",
                                        "\x0c", "\u2028"]), max_size=3).map("".join)


def _parsed(source):
    """read_csv_text's frame, or its one-line error."""
    try:
        return read_csv_text(source)
    except DataError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(st.lists(_FIELD_TEXT, min_size=0, max_size=5), max_size=6), crlf=st.booleans(),
       end=st.booleans())
def test_a_large_file_read_by_pyarrow_reads_as_pandas_reads_it(rows, crlf, end):
    """Ragged rows, blank lines, quotes, stray carriage returns, NA words and backslashes: the large-file path
    (pyarrow where the two parsers agree, else pandas' own) gives the same frame, or the same error, as pandas'
    parser alone."""
    newline = "\r\n" if crlf else "\n"
    text = newline.join(["month,area,crime_type,count", *(",".join(r) for r in rows)]) + (newline if end else "")
    raw = text.encode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tidy, "ARROW_BYTES", 0)
        large = _parsed(Source(Path("x.csv"), text, "utf-8", raw=raw))
    small = _parsed(Source(Path("x.csv"), text, "utf-8"))
    if isinstance(small, str):
        assert large == small
    else:
        pd.testing.assert_frame_equal(large, small)


def test_pyarrow_reads_only_large_plain_utf8_files(monkeypatch):
    plain = "month,area,crime_type,count\r\n2020-01,Camden,Robbery,4\r\n2020-02,Camden,Robbery,5\r\n"
    assert tidy._arrow_parsed(Source(Path("x.csv"), plain, "utf-8", raw=plain.encode())) is None  # small
    monkeypatch.setattr(tidy, "ARROW_BYTES", 0)
    frame = tidy._arrow_parsed(Source(Path("x.csv"), plain, "utf-8", raw=plain.encode()))
    assert frame.to_dict("list") == {"month": ["2020-01", "2020-02"], "area": ["Camden", "Camden"],
                                     "crime_type": ["Robbery", "Robbery"], "count": ["4", "5"]}
    for text in (plain.replace("Camden,", '"Camden",', 1), plain.replace("\r\n2020-02", "\r2020-02")):
        assert tidy._arrow_parsed(Source(Path("x.csv"), text, "utf-8", raw=text.encode())) is None
    assert tidy._arrow_parsed(Source(Path("x.csv"), plain, "cp1252")) is None  # not read as UTF-8: no bytes kept
    ragged = plain + "2020-03,Camden\r\n"
    assert tidy._arrow_parsed(Source(Path("x.csv"), ragged, "utf-8", raw=ragged.encode())) is None


def test_a_large_file_reads_to_the_same_panel_either_way(tmp_path, monkeypatch):
    """The bundled met-major panel written as a tidy file, shuffled, read through pyarrow and through pandas:
    the same frame, in the same order, with the same checks passed."""
    frame = datasets.load("met-major").frame[["month", "area", "crime_type", "count"]]
    path = tmp_path / "met.csv"
    frame.sample(frac=1, random_state=1).astype({"month": str, "count": "int64"}).to_csv(path, index=False)
    monkeypatch.setattr(tidy, "ARROW_BYTES", 0)
    calls = []
    monkeypatch.setattr(tidy, "_arrow_parsed", lambda source, real=tidy._arrow_parsed: calls.append(1) or real(source))
    by_arrow = read_tidy_csv(path)
    monkeypatch.setattr(tidy, "ARROW_BYTES", 1 << 40)
    by_pandas = read_tidy_csv(path)
    pd.testing.assert_frame_equal(by_arrow, by_pandas)
    assert len(calls) == 2 and len(by_arrow) == len(frame)
    assert by_arrow.equals(frame.reset_index(drop=True).astype({"count": float}))


def test_a_duplicate_after_a_million_rows_is_named_by_its_line(tmp_path):
    months = pd.period_range("1900-01", periods=400, freq="M").astype(str)
    areas = [f"Area {i:04d}" for i in range(2500)]
    rows = pd.DataFrame({"month": np.tile(months, len(areas)), "area": np.repeat(areas, len(months)),
                         "crime_type": "Robbery", "count": 1})
    rows = pd.concat([rows, rows.iloc[[654321]]], ignore_index=True)  # 654321 = 1635 x 400 + 321
    path = tmp_path / "big.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"big.csv, line 1000002: duplicate row for 1926-10 x Area 1635 x Robbery "
                                        r"\(first at line 654323\)$"):
        read_tidy_csv(path)


def test_panel_keys_are_worked_out_once_and_follow_a_new_frame():
    panel = datasets.load("met-major")
    keys = panel.keys()
    expected = sorted(map(tuple, panel.frame[["crime_type", "area"]].drop_duplicates().to_numpy()),
                      key=lambda k: (k[0], k[1] == ALL_AREAS, k[1]))
    assert keys == expected and len(keys) == 297
    keys.clear()
    assert panel.keys() == expected  # a caller's list is its own
    totals = panel.with_totals().keys()
    assert len(totals) == 297 + 33 + 10 and totals[:34] == [("All crime", a) for a in panel.areas] + \
        [("All crime", ALL_AREAS)]
    assert panel.select(crime="robbery").keys()[:2] == [("Robbery", "Barking and Dagenham"), ("Robbery", "Barnet")]
