"""`forecast peers`: rates per 1,000 against real bundled populations, recomputed longhand here, the ranks, the
board's sentences, the charts, and one-line errors for bad population files."""

import gzip
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import write

FORCES = ("West Midlands", "Merseyside", "West Yorkshire", "Greater Manchester")
BURGLARY = "Burglary - Residential"
MONTHS = pd.period_range("2014-01", "2018-12", freq="M")


def bundled_populations() -> pd.DataFrame:
    """The bundled file read directly, not through the package."""
    with resources.as_file(resources.files("forecast.io.datasets") / "populations.csv.gz") as path:
        with gzip.open(path, "rt") as fh:
            return pd.read_csv(fh)


def residents_longhand(table: pd.DataFrame, geography: str, area: str, month: pd.Period) -> float:
    """A month's residents: the straight line between the mid-year (30 June) estimates either side of the middle
    of the month, or the nearest estimate outside them."""
    rows = table[(table["geography"] == geography) & (table["area"] == area)].set_index("year")["population"]
    t = month.year + (month.month - 0.5) / 12
    if t <= rows.index.min() + 0.5:
        return rows.iloc[0]
    if t >= rows.index.max() + 0.5:
        return rows.iloc[-1]
    year = int(np.floor(t - 0.5))
    w = t - (year + 0.5)
    return rows[year] + w * (rows[year + 1] - rows[year])


def households_longhand(table: pd.DataFrame, area: str) -> float:
    rows = table[(table["geography"] == "police force area") & (table["area"] == area) & (table["year"] == 2011)]
    return float(rows["households"].iloc[0])


def four_force_counts() -> pd.DataFrame:
    """Known counts: West Midlands' burglary falls by a fifth in the last 6 months (its gap to the group widens),
    its robbery is the highest per resident; the other forces are flat with a small deterministic wobble."""
    rows = []
    for k, force in enumerate(FORCES):
        for i, month in enumerate(MONTHS):
            wobble = (i * 7 + k * 3) % 11 - 5
            burglary = {"West Midlands": 900 if i < len(MONTHS) - 6 else 720, "Merseyside": 700,
                        "West Yorkshire": 1100, "Greater Manchester": 1500}[force] + wobble
            robbery = {"West Midlands": 400, "Merseyside": 100, "West Yorkshire": 120,
                       "Greater Manchester": 300}[force] + wobble
            rows += [(str(month), force, BURGLARY, burglary), (str(month), force, "Robbery", robbery)]
    return pd.DataFrame(rows, columns=["month", "area", "crime_type", "count"])


@pytest.fixture(scope="module")
def four_forces(tmp_path_factory):
    from click.testing import CliRunner

    from forecast.cli import cli

    root = tmp_path_factory.mktemp("peers")
    counts = four_force_counts()
    data = root / "four-forces.csv"
    counts.to_csv(data, index=False)
    out = root / "out"
    result = CliRunner().invoke(cli, ["peers", "--data", str(data), "--home-force", "West Midlands Police",
                                      "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return counts, out, result


def test_rates_are_counts_times_1000_over_the_months_population(four_forces):
    counts, out, _ = four_forces
    rates = pd.read_csv(out / "rates.csv")
    table = bundled_populations()
    checked = 0
    for row in rates.sample(40, random_state=0).itertuples():
        count = counts[(counts["month"] == row.month) & (counts["area"] == row.force)
                       & (counts["crime_type"] == row.crime_type)]["count"].iloc[0]
        if row.crime_type == BURGLARY:
            assert row.per == "households"
            denominator = households_longhand(table, row.force)
        else:
            assert row.per == "residents"
            denominator = residents_longhand(table, "police force area", row.force, pd.Period(row.month, "M"))
        assert row.count == count
        assert row.denominator == pytest.approx(denominator, abs=0.5)
        assert row.rate == pytest.approx(count * 1000 / denominator, abs=5e-4)
        checked += 1
    assert checked == 40
    # West Midlands, the middle of March 2015: 8.5 months on from 30 June 2014
    wmp = table[(table["area"] == "West Midlands") & (table["geography"] == "police force area")].set_index("year")
    march = wmp.loc[2014, "population"] + (8.5 / 12) * (wmp.loc[2015, "population"] - wmp.loc[2014, "population"])
    row = rates[(rates["force"] == "West Midlands") & (rates["month"] == "2015-03") & (rates["crime_type"] == "Robbery")]
    assert row["denominator"].iloc[0] == pytest.approx(march, abs=0.5)


def test_ranks_and_group_average_over_the_last_12_months(four_forces):
    counts, out, _ = four_forces
    table = pd.read_csv(out / "peers.csv")
    populations = bundled_populations()
    last12 = counts[counts["month"] >= "2018-01"]
    for crime_type, per in ((BURGLARY, "households"), ("Robbery", "residents")):
        expected, crimes, denominators = {}, {}, {}
        for force in FORCES:
            crimes[force] = last12[(last12["area"] == force) & (last12["crime_type"] == crime_type)]["count"].sum()
            if per == "households":
                denominators[force] = households_longhand(populations, force)
            else:
                denominators[force] = np.mean([residents_longhand(populations, "police force area", force, m)
                                               for m in pd.period_range("2018-01", "2018-12", freq="M")])
            expected[force] = crimes[force] * 1000 / denominators[force]
        rows = table[table["crime_type"] == crime_type].set_index("force")
        for force, rate in expected.items():
            assert rows.loc[force, "rate"] == pytest.approx(rate, abs=5e-4)
        order = sorted(expected, key=expected.get, reverse=True)
        assert [rows.loc[f, "rank"] for f in order] == [1, 2, 3, 4]
        # HMICFRS's MSG average: the group's crimes per 1,000 of its residents (or households) together
        weighted = sum(crimes.values()) * 1000 / sum(denominators.values())
        assert rows["group_average"].iloc[0] == pytest.approx(weighted, abs=5e-4)
        assert rows["group_mean"].iloc[0] == pytest.approx(np.mean(list(expected.values())), abs=5e-4)
        assert abs(weighted - np.mean(list(expected.values()))) > 0.05
        assert set(rows["of"]) == {4} and set(rows["group"]) == {"Most Similar Group"}
        assert set(rows["peers_with_data"]) == {3} and set(rows["peers_in_group"]) == {7}


def test_board_sentences_say_the_rank_the_group_average_and_the_widening_gap(four_forces):
    from forecast.jobs.peers import fmt_rate

    counts, out, result = four_forces
    table = pd.read_csv(out / "peers.csv")
    burglary = table[table["crime_type"] == BURGLARY].set_index("force")
    sentences = (out / "sentences.txt").read_text().splitlines()
    assert sentences[0].startswith(
        f"West Midlands has the lowest rate of {BURGLARY} per 1,000 households in its Most Similar Group (3 of its "
        f"7 peers with data): {fmt_rate(burglary.loc['West Midlands', 'rate'])} against a group average of "
        f"{fmt_rate(burglary['group_average'].iloc[0])} (the group's crimes per 1,000 of its households), in the 12 "
        "months to 2018-12; the gap to the group average has widened over the last 6 months (from ")
    rates = pd.read_csv(out / "rates.csv")
    b = rates[rates["crime_type"] == BURGLARY]
    wmp = b[b["force"] == "West Midlands"].set_index("month")
    relative = (wmp["rate"] - wmp["group_average"]) / wmp["group_average"]
    before, now = relative.iloc[-12:-6].mean(), relative.iloc[-6:].mean()
    assert f"from {abs(before):.0%} to {abs(now):.0%} below it" in sentences[0]
    assert abs(now) > abs(before) + 0.1
    robbery = [s for s in sentences if s.startswith("West Midlands has") and "Robbery" in s][0]
    assert robbery.startswith("West Midlands has the highest rate of Robbery per 1,000 residents")
    assert sentences == [line[2:] for line in result.stdout.splitlines() if line.startswith("- ")]
    # the group's other members are named as absent, not silently dropped
    assert "in West Midlands' Most Similar Group but not in the data (or with no population): " in result.stderr
    assert "Metropolitan Police" in result.stderr


def test_charts_and_the_peers_page_exist_with_every_line(four_forces):
    from PIL import Image

    _, out, _ = four_forces
    charts = sorted(p.name for p in (out / "charts").glob("*.png"))
    assert len(charts) == 6  # per crime type: the rates, the force's XmR, the gap's XmR
    assert all(Image.open(out / "charts" / c).size[0] >= 1200 for c in charts)
    page = (out / "peers.html").read_text()
    assert page.count("<img") == 6 and "<!-- peers section -->" in page
    assert "<strong>West Midlands</strong>" in page


def test_peer_chart_highlights_the_force_greys_the_peers_and_dashes_the_average():
    from forecast.jobs import peers
    from forecast.io import population
    from forecast.present.plots import peer_chart

    monthly, _ = peers.rates(four_force_counts().rename(columns={"area": "unit"}), population.bundled(),
                             population.FORCE)
    robbery = monthly[monthly["crime_type"] == "Robbery"]
    comparison = peers.compare(robbery, "West Midlands", ["Merseyside", "West Yorkshire", "Greater Manchester"])
    fig = peer_chart(comparison.monthly, "West Midlands", title="t", ylabel="y")
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines() if line.get_gid()}
    assert lines["home"].get_linewidth() > lines["peer-Merseyside"].get_linewidth()
    assert lines["peer-Merseyside"].get_color() == "#a6a6a6"
    assert lines["group-average"].get_linestyle() == "--"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["peers (named at right)", "group average", "West Midlands"]


def test_peers_option_replaces_the_group_and_unknown_peers_are_refused(four_forces, invoke, tmp_path):
    counts, _, _ = four_forces
    data = tmp_path / "forces.csv"
    counts.to_csv(data, index=False)
    result = invoke("peers", "--data", data, "--home-force", "west-midlands", "--peers", "merseyside,west-yorkshire",
                    "--crime", "robbery", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "peers.csv")
    assert sorted(table["force"]) == ["Merseyside", "West Midlands", "West Yorkshire"]
    assert set(table["group"]) == {"peer group"}
    bad = invoke("peers", "--data", data, "--home-force", "west-midlands", "--peers", "kent", "--out", tmp_path / "o2")
    assert bad.exit_code != 0 and "--peers: kent not in the data" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.output


def test_met_boroughs_get_rates_per_1000_residents_ranked_and_boroughs_without_a_population_a_note(invoke,
                                                                                                   tmp_path):
    from forecast.io.datasets import load

    result = invoke("peers", "--crime", "robbery", "--out", tmp_path / "met")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "met" / "peers.csv").set_index("area")
    panel = load("met-major").frame
    robbery = panel[(panel["crime_type"] == "Robbery") & (panel["area"] == "Camden")]
    last12 = robbery[robbery["month"] >= pd.Period("2018-01", "M")]["count"].sum()
    populations = bundled_populations()
    residents = np.mean([residents_longhand(populations, "local authority", "Camden", m)
                         for m in pd.period_range("2018-01", "2018-12", freq="M")])
    assert table.loc["Camden", "rate"] == pytest.approx(last12 * 1000 / residents, abs=5e-4)
    assert table.loc["Westminster", "rank"] == 1 and table["rank"].max() == 30
    assert table["rate"].is_monotonic_decreasing
    assert "no population for London Heathrow and London City Airports, Merton, Sutton" in result.stderr
    assert "Merton" not in table.index


def test_a_panel_of_one_force_cannot_be_compared_by_force(invoke, tmp_path):
    result = invoke("peers", "--by", "force", "--out", tmp_path / "out")
    assert result.exit_code != 0
    assert "peers by force needs the counts of several forces" in result.stderr and "--by area" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, message", [
    ("year,area\n2019,West Midlands\n", "required column missing: population"),
    ("year,area,population\n2019,West Midlands,many\n", "line 2: population 'many' is not a number"),
    ("year,area,population\n2019,West Midlands,2900000\n2018,Merseyside,-4\n", "line 3: population -4 is negative"),
    ("year,area,population\n2019,West Midlands,0\n", "line 2: population is 0"),
    ("year,area,population\nlast year,West Midlands,2900000\n", "line 2: year 'last year' is not a year"),
    ("year,area,population\n2019,West Midlands,2900000\n2019,West Midlands,2910000\n",
     "line 3: West Midlands 2019 appears twice (first at line 2)"),
    ("year,area,population,households\n2019,West Midlands,2900000,lots\n", "line 2: households 'lots' is not a number"),
    ("year,area,population,households\n2017,West Midlands,2900000,\n2018,West Midlands,2920000,lots\n",
     "line 3: households 'lots' is not a number"),  # after a blank household count, still the right line
    ("", "file is empty"),
])
def test_bad_population_files_get_one_line_errors(four_forces, invoke, tmp_path, text, message):
    counts, _, _ = four_forces
    data = tmp_path / "forces.csv"
    counts.to_csv(data, index=False)
    population = write(tmp_path / "population.csv", text)
    result = invoke("peers", "--data", data, "--population", population, "--out", tmp_path / "out")
    assert result.exit_code != 0
    assert message in result.stderr and str(population) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_own_population_file_with_households_and_a_force_missing_from_it(four_forces, invoke, tmp_path):
    counts, _, _ = four_forces
    data = tmp_path / "forces.csv"
    counts.to_csv(data, index=False)
    population = write(tmp_path / "population.csv",
                       "year,area,population,households\n2017,West Midlands,2900000,1100000\n"
                       "2018,West Midlands,2920000,1110000\n2017,Merseyside,\"1,420,000\",600000\n"
                       "2018,Merseyside,1430000,604000\n")
    result = invoke("peers", "--data", data, "--population", population, "--home-force", "west midlands",
                    "--peers", "merseyside", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "no population for Greater Manchester, West Yorkshire" in result.stderr
    assert "before the first estimate use the first one" in result.stderr
    assert "after the last estimate use the last one" in result.stderr
    rates = pd.read_csv(tmp_path / "out" / "rates.csv")
    row = rates[(rates["force"] == "Merseyside") & (rates["month"] == "2018-01") & (rates["crime_type"] == BURGLARY)]
    # households 600,000 on 30 June 2017 and 604,000 a year on: the middle of January 2018 is 6.5 months on
    households = 600_000 + (6.5 / 12) * 4_000
    assert row["denominator"].iloc[0] == pytest.approx(households, abs=0.5)
    count = counts[(counts["area"] == "Merseyside") & (counts["month"] == "2018-01")
                   & (counts["crime_type"] == BURGLARY)]["count"].iloc[0]
    assert row["rate"].iloc[0] == pytest.approx(count * 1000 / households, abs=5e-4)


def test_households_fall_back_to_residents_with_a_note_when_a_force_has_none():
    from forecast.jobs import peers
    from forecast.io.population import Populations

    frame = pd.DataFrame({"year": [2018, 2018], "geography": "", "area": ["A", "B"],
                          "population": [1000.0, 2000.0], "households": [400.0, np.nan]})
    counts = pd.DataFrame({"month": pd.PeriodIndex(["2018-06", "2018-06"], freq="M"), "crime_type": BURGLARY,
                           "unit": ["A", "B"], "count": [4.0, 10.0]})
    monthly, notes = peers.rates(counts, Populations(frame, "test"), "police force area")
    assert list(monthly["per"]) == ["residents", "residents"]
    assert list(monthly["rate"]) == [4.0, 5.0]
    assert f"{BURGLARY}: per 1,000 residents, not households: no household count for B" in notes


@pytest.mark.parametrize("rank, of, words", [(1, 8, "the highest"), (2, 8, "the second highest"),
                                             (8, 8, "the lowest"), (7, 8, "the second lowest"),
                                             (4, 8, "the 4th highest of 8"), (3, 4, "the second lowest"),
                                             (1, 2, "the highest"), (2, 2, "the lowest")])
def test_rank_words(rank, of, words):
    from forecast.jobs.peers import rank_words

    assert rank_words(rank, of) == words


def test_force_names_match_across_spellings():
    from forecast.io.population import bundled

    matched = bundled().match(["West Midlands Police", "Metropolitan Police Service", "Devon & Cornwall Police",
                               "Avon and Somerset Constabulary", "Greater Manchester Police", "Atlantis Police"],
                              "police force area")
    assert matched == {"West Midlands Police": "West Midlands", "Metropolitan Police Service": "Metropolitan Police",
                       "Devon & Cornwall Police": "Devon and Cornwall",
                       "Avon and Somerset Constabulary": "Avon and Somerset",
                       "Greater Manchester Police": "Greater Manchester"}


def test_bundled_groups_hold_the_seed_group_and_the_met_is_corrected():
    from forecast.jobs.peers import most_similar_groups

    groups = most_similar_groups()
    assert {"Merseyside", "West Yorkshire", "Greater Manchester"} <= set(groups["West Midlands"])
    assert all(len(g) == 7 for g in groups.values()) and "City of London" not in groups
    table = bundled_populations()
    met = table[(table["area"] == "Metropolitan Police") & (table["year"] == 2011)]["population"].iloc[0]
    london = table[(table["geography"] == "local authority") & (table["year"] == 2011)
                   & table["area"].isin(LONDON)]["population"].sum()
    city = table[(table["area"] == "City of London") & (table["year"] == 2011)
                 & (table["geography"] == "police force area")]["population"].iloc[0]
    assert met == london - city == 8_196_995


LONDON = ["Barking and Dagenham", "Barnet", "Bexley", "Brent", "Bromley", "Camden", "City of London", "Hackney",
          "Croydon", "Ealing", "Enfield", "Greenwich", "Hammersmith and Fulham", "Haringey", "Harrow", "Havering",
          "Hillingdon", "Hounslow", "Islington", "Kensington and Chelsea", "Kingston upon Thames", "Lambeth",
          "Lewisham", "Merton and Sutton", "Newham", "Redbridge", "Richmond upon Thames", "Southwark",
          "Tower Hamlets", "Waltham Forest", "Wandsworth", "Westminster"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(months=st.integers(2, 30), base=st.lists(st.integers(0, 400), min_size=3, max_size=3),
       start=st.sampled_from(["2009-01", "2016-07", "2019-03", "2021-11"]))
def test_short_and_small_force_panels_give_finite_rates_and_a_sentence(months, base, start):
    from forecast.jobs import peers
    from forecast.io import population

    rows = []
    for force, b in zip(("West Midlands", "Merseyside", "West Yorkshire"), base):
        for i, month in enumerate(pd.period_range(start, periods=months, freq="M")):
            rows.append((month, "Robbery", force, float(b + (i % 3))))
    counts = pd.DataFrame(rows, columns=["month", "crime_type", "unit", "count"])
    monthly, notes = peers.rates(counts, population.bundled(), population.FORCE)
    assert np.isfinite(monthly["rate"]).all() and (monthly["rate"] >= 0).all()
    comparison = peers.compare(monthly, "West Midlands", ["Merseyside", "West Yorkshire"])
    assert comparison.table["months"].iloc[0] == min(months, 12)
    first = comparison.sentences[0]
    assert first.startswith("West Midlands has the ")
    if months < 12:
        assert "cannot be traced yet" in first
    if start == "2021-11":
        assert any("after the last estimate use the last one" in n for n in notes)


def test_a_short_panel_of_three_boroughs_names_each_area_once(invoke, tmp_path):
    """Camden, Hackney and Sutton, 36 months: Sutton has no population of its own (merged with Merton), so two
    areas are ranked, and the lowest is not named among the highest as well."""
    from forecast.io.datasets import load

    frame = load("met-major").frame
    frame = frame[frame["area"].isin(["Camden", "Hackney", "Sutton"]) & (frame["month"] > frame["month"].max() - 36)]
    data = tmp_path / "three.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(data, index=False)
    result = invoke("peers", "--data", data, "--crime", "robbery", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "peers.csv").set_index("area")
    assert list(table.index) == ["Camden", "Hackney"] and "no population for Sutton" in result.stderr
    sentence = (tmp_path / "out" / "sentences.txt").read_text().splitlines()[0]
    head = (f"Robbery per 1,000 residents in the 12 months to 2018-12: highest in Camden "
            f"({table.loc['Camden', 'rate']:.2f}); lowest in Hackney ({table.loc['Hackney', 'rate']:.2f}); "
            "the 2 areas together ")
    assert sentence.startswith(head) and sentence.count("Hackney") == 1
    together = table["crimes"].sum() * 1000 / table["denominator"].sum()
    assert float(sentence[len(head):-1]) == pytest.approx(together, abs=0.006)


# ------------------------------------------------------------------ street files of several forces, the bundled group

#: slug -> (its "Falls within", an LSOA of it, crimes a month in 2019-07 (each month adds 1 per 100), 2019 residents)
STREET_FORCES = {
    "west-midlands": ("West Midlands Police", "Birmingham 001A", 900, 2928592),
    "west-yorkshire": ("West Yorkshire Police", "Leeds 001A", 700, 2332469),
    "greater-manchester": ("Greater Manchester Police", "Manchester 001A", 1000, 2835686),
    "metropolitan": ("Metropolitan Police Service", "Camden 001A", 2500, 8952268),
    "merseyside": ("Merseyside Police", "Liverpool 001A", 500, 1429910),
    "lancashire": ("Lancashire Constabulary", "Preston 001A", 300, 1508941),
}
STREET_MONTHS = pd.period_range("2019-07", "2020-12", freq="M")


def street_count(slug: str, i: int) -> int:
    return STREET_FORCES[slug][2] * (100 + i) // 100


@pytest.fixture(scope="module")
def six_forces_zip(tmp_path_factory):
    """Street files of West Midlands and five of its bundled group (the other two, South Yorkshire and
    Leicestershire, absent), each force named as data.police.uk names it, in one zip."""
    import zipfile

    path = tmp_path_factory.mktemp("msg") / "msg.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, month in enumerate(STREET_MONTHS):
            for slug, (name, lsoa, _, _) in STREET_FORCES.items():
                rows = ["Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                        "Crime type,Last outcome category,Context"]
                rows += [f",{month},{name},{name},,,,E01,{lsoa},Robbery,,"] * street_count(slug, i)
                z.writestr(f"{month}/{month}-{slug}-street.csv", "\n".join(rows) + "\n")
    return path


def test_street_files_of_several_forces_compare_with_the_bundled_group(six_forces_zip, tmp_path, invoke):
    result = invoke("peers", "--data", six_forces_zip, "--home-force", "west-midlands", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "peers.csv").set_index("force")
    last12 = range(len(STREET_MONTHS) - 12, len(STREET_MONTHS))
    crimes = {STREET_FORCES[s][0]: sum(street_count(s, i) for i in last12) for s in STREET_FORCES}
    residents = {STREET_FORCES[s][0]: STREET_FORCES[s][3] for s in STREET_FORCES}
    for force in crimes:  # every month of 2020 is past mid-2019, the last estimate, and divides by it
        assert table.loc[force, "rate"] == pytest.approx(crimes[force] * 1000 / residents[force], abs=5e-4)
        assert table.loc[force, "months_past_estimate"] == 12
    weighted = sum(crimes.values()) * 1000 / sum(residents.values())
    plain = np.mean([crimes[f] * 1000 / residents[f] for f in crimes])
    assert table["group_average"].iloc[0] == pytest.approx(weighted, abs=5e-4)
    assert table["group_mean"].iloc[0] == pytest.approx(plain, abs=5e-4)
    wmp = crimes["West Midlands Police"] * 1000 / residents["West Midlands Police"]
    rank = 1 + sum(crimes[f] * 1000 / residents[f] > wmp for f in crimes)
    sentence = result.stdout.split("\n- ")[1]
    assert sentence.startswith(
        f"West Midlands Police has the {['', 'highest', 'second highest', 'third highest', 'third lowest'][rank]} "
        "rate of Robbery per 1,000 residents in its Most Similar Group (5 of its 7 peers with data): "
        f"{fmt(wmp)} against a group average of {fmt(weighted)} (the group's crimes per 1,000 of its residents), in "
        "the 12 months to 2020-12; ")
    assert "* up to 12 of the 12 months are past the last population estimate, and divide by it unchanged" \
        in result.stdout
    assert f"{fmt(wmp)}*" in result.stdout
    assert ("note: in West Midlands Police's Most Similar Group but not in the data (or with no population): South "
            "Yorkshire, Leicestershire") in result.stderr
    vintage = ("ONS mid-year estimates 2009-2019 as first published (before ONS revised them to the 2021 Census in "
               "November 2023), 2011 Census households (bundled, see POPULATION.md)")
    assert f"populations: {vintage}\n" in result.stderr
    assert set(table["populations"]) == {vintage}


def fmt(x: float) -> str:
    from forecast.jobs.peers import fmt_rate

    return fmt_rate(x)


def test_the_official_groups_come_from_a_file(six_forces_zip, tmp_path, invoke):
    groups = write(tmp_path / "groups.csv", "force,peer\nWest Midlands,Merseyside\nWest Midlands,Lancashire\n"
                   "Merseyside,West Midlands\n")
    result = invoke("peers", "--data", six_forces_zip, "--home-force", "West Midlands", "--groups", groups,
                    "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "peers.csv")
    assert sorted(table["force"]) == ["Lancashire Constabulary", "Merseyside Police", "West Midlands Police"]
    assert "in its Most Similar Group (all 2 peers with data)" in result.stdout


@pytest.mark.parametrize("text,problem", [
    ("force,peers\nWest Midlands,Merseyside\n", "required column missing: peer (expected force,peer: a row per force "
                                                "and peer); found: force, peers"),
    ("force,peer\nWest Midlands,West Midlands Police\n", "line 2: West Midlands is listed as its own peer"),
    ("force,peer\nWest Midlands,Merseyside\nwest midlands,Merseyside\n",
     "line 3: West Midlands and Merseyside are listed twice"),
])
def test_a_bad_groups_file_is_one_line(six_forces_zip, tmp_path, invoke, text, problem):
    groups = write(tmp_path / "groups.csv", text)
    result = invoke("peers", "--data", six_forces_zip, "--groups", groups, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip() == f"Error: {groups}: {problem}".replace(": line", ", line")


def test_a_gap_that_did_not_move_is_said_to_have_held():
    from forecast.control import xmr as spc
    from forecast.jobs.peers import GAP_SPC, gap_trend

    gap = pd.Series([0.612, 0.608] * 6, index=pd.period_range("2020-01", periods=12, freq="M"))
    result = spc.analyse(gap, "gap", "x", GAP_SPC)
    assert gap_trend(gap, result).startswith("the gap to the group average has held over the last 6 months (61% "
                                             "above it; ")
