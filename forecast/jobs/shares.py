"""Shares of a whole, as a board reads them: each crime type's share of its group (a minor category of its major
one: "Domestic Violence as a proportion of Total Violence with Injury stands at 37%"), or each area's share of the
force's crimes, month by month on a proportion chart (:mod:`forecast.control.proportions`: with counts in the
hundreds the shares are over-dispersed and get Laney's p' chart), and the "normal proportion split" when no share
of a group has a signal.

A group's whole is the sum of its parts in each month, so that its shares add up to 100%. The groups come from
the data where it has them (the bundled ``met-minor-groups.csv``: the Met's minor categories under its major
ones) or from a small file the user gives (``crime_type,group``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from forecast.control.proportions import ProportionResult, analyse_proportion
from forecast.data import ALL_AREAS, ALL_CRIME, Panel
from forecast.errors import SelectionError
from forecast.words import duration

#: the bundled groups of a bundled data set
BUNDLED_GROUPS = {"met-minor": "met-minor-groups.csv"}
#: a step change declared this many months before the latest (or in it) is a signal the board hears of
RECENT = 3
#: parts with no crime in this many latest months are left out (a category the source stopped using)
QUIET = 12


def bundled_groups(name: str) -> dict[str, str]:
    """The crime type -> group mapping bundled for a data set, or {} if it has none."""
    file = BUNDLED_GROUPS.get(name)
    if file is None:
        return {}
    with resources.as_file(resources.files("forecast.io.datasets") / file) as path:
        table = pd.read_csv(path)
    return dict(zip(table["crime_type"], table["group"]))


def read_groups(path: str | Path) -> dict[str, str]:
    """A user's ``crime_type,group`` file (a part may be in one group), validated line by line."""
    from forecast.io.tidy import read_name_columns

    source, (part, group) = read_name_columns(path, ("crime_type", "group"), "crime_type,group")
    twice = part.duplicated().to_numpy()
    if twice.any():
        row = int(twice.nonzero()[0][0])
        raise source.error(row, f"{part.iloc[row]} is in two groups (a part belongs to one)")
    return dict(zip(part, group))


@dataclass(frozen=True)
class Share:
    """One part of one whole: its proportion chart, and what the board says of it."""

    whole: str
    part: str
    result: ProportionResult

    @property
    def latest(self) -> float:
        return float(self.result.points["p"].iloc[-1])

    def signal(self) -> str | None:
        """A step change declared in the last quarter, or the latest month beyond a limit; None when normal."""
        r = self.result
        changes = r.step_changes
        if not changes.empty and changes["detected"].iloc[-1] > r.last_month - RECENT:
            return "step change"
        rule = r.points["rule"].iloc[-1]
        return None if rule == "Common cause" else rule

    def sentence(self) -> str:
        """'Domestic Abuse as a proportion of Violence stands at 37% (2018-12), up from 31% in its previous
        process ...', or its stable average and for how long."""
        r, share = self.result, f"{self.part} as a proportion of {self.whole}"
        month = r.last_month
        changes = r.step_changes
        if self.signal() == "step change":
            c = changes.iloc[-1]
            old, new = pair(c["old_mean"], c["new_mean"])
            return (f"{share} stands at {self.latest:.0%} in {month}; its average is now {new}, "
                    f"{'up' if c['new_mean'] > c['old_mean'] else 'down'} from {old} in its previous process (a "
                    f"significant step change starting {c['month']}, declared in {c['detected']}).")
        if self.signal():
            above = self.signal() == "Above UCL"
            limit = r.points["ucl" if above else "lcl"].iloc[-1]
            where = "above the upper" if above else "below the lower"
            latest, limit, mean = pair(self.latest, limit, r.current["mean"])
            return (f"{share} stands at {latest} in {month}, {where} control limit ({limit}) of its average of "
                    f"{mean}.")
        return (f"{share} stands at {self.latest:.0%} in {month}; its average, {r.current['mean']:.0%}, has been "
                f"stable for {duration(int(r.current['n']))}.")


@dataclass(frozen=True)
class Shares:
    """The shares of every whole: a :class:`Share` per part, the tidy tables and the board's sentences."""

    by: str
    area: str
    shares: tuple[Share, ...]

    @property
    def points(self) -> pd.DataFrame:
        """month, whole, part, part_count, whole_count, share, mean, lcl, ucl, rule: every month of every part."""
        return pd.concat([s.result.points.rename(columns={"numerator": "part_count", "denominator": "whole_count",
                                                          "p": "share"}).assign(whole=s.whole, part=s.part)
                          [["month", "whole", "part", "part_count", "whole_count", "share", "mean", "lcl", "ucl",
                            "rule"]] for s in self.shares], ignore_index=True)

    @property
    def summary(self) -> pd.DataFrame:
        """A row per part: its latest share, its current average, the chart, how long and any signal."""
        return pd.DataFrame([{"whole": s.whole, "part": s.part, "month": str(s.result.last_month),
                              "share": s.latest, "average": float(s.result.current["mean"]),
                              "since": str(s.result.current["start"]),
                              "months_in_process": int(s.result.current["n"]), "chart": s.result.chart,
                              "signal": s.signal() or "", "sentence": s.sentence()} for s in self.shares])

    @property
    def sentences(self) -> list[str]:
        """Per whole: the normal split when no part has a signal, else each signalling part's sentence."""
        out = []
        for whole in dict.fromkeys(s.whole for s in self.shares):
            parts = sorted((s for s in self.shares if s.whole == whole), key=lambda s: -s.latest)
            signalling = [s for s in parts if s.signal()]
            if signalling:
                out += [s.sentence() for s in signalling]
            else:
                out.append(split_sentence(whole, parts))
        return out


def pair(*shares: float) -> list[str]:
    """Shares as whole percentages, or to one decimal where two of them would read the same whole."""
    whole = [f"{x:.0%}" for x in shares]
    return whole if len(set(whole)) == len(whole) else [f"{x:.1%}" for x in shares]


def split_sentence(whole: str, parts: list[Share], top: int = 3) -> str:
    """'In 2018-12 47% of Theft and Handling was Other Theft, 13% Theft From Shops and 12% Theft Person. This is
    the normal proportion split.'"""
    parts = [s for s in parts if s.latest >= 0.005] or parts[:1]
    named = [f"{s.latest:.0%} {s.part}" for s in parts[:top]]
    named[0] = f"{parts[0].latest:.0%} of {whole} was {parts[0].part}"
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + f" and {named[-1]}"
    return f"In {parts[0].result.last_month} {listed}. This is the normal proportion split."


def crime_type_shares(panel: Panel, groups: dict[str, str], area: str = ALL_AREAS) -> Shares:
    """Each crime type's share of its group in ``area`` (the force, summed over its areas, by default)."""
    frame = panel.frame[(panel.frame["crime_type"] != ALL_CRIME) & (panel.frame["area"] != ALL_AREAS)]
    if area != ALL_AREAS:
        frame = frame[frame["area"] == area]
        if frame.empty:
            raise SelectionError(f"area {area!r} is not in {panel.name}")
    counts = frame.pivot_table(index="month", columns="crime_type", values="count", aggfunc="sum", fill_value=0)
    known = [c for c in counts.columns if c in groups]
    if not known:
        raise SelectionError(f"{panel.name}: none of its crime types is in a group (give --groups FILE: "
                             "crime_type,group)")
    shares = []
    for whole in sorted({groups[c] for c in known}):
        parts = [c for c in known if groups[c] == whole]
        block = counts[parts]
        total = block.sum(axis=1)
        block, total = block[total > 0], total[total > 0]
        live = [c for c in parts if block[c].iloc[-QUIET:].sum() > 0]
        if len(live) < 2 or block.empty:
            continue
        months = pd.PeriodIndex(block.index, freq="M")
        for part in live:
            result = analyse_proportion(months, block[part].to_numpy(), total.to_numpy(),
                                        f"{part} as a proportion of {whole}", area)
            shares.append(Share(whole, part, result))
    if not shares:
        raise SelectionError(f"{panel.name}: no group has two crime types with crimes in the last {QUIET} months")
    return Shares("crime type", area, tuple(shares))


def area_shares(panel: Panel, crime: str) -> Shares:
    """Each area's share of the force's ``crime`` (a crime type, or All crime)."""
    frame = panel.frame[(panel.frame["area"] != ALL_AREAS)]
    frame = frame[frame["crime_type"] == crime] if crime != ALL_CRIME else frame[frame["crime_type"] != ALL_CRIME]
    if frame.empty:
        raise SelectionError(f"{crime!r} has no areas in {panel.name}")
    counts = frame.pivot_table(index="month", columns="area", values="count", aggfunc="sum", fill_value=0)
    total = counts.sum(axis=1)
    counts, total = counts[total > 0], total[total > 0]
    months = pd.PeriodIndex(counts.index, freq="M")
    shares = [Share(crime, a, analyse_proportion(months, counts[a].to_numpy(), total.to_numpy(),
                                                 f"{a} as a proportion of {crime}", ALL_AREAS))
              for a in counts.columns if counts[a].iloc[-QUIET:].sum() > 0]
    return Shares("area", ALL_AREAS, tuple(shares))
