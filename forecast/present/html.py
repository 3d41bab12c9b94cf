"""What every HTML page of ours shares: its head (nothing fetched, styles inline) and embedded images."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:2em auto;max-width:1340px;color:#1f1f1f;
padding:0 1em}h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{padding:.3em .45em;border-bottom:1px solid #e5e5e5;text-align:right}
td{white-space:nowrap}th{background:#f3f5f8;vertical-align:bottom}td.text,th.text{text-align:left;white-space:normal}
td.text{min-width:6em}td:nth-child(4){min-width:9em}td:last-child{min-width:7em}
.scroll{overflow-x:auto}
.icon{display:inline-block;width:.9em;height:.9em;border-radius:50%;vertical-align:middle;margin-right:.3em}
ul.sentences li{margin:.3em 0}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.glance .state{padding:0 .3em;border-radius:3px}.glance .change{color:#555;font-size:.9em}
"""


def image_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def page_head(title: str, images: bool) -> list[str]:
    """The start of a page of ours, to its heading. Nothing may be fetched: a page must open offline and leak
    nothing about what is being read (``images``: embedded ``data:`` images are allowed)."""
    sources = "default-src 'none'; " + ("img-src data:; " if images else "") + "style-src 'unsafe-inline'"
    return ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{sources}">',
            f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
            f"<h1>{escape(title)}</h1>"]
