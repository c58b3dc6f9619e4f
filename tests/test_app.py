"""AppTest per page: the real app on the real bundled checkpoint, driven through its widgets."""

import re
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.paths import BUNDLED_DIR
from clap_core.scenarios import default_batch
from conftest import ROOT
from media import all_formats

DEFAULT = default_batch()  # the default scenario: what a new session opens with


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
    return at


def metric(at, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def plain(markdown: str) -> str:
    """A message as the user reads it: the app escapes user text for Markdown with backslashes."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture(scope="module")
def expected(bundled):
    """The loss terms computed straight from clap_core for the app's current batch (the test session's
    bundled checkpoint, loaded once)."""
    def compute(at, tau=None):
        items = at.session_state.batch
        emb = Embedder(bundled)
        return contrastive(emb.embed_texts(items.captions), emb.embed_clips(items.clips), tau or bundled.tau)

    return compute


def test_first_open_has_the_default_scenario():
    at = open_app()
    items = at.session_state.batch
    assert items.names == DEFAULT.names and items.captions == DEFAULT.captions and len(items) == 12
    assert any(h.value == "12 pairs" for h in at.subheader)
    assert any(c.value.startswith("Scenario: Trained model, its own world, 12 pairs") for c in at.caption)
    assert at.sidebar.selectbox(key="ck_choice").value == "bundled"
    assert "Custom hub id or local folder…" in at.sidebar.selectbox(key="ck_choice").options


def test_similarity_page_views_and_symmetry(expected):
    at = open_app("pages/similarity.py")
    assert at.get("plotly_chart"), "no heatmap"
    res = expected(at)
    sym = next(m.value for m in at.markdown if m.value.startswith("**No.**"))
    assert f"{res.loss_text:.4f}" in sym and f"{res.loss_audio:.4f}" in sym
    radio = at.radio(key="sim_view")
    from ui.views import VIEWS

    for view in [v.key for v in VIEWS] + ["C"]:  # every registered view draws
        radio.set_value(view).run()
        assert not at.exception
    radio.set_value("P_text").run()
    assert any("row" in i.value and "sums" in i.value and f"{res.loss_text:.4f}" in i.value for i in at.info)
    radio.set_value("P_audio").run()
    assert any("column" in i.value and f"{res.loss_audio:.4f}" in i.value for i in at.info)
    at.selectbox(key="insp-caption").set_value(2).run()
    at.selectbox(key="insp-clip").set_value(2).run()
    assert metric(at, "C = τ·cos") == f"{res.C[2, 2]:.3f}"
    assert len(at.get("download_button")) == 5


def test_loss_page_and_tau_slider(expected):
    at = open_app("pages/loss.py")
    res = expected(at)
    assert metric(at, "ℓ_text") == f"{res.loss_text:.4f}"
    assert metric(at, "ℓ_audio") == f"{res.loss_audio:.4f}"
    assert metric(at, "L =") == f"{res.loss:.4f}"
    assert metric(at, "chance") == f"{np.log(len(DEFAULT)):.4f}"
    assert len(at.latex) >= 2 and "-\\frac{1}{N}" in at.latex[1].value
    at.slider(key="tau_widget").set_value(5.0).run()
    low = expected(at, tau=5.0)
    assert metric(at, "L =") == f"{low.loss:.4f}" != f"{res.loss:.4f}"
    assert metric(at, "τ in use") == "5.00"
    hf_note = next(m.value for m in at.markdown if "return_loss=True" in m.value)
    assert f"{low.loss:.4f}" in hf_note
    at.button(key="tau-reset").click().run()
    assert metric(at, "L =") == f"{res.loss:.4f}"


def test_zero_shot_labels_accuracy_and_bad_template():
    at = open_app("pages/zero_shot.py")
    assert metric(at, "Top-1 accuracy").endswith("%")
    at.text_area(key="zs-labels-Demo world (12 classes)").set_value("siren\nwhite noise\nlow tone").run()
    assert not at.exception
    probs = at.dataframe[0].value
    assert list(probs.columns) == ["top label", "siren", "white noise", "low tone"]
    np.testing.assert_allclose(probs[["siren", "white noise", "low tone"]].sum(axis=1), 1.0, atol=1e-9)
    assert probs["top label"].iloc[DEFAULT.names.index("demo-siren.flac")] == "siren"  # the demo siren clip
    at.text_area(key="zs-templates").set_value("a sound without a slot").run()
    assert any("exactly one {}" in plain(e.value) for e in at.error)
    at.text_area(key="zs-templates").set_value("A {x} sound of {}.").run()
    assert not at.exception
    assert any("has {x}, {}" in plain(e.value) and "{{ and }}" in plain(e.value) for e in at.error)


def test_unreadable_upload_shows_its_error_and_keeps_the_batch():
    at = open_app()
    fmts = all_formats()
    at.file_uploader[0].set_value([
        ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEthis is not really audio", "audio/wav"),
        ("flute.m4a", fmts["m4a-aac"], "audio/mp4"),
        ("notes.txt.mp3", b"just some text, not audio at all", "audio/mpeg"),
    ]).run()
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert any(e.startswith("broken.wav: not added — ") for e in errors), errors
    assert any(e.startswith("notes.txt.mp3: not added — ") and "not a recognised audio format" in e for e in errors), errors
    assert any("Added 1 clip: flute.m4a." in plain(m.value) for m in at.success)
    items = at.session_state.batch
    assert len(items) == len(DEFAULT) + 1 and items[-1].name == "flute.m4a" and items[0].name == DEFAULT.names[0]


def test_shuffle_restore_move_remove_clear():
    at = open_app()
    before = [it.caption for it in at.session_state.batch]
    at.button(key="shuffle").click().run()
    after = [it.caption for it in at.session_state.batch]
    assert sorted(after) == sorted(before) and all(a != b for a, b in zip(after, before))
    at.button(key="unshuffle").click().run()
    assert [it.caption for it in at.session_state.batch] == before
    at.selectbox(key="pair-pick").select_index(0).run()
    at.button(key="move-down").click().run()
    assert [it.name for it in at.session_state.batch][:2] == [DEFAULT.names[1], DEFAULT.names[0]]
    at.button(key="remove-one").click().run()
    assert len(at.session_state.batch) == len(DEFAULT) - 1
    at.button(key="clear").click().run()  # the batch was changed since loaded: the person is asked first
    assert len(at.session_state.batch) == len(DEFAULT) - 1 and at.session_state.confirm == ("clear", None)
    at.button(key="confirm-clear").click().run()
    assert len(at.session_state.batch) == 0
    at.switch_page("pages/loss.py").run()
    assert not at.exception and any("empty" in i.value for i in at.info)


def test_failed_checkpoint_keeps_the_previous_one(tmp_path):
    at = open_app()
    at.sidebar.selectbox(key="ck_choice").set_value("Custom hub id or local folder…").run()
    at.sidebar.text_input(key="ck_custom").set_value(str(tmp_path))
    at.sidebar.button(key="ck_load").click().run()  # a form: the value and the click arrive together
    assert not at.exception
    assert at.session_state.checkpoint == "bundled"
    assert any("no config.json" in plain(e.value) and "Still using bundled" in plain(e.value) for e in at.sidebar.error)
    # the custom field stays open with what was typed, to correct it
    assert at.sidebar.selectbox(key="ck_choice").value == "Custom hub id or local folder…"
    assert at.sidebar.text_input(key="ck_custom").value == str(tmp_path)
    at.sidebar.selectbox(key="ck_choice").set_value("laion/clap-htsat-unfused").run()
    assert at.session_state.checkpoint == "bundled"
    assert any("bundled" in plain(e.value) and "laion/clap-htsat-unfused" in plain(e.value) for e in at.sidebar.error)
    assert len(at.session_state.batch) == len(DEFAULT)


def test_hosted_mode_hides_custom_checkpoints(monkeypatch):
    monkeypatch.setenv("CLAP_EXPLORER_HOSTED", "1")
    monkeypatch.setenv("CLAP_EXPLORER_CHECKPOINT", "/some/local/folder")
    at = open_app()
    options = at.sidebar.selectbox(key="ck_choice").options
    assert "Custom hub id or local folder…" not in options and at.session_state.checkpoint == "bundled"


def test_a_caption_edit_embeds_one_caption_and_a_plain_rerun_embeds_nothing():
    from ui.resources import get_embedder

    at = open_app("pages/similarity.py")
    stats = get_embedder("bundled", "auto").stats  # the app's own cache: this session's checkpoint and precision
    before = (stats.audio_computed, stats.text_computed)
    at.run()  # nothing changed
    assert (stats.audio_computed, stats.text_computed) == before
    items = at.session_state.batch
    captions = items.captions
    captions[3] = "an edited caption nobody has typed before"
    at.session_state.batch = items.with_edits(captions, items.labels)
    at.run()
    assert not at.exception
    assert stats.audio_computed == before[0] and stats.text_computed == before[1] + 1


def test_a_recording_is_added_with_its_facts():
    from media import encode_soundfile, real_clip

    at = open_app()
    data, rate = real_clip("speech-male.wav", 2.0)
    at.audio_input[0].set_value(("recording.wav", encode_soundfile(data, rate, "WAV", "PCM_16"), "audio/wav")).run()
    at.button(key="add-recording").click().run()
    assert not at.exception
    items = at.session_state.batch
    assert len(items) == len(DEFAULT) + 1 and items[-1].name == "recording-1.wav" and items[-1].source == "recording"
    assert items[-1].info.source_rate == rate != 48_000 and items[-1].data is not None


def test_switching_to_a_local_checkpoint_keeps_the_batch(tiny_checkpoint):
    at = open_app("pages/loss.py")
    at.sidebar.selectbox(key="ck_choice").set_value("Custom hub id or local folder…").run()
    at.sidebar.text_input(key="ck_custom").set_value(str(tiny_checkpoint))
    at.sidebar.button(key="ck_load").click().run()
    assert not at.exception
    assert at.session_state.checkpoint == str(tiny_checkpoint) and len(at.session_state.batch) == len(DEFAULT)
    assert metric(at, "τ in use") == f"{1 / 0.07:.2f}"
    assert not at.sidebar.error
    assert metric(at, "L =") != ""


def test_tau_has_one_owner_per_checkpoint(tmp_path, expected, bundled):
    """τ = 5 on the Loss page, then a switch to a copy of the bundled checkpoint: the slider, the sidebar
    and L all use the new checkpoint's τ; back on the first checkpoint, its τ = 5 is back."""
    copy = tmp_path / "bundled-copy"
    shutil.copytree(BUNDLED_DIR, copy)
    at = open_app("pages/loss.py")
    at.slider(key="tau_widget").set_value(5.0).run()
    assert metric(at, "τ in use") == "5.00" and metric(at, "L =") == f"{expected(at, tau=5.0).loss:.4f}"
    at.sidebar.selectbox(key="ck_choice").set_value("Custom hub id or local folder…").run()
    at.sidebar.text_input(key="ck_custom").set_value(str(copy))
    at.sidebar.button(key="ck_load").click().run()
    assert not at.exception and at.session_state.checkpoint == str(copy)
    tau = bundled.tau  # the copy holds the same weights
    assert at.slider(key="tau_widget").value == pytest.approx(tau)
    assert metric(at, "τ in use") == f"{tau:.2f}"
    assert metric(at, "L =") == f"{expected(at, tau=tau).loss:.4f}" != f"{expected(at, tau=5.0).loss:.4f}"
    assert at.button(key="tau-reset").disabled
    at.sidebar.selectbox(key="ck_choice").set_value("bundled").run()
    assert at.session_state.checkpoint == "bundled"
    assert at.slider(key="tau_widget").value == pytest.approx(5.0) and metric(at, "τ in use") == "5.00"
    assert metric(at, "L =") == f"{expected(at, tau=5.0).loss:.4f}" and not at.button(key="tau-reset").disabled


# -- a batch as a file, and a batch that survives a reload -----------------------------------------
@pytest.fixture(autouse=True)
def _store_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    """Every session of this module keeps its batch in a fresh folder, never in the user's cache."""
    monkeypatch.setenv("CLAP_EXPLORER_STORE", str(tmp_path_factory.mktemp("store")))


def test_a_downloaded_batch_opens_in_a_new_session_with_its_settings():
    from clap_core.batchfile import write_batch_zip

    at = open_app("pages/loss.py")
    at.slider(key="tau_widget").set_value(5.0).run()
    at.sidebar.selectbox(key="policy_widget").set_value("first").run()
    at.switch_page("pages/batch.py").run()
    at.button(key="shuffle").click().run()
    at.selectbox(key="pair-pick").select_index(0).run()
    at.button(key="remove-one").click().run()
    assert not at.exception and not at.get("download_button")  # the zip is made only while its tab is open
    at.session_state["batch-tabs"] = "Batch file"
    at.run()
    assert not at.exception and at.download_button(key="download-batch").label == "Download batch"
    ss = at.session_state
    items = ss.batch
    # what Download batch serves (ui.actions.batch_zip): the batch and ui.state.batch_settings() of the session
    data = ss["batch-zip"][2]
    assert data == write_batch_zip(items, {"checkpoint": ss.checkpoint, "policy": ss.policy,
                                           "tau": ss.taus.get(ss.checkpoint)})

    fresh = open_app()
    assert fresh.session_state.policy == "windows" and not fresh.session_state.taus
    fresh.file_uploader(key="open-batch-0").set_value(("my batch.zip", data, "application/zip")).run()
    assert not fresh.exception
    got = fresh.session_state.batch
    assert got.names == items.names and got.captions == items.captions and got.labels == items.labels
    assert [p.clip.key for p in got] == [p.clip.key for p in items] and len(got) == len(DEFAULT) - 1
    assert fresh.session_state.policy == "first" and fresh.session_state.taus == {"bundled": 5.0}
    assert fresh.sidebar.selectbox(key="policy_widget").value == "first" and metric(fresh, "τ in use") == "5.00"
    assert any(plain(m.value).startswith(f"Opened my batch.zip with {len(DEFAULT) - 1} clips: ") for m in fresh.success)
    assert any(plain(i.value) == "Settings from the file: long-clip policy first, τ = 5." for i in fresh.info)
    assert any(plain(c.value).startswith("A reload keeps this batch") for c in fresh.caption)

    # a file that cannot be used leaves the batch as it is, and says why in one line
    fresh.file_uploader(key="open-batch-1").set_value(("notes.zip", b"just text", "application/zip")).run()
    assert not fresh.exception
    assert any(plain(e.value) == "Could not open notes.zip: not a zip file. The batch is unchanged." for e in fresh.error)
    assert fresh.session_state.batch.captions == items.captions

    # made with another checkpoint: its τ goes to that checkpoint, this one is not switched
    other = write_batch_zip(items, {"checkpoint": "laion/clap-htsat-unfused", "policy": "centre", "tau": 7.0})
    fresh.file_uploader(key="open-batch-2").set_value(("laion.zip", other, "application/zip")).run()
    assert not fresh.exception and fresh.session_state.checkpoint == "bundled"
    assert fresh.session_state.taus == {"bundled": 5.0, "laion/clap-htsat-unfused": 7.0}
    assert any("made with the checkpoint laion/clap-htsat-unfused" in plain(i.value) for i in fresh.info)


def test_a_batch_too_big_to_hold_gets_its_zip_made_on_the_click(monkeypatch):
    from ui import actions

    at = open_app("pages/batch.py")
    at.session_state["batch-tabs"] = "Batch file"
    at.run()
    assert "batch-zip" in at.session_state and not at.download_button(key="download-batch").proto.deferred_file_id
    monkeypatch.setattr(actions, "HELD_ZIP_MB", 1)  # the default batch's 2.1 MB of clips is now "too big to hold"
    at.run()
    assert not at.exception and "batch-zip" not in at.session_state  # the held zip is let go
    assert at.download_button(key="download-batch").proto.deferred_file_id  # made when it is downloaded
    monkeypatch.setattr(actions, "HELD_ZIP_MB", 64)
    at.run()
    assert "batch-zip" in at.session_state
    at.button(key="clear").click().run()  # an empty batch: nothing to download, nothing held
    assert not at.exception and at.download_button(key="download-batch").disabled and "batch-zip" not in at.session_state


def test_a_reload_brings_back_the_edited_batch():
    at = open_app()
    assert "b" not in at.query_params  # nothing is kept before the first change
    at.selectbox(key="pair-pick").select_index(0).run()
    at.button(key="move-down").click().run()
    editor = f"editor-{at.session_state.editor_version}"
    at.session_state[editor] = {"edited_rows": {2: {"caption": "my own *words*"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    items = at.session_state.batch
    assert items.captions[2] == "my own *words*" and items.names[0] == DEFAULT.names[1]
    link = at.query_params["b"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", link)

    reloaded = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    reloaded.query_params["b"] = link
    reloaded.run()
    assert not reloaded.exception
    got = reloaded.session_state.batch
    assert got.names == items.names and got.captions == items.captions and got.labels == items.labels
    assert [p.clip.key for p in got] == [p.clip.key for p in items]
    assert any(plain(m.value) == f"The batch of this link is back: {len(DEFAULT)} pairs." for m in reloaded.success)
    copy = reloaded.query_params["b"]
    assert copy != link  # a copy: the first session goes on writing its own link
    reloaded.switch_page("pages/loss.py").run()
    assert reloaded.query_params["b"] == copy  # a page switch keeps the link

    for gone in ("nobody-has-this-id", "../../etc/passwd"):
        other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        other.query_params["b"] = gone
        other.run()
        assert not other.exception and other.session_state.batch.names == DEFAULT.names  # the default scenario
        assert "b" not in other.query_params
        assert any("no longer kept on the server" in plain(i.value) for i in other.info)
