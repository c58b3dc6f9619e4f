"""The Train page in Chromium: on shuffled captions, train with two pairs held out, stop a run half-way, use the
weights on another page, reset; saves build/screenshots/train.png."""

import re

from playwright.sync_api import expect
from test_browser import charts_drawn, drawn, goto_page, idle, metric_value, page, pytestmark, server, shot  # noqa: F401

PROGRESS = "[data-testid=stProgress]"


def steps_done(pg) -> int:
    text = pg.locator(PROGRESS).first.inner_text()
    return int(re.search(r"step (\d+) of this run", text).group(1))


def picker(pg):
    """The sidebar's checkpoint picker (its value is the checkpoint in use)."""
    return pg.locator("[data-testid=stSidebar]").get_by_role("combobox", name="Checkpoint")


def set_number(pg, label: str, value: int) -> None:
    box = pg.locator("[data-testid=stNumberInput]", has_text=label).locator("input").first
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))
    idle(pg)


def test_train_on_this_batch_in_chromium(server, page):  # noqa: F811
    pg = page
    pg.goto(server)
    idle(pg, "h1")
    drawn(pg)  # the run that knows the screen's width has ended
    pg.get_by_role("button", name="Shuffle the captions", exact=True).click()  # a batch the model gets wrong
    idle(pg, "button:has-text('Restore the captions'):not([disabled])")
    goto_page(pg, "Loss")
    l_checkpoint = metric_value(pg, "L = ½")
    goto_page(pg, "Train on this batch")
    assert pg.locator("[data-testid=stPlotlyChart]").count() == 0  # nothing trained yet

    set_number(pg, "Steps per Start", 60)
    set_number(pg, "Held-out pairs", 2)
    pg.get_by_role("button", name="Start", exact=True).click()
    pg.locator(PROGRESS, has_text="step 60 of this run").wait_for()
    idle(pg, "[data-testid=stPlotlyChart] .main-svg")
    assert pg.get_by_text("left of this Start").count() == 0
    assert pg.locator("[data-testid=stMetric]", has_text="Held-out pairs").count() == 1
    assert float(metric_value(pg, "training pairs")) < float(l_checkpoint)
    charts_drawn(pg)
    assert pg.locator("[data-testid=stPlotlyChart]").count() == 2  # the L curve and C
    assert pg.locator(".legendtext", has_text="held-out pairs").count() == 1
    shot(pg, "train")

    # a longer click, stopped half-way: the steps taken stay, the rest are not taken
    set_number(pg, "Steps per Start", 200)
    pg.get_by_role("button", name="Start", exact=True).click()
    pg.locator(PROGRESS, has_text="left of this Start").wait_for()
    pg.get_by_role("button", name="Stop", exact=True).click()
    idle(pg)
    pg.locator(PROGRESS).filter(has_not_text="left of this Start").wait_for()
    stopped = steps_done(pg)
    assert 60 < stopped < 260, stopped
    idle(pg)
    assert steps_done(pg) == stopped  # nothing more after Stop

    # use the weights: the sidebar and every page take the fine-tuned checkpoint
    pg.get_by_role("button", name="Use these weights", exact=True).click()
    name = f"bundled (fine-tuned, {stopped} steps)"
    pg.get_by_text(f"In use on every page: “{name}”", exact=False).wait_for()
    idle(pg)
    goto_page(pg, "Loss")
    expect(picker(pg)).to_have_value(name)
    assert metric_value(pg, "L = ½") != l_checkpoint

    goto_page(pg, "Train on this batch")
    pg.get_by_role("button", name="Reset", exact=True).click()
    expect(picker(pg)).to_have_value("bundled")
    idle(pg)
    goto_page(pg, "Loss")
    assert metric_value(pg, "L = ½") == l_checkpoint
