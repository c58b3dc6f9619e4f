"""A stranger's first hour (issue 19), through the real app: no work lost to one click (ask first, undo with the link
back), an honest default model on real audio, the zero-shot labels a batch has."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_app import open_app, plain

from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from conftest import ROOT

REAL = ROOT / "assets" / "real"
MINE = [("dog-park.wav", "bendir.wav", "a dog barking in a park"),
        ("kitchen.wav", "piano.wav", "someone playing a piano in the kitchen"),
        ("street.wav", "rain.wav", "rain on the street at night")]


def mine_only() -> AppTest:
    """A session whose batch is three real recordings the person uploaded and captioned (the default scenario
    cleared first: it was not their work, so nothing is asked)."""
    at = open_app()
    at.button(key="clear").click().run()
    assert len(at.session_state.batch) == 0 and "confirm" not in at.session_state
    at.file_uploader(key=f"uploader-{at.session_state.upload_round}").set_value(
        [(name, (REAL / real).read_bytes(), "audio/wav") for name, real, _ in MINE]).run()
    editor = f"editor-{at.session_state.editor_version}"
    at.session_state[editor] = {"edited_rows": {i: {"caption": c} for i, (_, _, c) in enumerate(MINE)},
                                "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and at.session_state.batch.captions == [c for _, _, c in MINE]
    return at


def test_loading_a_scenario_over_uploads_asks_first_and_undo_brings_them_back_with_their_link():
    at = mine_only()
    mine, link = at.session_state.batch, at.session_state.store_id
    at.selectbox(key="scenario-pick").set_value("hard-negatives")
    at.button(key="load-scenario").click().run()
    assert at.session_state.batch is mine and at.session_state.confirm == ("scenario", "hard-negatives")
    assert any("3 of them your own uploads" in plain(w.value) for w in at.warning)
    at.button(key="cancel-scenario").click().run()  # "Keep my batch": nothing happens
    assert at.session_state.batch is mine and "confirm" not in at.session_state

    at.button(key="load-scenario").click().run()
    at.button(key="confirm-scenario").click().run()
    assert len(at.session_state.batch) == 8 and at.session_state.store_id != link  # the scenario has a link of its own
    from ui.store import _store

    saved = json.loads(_store().cache.get(("batch", link)))
    assert [p["caption"] for p in saved["pairs"]] == mine.captions  # the old record was not overwritten
    undo = at.button(key="undo")
    assert "Loaded the scenario “Hard negatives”" in undo.label and "(3 pairs)" in undo.label
    undo.click().run()
    back = at.session_state.batch
    assert back.captions == mine.captions and back.names == mine.names and at.session_state.store_id == link
    assert at.query_params["b"] == link and state_line(at).startswith("Batch: your own, 3 pairs")

    reloaded = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)  # the link works again
    reloaded.query_params["b"] = link
    reloaded.run()
    assert reloaded.session_state.batch.captions == mine.captions


def state_line(at) -> str:
    return next(plain(c.value) for c in at.caption if plain(c.value).startswith(("Batch:", "Scenario:")))


@pytest.mark.parametrize("act", ["clear", "shuffle", "remove-one"])
def test_clear_shuffle_and_remove_can_be_undone(act):
    at = mine_only()
    mine = at.session_state.batch
    at.button(key=act).click().run()
    if act == "clear":
        assert at.session_state.batch is mine  # own work: asked first
        at.button(key="confirm-clear").click().run()
    assert at.session_state.batch.captions != mine.captions
    at.button(key="undo").click().run()
    assert at.session_state.batch.captions == mine.captions and at.session_state.batch.names == mine.names


def test_opening_a_batch_file_can_be_undone():
    from clap_core.batchfile import write_batch_zip
    from clap_core.scenarios import load

    at = mine_only()
    mine = at.session_state.batch
    at.file_uploader(key=f"open-batch-{at.session_state.open_round}").set_value(
        ("other.zip", write_batch_zip(load("shuffled"), {}), "application/zip")).run()
    assert len(at.session_state.batch) == 12
    assert "Opened other.zip" in plain(at.button(key="undo").label)
    at.button(key="undo").click().run()
    assert at.session_state.batch.captions == mine.captions


def test_the_demo_model_says_what_it_knows_on_real_clips_with_their_numbers(bundled):
    at = mine_only()
    items = at.session_state.batch
    emb = Embedder(bundled)
    res = contrastive(emb.embed_texts(items.captions), emb.embed_clips(items.clips), bundled.tau)
    want = f"L = {res.loss:.2f}, {'above' if res.loss > np.log(3) else 'barely below'} chance log 3 = {np.log(3):.2f}"
    for page in ("pages/batch.py", "pages/similarity.py", "pages/loss.py", "pages/zero_shot.py", "pages/retrieval.py"):
        at.switch_page(page).run()
        assert not at.exception
        notes = [plain(w.value) for w in at.warning if "small demo model" in plain(w.value)]
        assert len(notes) == 1, page
        assert "12 synthetic sound classes" in notes[0] and want in notes[0], notes[0]
        assert "Hugging Face Hub" in notes[0]  # offline here: says that a LAION checkpoint needs the Hub


def test_no_notice_on_the_demo_world_itself():
    at = open_app("pages/loss.py")
    assert not any("small demo model" in plain(w.value) for w in at.warning)


def test_zero_shot_offers_the_batch_labels_when_none_is_in_the_preset():
    at = mine_only()
    editor = f"editor-{at.session_state.editor_version}"
    at.session_state[editor] = {"edited_rows": {0: {"true label": "dog"}, 1: {"true label": "piano"}},
                                "added_rows": [], "deleted_rows": []}
    at.run()
    at.switch_page("pages/zero_shot.py").run()
    text = " ".join(plain(i.value) for i in at.info)
    assert "None of the clips' true labels (dog, piano) is among these labels" in text
    assert "Labels of this batch" in text
    assert not any("Give clips a true label" in plain(c.value) for c in at.caption)


def test_every_table_edit_the_app_takes_is_named_under_the_table():
    """The grid can drop keys typed before its editor opens; the app names each cell it took, as received."""
    at = open_app()
    editor = f"editor-{at.session_state['editor_version'] if 'editor_version' in at.session_state else 0}"
    line = "Taken from the table and kept (a reload keeps them): "
    assert not [c for c in at.caption if plain(c.value).startswith(line)]  # nothing before the first edit
    at.session_state[editor] = {"edited_rows": {0: {"caption": "my *own* words"}, 2: {"caption": "x"},
                                                1: {"true label": "dog"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    shown = [plain(c.value) for c in at.caption if plain(c.value).startswith(line)]
    assert shown == [line + "caption 1 “my *own* words” · caption 3 “x” · true label 2 “dog”."], shown
    assert at.session_state.batch.captions[0] == "my *own* words" and at.session_state.batch.labels[1] == "dog"

    # the grid sends its edits so far each time: caption 1 again moves to the end, the others stay named
    at.session_state[editor] = {"edited_rows": {0: {"caption": "again"}, 2: {"caption": "x"}, 1: {"true label": "dog"}},
                                "added_rows": [], "deleted_rows": []}
    at.run()
    shown = [plain(c.value) for c in at.caption if plain(c.value).startswith(line)]
    assert shown == [line + "caption 3 “x” · true label 2 “dog” · caption 1 “again”."], shown

    at.button(key="shuffle").click().run()  # the table is redrawn from the batch: the line was about the old one
    assert not [c for c in at.caption if plain(c.value).startswith(line)]
