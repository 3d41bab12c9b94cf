"""Regenerate the README's pictures from a run's output folder: the report as a browser shows it at
1400 px, Westminster's SPC chart and the small multiples; from a winter plan's folder, All crime's winter chart.

    forecast run --crime robbery
    python scripts/readme_pictures.py out/met-major/robbery/latest
    forecast winter
    python scripts/readme_pictures.py out/met-major/winter/all/latest

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
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/met-major/robbery/latest"))
