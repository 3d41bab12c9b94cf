"""The winter plan's board page: the ranked table, a chart per crime type of the last three winters and the
forecast one, the sentences, and how far past winters' forecasts were off; one self-contained HTML file."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path

import pandas as pd

from forecast.data import ALL_AREAS
from forecast.files import file_stems, write_text
from forecast.present.html import image_tag, page_head
from forecast.control.xmr import fmt, fmt_pct
from forecast.jobs.winter import AVERAGE_WINTERS, WinterPlan, holds_total, month_span, winter_name

TABLE_HEAD = ("Crime type", "Area", "This winter", "80% interval", "95% interval", "Last winter", "Change",
              "Average of last winters", "Change", "Peak month", "Past winters: error of the total (last winter's "
              "months)")


def series_label(crime_type: str, area: str) -> str:
    return f"{crime_type} (force total)" if area == ALL_AREAS else f"{crime_type} in {area}"


def table_rows(frame: pd.DataFrame) -> list[tuple]:
    """The board's table, one row per series, as text cells (also the command line's table)."""
    rows = []
    for r in frame.to_dict(orient="records"):
        past = (f"{r['backtest_error_pct']:.1f}% ({r['snaive_error_pct']:.1f}%)" if r["backtest_winters"] else "-")
        mark = "" if holds_total(r) else " *"
        rows.append((r["crime_type"], r["area"], fmt(r["total"]), f"{fmt(r['lo_80'])}-{fmt(r['hi_80'])}{mark}",
                     f"{fmt(r['lo_95'])}-{fmt(r['hi_95'])}", fmt(r["last_winter"], "-"),
                     fmt_pct(r["vs_last_winter_pct"], "-"), fmt(r["average"], "-"), fmt_pct(r["vs_average_pct"], "-"),
                     f"{pd.Period(r['peak_month'], freq='M').strftime('%b')} ({r['p_peak']:.2f})"
                     + ("" if r["peak_reliable"] else " *"), past))
    return rows


def table_footnote(frame: pd.DataFrame) -> str:
    """The table's footnote when a row is marked: its expected total lies outside its own 80% interval, or its
    likeliest peak is not its month of the highest expected count."""
    if all(r["peak_reliable"] for r in frame.to_dict(orient="records")):
        return ""
    return ("* not to be relied on: the expected total lies outside its own 80% interval, or the likeliest peak in "
            "the paths is not the month of the highest expected count (see the notes column of winter.csv)")


def _html_table(head, rows, text_columns=(0, 1)) -> str:
    def cell(tag, i, value):
        align = ' class="text"' if i in text_columns else ""
        return f"<{tag}{align}>{escape(str(value))}</{tag}>"

    header = "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr>"
    body = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table>\n<thead>{header}</thead>\n<tbody>\n{body}\n</tbody></table></div>'


def summary_rows(summary: pd.DataFrame) -> list[tuple]:
    """The backtest summary as text cells: per level and model."""
    return [(r.level, r.model, r.series, r.winters, f"{r.mase:.3f}", f"{r.error_pct:.1f}%",
             f"{r.median_error_pct:.1f}%", f"{r.coverage_80:.0%}", f"{r.coverage_95:.0%}")
            for r in summary.itertuples()]


SUMMARY_HEAD = ("series", "model", "series", "past winters", "MASE", "mean error of the total",
                "median error", "80% held the total", "95% held the total")


def _footnote(frame: pd.DataFrame) -> list[str]:
    note = table_footnote(frame)
    return [f'<p class="meta">{escape(note)}</p>'] if note else []


def winter_figure(plan: WinterPlan, key: tuple[str, str], totals: pd.DataFrame | None = None,
                  months: pd.DataFrame | None = None):
    """One series' winter chart: its last three winters and this one (``totals`` and ``months``: the plan's
    tables, when the caller has them already)."""
    from forecast.present.plots import winter_chart

    totals = plan.totals().set_index(["crime_type", "area"]) if totals is None else totals
    months = plan.months_frame() if months is None else months
    y = plan.history[key]
    past = []
    for k in range(AVERAGE_WINTERS, 0, -1):
        values = y.reindex(plan.window - 12 * k)
        if values.notna().all():
            past.append((winter_name(plan.window - 12 * k), values))
    mine = months[(months["crime_type"] == key[0]) & (months["area"] == key[1]) & months["in_winter"]]
    row = totals.loc[key]
    caption = (f"Source: {plan.panel.source}. Data to {plan.settings.last}. Forecast: {row['model']}, intervals "
               "from 2,000 sample paths" + (f", reconciled {plan.reconciliation}." if plan.reconciliation != "none"
                                           else "."))
    return winter_chart(past, mine.reset_index(drop=True), row.to_dict(),
                        title=f"{series_label(*key)}: winter {plan.name}, {month_span(plan.window)}", caption=caption)


def draw_charts(plan: WinterPlan, folder: Path) -> dict[str, Path]:
    """A chart per headline series (every series of a small plan, else the force totals): its last three winters and
    this one."""
    from forecast.present.plots import save

    totals = plan.totals().set_index(["crime_type", "area"])
    months = plan.months_frame()
    keys = plan.headline()
    stems = file_stems(series_label(*k) for k in keys)
    drawn = {}
    for key in keys:
        label = series_label(*key)
        fig = winter_figure(plan, key, totals, months)
        drawn[label] = save(fig, folder / f"{stems[label]}.png")[0]
    return drawn


def write_winter_report(plan: WinterPlan, out_dir: str | Path) -> dict[str, Path]:
    """charts/ and report.html for a winter plan, in ``out_dir``."""
    out_dir = Path(out_dir)
    charts = draw_charts(plan, out_dir / "charts")
    origin = plan.settings.last.strftime("%B")
    recorded, ahead = plan.settings.recorded, plan.ahead
    said = (f"{month_span(recorded)} recorded, {month_span(ahead)} forecast (the rest of the winter)"
            if len(recorded) else f"every month forecast, {month_span(ahead)}")
    how = f" Forecasts reconciled ({plan.reconciliation}): they add up." if plan.reconciliation != "none" else ""
    summary = plan.backtest_summary()
    title = f"Winter {plan.name} ({month_span(plan.window)}): demand plan, {plan.panel.name}"
    parts = [*page_head(title, images=True),
             f'<p class="meta">Data: {escape(plan.panel.source)}; last month {escape(str(plan.settings.last))}: '
             f"{escape(said)}. Generated {escape(time.strftime('%Y-%m-%d %H:%M'))} by forecast.{escape(how)}</p>",
             "<h2>What the board needs to know</h2>", '<ul class="sentences">',
             *[f"<li>{escape(s)}</li>" for s in plan.sentences()], "</ul>",
             "<h2>This winter against last winter, largest rises first</h2>",
             _html_table(TABLE_HEAD, table_rows(plan.ranked())), *_footnote(plan.ranked()), "<h2>Charts</h2>"]
    for label, path in charts.items():
        parts.append(f"<figure>{image_tag(path, f'Winter chart: {label}')}<figcaption>{escape(label)}</figcaption>"
                     "</figure>")
    parts += [f"<h2>How far to trust it: past winters forecast from {escape(origin)}</h2>",
              f"<p>Each past winter forecast from {escape(origin)} of its year, from the months before only "
              "(one origin a year); the error of the winter total in %, and how often its intervals held the winter "
              "that came. snaive is last winter's months as the forecast. Each model's rows score its own "
              "forecasts; the \u201creconciled\u201d rows score the forecasts as this plan prints them, the model "
              "used reconciled by the plan's steps.</p>",
              _html_table(SUMMARY_HEAD, summary_rows(summary))]
    if len(plan.keys) > len(plan.headline()):
        every = plan.ranked(plan.keys)
        parts += ["<h2>Every series, largest rises first</h2>", _html_table(TABLE_HEAD, table_rows(every)),
                  *_footnote(every)]
    parts += ["</body>", "</html>"]
    report = write_text("\n".join(parts) + "\n", out_dir / "report.html")
    return {"report": report, **{f"chart {k}": v for k, v in charts.items()}}


def planning_line(settings, data: str, end: str | None = None) -> str:
    """The plan's first line: the winter, the data's last month, and which of its months are recorded."""
    window, recorded = settings.window, settings.recorded
    cut = f", cut at --end {end}" if end else ""
    ahead = window[window > settings.last]
    lead = settings.last + 1 if not len(recorded) and window[0] > settings.last + 1 else None
    if len(recorded):
        said = f"{month_span(recorded)} recorded; the rest of the winter, {month_span(ahead)}, is forecast"
    else:
        said = "the whole winter is forecast" + (f", and the months from {lead.strftime('%b %Y')} before it"
                                                 if lead is not None else "")
    return f"Winter {winter_name(window)} ({month_span(window)}) from data to {settings.last} ({data}{cut}): {said}."


def plan_lines(plan: WinterPlan) -> list[str]:
    """What `forecast winter` prints of a plan: the ranked table, the sentences and the past winters' scores."""
    from forecast.present.tables import format_table
    from forecast.words import plural

    settings = plan.settings
    winters_done = plan.backtest_frame()["origin"].nunique()
    ranked = plan.ranked()
    lines = [f"Ranked by the change against last winter; past winters: the mean error of the winter total over "
             f"{plural(winters_done, 'past winter')} forecast from {settings.last.strftime('%B')} "
             f"({settings.model}; in brackets, last winter's months as the forecast)",
             format_table([TABLE_HEAD, *table_rows(ranked)])]
    if table_footnote(ranked):
        lines.append(table_footnote(ranked))
    rest = len(plan.keys) - len(plan.headline())
    if rest:
        lines.append(f"({rest} more series, the areas of each crime type: in winter.csv and report.html)")
    return [*lines, "", "\n".join(plan.sentences()), "",
            f"Past winters forecast from {settings.last.strftime('%B')} (snaive: last winter's months; "
            "reconciled: as this plan prints them):", format_table([SUMMARY_HEAD, *summary_rows(plan.backtest_summary())]), ""]
