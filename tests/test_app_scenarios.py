"""The scenario picker and the line on every page (AppTest): which scenario the batch is, kept true through
edits, clears, files opened and scenarios loaded."""

import re

from streamlit.testing.v1 import AppTest

from clap_core.batchfile import write_batch_zip
from clap_core.scenarios import load
from conftest import ROOT


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def line(at) -> str:
    return next(plain(c.value) for c in at.caption if plain(c.value).startswith(("Scenario:", "Batch:")))


def open_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    assert not at.exception
    return at


def test_the_line_follows_loads_edits_clears_and_files():
    at = open_app()
    assert line(at).startswith("Scenario: Trained model, its own world, 12 pairs ·")
    at.selectbox(key="scenario-pick").set_value("batch-8")
    at.button(key="load-scenario").click().run()
    assert line(at).startswith("Scenario: Smaller batch (8 pairs), 8 pairs ·")
    at.button(key="reset-examples").click().run()  # back to the default scenario: the picker follows
    assert at.selectbox(key="scenario-pick").value == "own-world"
    assert line(at).startswith("Scenario: Trained model, its own world, 12 pairs ·")

    editor = f"editor-{at.session_state.editor_version}"
    at.session_state[editor] = {"edited_rows": {0: {"caption": "edited"}}, "added_rows": [], "deleted_rows": []}
    at.run()  # the edit is counted in the same run that takes it
    assert "(changed since loaded)" in line(at)
    assert any("You have changed this batch" in plain(i.value) for i in at.info)

    at.button(key="clear").click().run()
    at.button(key="confirm-clear").click().run()  # an edited batch: asked first
    assert line(at).startswith("Batch: your own, 0 pairs ·")
    data = write_batch_zip(load("shuffled"), {})
    at.file_uploader(key=f"open-batch-{at.session_state.open_round}").set_value(("mine.zip", data, "application/zip"))
    at.run()
    assert not at.exception and line(at).startswith("Batch: your own, 12 pairs ·")
    at.switch_page("pages/loss.py").run()
    assert line(at).startswith("Batch: your own, 12 pairs ·")


def test_compare_refuses_a_custom_b_that_is_not_a_checkpoint(tmp_path):
    at = open_app()
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="compare-b").set_value("Custom hub id or local folder…").run()
    for name in (tmp_path / "does-not-exist", tmp_path):
        at.text_input(key="compare-custom-name").set_value(str(name))
        at.button(key="compare-custom-use").click().run()
        assert not at.exception
        assert any(plain(e.value).startswith("B cannot be loaded: ") for e in at.error), [e.value for e in at.error]
        assert not any(b.key == "compare-load" for b in at.button)
