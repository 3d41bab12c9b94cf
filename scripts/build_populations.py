"""Rebuild forecast/io/datasets/populations.csv.gz and most-similar-groups.csv from public data files.

Run from the repository root:
``python scripts/build_populations.py BRITISH_DRUG_DYNAMICS RESISTANCE_LAB ENERGY_FLEX``, each the root of a
checkout (or ``git worktree``) of the repository at the commit named in forecast/io/datasets/POPULATION.md. The
package never reads them at run time; this script is how its compact copies were made, and what it changed.
"""

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "forecast" / "datasets"
FORCE, LA = "police force area", "local authority"
PEERS = 7
#: forces whose area is (mostly) a metropolitan county of the Local Government Act 1972, or Greater London:
#: the stand-in for population density, which no public file here gives per force
METROPOLITAN = ("Greater Manchester", "Merseyside", "Metropolitan Police", "Northumbria", "South Yorkshire",
                "West Midlands", "West Yorkshire")

#: the Resistance Lab lookup's police force names -> the population file's
FORCE_NAMES = {"Avon & Somerset": "Avon and Somerset", "Devon & Cornwall": "Devon and Cornwall",
               "Metropolitan": "Metropolitan Police"}


def force_table(drug: Path) -> pd.DataFrame:
    """Mid-year residents per English police force area, 2009-2019, with the source's Metropolitan Police
    corrected: it subtracts Hackney instead of adding it (8,204,407 London residents in mid-2011 less 7,412 in
    the City are 8,196,995 in the Met; the source has 7,702,631)."""
    pf = pd.read_csv(drug / "data/demographic/population_policeforces.csv").set_index("year")
    la = pd.read_csv(drug / "data/demographic/population_la.csv").set_index("year")
    hackney = la["City of London and Hackney"] - pf["City of London"]
    wrong = pf["Metropolitan Police"].copy()
    pf["Metropolitan Police"] = wrong + 2 * hackney
    assert pf.loc[2011, "Metropolitan Police"] == 8_196_995, pf.loc[2011, "Metropolitan Police"]
    long = pf.reset_index().melt(id_vars="year", var_name="area", value_name="population")
    return long.assign(geography=FORCE)


def la_table(drug: Path) -> pd.DataFrame:
    """Mid-year residents per local authority (the source's 137 areas, some merged), with the source's merged
    "City of London and Hackney" split into its two parts (the City's own figure is in the force file)."""
    pf = pd.read_csv(drug / "data/demographic/population_policeforces.csv").set_index("year")
    la = pd.read_csv(drug / "data/demographic/population_la.csv").set_index("year").copy()
    parts = {"Hackney": la.pop("City of London and Hackney") - pf["City of London"],
             "City of London": pf["City of London"]}
    long = pd.concat([la, pd.DataFrame(parts)], axis=1).reset_index().melt(id_vars="year", var_name="area", value_name="population")
    return long.assign(geography=LA)


def households_2011(lab: Path, energy: Path) -> tuple[pd.Series, pd.Series]:
    """Households (2011 Census, QS405EW: all households) per local authority district and per police force area
    (districts summed by the ONS 2016 district -> force lookup that Resistance Lab joined to the Census)."""
    tenure = pd.read_csv(energy / "02-EnergyModel/Energy_Intensity_Analysis/data/census/tenure-households-lad.csv")
    per_lad = tenure.set_index("geography")["Tenure: All categories: Tenure; measures: Value"]
    lookup = pd.read_csv(lab / "analysis/0002-demographics-by-police-force-area/"
                         "local-authorities-demographics-with-police-force.csv")
    forces = lookup.set_index("geography")["PFA16NM"].replace(FORCE_NAMES)
    joined = pd.DataFrame({"households": per_lad}).join(forces.rename("force"), how="inner")
    return per_lad, joined.groupby("force")["households"].sum()


#: local authorities of the population file made of several districts of the Census file
MERGED = {"Merton and Sutton": ["Merton", "Sutton"], "Leicestershire and Rutland": None,
          "North Yorkshire and York": None, "Halton and St. Helens": ["Halton", "St. Helens"],
          "Tameside and Glossop": None, "East Berkshire": ["Bracknell Forest", "Slough", "Windsor and Maidenhead"],
          "Cornwall and Isles of Scilly": ["Cornwall", "Isles of Scilly"], "Bournemouth and Poole": None}


def with_households(table: pd.DataFrame, per_area: pd.Series) -> pd.DataFrame:
    """2011 households on the 2011 rows of the areas the Census file names (or whose named parts it names)."""
    def households(area: str) -> float:
        parts = MERGED.get(area, [area])
        if parts is None or any(p not in per_area.index for p in parts):
            return np.nan
        return float(per_area[parts].sum())
    table = table.copy()
    table["households"] = np.where(table["year"] == 2011, table["area"].map(households), np.nan)
    return table


def most_similar_groups(drug: Path, lab: Path, populations: pd.DataFrame) -> pd.DataFrame:
    """Each English force's 7 nearest forces on five standardised public measures (log residents 2019, residents
    per household 2011, share of residents not White 2011, mean IMD 2019 score, and whether the area is a
    metropolitan county): a stand-in for HMICFRS's Most
    Similar Groups, whose list is not published as data. The City of London (under 10,000 residents) gets none
    and is no one's peer."""
    forces = populations[populations["geography"] == FORCE]
    residents = forces[forces["year"] == 2019].set_index("area")["population"]
    census = forces[forces["year"] == 2011].set_index("area")
    per_household = census["population"] / census["households"]
    eth = pd.read_csv(lab / "analysis/0002-demographics-by-police-force-area/force-demographics.csv")
    eth["PFA16NM"] = eth["PFA16NM"].replace(FORCE_NAMES)
    eth = eth.set_index("PFA16NM")
    not_white = 1 - eth["Ethnic Group: White; measures: Value"] / eth[
        "Ethnic Group: All categories: Ethnic group; measures: Value"]
    imd = pd.read_csv(drug / "data/deprivation/deprivation_score_policeforces.csv").set_index("year").loc[2019]
    features = pd.DataFrame({"log_residents": np.log(residents), "per_household": per_household,
                             "not_white": not_white, "imd": imd,
                             "metropolitan": pd.Series(residents.index.isin(METROPOLITAN).astype(float), residents.index)}).drop(index="City of London").dropna()
    z = (features - features.mean()) / features.std()
    distance = pd.DataFrame(np.sqrt(((z.to_numpy()[:, None] - z.to_numpy()[None]) ** 2).sum(-1)),
                            index=z.index, columns=z.index)
    rows = []
    for force in distance.index:
        nearest = distance[force].drop(force).nsmallest(PEERS)
        rows += [{"force": force, "peer": peer, "distance": round(d, 3)} for peer, d in nearest.items()]
    return pd.DataFrame(rows)


def main(drug: Path, lab: Path, energy: Path) -> None:
    per_lad, per_force = households_2011(lab, energy)
    forces = with_households(force_table(drug), per_force)
    las = with_households(la_table(drug), per_lad)
    table = pd.concat([forces, las], ignore_index=True)[["year", "geography", "area", "population", "households"]]
    table = table.sort_values(["geography", "area", "year"])
    missing = sorted(set(forces["area"]) - set(per_force.index))
    assert not missing, missing
    with gzip.open(OUT / "populations.csv.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        table.to_csv(fh, index=False, float_format="%.0f")
    groups = most_similar_groups(drug, lab, table)
    groups.to_csv(OUT / "most-similar-groups.csv", index=False)
    no_households = sorted(las.loc[(las["year"] == 2011) & las["households"].isna(), "area"])
    print(f"populations: {len(table)} rows; local authorities without households: {', '.join(no_households)}")
    print(groups[groups["force"] == "West Midlands"].to_string(index=False))


if __name__ == "__main__":
    main(*(Path(p) for p in sys.argv[1:4]))
