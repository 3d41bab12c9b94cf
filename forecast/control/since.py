"""How long since, as a board says it: "There has been no significant reduction in Robbery for over 4 years, not
since 2014-11", "stable in its current process for almost 2 years", "the last 6 months have been above average".
Read from an SPC result (:mod:`forecast.control.xmr`)."""

from __future__ import annotations

from forecast.control import xmr as spc
from forecast.words import duration

#: the latest months on one side of the average are said from this many (fewer are common cause and not news)
MIN_RUN = 3


def months_between(start, end) -> int:
    """Whole months from ``start`` to ``end`` (Periods)."""
    return (end - start).n


def since_sentences(result: spc.SPCResult) -> list[str]:
    """The board's "how long since" sentences of one series: how long since its last step change the other way
    from its latest (each way when there was none; the whole history when never), how long its current process
    has run, and the latest run of months on one side of the average (from 3 months)."""
    measure, last = result.measure, result.last_month
    first = result.points["month"].iloc[0]
    changes = result.step_changes
    latest = changes["direction"].iloc[-1] if not changes.empty else None
    out = []
    for direction, word in (("down", "reduction"), ("up", "increase")):
        if direction == latest:
            continue  # the current process's sentence says it
        own = changes[changes["direction"] == direction] if not changes.empty else changes
        if own.empty:
            span = duration(months_between(first, last) + 1)
            out.append(f"There has been no significant {word} in {measure} in the {span} of data (since {first}).")
        else:
            start = own["month"].iloc[-1]
            gap = months_between(start, last)
            if gap >= 12:
                out.append(f"There has been no significant {word} in {measure} for {duration(gap)}, not since "
                           f"{start} (declared {own['detected'].iloc[-1]}).")
    current = result.processes.iloc[-1]
    out.append(f"{measure} has been in its current process for {duration(int(current['n']))} (since "
               f"{current['start']}), average {spc.fmt(current['mean'])}.")
    side, run = result.current_run()
    if side and run >= MIN_RUN:
        out.append(f"The last {run} months of {measure} have been {'above' if side > 0 else 'below'} average.")
    return out
