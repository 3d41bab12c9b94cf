"""Crime rates per 1,000 residents (or households): a force against its Most Similar Group, and the areas of one
force ranked. Pure functions over the panel and :class:`forecast.io.population.Populations`.

A rate is crimes x 1,000 / the month's residents (see :mod:`forecast.io.population` for how a month's value is had).
An area with no population is left out, with a note; it is never given a rate of 0 or infinity. The group
average is the group's rate as HMICFRS computes a Most Similar Group average: the crimes of every force in the
group with data, the force itself included, per 1,000 of their residents together (a weighted mean, in which a
large force counts for more). The plain mean of the forces' rates is kept beside it as ``group_mean``. The gap is
the force's rate less the group average.

Forces are matched by place, whatever the source calls them: "West Midlands Police" (a street file's "Falls
within"), ``west-midlands`` (its file name) and "West Midlands" (the groups file) are one force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.control import xmr as spc
from forecast.data import ALL_AREAS, Panel, force_of_areas
from forecast.errors import DataError, SelectionError
from forecast.io.population import AFTER, BEFORE, FORCE, HOUSEHOLDS, LOCAL, ONLY, RESIDENTS, Populations
from forecast.rounding import rounded
from forecast.words import plural, possessive

PER = 1000
WINDOW = 12
TREND_MONTHS = 6
GROUPS_FILE = "most-similar-groups.csv"
MSG = "Most Similar Group"
PEER_GROUP = "peer group"
PER_CHOICES = ("auto", RESIDENTS, HOUSEHOLDS)
#: crime types read per 1,000 households when --per is auto: burglary of homes
_DWELLING = re.compile(r"burglary.*(dwelling|residential|home)|(domestic|residential) burglary", re.IGNORECASE)
#: rates and gaps are not counts: no SPC "too few crimes", and a gap may be below zero
RATE_SPC = spc.SPCOptions(min_mean=0.0, decimals=2)
GAP_SPC = spc.SPCOptions(min_mean=0.0, floor_at_zero=False, decimals=2)


def most_similar_groups() -> dict[str, list[str]]:
    """The bundled groups (forecast/io/datasets/POPULATION.md: built from public data, not HMICFRS's list)."""
    with resources.as_file(resources.files("forecast.io.datasets") / GROUPS_FILE) as path:
        table = pd.read_csv(path)
    return {force: list(rows["peer"]) for force, rows in table.groupby("force", sort=False)}


def read_groups(path) -> dict[str, list[str]]:
    """A planner's own groups (the official Home Office / HMICFRS list), tidy ``force,peer``: a row per force and
    peer, as the bundled file has them. Validated: each problem is one :class:`DataError` naming the file and
    line."""
    from forecast.io.population import canonical
    from forecast.io.tidy import read_name_columns

    source, (force, peer) = read_name_columns(path, ("force", "peer"), "force,peer: a row per force and peer")
    same = (force.map(canonical) == peer.map(canonical)).to_numpy()
    if same.any():
        raise source.error(int(same.nonzero()[0][0]), f"{force[same].iloc[0]} is listed as its own peer")
    twice = pd.DataFrame({"f": force.map(canonical), "p": peer.map(canonical)}).duplicated().to_numpy()
    if twice.any():
        row = int(twice.nonzero()[0][0])
        raise source.error(row, f"{force.iloc[row]} and {peer.iloc[row]} are listed twice")
    groups: dict[str, list[str]] = {}
    for f, q in zip(force, peer):
        groups.setdefault(f, []).append(q)
    return groups


def per_of(crime_type: str, per: str = "auto") -> str:
    """Residents or households: ``auto`` reads burglary of homes per household, as boards do, the rest per
    resident."""
    if per not in PER_CHOICES:
        raise ValueError(f"per must be one of {', '.join(PER_CHOICES)}, got {per!r}")
    if per != "auto":
        return per
    return HOUSEHOLDS if _DWELLING.search(crime_type) else RESIDENTS


def force_counts(panel: Panel, populations: Populations) -> pd.DataFrame:
    """Monthly counts per force (``month, crime_type, unit, count``): the areas of each force summed, where the
    panel names forces (street files of several forces, a tidy CSV with a force column); otherwise the areas
    themselves, when at least two of them are forces of ``populations`` (a tidy CSV of force totals; the others are
    then forces without a population, left out by :func:`rates` with a note)."""
    frame = panel.frame[(panel.frame["area"] != ALL_AREAS)]
    forces = force_of_areas(frame)
    if forces.nunique() > 1:
        named = frame.assign(unit=frame["force"].where(frame["force"] != "", frame["area"].map(forces)))
        named = named[named["unit"].notna() & (named["unit"] != "")]
    else:
        matched = populations.match(sorted(frame["area"].unique()), FORCE)
        if len(matched) < 2:
            held = forces.iloc[0] if len(forces) else "one force"
            raise DataError(f"{panel.name}: peers by force needs the counts of several forces, and this panel holds "
                            f"{possessive(held)} areas (a tidy CSV with a force column or one area per force, or street files "
                            "read with --force a,b,c); --by area ranks the areas of one force")
        named = frame.assign(unit=frame["area"])
    return named.groupby(["month", "crime_type", "unit"], as_index=False)["count"].sum()


def area_counts(panel: Panel) -> pd.DataFrame:
    """Monthly counts per area of one force (``month, crime_type, unit, count``), the force total left out."""
    frame = panel.frame[panel.frame["area"] != ALL_AREAS]
    return frame.rename(columns={"area": "unit"})[["month", "crime_type", "unit", "count"]]


def rates(counts: pd.DataFrame, populations: Populations, geography: str, per: str = "auto") \
        -> tuple[pd.DataFrame, list[str]]:
    """Each unit's monthly rate per 1,000 (``month, crime_type, unit, count, per, denominator, estimate, rate``)
    and what the user should hear: units with no population left out, households falling back to residents,
    months past the last estimate."""
    notes: list[str] = []
    parts = []
    matched = populations.match(sorted(counts["unit"].unique()), geography)
    missing = sorted(set(counts["unit"]) - set(matched))
    if missing:
        notes.append(f"no population for {', '.join(missing)} in {populations.source}: left out of the rates")
    for crime_type, rows in counts[counts["unit"].isin(matched)].groupby("crime_type"):
        wanted = per_of(crime_type, per)
        units = sorted(rows["unit"].unique())
        chosen = wanted
        if wanted == HOUSEHOLDS:
            lacking = [u for u in units if not populations.has_households(matched[u], geography)]
            if lacking:
                chosen = RESIDENTS
                notes.append(f"{crime_type}: per 1,000 residents, not households: no household count for "
                             f"{', '.join(lacking)}")
        for unit in units:
            series = rows[rows["unit"] == unit].sort_values("month")
            months = pd.PeriodIndex(series["month"], freq="M")
            denominator = populations.monthly(matched[unit], months, chosen, geography)
            parts.append(pd.DataFrame({
                "month": months, "crime_type": crime_type, "unit": unit,
                "count": series["count"].to_numpy(dtype=float), "per": chosen,
                "denominator": denominator.values.to_numpy(), "estimate": denominator.how.to_numpy(),
                "rate": series["count"].to_numpy(dtype=float) * PER / denominator.values.to_numpy()}))
    if not parts:
        raise DataError(f"no area of the data has a population in {populations.source} (areas: "
                        f"{', '.join(sorted(counts['unit'].unique())[:8])}); give --population FILE")
    frame = pd.concat(parts, ignore_index=True)
    notes += _estimate_notes(frame)
    return frame, notes


def _estimate_notes(frame: pd.DataFrame) -> list[str]:
    """Say where a month's population is not between two estimates."""
    notes = []
    for how, words in ((AFTER, "after the last estimate use the last one"),
                       (BEFORE, "before the first estimate use the first one"),
                       (ONLY, "use the one estimate there is")):
        rows = frame[frame["estimate"] == how]
        if rows.empty:
            continue
        for per, group in rows.groupby("per"):
            months = group["month"]
            notes.append(f"{per}: {plural(months.nunique(), 'month')} ({months.min()} to {months.max()}) {words}"
                         + (" (the 2011 Census count)" if how == ONLY and per == HOUSEHOLDS else ""))
    return notes


def window_rates(monthly: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """Per crime type and unit, over the last ``window`` months all units share: crimes, the mean denominator,
    the rate per 1,000 over the window (crimes x 1,000 / mean denominator), and how many of those months are past
    the last population estimate (which they use unchanged)."""
    rows = []
    for crime_type, group in monthly.groupby("crime_type"):
        common = group.groupby("month")["unit"].nunique()
        months = common[common == group["unit"].nunique()].index
        last = sorted(months)[-window:]
        inside = group[group["month"].isin(last)]
        for unit, u in inside.groupby("unit"):
            rows.append({"crime_type": crime_type, "unit": unit, "first_month": str(min(last)),
                         "last_month": str(max(last)), "months": len(last), "crimes": u["count"].sum(),
                         "per": u["per"].iloc[0], "denominator": u["denominator"].mean(),
                         "rate": u["count"].sum() * PER / u["denominator"].mean(),
                         "months_past_estimate": int((u["estimate"] == AFTER).sum())})
    return pd.DataFrame(rows)


def ranked(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``rank`` per crime type, 1 the highest rate, and ``of`` (how many were ranked)."""
    table = table.copy()
    table["rank"] = table.groupby("crime_type")["rate"].rank(ascending=False, method="min").astype(int)
    table["of"] = table.groupby("crime_type")["rate"].transform("size").astype(int)
    return table.sort_values(["crime_type", "rank", "unit"]).reset_index(drop=True)


def rank_words(rank: int, of: int) -> str:
    """'the highest', 'the second lowest', 'the 3rd highest of 8'."""
    ordinal = {1: "", 2: "second ", 3: "third "}
    from_low = of - rank + 1
    if rank <= 3 and rank <= from_low:
        return f"the {ordinal[rank]}highest"
    if from_low <= 3:
        return f"the {ordinal[from_low]}lowest"
    return f"the {rank}th highest of {of}"


def fmt_rate(x: float) -> str:
    """A rate as the board reads it: two decimals under 10 (a monthly 0.85), one above (a yearly 12.4)."""
    return "n/a" if not np.isfinite(x) else (f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}")


@dataclass(frozen=True)
class PeerComparison:
    """One crime type: the force, its group, their rates and what the board says about them."""

    crime_type: str
    home: str
    group_name: str
    per: str
    #: month, unit, count, per, denominator, estimate, rate, group_average, gap (the force's rows only)
    monthly: pd.DataFrame
    #: the window's rates, ranked, with group_average and gap
    table: pd.DataFrame
    rate_spc: spc.SPCResult
    gap_spc: spc.SPCResult
    sentences: tuple[str, ...]
    #: forces of the group not in the data
    absent: tuple[str, ...]


def compare(monthly: pd.DataFrame, home: str, group: Sequence[str], group_name: str = MSG,
            window: int = WINDOW) -> PeerComparison:
    """The force ``home`` against the forces of ``group`` on one crime type's monthly rates (:func:`rates`)."""
    crime_type = monthly["crime_type"].iloc[0]
    units = set(monthly["unit"])
    if home not in units:
        raise SelectionError(f"{crime_type}: {home} has no rate (not in the data, or no population)")
    present = [g for g in group if g in units and g != home]
    absent = tuple(g for g in group if g not in units and g != home)
    if not present:
        raise SelectionError(f"{crime_type}: none of {possessive(home)} {group_name} ({', '.join(group)}) is in the "
                             "data")
    rows = monthly[monthly["unit"].isin([home, *present])]
    wide = rows.pivot(index="month", columns="unit", values="rate").dropna()
    if wide.empty:
        raise SelectionError(f"{crime_type}: {home} and its group share no month")
    rows = rows[rows["month"].isin(wide.index)].copy()
    together = rows.groupby("month")[["count", "denominator"]].sum()
    average = together["count"] * PER / together["denominator"]
    gap = wide[home] - average
    rows["group_average"] = rows["month"].map(average)
    rows["group_mean"] = rows["month"].map(wide.mean(axis=1))
    rows["gap"] = np.where(rows["unit"] == home, rows["rate"] - rows["group_average"], np.nan)
    table = ranked(window_rates(rows, window))
    table["group_average"] = overall(table)
    table["group_mean"] = table["rate"].mean()
    table["gap"] = table["rate"] - table["group_average"]
    table["peers_with_data"] = len(present)
    table["peers_in_group"] = len(present) + len(absent)
    per = rows["per"].iloc[0]
    index = pd.PeriodIndex(wide.index, freq="M")
    label = f"{crime_type} per 1,000 {per}"
    rate_spc = spc.analyse(pd.Series(wide[home].to_numpy(), index), label, home, RATE_SPC)
    gap_spc = spc.analyse(pd.Series(gap.to_numpy(), index), f"The gap to the {group_name} average in {label}",
                          home, GAP_SPC)
    sentences = peer_sentences(table, home, group_name, gap / average, gap_spc, rate_spc)
    return PeerComparison(crime_type, home, group_name, per, rows.reset_index(drop=True), table, rate_spc, gap_spc,
                          sentences, absent)


def peer_sentences(table: pd.DataFrame, home: str, group_name: str, relative_gap: pd.Series,
                   gap_spc: spc.SPCResult, rate_spc: spc.SPCResult) -> tuple[str, ...]:
    """The board's sentences: the force's rank in its group over the window, among the forces with data, against
    the group's rate (its crimes per 1,000 of its residents together), the gap's trend over the last 6 months (as
    a share of the group average, with the SPC evidence of the gap itself), and the SPC of the force's own rate."""
    me = table[table["unit"] == home].iloc[0]
    per = me["per"]
    with_data, in_group = int(me["peers_with_data"]), int(me["peers_in_group"])
    if with_data < in_group:
        among = f"{with_data} of its {in_group} peers with data"
    else:
        among = f"all {in_group} peers with data" if in_group > 1 else "its one peer, with data"
    first = (f"{home} has {rank_words(int(me['rank']), int(me['of']))} rate of {me['crime_type']} per 1,000 {per} "
             f"in its {group_name} ({among}): {fmt_rate(me['rate'])} against a group average of "
             f"{fmt_rate(me['group_average'])} (the group's crimes per 1,000 of its {per}), in the "
             f"{plural(int(me['months']), 'month')} to {me['last_month']}")
    return (f"{first}; {gap_trend(relative_gap, gap_spc)}.", rate_spc.sentences[0])


def gap_trend(gap: pd.Series, gap_spc: spc.SPCResult, months: int = TREND_MONTHS) -> str:
    """How the gap to the group average (``gap``: as a share of the average) moved over the last ``months``
    months against the ``months`` before: widened or narrowed, and whether SPC sees more than common-cause
    variation in the gap."""
    if len(gap) < 2 * months:
        return f"the gap to the group average cannot be traced yet ({plural(len(gap), 'month')} of data)"
    before, now = gap.iloc[-2 * months:-months].mean(), gap.iloc[-months:].mean()
    side = "above" if now > 0 else "below"
    detail = f"from {abs(before):.0%} to {abs(now):.0%} {side} it"
    if np.sign(before) != np.sign(now) and before != 0:
        moved = f"has moved from {'above' if before > 0 else 'below'} to {side} the group average"
    elif f"{abs(before):.0%}" == f"{abs(now):.0%}":
        moved = f"the gap to the group average has held over the last {months} months"
        detail = f"{abs(now):.0%} {side} it"
    else:
        moved = (f"the gap to the group average has {'widened' if abs(now) > abs(before) else 'narrowed'} over the "
                 f"last {months} months")
    changes = gap_spc.step_changes
    last_month = gap_spc.last_month
    recent = changes[changes["detected"] > last_month - months] if not changes.empty else changes
    if not recent.empty:
        change = recent.iloc[-1]
        evidence = (f"a significant step change {change['direction']}, starting {change['month']} and declared in "
                    f"{change['detected']}")
    elif gap_spc.status.startswith(("above UCL", "below LCL")):
        evidence = f"SPC: {gap_spc.status}"
    else:
        evidence = "within common-cause variation"
    return f"{moved} ({detail}; {evidence})"


def area_sentences(table: pd.DataFrame, top: int = 3) -> list[str]:
    """Per crime type: the areas with the highest rates (up to ``top``, never the lowest too), the lowest, and the
    areas' rate together; one area is just named with its rate."""
    out = []
    for crime_type, rows in table.groupby("crime_type"):
        rows = rows.sort_values("rank")
        per = rows["per"].iloc[0]
        start = (f"{crime_type} per 1,000 {per} in the {plural(int(rows['months'].iloc[0]), 'month')} to "
                 f"{rows['last_month'].iloc[0]}")
        if len(rows) == 1:
            out.append(f"{start}: {rows['unit'].iloc[0]} {fmt_rate(rows['rate'].iloc[0])}.")
            continue
        named = [f"{r.unit} ({fmt_rate(r.rate)})" for r in rows.head(min(top, len(rows) - 1)).itertuples()]
        lowest = rows.iloc[-1]
        out.append(f"{start}: highest in {', '.join(named)}; lowest in {lowest['unit']} "
                   f"({fmt_rate(lowest['rate'])}); the {len(rows)} areas together {fmt_rate(overall(rows))}.")
    return out


def overall(rows: pd.DataFrame) -> float:
    """The rate of the ranked areas together: their crimes over their summed denominators."""
    return rows["crimes"].sum() * PER / rows["denominator"].sum()


def group_of(home: str, groups: Mapping[str, Sequence[str]], peers: Sequence[str] | None,
             names: Sequence[str], source: str = "bundled") -> tuple[list[str], str]:
    """The group to compare ``home`` with: ``peers`` if given (matched to ``names``), else its group in ``groups``
    (bundled, or the user's file: ``source``). Forces are matched by place (:func:`forecast.io.population.canonical`),
    and each member is named as the data names it; members the data lacks keep the group's name."""
    from forecast.io.population import canonical

    by_name = {canonical(n): n for n in names}
    if peers:
        unknown = [p for p in peers if canonical(p) not in by_name]
        if unknown:
            raise SelectionError(f"--peers: {', '.join(unknown)} not in the data (forces: {', '.join(names)})")
        return [by_name[canonical(p)] for p in peers], PEER_GROUP
    keyed = {canonical(force): members for force, members in groups.items()}
    if canonical(home) not in keyed:
        if source == "bundled":
            raise SelectionError(f"{home} has no bundled {MSG} (the City of London and Welsh forces have none); "
                                 "name its peers with --peers a,b,c or give your groups with --groups CSV")
        raise SelectionError(f"{home} has no group in {source} (forces there: {', '.join(list(groups)[:8])}"
                             f"{', ...' if len(groups) > 8 else ''})")
    return [by_name.get(canonical(m), m) for m in keyed[canonical(home)]], MSG


def area_rates(panel: Panel, populations: Populations, per: str = "auto", window: int = WINDOW) \
        -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Rates by area within one force: monthly, the window's table ranked (1 the highest rate), and notes."""
    monthly, notes = rates(area_counts(panel), populations, LOCAL, per)
    return monthly, ranked(window_rates(monthly, window)), notes


#: decimals per column of the published tables: rates as the board reads them, populations and crimes whole
DECIMALS = {"rate": 3, "group_average": 3, "group_mean": 3, "gap": 3, "denominator": 0, "crimes": 0, "count": 0}


def rounded_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each number rounded to what its column means (:data:`DECIMALS`, then the run's rules)."""
    return rounded(frame, DECIMALS)


def force_tables(comparisons: Sequence[PeerComparison]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the window's table, the monthly rates) of every comparison, a force per row."""
    table = pd.concat([c.table.assign(group=c.group_name, home=c.home) for c in comparisons], ignore_index=True)
    monthly = pd.concat([c.monthly for c in comparisons], ignore_index=True)
    return (rounded_rates(table.rename(columns={"unit": "force"})),
            rounded_rates(monthly.rename(columns={"unit": "force"}).astype({"month": str})))


@dataclass(frozen=True)
class PeerReport:
    """One `forecast peers`: by force (``comparisons``, one per crime type) or by area (``table`` ranked per crime
    type), with the board's sentences and tidy tables rounded as published."""

    by: str
    name: str
    title: str
    data: str
    source: str
    populations: str
    sentences: tuple[str, ...]
    #: the window's rates, ranked (a force or an area per row)
    table: pd.DataFrame
    #: the monthly rates behind it
    monthly: pd.DataFrame
    unit: str
    window: int
    notes: tuple[str, ...] = ()
    home: str | None = None
    comparisons: tuple[PeerComparison, ...] = ()
    #: by area: the unrounded table, for the charts' overall rate
    area_table: pd.DataFrame | None = field(default=None, repr=False)
    #: how the home force was chosen when it was not named
    chosen: str = ""
    #: what the population reader noticed (estimates carried past their year, areas without a population)
    population_notes: tuple[str, ...] = ()

    @property
    def manifest(self) -> dict:
        return {"data": self.source, "populations": self.populations, "by": self.by, "home": self.home,
                "window": self.window}


def compare_forces(panel: Panel, populations: Populations, home: str | None = None,
                   peer_names: Sequence[str] | None = None, per: str = "auto", window: int = WINDOW,
                   groups: str | None = None) -> PeerReport:
    """Each crime type of ``panel``: the force ``home`` (default the first, A-Z) against its Most Similar Group
    (bundled, or from the ``groups`` file, or ``peer_names``), per 1,000 residents or households."""
    counts = force_counts(panel, populations)
    monthly, notes = rates(counts, populations, FORCE, per)
    names = sorted(monthly["unit"].unique())
    home, chosen = home_force(home, names)
    group, group_name = group_of(home, read_groups(groups) if groups else most_similar_groups(), peer_names, names,
                                 str(groups) if groups else "bundled")
    comparisons = []
    for crime_type, rows in monthly.groupby("crime_type"):
        try:
            comparisons.append(compare(rows, home, group, group_name, window))
        except SelectionError as exc:
            notes.append(str(exc))
    if not comparisons:
        raise SelectionError(notes[-1] if notes else f"no crime type to compare {home} on")
    absent = comparisons[0].absent
    if absent:
        notes.append(f"in {possessive(home)} {group_name} but not in the data (or with no population): "
                     f"{', '.join(absent)}")
    table, rates_frame = force_tables(comparisons)
    table["populations"] = populations.source
    from forecast.data import slug

    return PeerReport("force", f"peers-{slug(home)}", f"{home} against its {group_name}: crime per 1,000", panel.name,
                      panel.source, populations.source, tuple(s for c in comparisons for s in c.sentences), table,
                      rates_frame, "force", window, tuple(notes), home, tuple(comparisons), chosen=chosen)


def rank_areas(panel: Panel, populations: Populations, per: str = "auto", window: int = WINDOW) -> PeerReport:
    """The areas of one force ranked by their rates per 1,000 over the last ``window`` months."""
    monthly, table, notes = area_rates(panel, populations, per, window)
    named = force_of_areas(panel.frame).unique()
    force = named[0] if len(named) == 1 else panel.name
    published = rounded_rates(table.rename(columns={"unit": "area"})).assign(populations=populations.source)
    return PeerReport("area", "peers-by-area", f"{force}: crime per 1,000 by area", panel.name, panel.source,
                      populations.source, tuple(area_sentences(published.rename(columns={"area": "unit"}))),
                      published, rounded_rates(monthly.rename(columns={"unit": "area"}).astype({"month": str})),
                      "area", window, tuple(notes), area_table=table)


def home_force(home: str | None, names: list[str]) -> tuple[str, str]:
    """The force the board is about: ``home`` matched to the data's forces, else the first force (and a line
    saying so)."""
    from forecast.io.population import canonical

    if not home:
        return names[0], f"comparing {names[0]} (the first force; choose with --home-force)"
    by_name = {canonical(n): n for n in names}
    if canonical(home) not in by_name:
        raise SelectionError(f"--home-force {home!r}: not a force of the data ({', '.join(names)})")
    return by_name[canonical(home)], ""
