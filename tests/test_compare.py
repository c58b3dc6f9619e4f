"""Two checkpoints side by side: the library's comparison and memory estimate, and the Compare page."""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from clap_core import compare as cc
from clap_core import scenarios
from clap_core.checkpoints import BUNDLED, BUNDLED_CLASSES, load_checkpoint
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.zeroshot import zero_shot
from conftest import ROOT


def plain(markdown: str) -> str:
    """A message as the user reads it (the app escapes text for Markdown with backslashes)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _random(n: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_comparison_terms_add_up():
    t, a = _random(6, 16, 0), _random(6, 16, 1)
    r_a, r_b = contrastive(t, a, 10.0), contrastive(t, _random(6, 16, 2), 30.0)
    c = cc.compare(r_a, r_b)
    assert c.pair_loss_a.mean() == pytest.approx(r_a.loss) and c.pair_loss_b.mean() == pytest.approx(r_b.loss)
    assert c.delta.mean() == pytest.approx(r_b.loss - r_a.loss)
    np.testing.assert_allclose(c.d_p_text.sum(axis=1), 0, atol=1e-12)  # rows of both sum to 1
    np.testing.assert_allclose(c.d_p_audio.sum(axis=0), 0, atol=1e-12)
    assert set(c.retrieval()) == {"A", "B"} and c.to_dict()["delta_B_minus_A"] == c.delta.tolist()
    with pytest.raises(ValueError, match="different batches"):
        cc.compare(r_a, contrastive(t[:5], a[:5], 10.0))


def test_shared_range():
    a, b = np.array([[0.0, 2.0]]), np.array([[-1.0, 1.0]])
    assert cc.shared_range(a, b) == (-1.0, 2.0)
    assert cc.shared_range(a, b, diverging=True) == (-2.0, 2.0)
    assert cc.shared_range(np.ones((2, 2)), np.ones((2, 2))) == (0.5, 1.5)


def test_memory_estimate_refuses_what_would_not_fit():
    assert cc.weights_mb(153.5) == pytest.approx(614.0) and cc.weights_mb(153.5, "bf16") == pytest.approx(307.0)
    assert cc.peak_estimate_mb([153.5]) == pytest.approx(cc.APP_BASE_MB + 1.24 * 614.0)
    assert cc.fits_hosted([0.46, 193.9])  # bundled next to a large LAION model
    assert not cc.fits_hosted([193.9, 193.9])  # two large ones: ≈ 2.9 GB
    assert cc.fits_hosted([193.9, 193.9], "bf16")


def _hard_negatives_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.selectbox(key="scenario-pick").set_value("hard-negatives")
    at.button(key="load-scenario").click().run()
    assert len(at.session_state.batch) == 8
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def test_compare_page_shows_what_hard_negatives_bought():
    at = _hard_negatives_app()
    assert at.selectbox(key="compare-b").value == BUNDLED_CLASSES  # A is bundled: B starts as the class-only one
    batch = scenarios.load("hard-negatives")
    res = {}
    for name in (BUNDLED, BUNDLED_CLASSES):
        emb = Embedder(load_checkpoint(name, device="cpu"))
        res[name] = contrastive(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips), emb.checkpoint.tau)
    values = [m.value for m in at.metric]
    for name in (BUNDLED, BUNDLED_CLASSES):
        for v in (res[name].loss_text, res[name].loss_audio, res[name].loss):
            assert f"{v:.4f}" in values
    assert any("This is what hard negatives bought" in i.value for i in at.info)
    worse = int((0.5 * (res[BUNDLED_CLASSES].per_item_text + res[BUNDLED_CLASSES].per_item_audio)
                 > 0.5 * (res[BUNDLED].per_item_text + res[BUNDLED].per_item_audio)).sum())
    assert any(f"B is better on {8 - worse} of 8 pairs" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 4  # ΔL bars, both heatmaps, the difference
    at.radio(key="compare-view").set_value("P_text").run()
    at.radio(key="compare-diff").set_value("P_audio").run()
    assert not at.exception
    labels = list(dict.fromkeys(batch.labels))  # zero-shot over the batch's own labels, both checkpoints
    for side, name in (("A", BUNDLED), ("B", BUNDLED_CLASSES)):
        emb = Embedder(load_checkpoint(name, device="cpu"))
        zs = zero_shot(emb, emb.embed_clips(batch.clips), labels, ["This is a sound of {}."], true_labels=batch.labels)
        got = next(m.value for m in at.metric if m.label == f"top-1, {side} ({len(labels)} labels)")
        assert got == f"{zs.accuracy:.1%}"


def test_the_bundled_checkpoint_beats_a_random_tiny_one_on_every_metric(tiny_checkpoint):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="compare-b").set_value("Custom hub id or local folder…").run()
    at.text_input(key="compare-custom-name").set_value(str(tiny_checkpoint))
    at.button(key="compare-custom-use").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("M parameters" in plain(c.value) and str(tiny_checkpoint) in plain(c.value) for c in at.caption)
    values = {m.label: m.value for m in at.metric}
    losses = [float(m.value) for m in at.metric if m.label == "L"]
    assert len(losses) == 2 and losses[0] < losses[1]  # A: bundled, B: the random tiny model
    retrieval = at.dataframe[-1].value
    a_col, b_col = retrieval.columns
    assert (retrieval[a_col] >= retrieval[b_col]).all() and (retrieval[a_col] > retrieval[b_col]).any()
    top1 = [values[k] for k in values if k.startswith("top-1, ")]
    assert float(top1[0].rstrip("%")) > float(top1[1].rstrip("%"))


def test_compare_page_refuses_a_second_model_that_would_not_fit(monkeypatch):
    monkeypatch.setenv("CLAP_EXPLORER_HOSTED", "1")
    monkeypatch.setattr(cc, "APP_BASE_MB", 2_600.0)  # as if the server were nearly full
    at = _hard_negatives_app()
    at.selectbox(key="compare-b").set_value("laion/clap-htsat-unfused").run()
    assert not at.exception
    assert any("would not fit in this server's memory" in plain(e.value) for e in at.error)
    assert any("the app would peak near 3.36 GB of the 2.7 GB this hosted server has: too much, so not here."
               in plain(c.value) for c in at.caption)
    assert not any(m.label.startswith("top-1") for m in at.metric)  # the page stopped before loading it
