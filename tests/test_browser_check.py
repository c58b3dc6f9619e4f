"""The quick-check pages in a real browser (Chromium + Playwright against `streamlit run app.py`): a query on the
Retrieval page; on Evaluate, the held-out demo world with Stop (what was done is kept), Continue to the end.
Saves build/screenshots/retrieval.png and evaluate.png."""

import os
import re

import pytest
from test_browser import CHROMIUM, drawn, goto_page, idle, metric_value, shot
from test_browser import page as page  # noqa: F401  (fixtures)
from test_browser import server as server  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (apt-get install chromium)")


def test_retrieval_and_evaluate_in_chromium(server, page):  # noqa: F811
    pg = page
    pg.goto(server)
    idle(pg, "[data-testid=stSidebarNav]")
    drawn(pg)  # the run that knows the screen's width has ended

    goto_page(pg, "Retrieval")
    pg.get_by_text("This is caption 1's text: its own clip", exact=False).wait_for()  # the query starts as caption 1
    query = pg.get_by_label("Query", exact=True)
    query.fill("a loud wailing siren")
    query.press("Enter")
    pg.get_by_text("This is caption 1's text", exact=False).wait_for(state="detached")
    idle(pg, "[data-testid=stDataFrame]")
    assert pg.get_by_text("Ties go to the lower index", exact=False).count() >= 1
    shot(pg, "retrieval")

    goto_page(pg, "Evaluate a labelled set")
    pg.get_by_text("Demo world (generated)").click()
    pg.get_by_text("demo world (classes), seed 987654, 240 clips", exact=False).wait_for()
    idle(pg)
    pg.get_by_role("button", name="Evaluate").click()
    pg.get_by_text(re.compile(r"\d+ of 240 clips · [\d.]+ clips/s · about \d+ s left")).wait_for()
    pg.get_by_role("button", name="Stop").click()
    pg.get_by_text("Stopped after", exact=False).wait_for()
    idle(pg, "[data-testid=stMetric]")
    done = metric_value(pg, "Clips evaluated")
    assert re.fullmatch(r"\d+ of 240", done) and done != "240 of 240", done
    pg.get_by_role("button", name="Continue").click()
    pg.locator("[data-testid=stMetric]", has_text="Clips evaluated").filter(has_text="240 of 240").wait_for()
    idle(pg, "[data-testid=stPlotlyChart]")
    assert pg.get_by_text("Stopped after", exact=False).count() == 0
    assert re.fullmatch(r"\d+\.\d %", metric_value(pg, "Top-1 accuracy"))
    shot(pg, "evaluate")


def test_the_health_check_in_chromium(server, page):  # noqa: F811
    pg = page
    pg.goto(server)
    idle(pg, "[data-testid=stSidebarNav]")
    drawn(pg)  # the run that knows the screen's width has ended
    goto_page(pg, "Health check")
    pg.get_by_role("button", name="Run the health check").click()
    pg.get_by_text("Checked bundled in", exact=False).wait_for()
    idle(pg, "text=it knows only its demo world")
    for title in ("Spread of the text tower", "Temperature τ", "Determinism", "Real recordings", "Prompt sensitivity"):
        assert pg.get_by_text(title, exact=False).count() >= 1, title
    assert pg.get_by_role("button", name="Run it again").count() == 1
    shot(pg, "health")
