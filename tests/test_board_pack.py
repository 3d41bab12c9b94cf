"""The board pack (`forecast board`, `fc.board`): its contributors, the series it reports as signalling and the
drivers of each, every figure checked against a pandas computation of the same thing on the bundled met-minor."""

import numpy as np
import pandas as pd
import pytest

import forecast as fc
from conftest import write
from forecast.control import xmr as spc
from forecast.data import ALL_AREAS, ALL_CRIME
from forecast.jobs.pack import HEADLINES, SHARES, SIGNALS

LAST = pd.Period("2018-12", "M")


@pytest.fixture(scope="module")
def minor():
    panel = fc.load("met-minor")
    return panel, fc.board(panel)


def parts_of(panel) -> pd.DataFrame:
    frame = panel.frame
    return frame[(frame["area"] != ALL_AREAS) & (frame["crime_type"] != ALL_CRIME)]


def test_the_contributors_are_the_latest_months_counts_ranked(minor):
    panel, pack = minor
    month = parts_of(panel)[parts_of(panel)["month"] == LAST]
    by_type = month.groupby("crime_type")["count"].sum().sort_values(ascending=False)
    types = pack.contributors[pack.contributors["by"] == "crime type"]
    assert types["part"].tolist() == by_type.index.tolist()
    assert np.allclose(types["share"], by_type / by_type.sum())
    by_area = month.groupby("area")["count"].sum().sort_values(ascending=False)
    half = int((by_area.cumsum() / by_area.sum() < 0.5).sum()) + 1
    assert half == 12
    said = pack.sentences[pack.sentences["section"] == HEADLINES]["sentence"].tolist()
    assert said[0].startswith(f"The top 5 crime types contributing to All crime in the force in 2018-12 were "
                              f"{by_type.index[0]} ({by_type.iloc[0]:,.0f}, {by_type.iloc[0] / by_type.sum():.0%})")
    assert said[1] == (f"{by_area.iloc[:half].sum() / by_area.sum():.0%} of All crime in 2018-12 was recorded in these "
                       f"12 of 33 areas: {', '.join(by_area.index[:11])} and {by_area.index[11]}.")


def test_the_shares_section_is_the_groups_sentences(minor):
    panel, pack = minor
    said = pack.sentences.loc[pack.sentences["section"] == SHARES, "sentence"].tolist()
    assert said == fc.shares(panel).sentences and len(said) == 16


def beyond(points: pd.DataFrame, sign: int) -> int:
    """Latest months of the current process on or beyond a limit, counted longhand."""
    current = points[points["process"] == points["process"].iloc[-1]]
    limit = current["ucl"] if sign > 0 else current["lcl"]
    hit = (current["count"] * sign >= limit * sign) & (current["count"] * sign > current["mean"] * sign)
    k = 0
    for h in hit[::-1]:
        if not h:
            break
        k += 1
    return k


def test_every_series_with_a_step_change_this_quarter_or_a_spell_beyond_a_limit_is_reported(minor):
    panel, pack = minor
    expected = set()
    for r in fc.spc(panel).results:
        if r.last_month != LAST or r.status in (spc.TOO_FEW, spc.NONE_RECORDED):
            continue
        if r.area != ALL_AREAS and r.crime_type != ALL_CRIME:
            continue
        recent = not r.step_changes.empty and r.step_changes["detected"].iloc[-1] > LAST - 3
        if recent or max(beyond(r.points, 1), beyond(r.points, -1)) >= 2:
            expected.add((r.crime_type, r.area))
    found = set(map(tuple, pack.drivers[["crime_type", "area"]].drop_duplicates().to_numpy()))
    assert found == expected and len(found) == 18
    # the force totals of Burglary in a Dwelling and others end in 2016, when the Met renamed its categories:
    # their last step change is not this quarter's news
    assert ("Burglary in a Dwelling", ALL_AREAS) not in found
    spells = pack.drivers[pack.drivers["signal"] == "beyond limits"][["crime_type", "area"]].drop_duplicates()
    assert sorted(spells["crime_type"]) == ["Criminal Damage To Other Bldg", "Criminal Damage To a Dwelling",
                                            "Handling Stolen Goods", "Other Theft"]


def test_each_driver_is_its_parts_mean_over_the_signal_less_its_mean_before(minor):
    panel, pack = minor
    parts = parts_of(panel)
    for (crime, area), d in pack.drivers.groupby(["crime_type", "area"]):
        rows = parts[parts["crime_type"] == crime] if area == ALL_AREAS else parts[parts["area"] == area]
        by = "area" if area == ALL_AREAS else "crime_type"
        wide = rows.pivot_table(index="month", columns=by, values="count", aggfunc="sum", fill_value=0)
        first = d.iloc[0]
        before = wide.loc[first["before_from"]:first["before_to"]].mean()
        during = wide.loc[first["signal_from"]:first["signal_to"]].mean()
        assert np.allclose(d["before"], before[d["part"]].to_numpy()), (crime, area)
        assert np.allclose(d["during"], during[d["part"]].to_numpy()), (crime, area)
        assert d["share_of_change"].sum() == pytest.approx(1.0)
        # ranked the way the signal went
        assert list(d["change"]) == sorted(d["change"], reverse=first["direction"] == "up")


def test_other_theft_spell_is_driven_by_westminster(minor):
    _, pack = minor
    said = pack.sentences[(pack.sentences["crime_type"] == "Other Theft") & (pack.sentences["area"] == ALL_AREAS)]
    assert said["sentence"].tolist() == [
        "Other Theft (force total) has seen significant increases in the last 3 months, with monthly levels on or "
        "above the upper control limit.",
        "Other Theft (force total): the increases of the last 3 months (+1,399 a month against the earlier months "
        "of its process) were driven by Westminster (+534, 38% of it), Camden (+210, 15% of it) and Southwark "
        "(+106, 8% of it)."]


def spell_panel(path):
    """Two areas and two crime types for 4 years; in the last 3 months Sandwell's Robbery rises by 40 a month."""
    months = pd.period_range("2015-01", periods=48, freq="M")
    rng = np.random.default_rng(4)
    rows = []
    for area, base in (("Sandwell", 200), ("Dudley", 150)):
        for crime, share in (("Robbery", 0.3), ("Burglary", 0.7)):
            counts = np.round(base * share + rng.normal(0, 3, 48))
            if area == "Sandwell" and crime == "Robbery":
                counts[-3:] += 40
            rows += [f"{m},{area},{crime},{int(c)}" for m, c in zip(months, counts)]
    return write(path, "month,area,crime_type,count\n" + "\n".join(rows) + "\n")


def test_a_spell_above_the_limit_names_the_crime_type_that_drove_it(tmp_path):
    panel = fc.load(spell_panel(tmp_path / "spell.csv"))
    pack = fc.board(panel)
    sandwell = pack.drivers[(pack.drivers["crime_type"] == ALL_CRIME) & (pack.drivers["area"] == "Sandwell")]
    assert set(sandwell["signal"]) == {"beyond limits"}
    assert (sandwell["signal_from"].iloc[0], sandwell["signal_to"].iloc[0]) == ("2018-10", "2018-12")
    robbery = sandwell.set_index("part").loc["Robbery"]
    frame = panel.frame
    y = frame[(frame["area"] == "Sandwell") & (frame["crime_type"] == "Robbery")].set_index("month")["count"]
    assert robbery["during"] == pytest.approx(y["2018-10":"2018-12"].mean())
    # before: the earlier months of All crime in Sandwell's current process
    start = str(fc.spc(panel, crime="all-crime", area="sandwell").results[0].current["start"])
    assert sandwell["before_from"].iloc[0] == start and sandwell["before_to"].iloc[0] == "2018-09"
    assert robbery["before"] == pytest.approx(y[start:"2018-09"].mean())
    assert robbery["share_of_change"] > 0.9
    said = pack.sentences[pack.sentences["area"] == "Sandwell"]["sentence"].tolist()
    assert said[0] == ("All crime in Sandwell has seen significant increases in the last 3 months, with monthly "
                       "levels on or above the upper control limit.")
    assert said[1].startswith("All crime in Sandwell: the increases of the last 3 months (+")
    assert "were driven by Robbery (+" in said[1]
    assert pack.sentences["section"].tolist().count(SHARES) == 0  # no groups given, none bundled


def test_the_command_writes_the_pack_whole_and_refuses_a_folder_not_its_own(tmp_path, invoke, minor):
    _, pack = minor
    out = tmp_path / "pack"
    result = invoke("board", "--data", "met-minor", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == pack.text()
    assert sorted(p.name for p in out.iterdir()) == ["board.json", "board.txt", "contributors.csv", "drivers.csv",
                                                     "sentences.csv", "shares.csv"]
    written = pd.read_csv(out / "drivers.csv")
    assert len(written) == len(pack.drivers) and np.allclose(written["change"], pack.drivers["change"], atol=0.005)
    assert pd.read_csv(out / "sentences.csv")["sentence"].tolist() == pack.sentences["sentence"].tolist()
    again = invoke("board", "--data", "met-minor", "--out", out, "--format", "csv")
    assert again.exit_code == 0 and again.stdout.splitlines()[0] == "section,crime_type,area,sentence"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    refused = invoke("board", "--data", "met-minor", "--out", mine)
    assert refused.exit_code == 2 and "(no board.json)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_signals_section_leads_with_the_force_totals_in_the_boards_order(minor):
    _, pack = minor
    signals = pack.sentences[pack.sentences["section"] == SIGNALS]
    areas = signals["area"].tolist()
    # every force total before any area's All crime
    assert areas.index(next(a for a in areas if a != ALL_AREAS)) > max(i for i, a in enumerate(areas)
                                                                       if a == ALL_AREAS)
    assert signals["sentence"].iloc[0].startswith("Other Criminal Damage (force total) has seen a significant step "
                                                  "change increase")
