import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import write

EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    """A run on data whose crime type and area names are HTML."""
    from click.testing import CliRunner

    from forecast.cli import cli

    root = tmp_path_factory.mktemp("evil")
    rng = np.random.default_rng(0)
    months = pd.period_range("2015-01", periods=48, freq="M").astype(str)
    rows = [f'{m},"Dudley & Sandwell <b>",{EVIL},{int(c)}' for m, c in zip(months, 100 + rng.normal(0, 8, 48))]
    rows += [f"{m},Walsall,{EVIL},{int(c)}" for m, c in zip(months, 60 + rng.normal(0, 6, 48))]
    data = write(root / "evil.csv", "month,area,crime_type,count\n" + "\n".join(rows) + "\n")
    out = root / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(data), "--crime", "script", "--no-track", "--jobs", "1",
                                      "--paths", "300", "--charts", "all", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result


def test_report_escapes_every_text_from_data(evil_run):
    out, result = evil_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Dudley &amp; Sandwell &lt;b&gt;" in html and "<b>" not in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert html.count('src="data:image/png;base64,') == 1 + 3  # small multiples + 2 areas + force total
    assert f"wrote {out / 'report.html'}" in result.stdout


def test_report_lists_the_summary_and_sentences(evil_run):
    out, _ = evil_run
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = pd.read_csv(out / "summary.csv")
    for area in ("Walsall", "All areas"):
        assert f'<td class="text">{area}</td>' in html
    walsall = summary.set_index("area").loc["Walsall"]
    assert f"{walsall['quarter']:,.0f}" in html or f"{walsall['quarter']:,.1f}" in html
    for sentence in (out / "sentences.txt").read_text(encoding="utf-8").splitlines():
        from html import escape

        assert f"<li>{escape(sentence)}</li>" in html


def test_report_command_rebuilds_from_outputs(evil_run, invoke):
    out, _ = evil_run
    written = (out / "report.html").read_text(encoding="utf-8")
    (out / "report.html").unlink()
    result = invoke("report", "--out", out, "--charts", "all")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"wrote {out / 'report.html'}", f"wrote {out / 'charts' / 'small-multiples.png'}"
                                          f" and 3 series charts in {out / 'charts'}"]
    # the same page, byte for byte but for the minute it was made, from the run's files alone: its figures,
    # sentences and charts
    made = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d by forecast")
    assert made.search(written)
    assert made.sub("", (out / "report.html").read_text(encoding="utf-8")) == made.sub("", written)
    missing = invoke("report", "--out", out / "nowhere")
    assert missing.exit_code == 2 and "not a run's output folder" in missing.stderr


needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                    reason="Debian's chromium is not installed (.ci/run installs it)")


@needs_chromium
def test_report_renders_in_a_real_browser_without_network(evil_run, tmp_path):
    from matplotlib.image import imread

    from cdp import Browser

    assert CHROMIUM, "chromium must be installed in CI"
    out, _ = evil_run
    browser = Browser(CHROMIUM, tmp_path / "profile")
    try:
        # the detector sees a page's requests (on the loopback interface, where nothing listens on port 9), every
        # time: five loads of a page that asks for two images
        control = write(tmp_path / "control.html", '<img src="http://127.0.0.1:9/a.png"><p>control</p>'
                                                   '<img src="http://127.0.0.1:9/b.png">')
        for _ in range(5):
            requested, _, _ = browser.load(control.as_uri())
            assert sorted(requested) == ["http://127.0.0.1:9/a.png", "http://127.0.0.1:9/b.png"]
        requested, png, dom = browser.load((out / "report.html").as_uri())
    finally:
        browser.close()
    assert requested == []  # the report made no network request
    shot = tmp_path / "report.png"
    shot.write_bytes(png)
    pixels = imread(shot)[..., :3]
    assert pixels.shape[1] == 1280
    assert pixels.std() > 0.05 and (pixels.mean(axis=2) < 0.9).mean() > 0.02  # text, table and charts drawn
    assert "<script" not in dom.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count("<img") == 4


@pytest.fixture(scope="module")
def met_run(tmp_path_factory, met_major_models):
    """A run on the bundled Met data with one series of each kind: a recent step change (Westminster), a likely
    step change next quarter (Bromley), stable (Camden, the force total) and too few crimes (the airports)."""
    from click.testing import CliRunner

    from forecast.cli import cli

    out = tmp_path_factory.mktemp("met") / "out"
    result = CliRunner().invoke(cli, ["run", "--crime", "robbery", "--area",
                                      "all-areas,westminster,bromley,camden,london-heathrow",
                                      "--no-track", "--paths", "1000", "--charts", "all", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result


def test_board_sentences_lead_with_the_exceptions(met_run):
    out, result = met_run
    said = (out / "sentences.txt").read_text(encoding="utf-8").splitlines()
    assert said[0].startswith("Robbery in Westminster has seen a significant step change increase")
    assert said[1].startswith("Robbery in Bromley: 6 months below average; a significant step change down is likely")
    assert said[-2] == "Stable, with no signal and no step change expected: Robbery for the force total and in Camden."
    assert said[-1] == ("Too few crimes a month for reliable SPC signals: Robbery in London Heathrow and London City "
                        "Airports.")
    assert result.stdout.index(said[0]) < result.stdout.index(said[1]) < result.stdout.index(said[-1])
    summary = pd.read_csv(out / "summary.csv")
    assert summary["area"].tolist() == ["Westminster", "Bromley", "All areas", "Camden",
                                        "London Heathrow and London City Airports"]
    assert summary["attention"].tolist() == ["recent step change", "step change expected", "stable", "stable",
                                             "too few crimes"]


def test_report_adds_the_peers_section_of_a_peers_folder(met_run, invoke, tmp_path):
    out = shutil.copytree(met_run[0], tmp_path / "run")
    peers = tmp_path / "peers"
    made = invoke("peers", "--crime", "robbery", "--out", peers)
    assert made.exit_code == 0, made.output
    result = invoke("report", "--out", out, "--peers", peers)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    start, end = html.index("<!-- peers section -->"), html.index("<!-- end of peers section -->")
    section = html[start:end]
    first = (peers / "sentences.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("Robbery per 1,000 residents in the 12 months to 2018-12: highest in Westminster (")
    assert first.replace("&", "&amp;") in section
    assert section.count("<img") == 1 and section.count("<tr>") == 31  # the header and the 30 boroughs ranked
    assert html.index("<h2>Charts</h2>") < start
    not_peers = invoke("report", "--out", out, "--peers", out)
    assert not_peers.exit_code != 0 and "not a 'forecast peers' output folder" in not_peers.stderr


@needs_chromium
def test_report_fits_1400_pixels_and_leads_with_the_exceptions(met_run, tmp_path):
    from cdp import Browser

    assert CHROMIUM, "chromium must be installed in CI"
    out, _ = met_run
    browser = Browser(CHROMIUM, tmp_path / "profile", width=1400, height=1000)
    try:
        browser.load((out / "report.html").as_uri())
        page = browser.evaluate(
            "({page: document.documentElement.scrollWidth, window: window.innerWidth,"
            " table: document.querySelector('table').scrollWidth,"
            " box: document.querySelector('table').parentElement.clientWidth,"
            " right: Math.max(...[...document.querySelectorAll('td, th')].map(c => c.getBoundingClientRect().right)),"
            " bullets: [...document.querySelectorAll('ul.sentences li')].map(li => li.textContent),"
            " rows: [...document.querySelectorAll('tbody tr td:first-child')].map(td => td.textContent)})")
    finally:
        browser.close()
    assert page["window"] == 1400
    assert page["page"] <= page["window"] and page["table"] <= page["box"]  # no horizontal scrolling
    assert page["right"] <= page["window"]  # the icon column is not cut
    assert page["bullets"] == (out / "sentences.txt").read_text(encoding="utf-8").splitlines()
    assert page["bullets"][0].startswith("Robbery in Westminster") and page["bullets"][-1].startswith("Too few")
    assert page["rows"][:2] == ["Westminster", "Bromley"]


def test_by_default_charts_are_drawn_for_the_force_total_and_the_series_that_call_for_attention():
    from forecast.present.report import charted_areas

    summary = pd.DataFrame({"area": ["Westminster", "All areas", "Camden", "Bromley", "Heathrow", "Croydon"],
                            "attention": ["recent step change", "stable", "stable", "step change expected",
                                          "too few crimes", "special cause"]})
    assert charted_areas(summary) == ["Westminster", "All areas", "Bromley", "Croydon"]
    assert charted_areas(summary, "all") is None


def test_past_a_page_only_the_first_60_series_that_call_for_attention_are_charted_and_the_report_says_so():
    from html import escape

    from forecast.present.report import MAX_CHARTS, build_report, charted_areas, charts_note

    # the board's order: 70 series that call for attention (the force total, charted whatever its state, placed
    # among them), then the quiet ones
    areas = [f"LSOA {i:03d}" for i in range(80)]
    attention = ["special cause"] * 70 + ["too few crimes"] * 5 + ["stable"] * 5
    summary = pd.DataFrame({"area": areas[:30] + ["All areas"] + areas[30:], "attention": attention[:30] + ["stable"]
                            + attention[30:]})
    charted = charted_areas(summary)
    assert MAX_CHARTS == 60 and len(charted) == 61
    assert charted[:30] == areas[:30] and charted[30] == "All areas" and charted[31:] == areas[30:60]
    note = charts_note(summary, charted)
    assert note == ("Charts of the first 60 of the 70 series that call for attention, in the summary's order; "
                    "forecast report --charts all draws every series.")
    assert charts_note(summary, None) == "" and charts_note(summary.iloc[:40], charted_areas(summary.iloc[:40])) == ""
    rows = summary.assign(crime_type="Robbery", status="stable", process_mean=1.0, step_change=None, model="sparse",
                          mase=0.9, snaive_mase=1.0, quarter=3.0, quarter_lo_80=1.0, quarter_hi_80=5.0,
                          quarter_lo_95=0.0, quarter_hi_95=7.0, vs_last_year_pct=0.0, last_month="2021-12")
    html = build_report(rows, [], {}, title="t", source="s", generated="g", charts_note=note)
    assert f'<h2>Charts</h2>\n<p class="meta">{escape(note)}</p>' in html
    assert 'class="meta">Charts' not in build_report(rows, [], {}, title="t", source="s", generated="g")
