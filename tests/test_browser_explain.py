"""A real browser on the explaining views: the Loss page's τ sweep, the Embedding map and the Four answers,
as `make run` opens them (screenshots for the README in build/screenshots/)."""

import re

from test_browser import SHOTS, charts_drawn, drawn, goto_page, idle, metric_value, page, pytestmark, server, shot  # noqa: F401


def test_the_explaining_views_in_chromium(server, page):  # noqa: F811
    pg = page
    pg.goto(server)
    idle(pg, "button >> text=Clear the batch")
    drawn(pg)  # the run that knows the screen's width has ended

    # the Loss page's τ sweep: three curves, chance, the marks, τ* and the words beside it
    goto_page(pg, "Loss")
    pg.get_by_text("L as a function of τ").wait_for()
    sweep = pg.locator("[data-testid=stHorizontalBlock]").filter(has_text="Small τ").first
    sweep.get_by_text("log N =", exact=False).first.wait_for()
    charts_drawn(pg)
    sweep.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    top = pg.locator("h3", has_text="L as a function of τ").bounding_box()
    box = sweep.bounding_box()
    pg.screenshot(path=str(SHOTS / "loss_sweep.png"), clip={"x": box["x"] - 10, "y": top["y"] - 10,
                                                           "width": box["width"] + 20,
                                                           "height": box["y"] + box["height"] - top["y"] + 20})
    chart = sweep.locator("[data-testid=stPlotlyChart]")
    for label in ("L = ½(ℓ_text + ℓ_audio)", "ℓ_text (rows)", "ℓ_audio (columns)", "checkpoint's τ", "τ*"):
        assert chart.locator("text", has_text=label).count() >= 1, label
    assert chart.locator("text", has_text="chance log N").count() == 1

    # the Embedding map: the numbers, the map with its arrows, one item's pull and pushes
    pg.set_viewport_size({"width": 1400, "height": 2500})  # the map page whole in one screenshot
    goto_page(pg, "Embedding map")
    pg.locator("[data-testid=stMetric]", has_text="Gap of a random-weight model").wait_for()
    charts_drawn(pg)
    assert re.fullmatch(r"\d+\.\d %", metric_value(pg, "Variance kept"))
    gap, random_gap = metric_value(pg, "Modality gap"), metric_value(pg, "Gap of a random-weight model")
    assert re.fullmatch(r"\d\.\d{3}", gap) and re.fullmatch(r"\d\.\d{3}", random_gap) and gap != random_gap
    maps = pg.locator("[data-testid=stPlotlyChart]")
    assert maps.count() == 2
    assert maps.first.locator("text", has_text="−∂L/∂ê: where gradient descent moves it").count() == 1
    assert maps.nth(1).locator(".gtitle", has_text="Seen from caption 1: the sphere's tangent plane there").count() == 1
    shot(pg, "embedding_map")
    picker = pg.locator("[data-testid=stSelectbox]", has_text="Caption or clip")
    picker.click()
    pg.locator("[role=option]", has_text="clip 2:").first.click()
    idle(pg, ".gtitle >> text=Seen from clip 2")
    charts_drawn(pg)
    assert pg.locator("[data-testid=stDataFrame]").count() == 1

    # the Four answers, each with its link; one link leads to its page
    goto_page(pg, "Four answers")
    pg.get_by_text("4. What is wrong with the formula as it is often quoted?").wait_for()
    pg.set_viewport_size({"width": 1400, "height": 2400})
    idle(pg)
    assert pg.get_by_text("No.", exact=True).count() == 1
    assert metric_value(pg, "sum = L") == metric_value(pg, "the symmetric loss L")
    shot(pg, "answers")
    pg.locator("[data-testid=stPageLink] a", has_text="Embedding map: the pull and the pushes").click()
    pg.locator("h1", has_text="Embedding map").wait_for()
    idle(pg)
