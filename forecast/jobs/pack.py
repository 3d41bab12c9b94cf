"""The board pack of one month: what the total is made of, the shares of each group, and every signalling
series with what drove it, in the order a force's board paper reads them.

1. Headlines: the top crime types contributing to All crime, and the fewest areas holding half of it.
2. Shares: each group's split ("This is the normal proportion split") or the share with a signal.
3. Signals and what drove them: each force total (by area) and each area's All crime (by crime type) with a step
   change declared this quarter or its latest months on or beyond a control limit: the board's sentence, the
   parts that drove it (:func:`forecast.jobs.contributions.drivers`, :func:`~forecast.jobs.contributions.spell_drivers`)
   and, for a force total's step change, the areas sharing it.

Pure functions over a panel with its totals and the SPC results of its series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from forecast.control import xmr as spc
from forecast.data import ALL_AREAS, ALL_CRIME, Panel
from forecast.jobs import board
from forecast.jobs.contributions import (DRIVER_COLUMNS, STEP, Drivers, alongside, drivers, half_sentence, pareto,
                                         spell_drivers, top_sentence)

HEADLINES, SHARES, SIGNALS = "headlines", "shares", "signals and what drove them"
SECTIONS = (HEADLINES, SHARES, SIGNALS)
SENTENCE_COLUMNS = ["section", "crime_type", "area", "sentence"]


@dataclass(frozen=True)
class BoardPack:
    """A month's board pack as tidy frames: ``sentences`` (section, crime_type, area, sentence) in the paper's
    order, ``contributors`` (the Pareto tables of crime types and areas), ``shares`` (each part's share, its
    process average and signal) and ``drivers`` (every signalling series' parts, ranked)."""

    month: str
    sentences: pd.DataFrame
    contributors: pd.DataFrame
    shares: pd.DataFrame
    drivers: pd.DataFrame

    def text(self) -> str:
        """The pack as the board reads it: each section's sentences under its heading."""
        lines = [f"Board pack, {self.month}"]
        for section in SECTIONS:
            said = self.sentences.loc[self.sentences["section"] == section, "sentence"]
            if len(said):
                lines += ["", section[0].upper() + section[1:], *(f"- {s}" for s in said)]
        return "\n".join(lines) + "\n"


def signalling(result: spc.SPCResult, attention: board.Attention, month: pd.Period) -> bool:
    """Whether the board reports a series' signal with what drove it: recorded to ``month``, with a step change
    declared this quarter or its latest two months or more on or beyond a control limit ("significant increases
    in the last 5 months"; a single month is a point, not a spell). ``attention``: the series' rank for the board
    (:func:`forecast.jobs.board.attention`)."""
    return result.last_month == month and (attention.rank == board.STEP_CHANGE or (
        attention.rank == board.BEYOND_LIMITS and board.months_beyond_limits(result) >= 2))


def signal_drivers(panel: Panel, result: spc.SPCResult, attention: board.Attention, by: str) -> Drivers | None:
    """The drivers of the signal the board reports first for ``result``: its step change this quarter, else its
    months beyond a limit."""
    if attention.rank == board.STEP_CHANGE:
        return drivers(panel, result, by)
    return spell_drivers(panel, result, by)


def board_pack(panel: Panel, results: Mapping[tuple[str, str], spc.SPCResult], shares=None) -> BoardPack:
    """The board pack of ``panel`` (with its totals) at its latest month. ``results``: the SPC of its series, keyed
    by (crime type, area); ``shares``: a :class:`forecast.jobs.shares.Shares` of its groups, or None."""
    rows: list[tuple[str, str, str, str]] = []
    types, areas = pareto(panel, "crime_type"), pareto(panel, "area")
    rows.append((HEADLINES, ALL_CRIME, ALL_AREAS, top_sentence(types, f"{ALL_CRIME} in the force")))
    rows.append((HEADLINES, ALL_CRIME, ALL_AREAS, half_sentence(areas, ALL_CRIME)))
    if shares is not None:
        rows += [(SHARES, "", "", s) for s in shares.sentences]
    found = []
    month = panel.frame["month"].max()
    totals = [k for k in results if k[1] == ALL_AREAS]
    area_totals = [k for k in results if k[0] == ALL_CRIME and k[1] != ALL_AREAS]
    attentions = {k: board.attention(results[k]) for k in totals + area_totals}
    for key in board.ranked(totals, attentions) + board.ranked(area_totals, attentions):
        result, attention = results[key], attentions[key]
        if not signalling(result, attention, month):
            continue
        rows += [(SIGNALS, *key, s) for s in attention.sentences]
        d = signal_drivers(panel, result, attention, "area" if key[1] == ALL_AREAS else "crime_type")
        if d is not None:
            found.append(d.frame().assign(crime_type=key[0], area=key[1]))
            rows.append((SIGNALS, *key, d.sentence()))
        if key[1] == ALL_AREAS and d is not None and d.signal == STEP:
            also = alongside(result, [r for (c, a), r in results.items() if c == key[0] and a != ALL_AREAS])
            if also:
                rows.append((SIGNALS, *key, also))
    contributors = pd.concat([types.assign(by="crime type", whole=ALL_CRIME),
                              areas.assign(by="area", whole=ALL_CRIME)], ignore_index=True)
    table = pd.concat(found, ignore_index=True) if found else pd.DataFrame(
        columns=[*DRIVER_COLUMNS, "crime_type", "area"])
    return BoardPack(str(month), pd.DataFrame(rows, columns=SENTENCE_COLUMNS), contributors,
                     shares.summary if shares is not None else pd.DataFrame(), table)
