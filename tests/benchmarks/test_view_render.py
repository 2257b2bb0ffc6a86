"""Each page of the command view renders in under 2 s for the 500-bed demo hospital (``make bench``).

The store holds the demo's two years (``hospital-twin demo``'s default; ``HOSPITAL_TWIN_VIEW_BENCH_DAYS``
changes it) of the baseline hospital's synthetic history (about 560 staffed beds), a 14-day census forecast
and plans of the demo's real sizes (``tests.ui.test_view_support.DEMO``): a roster of every nurse of the
scenario's staff pools (722) for 28 days, a week of theatre cases in all nine theatres, and 40 supply items.
Each page is rendered with Streamlit's AppTest twice: cold (a new data source and empty read caches, as right
after the view starts; Streamlit's own start-up is not counted) and warm (a planner switching back to the
page within the cache time). Goal: < 2 s for both. The reference printed beside it is a read of the
same data straight from the store, without Streamlit, so the share of the time spent laying out is visible.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ops.store import open_store
from tests.ui.test_view_pages import run_page
from tests.ui.test_view_support import DEMO, build_view_store
from ui.view.pages import PAGES, clear_caches
from ui.view.sources import WARM_UP_THREAD, EmbeddedSource

GOAL_SECONDS = 2.0
HISTORY_DAYS = int(os.environ.get("HOSPITAL_TWIN_VIEW_BENCH_DAYS", "730"))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("view-bench")
    url = build_view_store(folder, days=HISTORY_DAYS, sizes=DEMO)
    with open_store(url, results_dir=folder / "results") as store:
        roster, surgery = store.latest_plan("roster"), store.latest_plan("surgery")
    assert roster is not None and surgery is not None
    nurses = len({row["nurse_id"] for row in roster.payload["assignments"]})
    days = len({row["day"] for row in roster.payload["assignments"]})
    cases = len(surgery.payload["cases"])
    print(
        f"\ndemo store: {HISTORY_DAYS} days of history; roster {nurses} nurses x {days} days; {cases} cases"
    )
    assert nurses >= 500 and days == 28 and cases >= 100
    return url, folder / "results"


def _reads_seconds(url: str, results: Path, title: str) -> float:
    """The store reads a page needs, timed without Streamlit (the reference)."""
    with open_store(url, results_dir=results) as store:
        source = EmbeddedSource(store)
        started = time.perf_counter()
        if title in ("Now", "Forecast"):
            census = source.census_now()
            assert census is not None
        if title == "Forecast":
            forecast = source.census_forecast()
            assert forecast is not None
            source.census_history(forecast.as_of)
        if title == "Staffing":
            source.last_nightly_failure()
            source.draft_plan("roster")
        kinds = {"Now": "roster", "Staffing": "roster", "Theatres": "surgery", "Supply": "supply"}
        if title in kinds:
            source.plan(kinds[title])
        if title == "What-if":
            source.scenario_names()
            source.whatif_runs()
        return time.perf_counter() - started


def _wait_for_warm_ups() -> None:
    """Let the twins warm-ups of sources made by earlier renders end (each would compete for the cores)."""
    for thread in threading.enumerate():
        if thread.name == WARM_UP_THREAD:
            thread.join(120)


@pytest.mark.parametrize("title", list(PAGES))
def test_page_renders_within_two_seconds(
    demo_store: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, title: str
) -> None:
    url, results = demo_store
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOSPITAL_TWIN_RESULTS_DIR", str(results))
    monkeypatch.delenv("HOSPITAL_TWIN_API_URL", raising=False)
    run_page("Supply")  # Streamlit itself and the app's modules loaded once, as in a running view
    _wait_for_warm_ups()  # a new view process does not carry the previous one's warm-up
    clear_caches()  # a new source and empty read caches: the first look after the view starts
    started = time.perf_counter()
    cold_app = run_page(title)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    warm_app = run_page(title)
    warm = time.perf_counter() - started
    reference = _reads_seconds(url, results, title)
    clear_caches()
    print(
        f"\n{title:9s}: cold {cold:.2f} s, warm {warm:.2f} s (goal < {GOAL_SECONDS:.0f} s); "
        f"reference: store reads alone {reference:.2f} s"
    )
    assert not cold_app.exception and not warm_app.exception
    assert cold < GOAL_SECONDS, f"{title} took {cold:.2f} s cold"
    assert warm < GOAL_SECONDS, f"{title} took {warm:.2f} s warm"
