"""What a total is made of, and what drove its change, as a board reads it: "The top 5 offences contributing to TRC
in October were ...", "50% of TRC in October was recorded on these 4 LPUs", "S20/47, TSS and Common Assault have
driven the increases", "LPUs also seeing this significant step change reduction are: Birmingham East: down 25%".

Pure functions over the panel and the SPC results (:mod:`forecast.control.xmr`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecast.control import xmr as spc
from forecast.control.since import since_sentences
from forecast.data import ALL_AREAS, ALL_CRIME, Panel
from forecast.errors import SelectionError

TOP = 5
HALF = 0.5
#: an area's step change "shares" the force's when declared this many months either side of it, the same way
ALONGSIDE = 3
#: the signals whose drivers are found: a step change, and the latest months on or beyond a control limit
STEP, BEYOND = "step change", "beyond limits"
#: a board pack's drivers table (:meth:`Drivers.frame`)
DRIVER_COLUMNS = ["measure", "signal", "direction", "before_from", "before_to", "signal_from", "signal_to", "part",
                  "before", "during", "change", "share_of_change"]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def pareto(panel: Panel, by: str = "crime_type", crime: str = ALL_CRIME, area: str = ALL_AREAS,
           month: pd.Period | None = None) -> pd.DataFrame:
    """One month's contributions to a total, largest first: ``part, count, share, cumulative`` (a Pareto table).
    ``by='crime_type'``: the crime types of ``area`` (the force by default) making up All crime; ``by='area'``: the
    areas making up ``crime`` (All crime: every crime type)."""
    frame = panel.frame[(panel.frame["area"] != ALL_AREAS) & (panel.frame["crime_type"] != ALL_CRIME)]
    month = month or frame["month"].max()
    frame = frame[frame["month"] == month]
    if by == "crime_type":
        frame = frame if area == ALL_AREAS else frame[frame["area"] == area]
    elif by == "area":
        frame = frame if crime == ALL_CRIME else frame[frame["crime_type"] == crime]
    else:
        raise ValueError(f"by must be 'crime_type' or 'area', got {by!r}")
    if frame.empty or frame["count"].sum() <= 0:
        raise SelectionError(f"no crimes in {month} to split")
    counts = frame.groupby(by)["count"].sum().sort_values(ascending=False, kind="stable")
    table = pd.DataFrame({"part": counts.index, "count": counts.to_numpy()})
    table["share"] = table["count"] / table["count"].sum()
    table["cumulative"] = table["share"].cumsum()
    return table.assign(month=str(month))


def top_sentence(table: pd.DataFrame, whole: str, parts: str = "crime types", top: int = TOP) -> str:
    """'The top 5 crime types contributing to All crime in 2018-12 were A (1,234, 12%), ...: together 55% of it.'"""
    head = table.head(top)
    named = [f"{r.part} ({r.count:,.0f}, {r.share:.0%})" for r in head.itertuples()]
    return (f"The top {len(head)} {parts} contributing to {whole} in {table['month'].iloc[0]} were {_join(named)}: "
            f"together {head['share'].sum():.0%} of it.")


def half_sentence(table: pd.DataFrame, whole: str, share: float = HALF) -> str:
    """'50% of All crime in 2018-12 was recorded in these 6 areas: A, B, ...' (the fewest areas holding half)."""
    k = int((table["cumulative"] < share).sum()) + 1
    held = table["share"].iloc[:k].sum()
    return (f"{held:.0%} of {whole} in {table['month'].iloc[0]} was recorded in these {k} of {len(table)} areas: "
            f"{_join(list(table['part'].iloc[:k]))}.")


@dataclass(frozen=True)
class Drivers:
    """What drove a signal in a total: each part's change over the signal's months against its own average
    before them, ranked, with the share of the total's change it explains."""

    measure: str
    direction: str
    #: the signal's first and last month
    months: tuple[str, str]
    #: part, before, during, change, share_of_change
    table: pd.DataFrame
    total_change: float
    #: "step change" (the new process against the previous one), or "beyond limits" (the latest months on or
    #: beyond a control limit against the earlier months of their process)
    signal: str = STEP
    #: the months before the signal that ``before`` averages
    before: tuple[str, str] = ("", "")

    def sentence(self, top: int = 3) -> str:
        """'Robbery (force total): the increase since 2018-05 (+311 a month against the months before) was driven
        by Westminster (+118, 38% of it), ...'; for months beyond a limit, 'Sandwell: the increases of the last
        5 months (...) were driven by ...'."""
        movers = self.table[self.table["change"] * (1 if self.direction == "up" else -1) > 0].head(top)
        # a part can move by more than the whole net change when others moved the other way
        named = [f"{r.part} ({r.change:+,.0f}, " + (f"{r.share_of_change:.0%} of it)" if r.share_of_change <= 1 else
                                                    "more than the whole net change)") for r in movers.itertuples()]
        if self.signal == BEYOND:
            k = (pd.Period(self.months[1], "M") - pd.Period(self.months[0], "M")).n + 1
            word = "increases" if self.direction == "up" else "reductions"
            return (f"{self.measure}: the {word} of the last {k} months ({self.total_change:+,.0f} a month against "
                    f"the earlier months of its process) were driven by {_join(named)}.")
        word = "increase" if self.direction == "up" else "reduction"
        return (f"{self.measure}: the {word} since {self.months[0]} "
                f"({self.total_change:+,.0f} a month against the months before) was driven by {_join(named)}.")

    def frame(self) -> pd.DataFrame:
        """The table with the series, the signal and its months: one tidy block of a board pack's drivers."""
        return self.table.assign(measure=self.measure, signal=self.signal, direction=self.direction,
                                 before_from=self.before[0], before_to=self.before[1], signal_from=self.months[0],
                                 signal_to=self.months[1])[DRIVER_COLUMNS]


def drivers(panel: Panel, result: spc.SPCResult, by: str) -> Drivers | None:
    """The parts behind ``result``'s latest step change (its total: a crime type in All areas, by ``area``; or All
    crime in an area, by ``crime_type``): each part's mean over the new process's months less its mean over the
    previous process's months, for the parts recorded from the previous process's start. None when the series
    has no step change."""
    if result.latest_step_change() is None:
        return None
    new, old = result.processes.iloc[-1], result.processes.iloc[-2]
    return _driven(panel, result, by, (old["start"], old["end"]), (new["start"], new["end"]), STEP)


def spell_drivers(panel: Panel, result: spc.SPCResult, by: str) -> Drivers | None:
    """The parts behind ``result``'s latest months on or beyond a control limit (two or more, as the board says
    them): each part's mean over those months less its mean over the earlier months of the same process. None
    without such a spell, or when the spell is the whole process."""
    points = result.points
    k = max(spc.months_beyond(points, sign) for sign in (1, -1))
    start = result.processes.iloc[-1]["start"]
    months = points["month"]
    if k < 2 or months.iloc[-k - 1] < start:
        return None
    return _driven(panel, result, by, (start, months.iloc[-k - 1]), (months.iloc[-k], months.iloc[-1]), BEYOND)


def _driven(panel: Panel, result: spc.SPCResult, by: str, before: tuple, during: tuple, signal: str) -> Drivers:
    frame = panel.frame[(panel.frame["area"] != ALL_AREAS) & (panel.frame["crime_type"] != ALL_CRIME)]
    if by == "area":
        frame = frame[frame["crime_type"] == result.crime_type] if result.crime_type != ALL_CRIME else frame
    else:
        frame = frame[frame["area"] == result.area] if result.area != ALL_AREAS else frame
    # a part recorded only from a later month (a new area, a new category) has no "before" to compare with
    first = frame.groupby(by)["month"].min()
    frame = frame[frame[by].isin(first[first <= before[0]].index)]
    wide = frame.pivot_table(index="month", columns=by, values="count", aggfunc="sum", fill_value=0)
    was = wide.loc[before[0]:before[1]].mean()
    now = wide.loc[during[0]:during[1]].mean()
    table = pd.DataFrame({"part": wide.columns, "before": was.to_numpy(), "during": now.to_numpy()})
    table["change"] = table["during"] - table["before"]
    total = float(table["change"].sum())
    table["share_of_change"] = table["change"] / total if total else float("nan")
    table = table.sort_values("change", ascending=total < 0, kind="stable").reset_index(drop=True)
    return Drivers(result.measure, "up" if total >= 0 else "down", (str(during[0]), str(during[1])), table, total,
                   signal, (str(before[0]), str(before[1])))


def alongside(force: spc.SPCResult, areas: list[spc.SPCResult], months: int = ALONGSIDE) -> str | None:
    """'Areas also seeing this significant step change reduction: Brent: down 25%, ...': the areas whose own latest
    step change goes the force's way, declared within ``months`` of the force's; None when there are none."""
    change = force.latest_step_change()
    if change is None:
        return None
    found = []
    for r in areas:
        own = r.latest_step_change()
        if own is not None and own["direction"] == change["direction"] and \
                abs((own["detected"] - change["detected"]).n) <= months:
            found.append((r.area, own["pct_change"]))
    if not found:
        return None
    word = "increase" if change["direction"] == "up" else "reduction"
    listed = [f"{a}: {'up' if pct > 0 else 'down'} {abs(pct):.0f}%" for a, pct in
              sorted(found, key=lambda x: -abs(x[1]))]
    return f"Areas also seeing this significant step change {word}: {', '.join(listed)}."


@dataclass(frozen=True)
class Contributions:
    """One month's Pareto tables, and the drivers of the force totals that made a step change this quarter."""

    month: str
    #: the crime types making up All crime in the force (Pareto)
    crime_types: pd.DataFrame
    #: the areas making up ``crime`` (Pareto)
    areas: pd.DataFrame
    crime: str
    drivers: tuple[Drivers, ...]
    sentences: tuple[str, ...]


def contributions(panel: Panel, results: dict, crime: str = ALL_CRIME, recent: int = 3) -> Contributions:
    """The board's contribution sentences for the latest month: the top crime types of All crime, the areas
    holding half of ``crime``, and, for each force total whose latest step change was declared in the last
    ``recent`` months (and for ``crime``'s whatever its age), what drove it and which areas share it; for
    ``crime``'s, also how long since (:func:`forecast.control.since.since_sentences`). ``results``:
    the SPC results of the panel with its totals, keyed by (crime type, area)."""
    types = pareto(panel, "crime_type")
    areas = pareto(panel, "area", crime=crime)
    said = [top_sentence(types, f"{ALL_CRIME} in the force"), half_sentence(areas, crime)]
    found = []
    last = panel.frame["month"].max()
    for crime_type in [crime] + [c for c in panel.crime_types if c != crime]:
        total = results.get((crime_type, ALL_AREAS))
        change = total.latest_step_change() if total is not None else None
        if change is None or (crime_type != crime and change["detected"] <= last - recent):
            continue
        d = drivers(panel, total, "area")
        found.append(d)
        said.append(d.sentence())
        also = alongside(total, [r for (c, a), r in results.items() if c == crime_type and a != ALL_AREAS])
        if also:
            said.append(also)
        if crime_type == crime:
            said += since_sentences(total)
    return Contributions(str(last), types, areas, crime, tuple(found), tuple(said))
