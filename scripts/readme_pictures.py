"""Regenerate the README's pictures from a run's output folder: the report as a browser shows it at
1400 px, Westminster's SPC chart and the small multiples; from a winter plan's folder, All crime's winter chart.

    forecast run --crime robbery
    python scripts/readme_pictures.py out/met-major/robbery/latest
    forecast winter
    python scripts/readme_pictures.py out/met-major/winter/all/latest
    python scripts/readme_pictures.py --ui [URI]    (the MLflow UI on forecast/robbery's runs; default: the default store)

Needs Debian's chromium (apt-get install chromium) for the report's screenshot.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cdp import Browser  # noqa: E402


def winter(plan: Path, docs: Path = ROOT / "docs") -> None:
    shutil.copyfile(plan / "charts" / "all-crime-force-total.png", docs / "winter-chart-all-crime.png")
    print(f"wrote {docs / 'winter-chart-all-crime.png'}")


def ui(store: str, docs: Path = ROOT / "docs", port: int = 5077) -> None:
    """Start forecast ui on a store, open the runs link it prints for forecast/robbery in headless chromium, check
    that the page is the runs table of the machine-learning view, and save what it shows."""
    import re
    import subprocess
    import time

    log = Path(tempfile.mkdtemp()) / "ui.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "forecast", "ui", "--tracking-uri", store, "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        link = None
        for _ in range(600):
            found = re.search(r"runs of forecast/robbery: (\S+)", log.read_text())
            if found:
                link = found.group(1)
                break
            time.sleep(0.5)
        if link is None:
            raise SystemExit(f"forecast ui printed no link to forecast/robbery's runs: {log.read_text()[-2000:]}")
        with tempfile.TemporaryDirectory() as profile:
            browser = Browser(shutil.which("chromium") or "chromium", Path(profile), width=1400, height=700)
            try:
                for _ in range(120):  # the UI answers once MLflow's server is up
                    try:
                        browser.load(link)
                        break
                    except (RuntimeError, TimeoutError):
                        time.sleep(1)
                time.sleep(8)  # the page renders its table after loading
                where, text = browser.evaluate("location.href"), browser.evaluate("document.body.innerText")
                png = browser.send("Page.captureScreenshot", {"format": "png"}, session=browser.session)["data"]
            finally:
                browser.close()
        if "/runs" not in where or "workflowType=machine_learning" not in where or "Run Name" not in text:
            raise SystemExit(f"the link did not open the runs table: {where}")
        import base64

        (docs / "mlflow-ui-runs.png").write_bytes(base64.b64decode(png))
        print(f"{where}: the runs table; wrote {docs / 'mlflow-ui-runs.png'}")
    finally:
        server.terminate()
        server.wait(60)


def main(run: Path, docs: Path = ROOT / "docs") -> None:
    if (run / "winter.csv").exists():
        return winter(run, docs)
    shutil.copyfile(run / "charts" / "westminster.png", docs / "spc-chart-robbery-westminster.png")
    shutil.copyfile(run / "charts" / "small-multiples.png", docs / "small-multiples-robbery.png")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: the charts were copied, the report's screenshot was not taken")
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(chromium, Path(profile), width=1400, height=1100)
        try:
            _, png, _ = browser.load((run / "report.html").resolve().as_uri())
        finally:
            browser.close()
    (docs / "report-screenshot.png").write_bytes(png)
    for name in ("report-screenshot.png", "spc-chart-robbery-westminster.png", "small-multiples-robbery.png"):
        print(f"wrote {docs / name}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--ui"]:
        from forecast.record.tracking import tracking_uri

        ui(tracking_uri(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/met-major/robbery/latest"))
