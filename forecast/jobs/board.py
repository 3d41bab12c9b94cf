"""What the board needs to know, exceptions first: the series' SPC and outlook sentences ranked by how much they
call for attention, the seasonal outlook after them, and the stable series collapsed into one line.

The SPC engine (:mod:`forecast.control.xmr`) says what each series is doing; this module decides what a board paper
leads with. Ranks, highest first:

0. a step change declared in the last quarter (the largest change first);
1. the latest months on or beyond a control limit (the longest spell first);
2. a run on one side of the average close to a step change ("one more month brings a step change");
3. a likely or possible step change next quarter, from the outlook (the most probable first);
4. other special cause in the latest month (a trend, the highest month in years, a single point);
5. the seasonal outlook;
6. stable series, named in one line; then series with too few crimes for SPC, named in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.control import xmr as spc
from forecast.engine.outlook import POSSIBLE, Outlook

STEP_CHANGE, BEYOND_LIMITS, NEAR_STEP, OUTLOOK, OTHER_SIGNAL, SEASONAL, STABLE, LOW_COUNT = range(8)
#: the label of each rank, as the summary's ``attention`` column shows it
LABELS = {STEP_CHANGE: "recent step change", BEYOND_LIMITS: "beyond the limits", NEAR_STEP: "close to a step change",
          OUTLOOK: "step change expected", OTHER_SIGNAL: "special cause", STABLE: "stable", LOW_COUNT: "too few crimes"}


@dataclass(frozen=True)
class Attention:
    """Where one series stands in the board's order: its rank, the weight that orders it within the rank
    (larger first) and the sentences that say why."""

    rank: int
    weight: float
    sentences: tuple[str, ...]

    @property
    def label(self) -> str:
        return LABELS[self.rank]


def months_beyond_limits(result: spc.SPCResult) -> int:
    """Latest consecutive months of the current process on or beyond a control limit, on the same side."""
    return max(spc.months_beyond(result.points, sign) for sign in (1, -1))


def recent_step_change(result: spc.SPCResult, months: int = spc.RECENT_MONTHS) -> pd.Series | None:
    """The latest step change if it was declared in the last ``months`` months."""
    return spc.recent_step_change(result.step_changes, result.last_month, months)


def step_change_sentence(result: spc.SPCResult, change: pd.Series) -> str:
    """The board's step-change sentence for a change declared in an earlier month of the quarter."""
    return spc.step_change_text(result.measure, change, result.options.decimals)


def attention(result: spc.SPCResult, outlook: Outlook | None = None, months: int = 3) -> Attention:
    """Rank one series for the board from its SPC result and (optionally) its step-change outlook."""
    if result.status in (spc.TOO_FEW, spc.NONE_RECORDED):
        return Attention(LOW_COUNT, 0.0, result.sentences)
    latest = result.sentences
    change = recent_step_change(result, months)
    if change is not None:
        said = latest if change["detected"] == result.last_month else (step_change_sentence(result, change),)
        weight = abs(change["pct_change"]) if np.isfinite(change["pct_change"]) else 0.0
        return Attention(STEP_CHANGE, weight, said + _outlook_said(outlook))
    beyond = months_beyond_limits(result)
    if beyond:
        return Attention(BEYOND_LIMITS, beyond, latest + _outlook_said(outlook))
    side, run = result.current_run()
    if side and run >= result.options.shift_points and result.chart is None:
        return Attention(NEAR_STEP, run, latest + _outlook_said(outlook))
    if outlook is not None and outlook.p_step >= POSSIBLE:
        return Attention(OUTLOOK, outlook.p_step, outlook.sentences)
    if result.status != "stable":
        return Attention(OTHER_SIGNAL, 0.0, latest)
    return Attention(STABLE, 0.0, latest)


def _outlook_said(outlook: Outlook | None) -> tuple[str, ...]:
    """An exception's outlook sentence, when the outlook adds something (a possible or likely step change)."""
    return outlook.sentences if outlook is not None and outlook.p_step >= POSSIBLE else ()


def ranked(keys: Sequence[tuple[str, str]], attentions: Mapping[tuple[str, str], Attention]) -> list[tuple[str, str]]:
    """Series keys in the board's order: by rank, the force total first within its rank, then weight (larger
    first), keeping the given order on ties."""
    from forecast.data import ALL_AREAS

    position = {k: i for i, k in enumerate(keys)}
    return sorted(keys, key=lambda k: (attentions[k].rank, k[1] != ALL_AREAS, -attentions[k].weight, position[k]))


def _named(keys: Sequence[tuple[str, str]]) -> str:
    """'Robbery for the force total and in 3 areas: A, B and C', or the series' names when crimes differ."""
    from forecast.data import ALL_AREAS
    from forecast.control.seasonality import join_names

    crimes = list(dict.fromkeys(k[0] for k in keys))
    if len(crimes) > 1:
        return join_names([spc.measure_name(*k) for k in keys])
    areas = [k[1] for k in keys if k[1] != ALL_AREAS]
    parts = ["for the force total"] if len(areas) < len(keys) else []
    if areas:
        parts.append(f"in {len(areas)} areas: {join_names(areas)}" if len(areas) > 1 else f"in {areas[0]}")
    return f"{crimes[0]} {' and '.join(parts)}"


def collapsed(keys: Sequence[tuple[str, str]], rank: int) -> str | None:
    """One line naming every series of a quiet rank (stable, or too few crimes)."""
    if not keys:
        return None
    if rank == STABLE:
        return f"Stable, with no signal and no step change expected: {_named(keys)}."
    return f"Too few crimes a month for reliable SPC signals: {_named(keys)}."


def board_sentences(keys: Sequence[tuple[str, str]], attentions: Mapping[tuple[str, str], Attention],
                    seasonal: Sequence[str] = ()) -> list[str]:
    """The board's bullets: every exception's sentences in rank order, the seasonal outlook, then the quiet
    series in one line per rank."""
    order = ranked(keys, attentions)
    out = [s for k in order if attentions[k].rank < SEASONAL for s in attentions[k].sentences]
    out += list(seasonal)
    for rank in (STABLE, LOW_COUNT):
        line = collapsed([k for k in order if attentions[k].rank == rank], rank)
        if line:
            out.append(line)
    return out
