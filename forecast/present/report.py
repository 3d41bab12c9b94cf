"""The board report: one self-contained HTML file (images embedded, nothing fetched) for a run.

Every text that comes from data (crime types, areas, file names, sentences) is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.data import ALL_AREAS
from forecast.present.html import image_tag, page_head
from forecast.engine.outlook import step_label
from forecast.present.plots import HISTORY
from forecast.control.xmr import fmt, fmt_pct, measure_name

ICON_TEXT = {"common_cause": "common cause", "improvement_high": "improvement (high)",
             "improvement_low": "improvement (low)", "concern_high": "concern (high)", "concern_low": "concern (low)",
             "neutral_high": "special cause (high)", "neutral_low": "special cause (low)"}
ICON_COLOUR = {"common": "#a6a6a6", "improvement": "#00b0f0", "concern": "#e46c0a", "neutral": "#490092"}


TEXT_COLUMNS = (0, 1, 3, 4)
_TEXT = ' class="text"'


def _fmt(x, pct: bool = False) -> str:
    return fmt_pct(x, "-") if pct else fmt(x, "-")


def _icon(icon: str) -> str:
    colour = ICON_COLOUR.get(icon.split("_")[0], "#a6a6a6")
    return f'<span class="icon" style="background:{colour}"></span>{escape(ICON_TEXT.get(icon, icon))}'


def summary_table(summary: pd.DataFrame) -> str:
    has_outlook = "p_step_up" in summary
    head = ["Area", "Status", "Process average", "Latest step change", "Model: MASE (snaive)",
            "Next quarter", "80% interval", "95% interval", "vs last year"]
    head += ["Chance of a step change"] if has_outlook else []
    head += ["Icon"]
    rows = []
    for r in summary.to_dict(orient="records"):
        step = r.get("step_change") if isinstance(r.get("step_change"), str) else "-"
        mase = f": {r['mase']:.2f} ({r['snaive_mase']:.2f})" if np.isfinite(r["mase"]) else ""
        cells = [escape(str(r["area"])), escape(str(r["status"])), _fmt(r["process_mean"]), escape(step),
                 escape(str(r["model"])) + mase, _fmt(r["quarter"]), f"{_fmt(r['quarter_lo_80'])}&ndash;{_fmt(r['quarter_hi_80'])}",
                 f"{_fmt(r['quarter_lo_95'])}&ndash;{_fmt(r['quarter_hi_95'])}", _fmt(r["vs_last_year_pct"], pct=True)]
        if has_outlook:
            up, down = r["p_step_up"], r["p_step_down"]
            cells.append(step_label(up, down) if np.isfinite(up) else "-")
        cells.append(_icon(str(r.get("icon", "common_cause"))))
        rows.append("<tr>" + "".join(f'<td{_TEXT if i in TEXT_COLUMNS or i == len(cells) - 1 else ""}>{c}</td>'
                                     for i, c in enumerate(cells)) + "</tr>")
    header = "<tr>" + "".join(f'<th{_TEXT if i in TEXT_COLUMNS or i == len(head) - 1 else ""}>{escape(h)}</th>'
                              for i, h in enumerate(head)) + "</tr>"
    return (f'<div class="scroll"><table>\n<thead>{header}</thead>\n<tbody>\n' + "\n".join(rows)
            + "\n</tbody></table></div>")


def build_report(summary: pd.DataFrame, sentences: Sequence[str], charts: Mapping[str, Path], *, title: str,
                 source: str, generated: str, adjusted: bool = False, sections: Sequence[str] = (),
                 charts_note: str = "") -> str:
    """The HTML text of the report; ``adjusted``: the SPC was on seasonally adjusted counts, said once;
    ``sections``: HTML sections of other commands to add after the charts (`forecast peers`); ``charts_note``:
    a line under the charts' heading (:func:`charts_note`)."""
    first = summary.iloc[0]
    how = (" SPC on seasonally adjusted counts: process averages are per month net of the season, and the charts' "
           "limits follow the season." if adjusted else "")
    method = str(first.get("reconciliation", "none"))
    if method not in ("none", "nan"):
        how += (f" Forecasts reconciled ({method}): the areas' forecasts and intervals add up to the force "
                "total's.")
    quarter = f"{first.get('m1_month', '')} to {first.get('m3_month', first.get('m1_month', ''))}"
    parts = [
        *page_head(title, images=True),
        f'<p class="meta">Data: {escape(source)}; last month {escape(str(first["last_month"]))}; forecast for '
        f"{escape(quarter)}. Generated {escape(generated)} by forecast.{escape(how)}</p>",
        "<h2>What the board needs to know</h2>", '<ul class="sentences">',
        *[f"<li>{escape(s)}</li>" for s in sentences], "</ul>",
        "<h2>Summary</h2>", summary_table(summary), "<h2>Charts</h2>",
        *([f'<p class="meta">{escape(charts_note)}</p>'] if charts_note else []),
    ]
    for label, path in charts.items():
        parts.append(f"<figure>{image_tag(path, f'SPC chart: {label}')}<figcaption>{escape(label)}</figcaption></figure>")
    parts += [*sections, "</body>", "</html>"]
    return "\n".join(parts) + "\n"


#: which series get a chart of their own: those that call for attention (and the force total), or all
CHARTS = ("attention", "all")
#: series charts drawn by default besides the force total's: a page of them, as many as the small multiples show
MAX_CHARTS = 60


def charted_areas(summary: pd.DataFrame, charts: str = "attention") -> list[str] | None:
    """The areas whose series get a chart of their own (None: every one): with ``charts="attention"``, the force
    total and the series the board's sentences lead with (a step change, a limit, a run, an outlook, a special
    cause), the first MAX_CHARTS of them in the summary's order, which is the board's; the stable ones are in the
    small multiples. Rendering a chart costs about as much CPU as forecasting the series: a run of a thousand
    series no longer draws a thousand charts nobody opens, nor a national neighbourhood run the 1,750 or so a crime
    type it flags (:func:`charts_note` says so in the report)."""
    if charts not in CHARTS:
        raise ValueError(f"charts must be one of {', '.join(CHARTS)}, got {charts!r}")
    if charts == "all" or "attention" not in summary:
        return None
    calls = calls_for_attention(summary)
    return summary.loc[(summary["area"] == ALL_AREAS) | (calls & (calls.cumsum() <= MAX_CHARTS)), "area"].tolist()


def calls_for_attention(summary: pd.DataFrame) -> pd.Series:
    """Which rows of a run's summary are series, other than the force total, that call for attention: neither
    stable nor with too few crimes for SPC signals."""
    from forecast.jobs.board import LABELS, LOW_COUNT, STABLE

    return ~summary["attention"].isin([LABELS[STABLE], LABELS[LOW_COUNT]]) & (summary["area"] != ALL_AREAS)


def charts_note(summary: pd.DataFrame, charted: Sequence[str] | None) -> str:
    """The report's line under "Charts" when :func:`charted_areas` left out series that call for attention."""
    if charted is None or "attention" not in summary:
        return ""
    calls = summary[calls_for_attention(summary)]
    drawn = calls["area"].isin(charted).sum()
    if drawn == len(calls):
        return ""
    return (f"Charts of the first {drawn:,} of the {len(calls):,} series that call for attention, in the summary's "
            "order; forecast report --charts all draws every series.")


def write_report(out_dir: str | Path, source: str, svg: bool = False, history: int | None = HISTORY,
                 charts: str = "attention", peers: str | Path | None = None) -> dict[str, Path]:
    """Charts (the last ``history`` months, None: all; of the series :func:`charted_areas` picks) and report.html
    from a run's output folder (summary.csv, spc.csv, forecast.csv, sentences.txt); with ``peers``, the section of
    that `forecast peers` folder too."""
    import time

    from forecast.files import read_csv, write_text
    from forecast.errors import DataError
    from forecast.present.peer_page import section_of
    from forecast.present.plots import crime_charts

    out_dir = Path(out_dir)
    needed = ["summary.csv", "spc.csv", "forecast.csv"]
    missing = [n for n in needed if not (out_dir / n).exists()]
    if missing:
        raise DataError(f"{out_dir}: not a run's output folder (missing {', '.join(missing)})")
    names = {"crime_type": str, "area": str, "step_change": str, "notes": str, "model": str, "reconciliation": str}
    summary, points, forecasts = (read_csv(out_dir / name, dtype=names) for name in needed)
    sections = [section_of(peers)] if peers else []
    sentences_file = out_dir / "sentences.txt"
    sentences = sentences_file.read_text(encoding="utf-8").splitlines() if sentences_file.exists() else []
    charted = charted_areas(summary, charts)
    drawn = crime_charts(summary, points, forecasts, out_dir / "charts", source, svg, history=history,
                         areas=charted)
    crime = summary["crime_type"].iloc[0]
    multiples = drawn.pop("small multiples")
    ordered = {"Every area, with next quarter's forecast": multiples,
               **{measure_name(crime, area): path
                  for area, path in drawn.items()}}
    html = build_report(summary, sentences, ordered, title=f"{crime}: next quarter and process status",
                        source=source, generated=time.strftime("%Y-%m-%d %H:%M"),
                        adjusted="adjusted" in points and points["adjusted"].notna().any(), sections=sections,
                        charts_note=charts_note(summary, charted))
    report = write_text(html, out_dir / "report.html")
    return {"report": report, "chart small multiples": multiples, **{f"chart {k}": v for k, v in drawn.items()}}


#: light backgrounds of the index's cells, by the variation icon's kind
CELL_COLOUR = {"improvement": "#d9f2fc", "concern": "#fbe2cf", "neutral": "#e6dcef"}
SHORT = {"recent step change": "step change", "beyond the limits": "beyond limits",
         "close to a step change": "near a step", "step change expected": "step expected",
         "special cause": "signal", "stable": "stable", "too few crimes": "too few"}


def cell_kind(row) -> str:
    """Concern, improvement or neither for the index's shading: a recent step change by its direction (crime
    going up is a concern), any other series by its variation icon."""
    if row.get("attention") == "recent step change" and isinstance(row.get("step_change"), str):
        return "concern" if " up " in row["step_change"] else "improvement"
    return str(row.get("icon", "")).split("_")[0]


def glance_table(summary: pd.DataFrame, links: Mapping[str, str]) -> str:
    """Every series of every crime type at a glance: a row per area (the force total first), a column per crime
    type, each cell two things told apart: the series' state (its place in the board's order), shaded by its
    variation icon (orange concern, blue improvement), and beside it, unshaded, next quarter against the same
    quarter last year."""
    crimes = list(dict.fromkeys(summary["crime_type"]))
    areas = sorted(summary["area"].unique(), key=lambda a: (a != ALL_AREAS, a))
    cells = summary.set_index(["area", "crime_type"])
    head = '<tr><th class="text">area</th>' + "".join(
        f'<th class="text"><a href="{escape(links[c])}">{escape(c)}</a></th>' for c in crimes) + "</tr>"
    rows = []
    for area in areas:
        out = [f'<td class="text">{escape("force total" if area == ALL_AREAS else area)}</td>']
        for crime in crimes:
            if (area, crime) not in cells.index:
                out.append("<td></td>")
                continue
            r = cells.loc[(area, crime)]
            label = SHORT.get(str(r.get("attention", "")), str(r.get("attention", "")))
            change = r.get("vs_last_year_pct")
            change = (f" {round(change):+d}%" if round(change) else " 0%") \
                if isinstance(change, float) and np.isfinite(change) else ""
            colour = CELL_COLOUR.get(cell_kind(r))
            style = f' style="background:{colour}"' if colour else ""
            expected = f' <span class="change">{escape(change.strip())} vs last year</span>' if change else ""
            out.append(f'<td class="text"><span class="state"{style}>{escape(label)}</span>{expected}</td>')
        rows.append("<tr>" + "".join(out) + "</tr>")
    return '<table class="glance">' + head + "".join(rows) + "</table>"


def write_index(out_dir: str | Path, runs: Sequence[tuple], final: str | Path) -> dict[str, Path]:
    """The index of a run of several crime types: index.html (each crime type's board sentences, linked to its
    report), summary.csv (every series of every crime type) and sentences.txt, in ``out_dir``, which will be
    moved to ``final`` (the links are relative to it). ``runs``: (RunDigest or RunResult, its folder) pairs."""
    import os
    import time

    from forecast.files import write_csv, write_text

    first = runs[0][0]
    title = f"{first.panel.name}: every crime type, next quarter and process status"
    parts = [*page_head(title, images=False),
             f'<p class="meta">Data: {escape(first.panel.source)}; last month {escape(str(first.panel.months[-1]))}; '
             f"{len(runs)} crime types. Generated {escape(time.strftime('%Y-%m-%d %H:%M'))} by forecast.</p>"]
    from forecast.rounding import rounded

    summary = rounded(pd.concat([result.summary() for result, _ in runs], ignore_index=True))
    links = {result.crime_type: os.path.relpath(Path(folder) / "report.html", Path(final)) for result, folder in runs}
    parts += ["<h2>At a glance</h2>",
              '<p class="meta">Each series: where it stands in the board\'s order (shaded orange for a concern, blue '
              "for an improvement) and, beside it, next quarter against the same quarter last year.</p>",
              glance_table(summary, links)]
    lines, said = [], set()
    for result, folder in runs:
        sentences = [s for s in dict.fromkeys(result.sentences()) if s not in said]
        said.update(sentences)
        parts += [f'<h2><a href="{escape(links[result.crime_type])}">{escape(result.crime_type)}</a></h2>',
                  '<ul class="sentences">', *[f"<li>{escape(s)}</li>" for s in sentences], "</ul>"]
        lines += [f"# {result.crime_type} ({folder})", *sentences, ""]
    parts += ["</body>", "</html>"]
    out = Path(out_dir)
    return {"index": write_text("\n".join(parts) + "\n", out / "index.html"),
            "summary": write_csv(summary, out / "summary.csv"),
            "sentences": write_text("\n".join(lines), out / "sentences.txt")}
