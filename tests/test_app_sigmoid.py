"""The sigmoid loss on the pages (issue 21): the Loss page's loss choice gives the engine's numbers for the batch, its
(t, b) map's optimum and the two-losses section; the Similarity page's σ and ∂L_sig/∂Z views; the choice is shared."""

import numpy as np
import pytest
from test_app import metric, open_app, plain

from clap_core.contrastive import contrastive, softmax
from clap_core.embed import Embedder
from clap_core.sigmoid import SIGLIP_B, SIGLIP_T, sigmoid_from_cosine, sweep_tb


@pytest.fixture(scope="module")
def engine(bundled):
    def compute(at):
        items = at.session_state.batch
        emb = Embedder(bundled)
        res = contrastive(emb.embed_texts(items.captions), emb.embed_clips(items.clips), bundled.tau)
        return items, res, sigmoid_from_cosine(res.cosine, SIGLIP_T, SIGLIP_B)

    return compute


def test_the_loss_page_with_the_sigmoid(engine):
    at = open_app("pages/loss.py")
    at.radio(key="loss-pick").set_value("sigmoid").run()
    assert not at.exception
    items, res, sg = engine(at)
    assert metric(at, "L_sig") == f"{sg.loss:.4f}" and metric(at, "from the pairs") == f"{sg.loss_positive:.4f}"
    assert metric(at, "from the negatives") == f"{sg.loss_negative:.4f}"
    assert metric(at, "chance N·H(1/N)") == f"{sg.chance:.4f}"
    sw = sweep_tb(res.cosine)
    text = " ".join(plain(m.value) for m in at.markdown).replace("**", "")
    assert f"t = {sw.best_t:.3g}, b = {sw.best_b:.3g}" in text and f"L = {sw.best_loss:.4f}" in text
    # the two losses on one matrix: the last caption left out, its clip's softmax column still sums to 1
    keep = list(range(res.n - 1))
    column = softmax(res.C[keep][:, [res.n - 1]], axis=0)[:, 0]
    assert abs(column.sum() - 1) < 1e-12
    assert f"its favourite gets {column.max():.2f}" in text
    assert f"sum to {sg.sigma[keep, res.n - 1].sum():.3g}" in text


def test_the_choice_is_shared_and_the_similarity_views(engine):
    at = open_app("pages/loss.py")
    at.radio(key="loss-pick").set_value("sigmoid").run()
    at.switch_page("pages/similarity.py").run()
    at.radio(key="sim_view").set_value("sigma").run()
    assert not at.exception
    _, res, sg = engine(at)
    assert any(f"L_sig = {sg.loss:.4f}" in plain(i.value).replace("**", "") for i in at.info)
    at.radio(key="sim_view").set_value("grad_sig").run()
    assert not at.exception and np.allclose(sg.grad_Z.sum(axis=1), (sg.sigma.sum(axis=1) - 1) / res.n)
    at.switch_page("pages/loss.py").run()
    assert at.radio(key="loss-pick").value == "sigmoid"


def test_the_four_answers_under_the_sigmoid(engine):
    at = open_app("pages/loss.py")
    at.radio(key="loss-pick").set_value("sigmoid").run()
    at.switch_page("pages/answers.py").run()
    assert not at.exception
    _, res, sg = engine(at)
    text = " ".join(plain(m.value) for m in at.markdown).replace("**", "")
    assert f"both give L_sig = {sg.loss:.4f}" in text and f"together {sg.loss_negative:.4f}" in text


def test_bundled_sigmoid_brings_its_own_t_and_b_and_compare_says_what_the_loss_changed():
    from clap_core.checkpoints import load_checkpoint
    from clap_core.sigmoid import resolve_tb

    t, b, _ = resolve_tb(load_checkpoint("bundled-sigmoid", device="cpu").model)
    at = open_app("pages/compare.py")
    at.selectbox(key="compare-b").set_value("bundled-sigmoid").run()
    assert not at.exception
    said = [plain(i.value) for i in at.info if "only the loss differs" in plain(i.value)]
    assert len(said) == 1 and "bundled-sigmoid: σ" in said[0]
    at.sidebar.selectbox(key="ck_choice").set_value("bundled-sigmoid").run()
    at.switch_page("pages/loss.py").run()
    at.radio(key="loss-pick").set_value("sigmoid").run()
    assert not at.exception
    assert any(f"t = {t:.3g}, b = {b:.3g}: the checkpoint's logit_scale and logit_bias" in plain(c.value)
               for c in at.caption)


def test_compare_shows_each_checkpoint_s_sigmoid_loss():
    at = open_app("pages/loss.py")
    at.radio(key="loss-pick").set_value("sigmoid").run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    lines = [plain(c.value) for c in at.caption if plain(c.value).startswith("sigmoid: L_sig")]
    assert len(lines) == 2 and "t = 10, b = -10" in lines[0]


def test_the_embedding_map_under_the_sigmoid(engine):
    at = open_app("pages/loss.py")
    at.radio(key="loss-pick").set_value("sigmoid").run()
    at.switch_page("pages/embedding_map.py").run()
    assert not at.exception
    _, res, sg = engine(at)
    table = at.dataframe[0].value
    assert "σ(Z_ij) (the cell alone)" in table.columns
    pull = float(table["weight τ·|G|"].iloc[0])  # caption 1's pull: t·|∂L_sig/∂Z_11|
    assert pull == pytest.approx(sg.t * abs(sg.grad_Z[0, 0]), rel=1e-3)
