import os
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
                                      "--paths", "300", "--out", str(out)], catch_exceptions=False)
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
    (out / "report.html").unlink()
    result = invoke("report", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists() and "wrote" in result.stdout
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
        control = write(tmp_path / "control.html", '<img src="http://example.invalid/x.png"><p>control</p>')
        requested, _, _ = browser.load(control.as_uri())
        assert requested == ["http://example.invalid/x.png"]  # the detector sees a page's request
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
