"""Shares of a whole (`forecast shares`, fc.shares): each of the Met's minor categories as a share of its major one,
and each borough's share of a crime type, checked against the same figures computed with pandas from the data."""

import numpy as np
import pandas as pd
import pytest

from conftest import write

import forecast as fc
from forecast.jobs.shares import bundled_groups


@pytest.fixture(scope="module")
def minor():
    return fc.load("met-minor")


@pytest.fixture(scope="module")
def by_type(minor):
    return fc.shares(minor)


def test_every_share_is_its_crimes_over_its_groups_in_that_month(minor, by_type):
    groups = bundled_groups("met-minor")
    frame = minor.frame[minor.frame["area"] != "All areas"].assign(group=lambda f: f["crime_type"].map(groups))
    parts = frame.groupby(["group", "crime_type", "month"])["count"].sum()
    wholes = frame.groupby(["group", "month"])["count"].sum()
    points = by_type.points
    assert len(points) > 3000
    for row in points.sample(200, random_state=1).itertuples():
        part, whole = parts.get((row.whole, row.part, row.month), 0), wholes[(row.whole, row.month)]
        assert (row.part_count, row.whole_count) == (part, whole)
        assert row.share == pytest.approx(part / whole)
    # a group's shares add up to 100% in every month where all its parts are still recorded (the last 12 months:
    # the older categories the source stopped using count in the whole of their months but get no chart)
    recent = points[points["month"] > pd.Period("2017-12", "M")]
    assert np.allclose(recent.groupby(["whole", "month"])["share"].sum(), 1.0)
    summary = by_type.summary.set_index("part")
    robbery = frame[frame["group"] == "Robbery"]
    december = robbery[robbery["month"] == pd.Period("2018-12", "M")].groupby("crime_type")["count"].sum()
    assert summary.loc["Personal Property", "share"] == pytest.approx(december["Personal Property"] / december.sum())


def test_a_current_average_is_the_process_crimes_over_its_groups(by_type):
    s = next(x for x in by_type.shares if x.part == "Personal Property")
    r = s.result
    start = r.current["start"]
    base = r.points[r.points["month"] >= start].head(12)
    assert r.current["mean"] == pytest.approx(base["numerator"].sum() / base["denominator"].sum())
    assert r.chart == "laney"


def test_the_boards_sentences_of_shares(by_type):
    sentences = by_type.sentences
    assert sentences[0] == ("In 2018-12 77% of Burglary was Burglary - Residential and 23% Burglary - Business and "
                            "Community. This is the normal proportion split.")
    assert ("In 2018-12 92% of Robbery was Personal Property and 8% Business Property. This is the normal proportion "
            "split.") in sentences
    assert ("Other Criminal Damage as a proportion of Criminal Damage stands at 33% in 2018-12; its average is now "
            "29%, up from 25% in its previous process (a significant step change starting 2018-03, declared in "
            "2018-10).") in sentences
    # a group with a signalling part says the signal, not "the normal proportion split"
    assert not any("of Criminal Damage was" in s for s in sentences)


def test_each_boroughs_share_of_a_crime_type(minor, invoke):
    result = invoke("shares", "--data", "met-minor", "--crime", "personal property", "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(pd.io.common.StringIO(result.stdout)).set_index("part")
    frame = minor.frame[(minor.frame["crime_type"] == "Personal Property") & (minor.frame["area"] != "All areas")]
    december = frame[frame["month"] == pd.Period("2018-12", "M")].set_index("area")["count"]
    assert table.loc["Westminster", "share"] == round(december["Westminster"] / december.sum(), 4)
    assert len(table) == (frame.groupby("area")["count"].apply(lambda c: c.iloc[-12:].sum()) > 0).sum()


def test_groups_from_a_file_and_the_command_line(tmp_path, invoke):
    groups = write(tmp_path / "groups.csv", "crime_type,group\nBurglary,Acquisitive\nRobbery,Acquisitive\n"
                   "Theft and Handling,Acquisitive\n")
    result = invoke("shares", "--groups", groups)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Shares in the force at 2018-12 (by crime type)\n")
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("Acquisitive")] == [
        "Burglary", "Robbery", "Theft"]
    bad = write(tmp_path / "bad.csv", "crime_type,group\nBurglary,A\nBurglary,B\n")
    refused = invoke("shares", "--groups", bad)
    assert refused.exit_code == 2 and refused.stderr == f"Error: {bad}, line 3: Burglary is in two groups (a part " \
                                                        "belongs to one)\n"
    none = invoke("shares")
    assert none.exit_code == 2 and none.stderr.startswith("Error: met-major has no bundled crime type groups; ")
