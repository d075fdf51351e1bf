"""The page in a real browser: Debian's Chromium, headless, driven by Playwright.

It loads with no request leaving 127.0.0.1 (fonts, scripts, analytics: all local or off), a tiny
picture is made by pressing Start and is found in the Gallery, and screenshots of the finished
page and the gallery are saved: always under pytest's temporary folder, and in NST_SCREENSHOTS
when set (the README's pictures were made so: NST_SCREENSHOTS=docs/images
NST_SCREENSHOT_SIZE=384 NST_SCREENSHOT_WEIGHTS=hed .venv/bin/python -m pytest
tests/web/test_browser.py).
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.web.tiny_picture import TINY

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("NST_REQUIRE_BROWSER"):
            pytest.fail("Debian's chromium is missing: apt-get install -y chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_a_picture_is_made_in_the_browser_without_leaving_the_machine(site_url, browser, tmp_path):
    site, url = site_url
    page = browser.new_page(viewport={"width": 1400, "height": 1250})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.get_by_text("Make a picture").first.wait_for()
    size = os.environ.get("NST_SCREENSHOT_SIZE", str(TINY))
    page.get_by_label("number input for Size (px, longest side)").fill(size)
    page.get_by_label("number input for Size (px, longest side)").press("Enter")
    page.get_by_text("Network", exact=True).click()
    page.get_by_label(os.environ.get("NST_SCREENSHOT_WEIGHTS", "none"), exact=True).check()
    page.get_by_role("button", name="Start").click()
    status = page.locator("#status")
    status.get_by_text("Done:").wait_for(timeout=300_000)
    page.wait_for_timeout(500)  # the readout and downloads arrive with the same message
    page.screenshot(path=tmp_path / "web_page.png", full_page=True)
    assert page.get_by_text("colours against the painting's").is_visible()  # the readout
    run_dirs = [path.parent for path in (site.runs / "web").glob("*/final.png")]
    assert run_dirs, "Start made no run directory"

    page.get_by_role("tab", name="Gallery").click()
    page.get_by_role("button", name="Refresh").click()
    newest = max(run_dirs).relative_to(site.runs).as_posix()
    page.get_by_label("Thumbnail 1 of", exact=False).click()  # the newest run
    expect(page.get_by_label("Chosen run")).to_have_value(newest)
    page.get_by_test_id("cell-5-2").get_by_text("loss.tv_weight").wait_for()  # its settings
    for side in ("Run A", "Run B"):
        choice = page.get_by_label(side)
        choice.click()
        choice.fill(newest)  # the dropdown filters its runs as one types
        page.get_by_role("option", name=newest).filter(visible=True).last.wait_for()
        choice.press("Enter")
        expect(choice).to_have_value(newest)
    comparison = page.get_by_role("grid", name="Readout and the settings that differ")
    expect(comparison).to_contain_text("palette", timeout=20_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=tmp_path / "web_gallery.png", full_page=True)
    if os.environ.get("NST_SCREENSHOTS"):
        for name in ("web_page.png", "web_gallery.png"):
            shutil.copy(tmp_path / name, Path(os.environ["NST_SCREENSHOTS"]) / name)

    outside = {urlparse(address).hostname for address in requests} - {"127.0.0.1", None}
    assert not outside, f"requests left the machine: {sorted(outside)}"
    assert (tmp_path / "web_page.png").stat().st_size > 50_000
