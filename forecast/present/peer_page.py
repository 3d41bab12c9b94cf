"""What `forecast peers` writes: the rates as Excel-safe CSV rounded to what each column means, the board's
sentences, the charts, and peers.html, whose section `forecast report --peers` puts into a run's report."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Sequence

import pandas as pd

from forecast.data import slug
from forecast.jobs.peers import PER, PeerReport, fmt_rate, overall

SECTION_START, SECTION_END = "<!-- peers section -->", "<!-- end of peers section -->"
MANIFEST = "peers.json"


def html_table(table: pd.DataFrame, unit: str) -> str:
    """The board's table: one row per force (or area), the home force in bold."""
    head = (f"<tr><th class=\"text\">crime type</th><th class=\"text\">{escape(unit)}</th><th>rank</th>"
            "<th>crimes</th><th>per 1,000</th><th>rate</th><th>group average</th></tr>")
    rows = []
    for r in table.itertuples():
        name = getattr(r, unit)
        strong = getattr(r, "home", None) == name
        cell = f"<strong>{escape(str(name))}</strong>" if strong else escape(str(name))
        average = fmt_rate(r.group_average) if hasattr(r, "group_average") else ""
        rows.append(f'<tr><td class="text">{escape(r.crime_type)}</td><td class="text">{cell}</td>'
                    f"<td>{r.rank} of {r.of}</td><td>{int(r.crimes):,}</td><td>{escape(r.per)}</td>"
                    f"<td>{fmt_rate(r.rate)}</td><td>{average}</td></tr>")
    return "<table>" + head + "".join(rows) + "</table>"


def section(title: str, sentences: Sequence[str], table_html: str, charts: dict[str, Path], notes: Sequence[str],
            meta: str) -> str:
    """The peers section (between markers, so that `forecast report --peers` can lift it out)."""
    from forecast.present.html import image_tag

    parts = [SECTION_START, f"<h2>{escape(title)}</h2>", f'<p class="meta">{escape(meta)}</p>',
             '<ul class="sentences">', *[f"<li>{escape(s)}</li>" for s in sentences], "</ul>", table_html]
    for label, path in charts.items():
        parts.append(f"<figure>{image_tag(path, label)}<figcaption>{escape(label)}</figcaption></figure>")
    if notes:
        parts += ['<ul class="notes">', *[f"<li>{escape(n)}</li>" for n in notes], "</ul>"]
    parts.append(SECTION_END)
    return "\n".join(parts)


def section_of(folder: str | Path) -> str:
    """The peers section of a `forecast peers` folder's peers.html."""
    from forecast.errors import DataError

    path = Path(folder) / "peers.html"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{folder}: not a 'forecast peers' output folder ({exc.strerror}: {path.name})") from None
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start < 0 or end < 0:
        raise DataError(f"{path}: has no peers section (not written by 'forecast peers')")
    return text[start:end + len(SECTION_END)]


def write_peers(out: Path, *, title: str, sentences: Sequence[str], table: pd.DataFrame, monthly: pd.DataFrame,
                unit: str, charts: dict[str, "object"], notes: Sequence[str], meta: str, manifest: dict) \
        -> dict[str, Path]:
    """Write peers.csv, rates.csv, sentences.txt, notes.txt, the charts (figures, keyed by label) and peers.html
    into ``out`` (a folder being made atomically)."""
    from forecast.files import write_csv, write_text
    from forecast.present.plots import save
    from forecast.present.html import page_head

    drawn = {}
    for label, fig in charts.items():
        drawn[label] = save(fig, out / "charts" / f"{slug(label)[:60]}.png")[0]
    body = section(title, sentences, html_table(table, unit), drawn, notes, meta)
    html = "\n".join([*page_head(title, images=True), body, "</body>", "</html>"]) + "\n"
    return {"table": write_csv(table, out / "peers.csv"), "rates": write_csv(monthly, out / "rates.csv"),
            "sentences": write_text("\n".join(sentences) + "\n", out / "sentences.txt"),
            "notes": write_text("\n".join(notes) + ("\n" if notes else ""), out / "notes.txt"),
            "report": write_text(html, out / "peers.html"),
            "manifest": write_text(json.dumps(manifest, indent=2) + "\n", out / MANIFEST),
            **{f"chart {label}": path for label, path in drawn.items()}}


def per_label(per: str) -> str:
    return f"crimes per {PER:,} {per} a month"


def peer_charts(report: PeerReport) -> dict[str, object]:
    """The figures of a peer comparison, by label: by force, each crime type's rates beside its group's and the
    XmR charts of its rate and of its gap to the group; by area, each crime type's areas as ranked bars."""
    from forecast.present.plots import peer_chart, rate_bars, spc_chart
    from forecast.words import plural

    charts = {}
    if report.by == "force":
        home = report.home
        for c in report.comparisons:
            charts[f"{c.crime_type} per 1,000 {c.per}: {home} and its {c.group_name}"] = peer_chart(
                c.monthly, home, title=f"{c.crime_type} per 1,000 {c.per}: {home} (blue) and its {c.group_name}",
                ylabel=per_label(c.per))
        for c in report.comparisons:
            for result in (c.rate_spc, c.gap_spc):
                charts[f"{result.measure}: XmR chart"] = spc_chart(result.points, title=result.measure,
                                                                     status=result.status, icon=result.icon,
                                                                     ylabel=per_label(c.per), history=None)
        return charts
    for crime_type, rows in report.area_table.groupby("crime_type"):
        label = f"{crime_type} per 1,000 {rows['per'].iloc[0]} by area, {rows['first_month'].iloc[0]} to " \
                f"{rows['last_month'].iloc[0]}"
        charts[label] = rate_bars(rows, overall(rows), title=label,
                                  xlabel=f"crimes per 1,000 {rows['per'].iloc[0]} in {plural(report.window, 'month')}")
    return charts
