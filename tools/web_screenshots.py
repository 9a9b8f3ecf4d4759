"""Screenshots of the main pages of `il2sim serve` into docs/images/.

Usage: python tools/web_screenshots.py [--validation FILE]

Writes web-patient.png (the typical melanoma patient on high-dose, 84 days), web-compare.png (the same patient on
high-dose with and without supportive care), web-dose-table.png (a custom regimen in the dose table, with a bad
count refused), web-trial.png (a 60-patient, two-arm melanoma trial, 26 weeks), web-validation.png (the scorecard
of FILE, a validation.json of `il2sim validate`; without it, the page that says how to make one), web-params.png
and web-regimens.png.

Starts the server in a thread on a free loopback port, with a temporary run directory, and drives Debian's
chromium (/usr/bin/chromium) with Playwright, as tests/test_serve.py does.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from il2sim.web import ServerSettings, background_server

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
NAMES = ("web-patient.png", "web-compare.png", "web-dose-table.png", "web-trial.png", "web-validation.png",
         "web-params.png", "web-regimens.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", metavar="FILE", help="a validation.json for the scorecard page")
    options = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="il2sim-chromium-")
    settings = ServerSettings(validation=options.validation)
    try:
        with background_server(settings) as url, sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", headless=True,
                                                            args=ARGS, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(300_000)
            shot = lambda name, **kw: page.screenshot(path=str(IMAGES / name), **kw)  # noqa: E731

            page.goto(url + "/")
            page.fill("#days", "84")
            page.click("#run")
            page.wait_for_selector("#status:text('done')")
            page.wait_for_timeout(500)
            shot("web-patient.png", full_page=True)

            page.goto(url + "/")
            page.fill("#days", "28")
            page.check("#compare")
            page.set_checked("#b_care", False)
            page.set_checked("#b_holds", True)
            page.click("#run")
            page.wait_for_selector("#status:text('done')")
            page.wait_for_timeout(500)
            page.set_viewport_size({"width": 1280, "height": 1500})
            shot("web-compare.png")
            page.set_viewport_size({"width": 1280, "height": 900})

            page.goto(url + "/")
            page.fill("#days", "28")
            page.select_option("#regimen", "custom")
            page.fill("#block-2-count", "0")
            page.click("#run")
            page.locator("#error-block-2-count").wait_for(state="visible")
            shot("web-dose-table.png")

            page.goto(url + "/trial")
            page.locator("input[name=arms][value=low-dose-iv]").check()
            page.fill("#patients", "60")
            page.fill("#follow_up_weeks", "26")
            page.click("#run")
            page.wait_for_selector("#status[data-results]")
            page.wait_for_timeout(800)
            shot("web-trial.png", full_page=True)

            page.goto(url + "/validation")
            shot("web-validation.png", full_page=True)
            page.goto(url + "/params")
            page.fill("#param-search", "lesion")
            shot("web-params.png")
            page.goto(url + "/regimens")
            shot("web-regimens.png")
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for name in NAMES:
        print(IMAGES / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
