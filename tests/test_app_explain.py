"""AppTest for the explaining views: the Loss page's τ sweep, the Embedding map and the Four answers, on the
real bundled checkpoint, for the default batch, an empty one, one pair and 64 pairs."""

import html
import json
import re

import numpy as np
import pytest
from test_app import metric, open_app, plain

from clap_core.answers import four_answers
from clap_core.baseline import random_model_gap
from clap_core.batch import Batch
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.geometry import embedding_map
from clap_core.paths import EXAMPLES_DIR
from clap_core.sweep import sweep_tau

ODD = "<b>loud</b> **hum** :red[x] $y$"  # a caption that must stay literal text


@pytest.fixture(scope="module")
def compute(bundled):
    """The library's own numbers for the app's current batch (independent of the pages)."""
    def run(at):
        items = at.session_state.batch
        emb = Embedder(bundled)
        E_t, E_a = emb.embed_texts(items.captions), emb.embed_clips(items.clips)
        return items, E_t, E_a, contrastive(E_t, E_a, bundled.tau)

    return run


def batch_of(n: int) -> Batch:
    """n pairs from the shipped examples (clips repeat beyond the examples; every caption differs)."""
    files = sorted(p for p in EXAMPLES_DIR.iterdir() if p.suffix in (".flac", ".wav"))
    picked = [files[i % len(files)] for i in range(n)]
    captions = [f"{p.stem.replace('-', ' ')} number {i}" for i, p in enumerate(picked)]
    captions[0] = ODD
    batch, outcomes = Batch().add_files([(str(p), str(p)) for p in picked], "file", captions=captions)
    assert all(o.added for o in outcomes)
    return batch


@pytest.mark.parametrize("n", [None, 12])  # the default scenario (every pair wins), captions from file names
def test_loss_page_sweep(compute, n):
    at = open_app("pages/loss.py")
    if n:
        at.session_state.batch = batch_of(n)
        at.run()
    items, _, _, res = compute(at)
    sw = sweep_tau(res.cosine)
    assert any(s.value == "L as a function of τ" for s in at.subheader)
    text = next(m.value for m in at.markdown if "Small τ" in m.value)
    assert f"log N = {sw.chance:.4f}" in text
    assert (f"here τ × {sw.slope:.4f}" if sw.slope > 0 else "the margin is 0 and L → 0") in text
    if sw.at_upper_bound:  # a batch the model knows: every pair wins, L falls all the way
        assert f"L keeps falling up to τ = {sw.best_tau:g}" in text
    elif not sw.at_lower_bound:
        assert f"τ\\* = {sw.best_tau:.3f}" in text and f"L = {sw.best_loss:.4f}" in text
        assert ", ".join(str(i + 1) for i in sw.wrong_rows) in text
    assert n is None or not (sw.at_upper_bound or sw.at_lower_bound)  # the second batch has τ* inside the range
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # the per-pair bars and the sweep
    at.slider(key="tau_widget").set_value(5.0).run()  # the sweep marks the τ in use; its numbers stay
    assert not at.exception
    assert next(m.value for m in at.markdown if "Small τ" in m.value) == text


def test_embedding_map_page(compute, bundled):
    at = open_app("pages/embedding_map.py")
    items, E_t, E_a, res = compute(at)
    m = embedding_map(E_t, E_a, res)
    assert metric(at, "Variance kept") == f"{100 * m.projection.kept:.1f} %"
    assert metric(at, "Modality gap") == f"{m.gap:.3f}"
    assert metric(at, "… of it in the map") == f"{m.gap_in_map:.3f}"
    # the random model's gap: computed at once for the (small) bundled checkpoint
    expected_random = random_model_gap(bundled, items.clips, items.captions)
    assert metric(at, "Gap of a random-weight model") == f"{expected_random:.3f}" != f"{m.gap:.3f}"
    table = at.dataframe[0].value
    assert list(table["term"])[:4] == ["pull towards its partner", "push 1", "push 2", "push 3"]
    assert table["other item"].iloc[0] == items.names[0]  # caption 1's partner: clip 1, named verbatim
    at.selectbox(key="map-item").set_value(res.n + 2).run()  # clip 3
    table = at.dataframe[0].value
    assert table["other item"].iloc[0] == items.captions[2]
    assert float(table["weight τ·|G|"].iloc[1]) == pytest.approx(res.tau * np.delete(res.grad_C[:, 2], 2).max(), rel=1e-3)
    numbers = table.iloc[:, 2:].to_numpy().ravel()  # one format for the whole table, a dash where a row has none
    assert all(re.fullmatch(r"-?\d\.\d{3}e[-+]\d\d|—", x) for x in numbers) and "None" not in numbers
    at.toggle(key="map-arrows").set_value(False).run()
    assert not at.exception


def test_answers_page(compute):
    at = open_app("pages/answers.py")
    items, _, _, res = compute(at)
    ans = four_answers(res)
    a = ans.asymmetry
    no = plain(next(m.value for m in at.markdown if m.value.startswith("**No.**")))
    assert f"**{a.c_ij:.3f}**" in no and f"**{a.c_ji:.3f}**" in no and items[a.i].caption in no
    assert metric(at, "ℓ_text: softmax") == f"{res.loss_text:.4f}"
    assert metric(at, "ℓ_audio: softmax") == f"{res.loss_audio:.4f}"
    assert metric(at, "numerators") == f"{ans.denominators.numerators:.4f}"
    assert metric(at, "sum = L") == f"{res.loss:.4f}"
    assert metric(at, "as quoted") == f"{ans.quoted.as_quoted:.4f}"
    assert metric(at, "the symmetric loss L") == f"{res.loss:.4f}"
    heaviest = at.dataframe[1].value
    assert list(heaviest["∂L/∂C"]) == [n.grad for n in ans.denominators.heaviest]
    links = [link.proto.page for link in at.get("page_link")]
    assert {"similarity", "loss", "embedding_map"} <= set(links)


@pytest.mark.parametrize("n", [1, 64])
def test_pages_at_the_batch_size_limits(n):
    at = open_app()
    at.session_state.batch = batch_of(n)
    for page in ("pages/embedding_map.py", "pages/answers.py", "pages/loss.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    at.switch_page("pages/embedding_map.py").run()
    assert at.dataframe[0].value["other item"].iloc[0] == at.session_state.batch.names[0]
    at.selectbox(key="map-item").set_value(0).run()
    hovers = [h for c in at.get("plotly_chart") for trace in json.loads(c.proto.spec)["data"]
              for h in trace.get("hovertext") or []]
    assert f"caption 1: {html.escape(ODD, quote=False)}" in hovers  # verbatim, escaped for Plotly's HTML
    if n == 1:
        at.switch_page("pages/answers.py").run()
        assert any("With one pair there is no negative." in m.value for m in at.markdown)


def test_empty_batch():
    at = open_app()
    at.button(key="clear").click().run()
    for page in ("pages/embedding_map.py", "pages/answers.py"):
        at.switch_page(page).run()
        assert not at.exception and any("empty" in i.value for i in at.info)
