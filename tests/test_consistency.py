"""Every figure a run shows is computed once and rounded once: the terminal table, summary.csv, the workbook,
report.html and the index give each series the same status, average, quarter, intervals and change."""

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

from forecast.control.xmr import fmt, fmt_pct


def terminal_rows(text: str) -> dict[str, dict[str, str]]:
    """The run table's rows by area, cut at the columns its dashes line marks."""
    lines = text.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    spans = [m.span() for m in re.finditer(r"-+", lines[dashes])]
    cut = lambda line: [line[a:b if k < len(spans) - 1 else None].strip() for k, (a, b) in enumerate(spans)]
    header = cut(lines[dashes - 1])
    rows = {}
    for line in lines[dashes + 1:]:
        if not line.strip():
            break
        cells = dict(zip(header, cut(line)))
        rows[cells["area"]] = cells
    return rows


def report_rows(html: str) -> dict[str, list[str]]:
    table = html[html.index("<h2>Summary</h2>"):html.index("<h2>Charts</h2>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)[1:]:
        cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from click.testing import CliRunner

    from forecast.cli import cli

    folder = tmp_path_factory.mktemp("run") / "theft"
    result = CliRunner().invoke(cli, ["run", "--data", "city-of-london", "--crime", "theft-from-the-person", "--no-track",
                                      "--paths", "300", "--format", "xlsx", "--out", str(folder)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder, result.stdout


def test_the_table_the_csv_the_workbook_and_the_report_agree(published):
    from openpyxl import load_workbook

    folder, stdout = published
    summary = pd.read_csv(folder / "summary.csv")
    assert len(summary) == 12
    book = load_workbook(folder / "theft-from-the-person.xlsx", read_only=True)
    sheet = list(book["Summary"].iter_rows(values_only=True))
    workbook = pd.DataFrame(sheet[1:], columns=list(summary.columns))
    assert sheet[0][:4] == ("Crime type", "Area", "Last month", "SPC status")
    for column in ("process_mean", "quarter", "quarter_lo_80", "quarter_hi_80", "vs_last_year_pct", "mase"):
        assert np.allclose(workbook[column].astype(float), summary[column], equal_nan=True), column
    table, report = terminal_rows(stdout), report_rows((folder / "report.html").read_text(encoding="utf-8"))
    assert set(table) == set(report) == set(summary["area"])
    for r in summary.to_dict(orient="records"):
        shown = table[r["area"]]
        change = fmt_pct(r["vs_last_year_pct"], "-")
        interval = f"{fmt(r['quarter_lo_80'])}-{fmt(r['quarter_hi_80'])}"
        assert (shown["SPC status"], shown["average"], shown["quarter"], shown["80%"], shown["vs last yr"]) == \
            (r["status"], fmt(r["process_mean"]), fmt(r["quarter"]), interval, change), r["area"]
        cells = report[r["area"]]
        assert cells[1] == r["status"] and cells[2] == fmt(r["process_mean"]) and cells[5] == fmt(r["quarter"])
        assert cells[6] == interval.replace("-", "\u2013", 1) and cells[8] == change, (r["area"], cells)
        if np.isfinite(r["mase"]):
            assert shown["MASE"] == f"{r['mase']:.2f}" and cells[4].endswith(f": {r['mase']:.2f} ({r['snaive_mase']:.2f})")
    # percentages are published whole, as the board reads them: nothing shown rounds them a second time
    assert (summary["vs_last_year_pct"].dropna() % 1 == 0).all()


def test_the_index_says_the_state_and_the_change_apart_and_as_published(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--data", "city-of-london", "--crime", "robbery,theft-from-the-person", "--area",
                    "city-of-london,camden,all-areas", "--no-track", "--paths", "0", "--jobs", "1")
    assert result.exit_code == 0, result.output
    index = tmp_path / "out" / "city-of-london" / "all" / "latest"
    html = (index / "index.html").read_text(encoding="utf-8")
    summary = pd.read_csv(index / "summary.csv")
    glance = html[html.index('<table class="glance">'):]
    cells = re.findall(r'<td class="text"><span class="state"( style="background:#[0-9a-f]+")?>([^<]*)</span>'
                       r'(?: <span class="change">([^<]*)</span>)?</td>', glance)
    assert len(cells) == len(summary) == 6
    from forecast.present.report import SHORT

    expected = {(SHORT[r["attention"]], f"{fmt_pct(r['vs_last_year_pct'])} vs last year"
                 if np.isfinite(r["vs_last_year_pct"]) else "") for r in summary.to_dict(orient="records")}
    assert {(state, change) for _, state, change in cells} == expected
    for crime in ("robbery", "theft-from-the-person"):
        own = pd.read_csv(next((tmp_path / "out" / "city-of-london" / crime).glob("2*")) / "summary.csv")
        merged = own.merge(summary, on=["crime_type", "area"], suffixes=("", "_index"))
        assert len(merged) == 3 and (merged["vs_last_year_pct"].fillna(0) == merged["vs_last_year_pct_index"].fillna(0)).all()
