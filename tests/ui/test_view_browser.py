"""End to end in real headless Chromium: start the view on a small store, open every page, run a what-if.

The view is started as ``hospital-twin view`` starts it (``streamlit run`` on 127.0.0.1, toolbar in viewer
mode). Every page is opened and photographed whole (the window is made as tall as the page first, since
Streamlit scrolls inside its own container); a what-if is run to the end and its comparison table is read
back from the page: one row per KPI with the baseline, what-if, difference and interval cells.

Screenshots go to the test's temporary folder and to ``var/test-artifacts/view/`` (kept by CI); with
``HOSPITAL_TWIN_VIEW_SCREENSHOTS=docs`` they are also copied to ``docs/images/`` (the tutorial's pictures).
"""

from __future__ import annotations

import importlib.util
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

from ops.sim.kpis import METRICS
from tests.conftest import PROJECT_ROOT, require
from tests.ui.test_view_support import ViewStoreSizes, build_view_store
from ui.commands.view import view_command
from ui.view.pages import PAGES, kpi_words

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS_ENV = "HOSPITAL_TWIN_VIEW_SCREENSHOTS"
DOCS_IMAGES = PROJECT_ROOT / "docs" / "images"
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts" / "view"
START_TIMEOUT_S = 60.0
WIDTH = 1400
TABLE_COLUMNS = ("KPI", "unit", "baseline mean", "what-if mean", "difference", "95 % CI low", "95 % CI high")
TUTORIAL_SIZES = ViewStoreSizes(roster_days=14, roster_pools=3, theatre_days=3, supply_items=12)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running_view(tmp_path: Path) -> Iterator[str]:
    """The view in embedded mode on a small store, as ``hospital-twin view`` starts it; yields its URL."""
    require(CHROMIUM.is_file(), f"Debian's chromium is absent ({CHROMIUM})")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    url = build_view_store(tmp_path, days=4, sizes=TUTORIAL_SIZES)
    port = _free_port()
    env = dict(os.environ)
    env.pop("HOSPITAL_TWIN_API_URL", None)
    env.update(
        {
            "DATABASE_URL": url,
            "HOSPITAL_TWIN_RESULTS_DIR": str(tmp_path / "results"),
            "HOSPITAL_TWIN_VIEW_USER": "browser-test",
        }
    )
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


def photograph_whole_page(page: Any, path: Path) -> None:
    """A screenshot of the whole page: the window is first made as tall as Streamlit's scrolled content."""
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stAppViewContainer', 'stMainBlockContainer']
            .map(id => document.querySelector(`[data-testid="${id}"]`))
            .filter(node => node)
            .map(node => node.scrollHeight))"""
    )
    page.set_viewport_size({"width": WIDTH, "height": int(height) + 80})
    page.wait_for_timeout(800)  # charts re-lay themselves out to the new size
    wait_until_idle(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 1000})


def comparison_rows(page: Any) -> list[dict[str, str]]:
    """The comparison table as shown: one dict per row, keyed by the column headers."""
    table = page.get_by_test_id("stTable").locator("table")
    headers = [cell.inner_text().strip() for cell in table.locator("thead th").all()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [cell.inner_text().strip() for cell in row.locator("th, td").all()]
        rows.append(dict(zip(headers[-len(cells) :], cells, strict=True)))
    return rows


def number(cell: str) -> float:
    """A number as the table shows it (``1,404.25``; ``–`` for none)."""
    return float("nan") if cell in ("–", "") else float(cell.replace(",", ""))


def test_the_view_opens_every_page_and_runs_a_whatif(running_view: str, tmp_path: Path) -> None:
    from playwright import sync_api

    shots = tmp_path / "screenshots"
    shots.mkdir()
    rows: list[dict[str, str]] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
            for title in PAGES:
                page.goto(f"{running_view}/?page={title}")
                page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
                page.wait_for_load_state("networkidle")
                wait_until_idle(page)
                assert page.get_by_test_id("stException").count() == 0, title
                assert page.get_by_text("could not be shown").count() == 0, title
                assert page.get_by_role("button", name="Deploy").count() == 0, "the Deploy button shows"
                if title == "What-if":
                    days = page.get_by_label("Days simulated")
                    days.fill("5")
                    days.press("Enter")
                    replications = page.get_by_label("Replications")
                    replications.fill("2")
                    replications.press("Enter")
                    page.get_by_role("button", name="Run what-if").click()
                    page.get_by_text("paired replications").wait_for(timeout=180_000)
                    table = page.get_by_test_id("stTable")
                    table.wait_for(timeout=30_000)
                    wait_until_idle(page)
                    rows = comparison_rows(page)
                    table.scroll_into_view_if_needed()
                    table.screenshot(path=str(shots / "view-whatif-table.png"))
                    assert page.get_by_test_id("stException").count() == 0
                photograph_whole_page(page, shots / f"view-{title.lower().replace('-', '')}.png")
        finally:
            browser.close()

    # A row per KPI of the model, each with its baseline, what-if, difference and interval cells.
    kpis = [row["id"] for row in rows]
    assert set(METRICS) <= set(kpis), "the table must hold every KPI of the model"
    assert len(kpis) == len(set(kpis)), "a KPI shown twice"
    for row in rows:
        assert set(TABLE_COLUMNS) <= set(row), row
        assert row["KPI"] == kpi_words(row["id"])[0]
        low, difference, high = (number(row[name]) for name in ("95 % CI low", "difference", "95 % CI high"))
        assert low <= difference + 1e-6 and difference <= high + 1e-6, row
        assert abs(number(row["what-if mean"]) - number(row["baseline mean"]) - difference) <= 0.011, row

    saved = sorted(path.name for path in shots.glob("*.png"))
    assert len(saved) == len(PAGES) + 1
    assert all((shots / name).stat().st_size > 10_000 for name in saved)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in saved:
        shutil.copyfile(shots / name, ARTIFACTS / name)
    if os.environ.get(SCREENSHOTS_ENV) == "docs":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name in saved:
            shutil.copyfile(shots / name, DOCS_IMAGES / name)
    print(f"screenshots in {ARTIFACTS}: {', '.join(saved)}", file=sys.stderr)
