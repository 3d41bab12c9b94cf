"""What `forecast peers` writes: the rates as Excel-safe CSV rounded to what each column means, the board's
sentences, the charts, and peers.html, whose section `forecast report --peers` puts into a run's report."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Sequence

import pandas as pd

from forecast import excel
from forecast.data import slug
from forecast.peers import PER, PeerComparison, fmt_rate

SECTION_START, SECTION_END = "<!-- peers section -->", "<!-- end of peers section -->"
MANIFEST = "peers.json"
#: decimals per column: rates as the board reads them, populations and crimes whole
DECIMALS = {"rate": 3, "group_average": 3, "gap": 3, "denominator": 0, "crimes": 0, "count": 0}


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each number rounded to what its column means (:data:`DECIMALS`, then the run's rules)."""
    return excel.rounded(frame, DECIMALS)


def force_tables(comparisons: Sequence[PeerComparison]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the window's table, the monthly rates) of every comparison, a force per row."""
    table = pd.concat([c.table.assign(group=c.group_name, home=c.home) for c in comparisons], ignore_index=True)
    monthly = pd.concat([c.monthly for c in comparisons], ignore_index=True)
    return (rounded(table.rename(columns={"unit": "force"})),
            rounded(monthly.rename(columns={"unit": "force"}).astype({"month": str})))


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
    from forecast.report import image_tag

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
    from forecast.output import write_csv, write_text
    from forecast.plots import save
    from forecast.report import page_head

    drawn = {}
    for label, fig in charts.items():
        drawn[label] = save(fig, out / "charts" / f"{slug(label)[:60]}.png")[0]
    body = section(title, sentences, html_table(table, unit), drawn, notes, meta)
    html = "\n".join([*page_head(title, images=True), body, "</body>", "</html>"]) + "\n"
    return {"table": write_csv(table, out / "peers.csv"), "rates": write_csv(monthly, out / "rates.csv"),
            "sentences": write_text("\n".join(sentences) + "\n", out / "sentences.txt"),
            "notes": write_text("\n".join(notes) + ("\n" if notes else ""), out / "notes.txt"),
            "report": write_text(html, out / "peers.html"),
            "manifest": write_text(json.dumps(manifest, indent=2) + "\n", out / MANIFEST), **drawn}


def per_label(per: str) -> str:
    return f"crimes per {PER:,} {per} a month"
