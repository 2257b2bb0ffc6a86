"""End to end in real headless Chromium: start the view on a small store, open every page, run a what-if.

Screenshots of each page are saved in the test's temporary folder; with
``HOSPITAL_TWIN_VIEW_SCREENSHOTS=docs`` they are also copied to ``docs/images/`` (the tutorial's pictures).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT_ROOT, require
from tests.ui.test_view_pages import build_view_store
from ui.commands.view import view_command
from ui.view.pages import PAGES

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS_ENV = "HOSPITAL_TWIN_VIEW_SCREENSHOTS"
DOCS_IMAGES = PROJECT_ROOT / "docs" / "images"
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running_view(tmp_path: Path) -> Iterator[str]:
    """The view in embedded mode on a small store, as ``hospital-twin view`` starts it; yields its URL."""
    require(CHROMIUM.is_file(), f"Debian's chromium is absent ({CHROMIUM})")
    url = build_view_store(tmp_path, days=2)
    port = _free_port()
    env = dict(os.environ)
    env.pop("HOSPITAL_TWIN_API_URL", None)
    env.update({"DATABASE_URL": url, "HOSPITAL_TWIN_RESULTS_DIR": str(tmp_path / "results")})
    log = (tmp_path / "view.log").open("w")
    process = subprocess.Popen(
        view_command(port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, (tmp_path / "view.log").read_text()
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the view did not start"
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_until_idle(page: Any) -> None:
    """Wait until the script has finished running (Streamlit's "Running" status widget is gone)."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=60_000)


def test_the_view_opens_every_page_and_runs_a_whatif(running_view: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            for title in PAGES:
                page.goto(f"{running_view}/?page={title}")
                page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
                page.wait_for_load_state("networkidle")
                wait_until_idle(page)
                assert page.get_by_test_id("stException").count() == 0, title
                assert page.get_by_text("could not be shown").count() == 0, title
                if title == "What-if":
                    days = page.get_by_label("Days simulated")
                    days.fill("5")
                    days.press("Enter")
                    replications = page.get_by_label("Replications")
                    replications.fill("2")
                    replications.press("Enter")
                    page.get_by_role("button", name="Run what-if").click()
                    page.get_by_text("paired replications").wait_for(timeout=120_000)
                    table = page.get_by_test_id("stDataFrame")
                    table.wait_for(timeout=30_000)
                    assert page.get_by_text("against").first.is_visible()
                    page.wait_for_timeout(1000)
                    table.scroll_into_view_if_needed()
                    table.screenshot(path=str(shots / "view-whatif-table.png"))
                    page.mouse.wheel(0, -10_000)
                    assert page.get_by_test_id("stException").count() == 0
                wait_until_idle(page)
                page.wait_for_timeout(500)
                page.screenshot(
                    path=str(shots / f"view-{title.lower().replace('-', '')}.png"), full_page=True
                )
        finally:
            browser.close()
    saved = sorted(path.name for path in shots.glob("*.png"))
    assert len(saved) == len(PAGES) + 1
    assert all((shots / name).stat().st_size > 10_000 for name in saved)
    if os.environ.get(SCREENSHOTS_ENV) == "docs":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name in saved:
            shutil.copyfile(shots / name, DOCS_IMAGES / name)
    print(f"screenshots in {shots}: {', '.join(saved)}", file=sys.stderr)
