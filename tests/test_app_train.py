"""AppTest of the Train page: train a few steps, use the weights on every page, reset; nothing shared changes."""

import pytest
import torch
from test_app import metric, open_app, plain

from clap_core.embed import Embedder
from clap_core.finetune import FineTuner, FinetuneSettings

FINE_TUNED = "bundled (fine-tuned, 12 steps)"


@pytest.fixture(autouse=True)
def _store_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CLAP_EXPLORER_STORE", str(tmp_path_factory.mktemp("store")))


@pytest.fixture
def loaded_names(monkeypatch):
    """Every checkpoint name the process-wide cache (ui.resources) loads during the test."""
    import ui.resources

    names, load = [], ui.resources.load_checkpoint

    def recording(name, *args, **kwargs):
        names.append(name)
        return load(name, *args, **kwargs)

    monkeypatch.setattr(ui.resources, "load_checkpoint", recording)
    return names


def test_train_use_the_weights_on_every_page_then_reset(bundled, loaded_names):
    shared = {k: v.clone() for k, v in bundled.model.state_dict().items()}
    at = open_app("pages/loss.py")
    l_checkpoint = metric(at, "L =")
    at.switch_page("pages/train.py").run()
    assert not at.exception and not at.get("plotly_chart")  # nothing trained yet
    at.number_input(key="train-steps").set_value(12)
    at.radio(key="train-what").set_value("heads+tau")
    at.number_input(key="train-holdout").set_value(2)
    at.button(key="train-start").click().run()
    assert not at.exception, at.exception
    run = at.session_state.train_run
    tuner = run.tuner
    assert tuner.steps == 12 and run.pending == 0 and len(tuner.held_idx) == 2
    items = at.session_state.batch
    n = len(items)

    # the page shows the library's numbers: the same run made straight from clap_core
    again = FineTuner(Embedder(bundled), items.clips, items.captions, settings=FinetuneSettings(train="heads+tau",
                                                                                                holdout=2))
    again.step(12)
    assert tuner.loss == pytest.approx(again.loss, rel=1e-5) and tuner.loss[-1] < tuner.loss0
    assert list(tuner.held_idx) == list(again.held_idx)
    assert metric(at, f"L, {n - 2} training pairs") == f"{tuner.loss[-1]:.4f}"
    assert metric(at, "Held-out pairs") == f"{tuner.heldout[-1]:.4f}"
    assert metric(at, "τ") == f"{tuner.tau:.2f}"
    assert len(at.get("plotly_chart")) == 2  # the L curve and C
    assert at.get("download_button")[0].proto.label == "Download"
    assert at.number_input(key="train-holdout").disabled  # a run keeps its settings

    # Use these weights: every page, and the sidebar, take the fine-tuned checkpoint
    at.button(key="train-use").click().run()
    assert not at.exception
    assert at.session_state.checkpoint == FINE_TUNED
    assert any(plain(i.value).startswith(f"In use on every page: “{FINE_TUNED}”") for i in at.info)
    assert at.sidebar.selectbox(key="ck_choice").value == FINE_TUNED
    used = at.session_state.own_checkpoints[FINE_TUNED].checkpoint
    res = tuner.result(used)
    at.switch_page("pages/loss.py").run()
    assert not at.exception
    assert metric(at, "L =") == f"{res.loss:.4f}" != l_checkpoint
    assert metric(at, "τ in use") == f"{used.tau:.2f}"
    assert at.sidebar.selectbox(key="precision_widget").disabled
    assert any("Fine-tuned in this session from bundled (12 steps)" in plain(m.value) for m in at.sidebar.markdown)

    # another session never sees it; the process-wide cache never loaded it
    other = open_app()
    assert FINE_TUNED not in other.sidebar.selectbox(key="ck_choice").options
    assert other.session_state.checkpoint == "bundled"
    assert all("fine-tuned" not in name for name in loaded_names)

    # the picker goes back and forth between the checkpoint and this session's fine-tuned one
    at.sidebar.selectbox(key="ck_choice").set_value("bundled").run()
    assert at.session_state.checkpoint == "bundled" and metric(at, "L =") == l_checkpoint
    at.sidebar.selectbox(key="ck_choice").set_value(FINE_TUNED).run()
    assert at.session_state.checkpoint == FINE_TUNED and metric(at, "L =") == f"{res.loss:.4f}"

    # back on the page, on the fine-tuned weights: the run and its settings are still there
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.session_state.train_run is run and tuner.steps == 12
    assert at.number_input(key="train-holdout").value == 2 and at.radio(key="train-what").value == "heads+tau"
    assert metric(at, f"L, {n - 2} training pairs") == f"{tuner.loss[-1]:.4f}"

    # Reset: back to the checkpoint, the fine-tuned one is gone
    at.button(key="train-reset").click().run()
    assert not at.exception
    assert at.session_state.checkpoint == "bundled" and not at.session_state.own_checkpoints
    assert at.session_state.train_run is None
    assert FINE_TUNED not in at.sidebar.selectbox(key="ck_choice").options
    at.switch_page("pages/loss.py").run()
    assert metric(at, "L =") == l_checkpoint
    after = bundled.model.state_dict()
    assert all(torch.equal(shared[k], after[k]) for k in shared)  # the shared model: bit-identical


def test_a_batch_change_drops_the_run():
    at = open_app("pages/train.py")
    at.number_input(key="train-steps").set_value(3)
    at.button(key="train-start").click().run()
    assert at.session_state.train_run.tuner.steps == 3
    at.switch_page("pages/batch.py").run()
    at.button(key="shuffle").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.session_state.train_run is None
    assert any("The batch, the checkpoint or the loss changed" in plain(i.value) for i in at.info)
    at.button(key="train-start").click().run()  # a new run, on the shuffled batch
    tuner = at.session_state.train_run.tuner
    assert tuner.captions == at.session_state.batch.captions and tuner.steps == 3


def test_hosted_download_is_off_for_a_checkpoint_too_big_to_zip_in_memory(monkeypatch):
    import ui.train

    monkeypatch.setenv("CLAP_EXPLORER_HOSTED", "1")
    at = open_app("pages/train.py")
    at.number_input(key="train-steps").set_value(2)
    at.button(key="train-start").click().run()
    assert at.get("download_button")  # the bundled checkpoint's zip is small: offered
    monkeypatch.setattr(ui.train, "DOWNLOAD_MAX_HOSTED_M", 0.1)  # as if it were a full-size one
    at.run()
    assert not at.exception and not at.get("download_button")
    off = at.button(key="train-download")
    assert off.disabled and "would be built in its memory" in off.help
