"""What a total is made of and what drove its step change (`forecast contributions`, fc.contributions), each figure
checked against the same computed with pandas from the bundled Met data."""

import pandas as pd
import pytest

import forecast as fc
from forecast.jobs.contributions import half_sentence, pareto, top_sentence


@pytest.fixture(scope="module")
def met():
    return fc.load("met-major")


@pytest.fixture(scope="module")
def robbery(met):
    return fc.contributions(met, crime="robbery")


def test_the_pareto_tables_are_the_months_crimes_sorted(met, robbery):
    frame = met.frame[met.frame["month"] == met.frame["month"].max()]
    by_type = frame.groupby("crime_type")["count"].sum().sort_values(ascending=False)
    table = robbery.crime_types
    assert list(table["part"]) == list(by_type.index) and list(table["count"]) == list(by_type)
    assert table["share"].tolist() == pytest.approx((by_type / by_type.sum()).tolist())
    assert table["cumulative"].iloc[-1] == pytest.approx(1.0)
    areas = frame[frame["crime_type"] == "Robbery"].groupby("area")["count"].sum().sort_values(ascending=False)
    assert list(robbery.areas["part"].head(9)) == list(areas.index[:9])
    k = int((areas.cumsum() / areas.sum() < 0.5).sum()) + 1
    assert robbery.sentences[1] == (f"{areas.iloc[:k].sum() / areas.sum():.0%} of Robbery in 2018-12 was recorded in "
                                    f"these {k} of {len(areas)} areas: {', '.join(areas.index[:k - 1])} and "
                                    f"{areas.index[k - 1]}.")
    top = by_type.head(5)
    assert robbery.sentences[0].endswith(f"together {top.sum() / by_type.sum():.0%} of it.")
    assert robbery.sentences[0].startswith(f"The top 5 crime types contributing to All crime in the force in 2018-12 "
                                           f"were {top.index[0]} ({top.iloc[0]:,.0f}, {top.iloc[0] / by_type.sum():.0%})")


def test_the_drivers_of_robberys_step_change_are_each_areas_change_between_the_processes(met, robbery):
    d = robbery.drivers[0]
    assert d.measure == "Robbery (force total)" and d.direction == "up"
    s = fc.spc(fc.select(met, crime="robbery", area="all-areas"))
    old, new = s.results[0].processes.iloc[-2], s.results[0].processes.iloc[-1]
    frame = met.frame[met.frame["crime_type"] == "Robbery"]
    first = frame.groupby("area")["month"].min()
    frame = frame[frame["area"].isin(first[first <= old["start"]].index)]
    wide = frame.pivot_table(index="month", columns="area", values="count", aggfunc="sum", fill_value=0)
    change = (wide.loc[new["start"]:new["end"]].mean() - wide.loc[old["start"]:old["end"]].mean()) \
        .sort_values(ascending=False)
    assert list(d.table["part"].head(5)) == list(change.index[:5])
    assert d.table["change"].head(5).tolist() == pytest.approx(change.head(5).tolist())
    assert d.total_change == pytest.approx(change.sum())
    assert robbery.sentences[2] == (
        f"Robbery (force total): the increase since {new['start']} ({change.sum():+,.0f} a month against the months "
        f"before) was driven by {change.index[0]} ({change.iloc[0]:+,.0f}, {change.iloc[0] / change.sum():.0%} of "
        f"it), {change.index[1]} ({change.iloc[1]:+,.0f}, {change.iloc[1] / change.sum():.0%} of it) and "
        f"{change.index[2]} ({change.iloc[2]:+,.0f}, {change.iloc[2] / change.sum():.0%} of it).")
    # Heathrow's airports are recorded from 2017-01 only: no "before" to compare, so not a driver
    assert "London Heathrow and London City Airports" not in set(d.table["part"])


def test_areas_sharing_the_force_step_change_are_named_with_their_own_percentage(met, robbery):
    also = robbery.sentences[3]
    assert also.startswith("Areas also seeing this significant step change increase: ")
    s = fc.spc(fc.select(met, crime="robbery", totals=False))
    force = fc.spc(fc.select(met, crime="robbery", area="all-areas")).results[0].latest_step_change()
    expected = [r for r in s.results if r.area != "All areas" and r.latest_step_change() is not None
                and r.latest_step_change()["direction"] == "up"
                and abs((r.latest_step_change()["detected"] - force["detected"]).n) <= 3]
    assert also.count(": up ") == len(expected) > 3
    richmond = next((r for r in expected if r.area == "Richmond upon Thames"), None)
    assert richmond is not None and f"Richmond upon Thames: up {richmond.latest_step_change()['pct_change']:.0f}%" \
        in also


def test_the_command_writes_the_tables_and_sentences(invoke):
    result = invoke("contributions", "--crime", "robbery", "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert set(table["by"]) == {"crime type", "area"} and set(table["whole"]) == {"All crime", "Robbery"}
    text = invoke("contributions")
    assert text.stdout.startswith("Contributions to All crime in the force, 2018-12\n")
    assert "- The top 5 crime types contributing to All crime in the force in 2018-12 were" in text.stdout


def test_small_tables_in_the_boards_words():
    frame = pd.DataFrame({"month": pd.Period("2020-01", "M"), "area": ["A", "B", "C", "A", "B"],
                          "crime_type": ["X", "X", "X", "Y", "Y"], "count": [10.0, 30.0, 5.0, 40.0, 15.0]})
    panel = fc.load(frame.assign(month=frame["month"].astype(str)))
    types = pareto(panel)
    assert types[["part", "count"]].values.tolist() == [["Y", 55.0], ["X", 45.0]]
    assert top_sentence(types, "All crime", top=2) == ("The top 2 crime types contributing to All crime in 2020-01 were "
                                                      "Y (55, 55%) and X (45, 45%): together 100% of it.")
    areas = pareto(panel, "area")
    assert half_sentence(areas, "All crime") == "50% of All crime in 2020-01 was recorded in these 1 of 3 areas: A."


def test_how_long_since_in_the_boards_words(met, robbery):
    from forecast.control.since import since_sentences

    total = fc.spc(fc.select(met, crime="robbery", area="all-areas")).results[0]
    changes = total.step_changes
    down = changes[changes["direction"] == "down"].iloc[-1]
    months = (total.last_month - down["month"]).n
    assert months == 49
    said = since_sentences(total)
    assert said == [
        "There has been no significant reduction in Robbery (force total) for over 4 years, not since 2014-11 "
        "(declared 2015-06).",
        f"Robbery (force total) has been in its current process for almost 2 years (since 2017-03), average "
        f"{total.current['mean']:,.0f}.",
        "The last 3 months of Robbery (force total) have been above average."]
    assert (total.points["count"].iloc[-3:] > total.current["mean"]).all()
    assert not total.points["count"].iloc[-4] > total.current["mean"]
    assert robbery.sentences[4:7] == tuple(said)
    drugs = fc.spc(fc.select(met, crime="drugs", area="all-areas")).results[0]
    assert since_sentences(drugs)[0] == ("There has been no significant increase in Drugs (force total) in the 11 years "
                                         "of data (since 2008-01).")
