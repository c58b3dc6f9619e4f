"""Fine-tuning the heads with the sigmoid loss (issue 21): the same engine as the page's numbers, b trained, the base
checkpoint untouched, and the Train page running it."""

import numpy as np
import pytest
from test_app import open_app

from clap_core import scenarios
from clap_core.embed import Embedder
from clap_core.finetune import FineTuner, FinetuneSettings
from clap_core.sigmoid import SIGLIP_B, SIGLIP_T, resolve_tb, sigmoid


def test_sigmoid_fine_tuning_starts_at_the_engine_s_loss_and_trains_b(bundled):
    batch = scenarios.load("shuffled")
    emb = Embedder(bundled)
    ft = FineTuner(emb, batch.clips, batch.captions, settings=FinetuneSettings(loss="sigmoid", holdout=2, seed=1))
    E_t, E_a = emb.embed_texts(batch.captions), emb.embed_clips(batch.clips)
    idx = ft.train_idx
    want = sigmoid(E_t[idx], E_a[idx], SIGLIP_T, SIGLIP_B).loss  # bundled has no b of its own: SigLIP's start
    assert ft.loss0 == pytest.approx(want, rel=1e-5)
    ft.step(20)
    assert ft.loss[-1] < ft.loss0 and ft.b != SIGLIP_B and ft.tau == pytest.approx(SIGLIP_T)  # t frozen: heads only
    ck = ft.checkpoint()
    t, b, source = resolve_tb(ck.model)
    assert b == pytest.approx(ft.b) and "checkpoint" in source
    assert getattr(bundled.model.config, "logit_bias", None) is None  # the shared model's config is untouched
    assert len(ft.heldout) == 20 and np.isfinite(ft.heldout).all()


def test_the_train_page_trains_with_the_sigmoid():
    at = open_app("pages/train.py")
    at.radio(key="train-loss-pick").set_value("sigmoid").run()
    at.button(key="train-start").click().run()
    assert not at.exception
    run = at.session_state.train_run
    assert run.tuner.sigmoid and run.tuner.steps >= 1 and run.tuner.b is not None
