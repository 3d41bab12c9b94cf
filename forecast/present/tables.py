"""Plain aligned text tables for the terminal: the SPC table, the run table and the one layout they share."""

from __future__ import annotations

import pandas as pd

from forecast.words import plural


SPC_HEADER = ("crime type", "area", "status", "average", "lcl", "ucl", "months", "latest step change")


def spc_row(r) -> tuple:
    """One series' row of the SPC table (its last month last, for the title)."""
    from forecast.control.xmr import fmt

    s = r.summary()
    return (r.crime_type, r.area, s["status"], fmt(s["mean"]) + ("*" if s["trial"] else ""), fmt(s["lcl"]),
            fmt(s["ucl"]), s["months_in_process"], s["step_change"] or "-", str(r.last_month))


def attention_line(result) -> str:
    """One line per crime type for a run of several: how many series stand where in the board's order."""
    from forecast.jobs.board import LABELS

    counts = result.summary()["attention"].value_counts()
    said = [f"{counts[label]} {label}" for label in LABELS.values() if counts.get(label, 0)]
    return f"{result.crime_type}: {plural(len(result.keys), 'series')}; {', '.join(said)}."


def run_table(result) -> str:
    """The table ``forecast run`` prints: a row per series, the forecast months, quarter and its intervals."""
    from forecast.engine.outlook import step_label
    from forecast.control.xmr import fmt, fmt_pct

    from forecast.rounding import rounded

    summary = rounded(result.summary())  # the published figures, so that the table and the files agree
    months = [pd.Period(summary[f"m{i}_month"].iloc[0], "M").strftime("%b %Y") for i in range(1, result.horizon + 1)]
    outlook = "p_step_up" in summary
    header = ("area", "SPC status", "average", "model", "MASE", "snaive", *months, "quarter", "80%", "95%",
              "vs last yr", "vs avg", *(("P(step)",) if outlook else ()))
    rows = [header]
    for r in summary.itertuples():
        rows.append((r.area, r.status, fmt(r.process_mean), r.model, _f3(r.mase), _f3(r.snaive_mase),
                     *[fmt(getattr(r, f"m{i}")) for i in range(1, result.horizon + 1)], fmt(r.quarter),
                     f"{fmt(r.quarter_lo_80)}-{fmt(r.quarter_hi_80)}", f"{fmt(r.quarter_lo_95)}-{fmt(r.quarter_hi_95)}",
                     fmt_pct(r.vs_last_year_pct, "-"), fmt_pct(r.vs_average_pct, "-"),
                     *((step_label(r.p_step_up, r.p_step_down),) if outlook else ())))
    title = (f"{result.crime_type}: forecast for {months[0]} to {months[-1]} from data to "
             f"{summary['last_month'].iloc[0]} ({result.panel.name}); {backtest_said(result)}")
    return title + "\n" + format_table(rows)


def backtest_said(result) -> str:
    """What the run's MASE columns rest on: the backtest's origins, fewer (and said) where series are short."""
    counts = [0 if f.predictions.empty else f.predictions["origin"].nunique() for f in result.forecasts.values()]
    wanted = result.settings.origins
    if not counts or max(counts) == 0:
        return "no backtest: the series are too short for one, so no MASE"
    most = max(counts)
    fewer = sorted(c for c in counts if c < most)
    short = f", not {wanted}: the series are short" if most < wanted else ""
    if fewer:
        had = str(fewer[0]) if fewer[0] == fewer[-1] else f"{fewer[0]} to {fewer[-1]}"
        short += f"; {len(fewer)} shorter series had {had}"
    return f"MASE from a backtest of {plural(most, 'quarter')}{short} (lower is better, snaive = last year's months)"


ACCURACY_HEADER = ("model", "series", "MASE", "RMSSE", "SPL", "sMAPE %", "80% cover", "95% cover", "won")


def accuracy_rows(summary: pd.DataFrame) -> list[tuple]:
    """A row per model of a backtest summary (``BacktestResult.summary``); ``auto`` won nothing of its own, and a
    model that made no forecast (the global model on too small a panel) has no scores: '-'."""
    def shown(x, spec: str) -> str:
        return "-" if x != x else format(x, spec)

    return [(r.model, r.series, shown(r.mase, ".3f"), shown(r.rmsse, ".3f"), shown(r.spl, ".3f"),
             shown(r.smape, ".1f"), shown(r.coverage_80, ".1%"), shown(r.coverage_95, ".1%"), shown(r.won, ".0%"))
            for r in summary.itertuples()]


def _f3(x) -> str:
    return "-" if x != x else f"{x:.2f}"


def format_table(rows: list[tuple]) -> str:
    """A plain aligned text table; the first row is the header."""
    text = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(text[0]))]
    numeric = [all(_is_number(r[i]) for r in text[1:]) for i in range(len(widths))]
    lines = []
    for row in text:
        cells = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text.replace("%", "").replace(",", ""))
        return True
    except ValueError:
        return text in ("", "-")


def outlook_rows(outlooks) -> list[tuple]:
    """`forecast outlook`'s table: each series' current run, the chances of a step change and of a limit."""
    rows = [("crime type", "area", "run", "P(step up)", "P(step down)", "likely month", "P(>UCL)", "P(<LCL)")]
    rows += [(o.crime_type, o.area, f"{o.run_length} {'above' if o.run_side > 0 else 'below'}" if o.run_length else "-",
              f"{o.p_step_up:.2f}", f"{o.p_step_down:.2f}", str(o.likely_month or "-"), f"{o.p_above_ucl:.2f}",
              f"{o.p_below_lcl:.2f}") for o in outlooks]
    return rows


def _marked(r) -> str:
    """A rate, with the mark of a window that runs past the last population estimate."""
    from forecast.jobs.peers import fmt_rate

    return fmt_rate(r.rate) + (PAST_ESTIMATE_MARK if getattr(r, "months_past_estimate", 0) > 0 else "")


#: the mark of a rate whose months include some past the last population estimate
PAST_ESTIMATE_MARK = "*"


def past_estimate_footnote(report) -> str | None:
    """What the mark means, under a table that has one."""
    table = report.table
    if "months_past_estimate" not in table or not (table["months_past_estimate"] > 0).any():
        return None
    most = int(table["months_past_estimate"].max())
    return (f"{PAST_ESTIMATE_MARK} up to {most} of the {int(table['months'].max())} months are past the last "
            "population estimate, and divide by it unchanged")


def peer_rows(report) -> list[tuple]:
    """`forecast peers`' terminal table of a :class:`forecast.jobs.peers.PeerReport`."""
    from forecast.jobs.peers import fmt_rate

    if report.by == "force":
        rows = [("crime type", "force", "rank", "crimes", "rate per 1,000", "per", "group average")]
        return rows + [(r.crime_type, r.force, f"{r.rank} of {r.of}", f"{int(r.crimes):,}", _marked(r), r.per,
                        fmt_rate(r.group_average)) for r in report.table.itertuples()]
    rows = [("crime type", "area", "rank", "crimes", "rate per 1,000", "per")]
    return rows + [(r.crime_type, r.area, f"{r.rank} of {r.of}", f"{int(r.crimes):,}", _marked(r), r.per)
                   for r in report.table.itertuples()]