"""Every page on a phone (390 px) and on a laptop (1366 px), in Chromium, with screenshots of each in
build/screenshots/screens/: nothing wider than the screen, formulas that scroll inside their box instead of being cut,
square numbered heatmaps and no Plotly toolbar on the phone, and Compare's two heatmaps with cells big enough for
their numbers at 1366 px."""

import pytest
from test_browser import IDLE, SHOTS, browser, charts_drawn, drawn, pytestmark, server  # noqa: F401

PAGES = ["", "similarity", "loss", "zero_shot", "embedding_map", "answers", "train", "check", "retrieval", "evaluate",
         "compare"]
OUT = SHOTS / "screens"


def visit(pg, url: str) -> None:
    """Open a page and wait as Streamlit's e2e suite does: a title, the page drawn for this screen's width (the
    viewport's first report reruns the page once), the script idle, the charts drawn."""
    pg.goto(url)
    pg.locator("h1").first.wait_for()
    drawn(pg)
    charts_drawn(pg)


def layout_facts(pg) -> dict:
    return pg.evaluate("""() => ({
        page: [document.documentElement.scrollWidth, window.innerWidth],
        formulas: [...document.querySelectorAll('.katex-display')].map(e => ({
            right: e.getBoundingClientRect().right, overflow: getComputedStyle(e).overflowX,
            scroll: e.scrollWidth, client: e.clientWidth})),
        modebars: [...document.querySelectorAll('[data-testid=stPlotlyChart] .modebar-container')]
            .filter(m => m.children.length && getComputedStyle(m).display !== 'none').length,
        heatmaps: [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(c => {
            const img = c.querySelector('.heatmaplayer image'), cell = c.querySelector('.heatmaplayer text');
            const box = img ? img.getBoundingClientRect() : null;
            const title = c.querySelector('.ytitle');
            return box ? {w: box.width, h: box.height, texts: c.querySelectorAll('.heatmaplayer text').length,
                          pairs: !!(title && title.textContent.startsWith('captions')),
                          font: cell ? parseFloat(getComputedStyle(cell).fontSize) : 0,
                          ticks: [...c.querySelectorAll('.yaxislayer-above .ytick text')].map(t => t.textContent)}
                       : null; }).filter(Boolean),
    })""")


@pytest.mark.parametrize("width", [390, 1366])
def test_every_page_fits_the_screen(server, browser, width):  # noqa: F811
    pg = browser.new_page(viewport={"width": width, "height": 900})
    pg.set_default_timeout(180_000)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in PAGES:
        visit(pg, f"{server}/{name}")
        facts = layout_facts(pg)
        pg.screenshot(path=str(OUT / f"{width}-{name or 'batch'}.png"))
        assert facts["page"][0] <= facts["page"][1], (name, facts["page"])  # nothing wider than the screen
        for f in facts["formulas"]:  # a wide formula scrolls inside its box, the box ends on the screen
            assert f["right"] <= width + 0.5, (name, f)
            assert f["scroll"] <= f["client"] or f["overflow"] in ("auto", "scroll"), (name, f)
        if width == 390:
            assert facts["modebars"] == 0, name  # no toolbar over titles and values
            for h in [h for h in facts["heatmaps"] if h["pairs"]]:  # C and its views: square, numbered
                assert abs(h["w"] - h["h"]) < 0.25 * h["w"], (name, h)
                assert all(t.strip().isdigit() for t in h["ticks"]), (name, h["ticks"][:3])
    pg.close()


def test_compare_cells_hold_their_numbers_at_1366(server, browser):  # noqa: F811
    pg = browser.new_page(viewport={"width": 1366, "height": 900})
    pg.set_default_timeout(180_000)
    visit(pg, f"{server}/compare")
    pg.wait_for_function("() => document.querySelectorAll('[data-testid=stPlotlyChart] .heatmaplayer image').length >= 3")
    pg.locator(IDLE).wait_for()
    heat = [h for h in layout_facts(pg)["heatmaps"] if h["pairs"]][:2]  # A's and B's (then the difference B − A)
    assert len(heat) == 2 and all(h["texts"] == 144 for h in heat), heat
    for h in heat:
        assert h["w"] / 12 >= 26 and h["h"] / 12 >= 26, h  # a cell holds "-14.2" at 11 px
        assert h["font"] >= 10, h
    pg.close()
