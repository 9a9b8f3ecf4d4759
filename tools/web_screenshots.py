"""Screenshots of the main pages of `il2sim serve` into docs/images/ (web-patient.png, web-params.png, web-regimens.png).

Usage: python tools/web_screenshots.py

Starts the server in a thread on a free loopback port and drives Debian's chromium (/usr/bin/chromium) with
Playwright, as tests/test_serve.py does. The patient page is shown after a run of the typical melanoma patient
on high-dose, 84 days.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from il2sim.web import background_server

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> int:
    profile = tempfile.mkdtemp(prefix="il2sim-chromium-")
    try:
        with background_server() as url, sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", headless=True,
                                                            args=ARGS, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url + "/")
            page.fill("#days", "84")
            page.click("#run")
            page.wait_for_selector("#status:text('done')")
            page.wait_for_timeout(500)
            page.screenshot(path=str(IMAGES / "web-patient.png"), full_page=True)
            page.goto(url + "/params")
            page.fill("#param-search", "lesion")
            page.screenshot(path=str(IMAGES / "web-params.png"))
            page.goto(url + "/regimens")
            page.screenshot(path=str(IMAGES / "web-regimens.png"))
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for name in ("web-patient.png", "web-params.png", "web-regimens.png"):
        print(IMAGES / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
