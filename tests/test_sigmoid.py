"""SigLIP's sigmoid loss: term by term against autograd, against transformers' SiglipModel and PeAudioModel, the
behaviour its formula implies (batch size, one pair, duplicates, a clip without its caption), the (t, b) map, the CLI."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clap_core.contrastive import contrastive_from_cosine, cosine_matrix, softmax
from clap_core.sigmoid import (
    SIGLIP_B,
    SIGLIP_T,
    chance_bias,
    chance_loss,
    match_probabilities,
    minimise_tb,
    pe_audio_return_loss,
    resolve_tb,
    sigmoid,
    sigmoid_from_cosine,
    sigmoid_loss_torch,
    softplus,
    sweep_tb,
)

LOG4 = math.log(4.0)


def reference_loss(cos: np.ndarray, t: float, b: float):
    """big_vision's / transformers' SigLIP loss written independently in torch float64: −Σ log σ(z ⊙ Z) / N, with
    Z as a leaf so that autograd gives ∂L/∂Z, and t, b as leaves for ∂L/∂t, ∂L/∂b."""
    C = torch.tensor(cos, dtype=torch.float64)
    tt = torch.tensor(float(t), dtype=torch.float64, requires_grad=True)
    bb = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)
    Z = tt * C + bb
    Z.retain_grad()
    z = 2 * torch.eye(len(C), dtype=torch.float64) - 1
    loss = -F.logsigmoid(z * Z).sum() / len(C)
    loss.backward()
    return loss.item(), Z.grad.numpy(), tt.grad.item(), bb.grad.item()


def paired(seed: int, n: int, d: int = 16, noise: float = 0.7):
    """(captions, clips): random clips and captions that are their clip plus noise."""
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal((n, d))
    return audio + noise * rng.standard_normal((n, d)), audio


def fixed_margin(n: int, p: float, q: float) -> np.ndarray:
    """(n, n) cosines: every pair at p, every other cell at q < p (every pair right, by the margin p − q)."""
    cos = np.full((n, n), q)
    np.fill_diagonal(cos, p)
    return cos


# -- the terms, against independent references -----------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(cos=arrays(np.float64, (6, 6), elements=st.floats(-1, 1)), t=st.floats(0, 200), b=st.floats(-40, 20))
def test_gradients_match_autograd(cos, t, b):
    res = sigmoid_from_cosine(cos, t, b)
    loss, gZ, gt, gb = reference_loss(cos, t, b)
    assert res.loss == pytest.approx(loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(res.grad_Z, gZ, rtol=0, atol=1e-10)
    assert res.grad_t == pytest.approx(gt, rel=1e-10, abs=1e-10)
    assert res.grad_b == pytest.approx(gb, rel=1e-10, abs=1e-10)
    assert np.all(np.diag(res.grad_Z) <= 0) and np.all(res.grad_Z[~np.eye(6, dtype=bool)] >= 0)  # pull / push


@pytest.mark.parametrize("seed,n", [(0, 1), (1, 2), (2, 7), (3, 64)])
def test_terms_and_shares_add_up(seed, n):
    text, audio = paired(seed, n)
    res = sigmoid(text, audio, 12.0, -4.0)
    np.testing.assert_allclose(res.cosine, cosine_matrix(text, audio))
    np.testing.assert_allclose(res.Z, 12.0 * res.cosine - 4.0)
    np.testing.assert_allclose(res.terms, np.log1p(np.exp(-(2 * np.eye(n) - 1) * res.Z)), rtol=1e-13)  # −log σ(z·Z)
    assert res.loss == pytest.approx(res.terms.sum() / n, rel=1e-14)
    assert res.loss_positive + res.loss_negative == pytest.approx(res.loss, rel=1e-12)
    assert res.share.sum() == pytest.approx(res.loss, rel=1e-12)  # caption rows
    assert res.share_columns.sum() == pytest.approx(res.loss, rel=1e-12)  # clip columns: the same cells cut the other way
    assert res.grad_b == pytest.approx((res.sigma.sum() - n) / n, abs=1e-14)
    json.dumps(res.to_dict(), allow_nan=False)


def test_torch_training_loss_and_its_gradients_equal_the_displayed_ones():
    text, audio = paired(5, 9)
    t_hat = F.normalize(torch.tensor(text), dim=-1)
    a_hat = F.normalize(torch.tensor(audio), dim=-1)
    log_t = torch.tensor(math.log(SIGLIP_T), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(SIGLIP_B, dtype=torch.float64, requires_grad=True)
    loss = sigmoid_loss_torch(t_hat, a_hat, log_t, b)
    loss.backward()
    res = sigmoid(text, audio)  # SigLIP's initialisation by default
    assert (res.t, res.b) == (10.0, -10.0)
    assert loss.item() == pytest.approx(res.loss, rel=1e-12)
    assert log_t.grad.item() == pytest.approx(res.grad_log_t, rel=1e-10)
    assert b.grad.item() == pytest.approx(res.grad_b, rel=1e-10)


def test_stable_far_out_in_both_tails():
    cos = np.array([[1.0, -1.0], [-1.0, 1.0]])
    res = sigmoid_from_cosine(cos, 1000.0, 0.0)  # every cell at |Z| = 1000: exp(1000) overflows a naive formula
    assert np.all(np.isfinite(res.terms)) and res.loss == 0.0
    wrong = sigmoid_from_cosine(-cos, 1000.0, 0.0)  # every cell wrong by 1000
    np.testing.assert_allclose(wrong.terms, 1000.0, rtol=1e-15)
    assert wrong.loss == pytest.approx(2000.0) and np.all(np.isfinite(wrong.grad_Z))


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((0, 0)), np.zeros(3)])
def test_rejects_non_square(bad):
    with pytest.raises(ValueError, match="square"):
        sigmoid_from_cosine(bad, 1.0, 0.0)


@pytest.mark.parametrize("t,b,word", [(-1.0, 0.0, "t"), (math.nan, 0.0, "t"), (math.inf, 0.0, "t"),
                                      (1.0, math.nan, "b"), (1.0, -math.inf, "b"), (1e308, 1e308, "finite")])
def test_rejects_bad_t_and_b(t, b, word):
    with pytest.raises(ValueError, match=word):
        sigmoid_from_cosine(np.eye(2), t, b)


# -- transformers' own code paths, on logits we inject ---------------------------------------------------------------
def _inject(module, value: torch.Tensor, field: str | None = None):
    """A forward hook that makes ``module`` return ``value`` (or put it in its output's ``field``)."""
    def hook(_mod, _inp, out):
        if field is None:
            return value
        setattr(out, field, value)
        return out

    return module.register_forward_hook(hook)


@pytest.fixture(scope="module")
def siglip_model():
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(0)
    cfg = SiglipConfig(
        text_config=dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, projection_size=32,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=8, patch_size=4),
    )
    return SiglipModel(cfg).eval().double()


@pytest.mark.parametrize("seed,n,t,b", [(0, 2, SIGLIP_T, SIGLIP_B), (1, 5, SIGLIP_T, SIGLIP_B), (2, 9, 117.0, -12.7),
                                        (3, 16, 3.0, 1.5)])
def test_matches_transformers_siglip_model(siglip_model, seed, n, t, b):
    """SiglipModel.forward(return_loss=True) computes its loss inline; we run it with our embeddings injected as the
    towers' pooled outputs and its logit_scale / logit_bias set to log t / b."""
    text, audio = paired(seed, n, d=32)
    m = siglip_model
    hooks = [_inject(m.text_model, torch.tensor(text), "pooler_output"),
             _inject(m.vision_model, torch.tensor(audio), "pooler_output")]
    try:
        with torch.no_grad():
            m.logit_scale.fill_(math.log(t))
            m.logit_bias.fill_(b)
            out = m(input_ids=torch.randint(3, 100, (n, 6)), pixel_values=torch.randn(n, 3, 8, 8, dtype=torch.float64),
                    return_loss=True)
    finally:
        for h in hooks:
            h.remove()
    res = sigmoid(text, audio, t, b)
    np.testing.assert_allclose(out.logits_per_text.numpy(), res.Z, rtol=0, atol=1e-12)  # rows = texts, as ours
    assert out.loss.item() == pytest.approx(res.loss, rel=1e-12)
    print(f"N={n} t={t} b={b}: SiglipModel {out.loss.item():.15g}  ours {res.loss:.15g}  "
          f"|Δ| {abs(out.loss.item() - res.loss):.2e}")


def _pe_audio_classes():
    try:
        from transformers import PeAudioConfig, PeAudioModel
    except ImportError:
        pytest.skip("transformers as installed has no PeAudioModel (Meta's PE audio–text model); nothing to measure")
    return PeAudioConfig, PeAudioModel


@pytest.fixture(scope="module")
def pe_audio_model():
    PeAudioConfig, PeAudioModel = _pe_audio_classes()
    torch.manual_seed(0)
    cfg = PeAudioConfig(
        text_config=dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2, cls_token_id=1, sep_token_id=2),
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, head_dim=16,
                          max_position_embeddings=256,
                          dac_config=dict(encoder_hidden_size=4, downsampling_ratios=[2, 2], codebook_dim=8,
                                          hidden_size=16)),
    )
    return PeAudioModel(cfg).eval().double()


def _pe_forward(m, n: int):
    return m(input_ids=torch.randint(3, 100, (n, 8)), input_values=torch.randn(n, 1, 64, dtype=torch.float64),
             return_loss=True)


def test_pe_audio_at_initialisation_reports_n_log_2_whatever_the_inputs(pe_audio_model):
    """Its scale and bias start at 0 and enter raw (t, not exp t): every logit is 0, the loss N·log 2."""
    torch.manual_seed(1)
    with torch.no_grad():
        out = _pe_forward(pe_audio_model, 5)
    assert np.all(out.logits_audio_text.numpy() == 0.0)
    assert out.loss.item() == pytest.approx(5 * math.log(2), rel=1e-12)


@pytest.mark.parametrize("seed,n,t,b", [(0, 4, SIGLIP_T, SIGLIP_B), (1, 8, SIGLIP_T, SIGLIP_B), (2, 8, 30.0, -5.0)])
def test_pe_audio_return_loss_is_not_the_sigmoid_loss(pe_audio_model, seed, n, t, b):
    """PeAudioModel(return_loss=True) takes labels = torch.eye (0/1), not 2·eye − 1 (±1): each non-pair cell has label
    0 and costs −log σ(0) = log 2 whatever its logit, so the negatives are never pushed apart."""
    text, audio = paired(seed, n, d=32)
    t_hat = F.normalize(torch.tensor(text), dim=-1)  # it does not normalise: we inject unit vectors
    a_hat = F.normalize(torch.tensor(audio), dim=-1)
    m = pe_audio_model
    hooks = [_inject(m.text_audio_head, t_hat), _inject(m.audio_head, a_hat)]
    try:
        with torch.no_grad():
            m.text_audio_logit_scale.fill_(t)  # raw: logits = scale · cos + bias
            m.text_audio_logit_bias.fill_(b)
            out = _pe_forward(m, n)
    finally:
        for h in hooks:
            h.remove()
    res = sigmoid(text, audio, t, b)
    np.testing.assert_allclose(out.logits_audio_text.numpy(), res.Z.T, rtol=0, atol=1e-12)  # rows = clips there
    pe = out.loss.item()
    assert pe == pytest.approx(pe_audio_return_loss(res.Z), rel=1e-12)
    off = ~np.eye(n, dtype=bool)
    gap = (math.log(2) * off.sum() - softplus(res.Z[off]).sum()) / n  # (1/N) Σ_{i≠j} (log 2 − softplus(Z_ij))
    assert pe - res.loss == pytest.approx(gap, rel=1e-10)
    if b == SIGLIP_B:  # negatives near Z = −10 cost ~e^−10 in L_sig, log 2 each in PE's: the gap is ≈ (N − 1)·log 2
        assert pe - res.loss == pytest.approx((n - 1) * math.log(2), rel=1e-3)
    print(f"N={n} t={t} b={b}: PeAudioModel {pe:.6f}  sigmoid L {res.loss:.6f}  gap {pe - res.loss:+.6f}  "
          f"(N−1)·log 2 = {(n - 1) * math.log(2):.6f}")


# -- chance ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 8, 64, 512])
def test_chance_is_the_best_uninformed_loss_and_not_log_n(n):
    cos = np.random.default_rng(n).uniform(-1, 1, (n, n))  # t = 0 ignores the cosines
    at = sigmoid_from_cosine(cos, 0.0, chance_bias(n)) if n > 1 else sigmoid_from_cosine(cos, 0.0, 40.0)
    assert at.loss == pytest.approx(chance_loss(n), abs=1e-15 if n == 1 else 0, rel=1e-12)
    assert at.chance == chance_loss(n)
    if n == 1:
        assert chance_loss(1) == 0.0 and chance_bias(1) == math.inf and at.to_dict()["chance_b"] is None
        return
    assert at.grad_b == pytest.approx(0.0, abs=1e-14)  # σ(b*) = 1/N: the N² cells' σ add up to N
    for db in (-0.1, 0.1):  # a minimum over b
        assert sigmoid_from_cosine(cos, 0.0, chance_bias(n) + db).loss > at.loss
    p = 1 / n
    assert at.chance == pytest.approx(-n * (p * math.log(p) + (1 - p) * math.log(1 - p)), rel=1e-12)  # N·H(1/N)
    assert math.log(n) < at.chance < math.log(n) + 1
    siglip_init = sigmoid_from_cosine(cos, 0.0, SIGLIP_B).loss  # t = 0 at SigLIP's b: ≈ 10 + (N − 1)·e^−10
    assert siglip_init == pytest.approx(softplus(10.0) + (n - 1) * softplus(-10.0), rel=1e-12)


# -- behaviour the formulas imply -----------------------------------------------------------------------------------
def test_large_batch_no_log_n_at_a_fixed_t_and_b():
    """Every pair right by the same margin (p = 0.5, q = 0.2), scale 10. The softmax row loss is
    log(1 + (N − 1)·e^−3): it grows like log N. At a fixed (t, b) the sigmoid loss is affine in N — each negative pays
    its own softplus(t·q + b) — so at SigLIP's b = −10 it hardly moves; with b halfway (every cell on its right side)
    the same line is steep. Refit b for each N (b is learned) and the best L_sig grows like log N again."""
    p, q, scale, ns = 0.5, 0.2, 10.0, (8, 64, 512)
    soft = [contrastive_from_cosine(fixed_margin(n, p, q), scale).loss for n in ns]
    for n, s in zip(ns, soft):
        assert s == pytest.approx(math.log1p((n - 1) * math.exp(-scale * (p - q))), rel=1e-12)
    assert soft[2] - soft[1] > 0.85 * math.log(8)  # log regime
    rows = {}
    for b in (SIGLIP_B, -3.5):
        sig = [sigmoid_from_cosine(fixed_margin(n, p, q), scale, b) for n in ns]
        for n, r in zip(ns, sig):
            assert r.loss == pytest.approx(softplus(-(scale * p + b)) + (n - 1) * softplus(scale * q + b), rel=1e-12)
            assert r.loss_positive == pytest.approx(sig[0].loss_positive, rel=1e-14)  # the pairs' part ignores N
            assert r.terms[0, 1] == sig[0].terms[0, 1]  # a cell's term is its own, whatever else the batch holds
        losses = [r.loss for r in sig]
        assert (losses[2] - losses[1]) / (losses[1] - losses[0]) == pytest.approx(8.0, rel=1e-9)  # affine in N
        rows[b] = losses
    assert rows[SIGLIP_B][2] - rows[SIGLIP_B][0] < 0.2 < soft[2] - soft[0] - 2.7  # 5.009 → 5.178 vs 0.299 → 3.275
    assert rows[-3.5][2] > 100 > soft[2]  # b halfway: 0.2014 per negative, 511 of them
    refit = [minimise_tb(fixed_margin(n, p, q), (scale, scale), (-40.0, 10.0))[2] for n in ns]
    assert refit[2] - refit[1] == pytest.approx(math.log(8), abs=0.25)  # no free lunch: log N comes back
    print("N", ns, "softmax", np.round(soft, 4), "sigmoid b=−10", np.round(rows[SIGLIP_B], 4),
          "b=−3.5", np.round(rows[-3.5], 3), "best b", np.round(refit, 4))


def test_one_pair_keeps_only_the_positive_term():
    cos = np.array([[0.3]])
    res = sigmoid_from_cosine(cos, SIGLIP_T, SIGLIP_B)
    assert res.loss == pytest.approx(softplus(7.0), rel=1e-14)  # −log σ(10·0.3 − 10)
    assert res.loss_negative == 0.0 and res.loss_positive == res.loss
    assert contrastive_from_cosine(cos, SIGLIP_T).loss == 0.0  # the softmax has nothing to contrast
    assert "only the positive term" in res.note
    assert res.to_dict()["chance_b"] is None
    json.dumps(res.to_dict(), allow_nan=False)


def test_a_duplicate_clip_costs_a_floor_no_other_cell_can_lower():
    """Clips 4 and 5 are the same recording: their columns are identical, so caption 4's false negative Z_45 equals its
    pair Z_44 and its row pays softplus(−Z_44) + softplus(Z_44) ≥ log 4 (at σ = ½), a sum of two cells alone."""
    text, audio = paired(11, 6)
    audio[5] = audio[4]
    cos = cosine_matrix(text, audio)
    np.testing.assert_array_equal(cos[:, 4], cos[:, 5])
    for t, b in ((SIGLIP_T, SIGLIP_B), (40.0, -8.0), (3.0, 0.5)):
        res = sigmoid_from_cosine(cos, t, b)
        for j, k in ((4, 5), (5, 4)):
            pair = res.terms[j, j] + res.terms[j, k]
            assert pair == pytest.approx(softplus(-res.Z[j, j]) + softplus(res.Z[j, j]), rel=1e-14)
            assert pair >= LOG4
        assert res.loss >= 2 * LOG4 / 6
        other = cos.copy()
        other[4, :4] = -1.0  # move every other cell of row 4 ...
        moved = sigmoid_from_cosine(other, t, b)
        assert moved.terms[4, 4] + moved.terms[4, 5] == res.terms[4, 4] + res.terms[4, 5]  # ... the duplicate's cost stays
        soft, soft_moved = contrastive_from_cosine(cos, t), contrastive_from_cosine(other, t)
        assert soft.per_item_text[4] >= math.log(2) - 1e-12  # the softmax row has its floor too (P ≤ ½) ...
        if t < 10:  # ... reached only when the rest of the row is negligible: its cost moves with the other cells
            assert soft_moved.per_item_text[4] < soft.per_item_text[4] - 0.01
    at_half = sigmoid_from_cosine(np.zeros((2, 2)), 1.0, 0.0)  # Z = 0: σ = ½, the floor itself
    assert at_half.terms[0, 0] + at_half.terms[0, 1] == pytest.approx(LOG4, rel=1e-15)
    best = sweep_tb(cos)
    assert best.best_loss >= 2 * LOG4 / 6
    print(f"duplicate floor 2·log 4 / N = {2 * LOG4 / 6:.4f}; best L over (t, b) {best.best_loss:.4f}")


def test_a_clip_without_its_caption_still_fills_a_softmax_column():
    """Drop caption 5: clip 5's softmax column (over the 5 captions left) sums to 1 all the same — it must pick one —
    while its σ column stays near 0: no caption is said to match it."""
    text, audio = paired(3, 6, d=32, noise=0.3)
    square = cosine_matrix(text[:5], audio[:5])
    tb = sweep_tb(square)  # t and b fitted on the five complete pairs
    cos = cosine_matrix(text[:5], audio)  # (5, 6): rows = the captions left, columns = all clips
    col_soft = softmax(tb.best_t * cos, axis=0)[:, 5]
    sig = match_probabilities(cos, tb.best_t, tb.best_b)
    assert col_soft.sum() == pytest.approx(1.0, rel=1e-12) and col_soft.max() > 0.2
    assert sig[:, 5].sum() < 0.05
    assert np.all(np.diag(sig[:, :5]) > 0.5)  # the five complete pairs are still "yes"
    print(f"clip 5: softmax column sum {col_soft.sum():.3f} (max {col_soft.max():.3f}); σ column sum {sig[:, 5].sum():.2e}")


# -- the (t, b) map ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,n", [(0, 6), (1, 10), (2, 24)])
def test_sweep_minimiser_is_a_stationary_point_below_every_grid_value(seed, n):
    text, audio = paired(seed, n, noise=1.5)
    cos = cosine_matrix(text, audio)
    assert np.diag(cos).min() < cos[~np.eye(n, dtype=bool)].max()  # no one threshold separates pairs from the rest
    sw = sweep_tb(cos)
    assert sw.inside
    assert sw.best_loss <= sw.loss.min() + 1e-12
    res = sigmoid_from_cosine(cos, sw.best_t, sw.best_b)
    assert res.loss == pytest.approx(sw.best_loss, rel=1e-14)
    assert abs(res.grad_t) < 1e-9 and abs(res.grad_b) < 1e-9
    ts = sw.best_t + np.linspace(-1, 1, 21)
    bs = sw.best_b + np.linspace(-1, 1, 21)
    fine = min(sigmoid_from_cosine(cos, t, b).loss for t in ts for b in bs)
    assert sw.best_loss <= fine + 1e-12
    json.dumps(sw.to_dict(), allow_nan=False)


def test_loss_is_convex_in_t_and_b():
    cos = cosine_matrix(*paired(4, 8))
    rng = np.random.default_rng(0)
    for _ in range(200):
        (t1, b1), (t2, b2) = rng.uniform([0, -30], [60, 10], (2, 2))
        mid = sigmoid_from_cosine(cos, (t1 + t2) / 2, (b1 + b2) / 2).loss
        assert mid <= (sigmoid_from_cosine(cos, t1, b1).loss + sigmoid_from_cosine(cos, t2, b2).loss) / 2 + 1e-12


def test_a_batch_one_threshold_separates_has_its_minimum_on_the_edge():
    """Pairs at 0.7, others at 0.1: L falls as t grows (with b = −0.4·t), so the map's optimum lies on its edge."""
    cos = fixed_margin(6, 0.7, 0.1)
    sw = sweep_tb(cos)
    assert not sw.inside
    assert sw.best_loss <= sw.loss.min()
    assert sw.best_b == pytest.approx(-50.0)  # the bottom of the b range; t* puts −b/t halfway: 0.4
    assert -sw.best_b / sw.best_t == pytest.approx(0.4, abs=0.01)


def test_sweep_rejects_bad_grids():
    with pytest.raises(ValueError, match="t must be"):
        sweep_tb(np.eye(2), ts=[-1.0])
    with pytest.raises(ValueError, match="b must be"):
        sweep_tb(np.eye(2), bs=[math.nan])


def test_checkpoints_of_this_project_have_no_bias(bundled):
    t, b, source = resolve_tb(bundled.model)
    assert (t, b) == (SIGLIP_T, SIGLIP_B) and "no logit_bias" in source
    assert resolve_tb(bundled.model, 3.0, 1.0)[:2] == (3.0, 1.0)


# -- the CLI ---------------------------------------------------------------------------------------------------------
def _cli(capsys, *argv):
    from clap_core.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_batch_sigmoid_adds_an_object_and_keeps_the_softmax_keys(capsys):
    code, plain, _ = _cli(capsys, "batch", "--scenario", "duplicates", "--json")
    assert code == 0
    code, with_sig, _ = _cli(capsys, "batch", "--scenario", "duplicates", "--loss", "sigmoid", "--json")
    assert code == 0
    a, b = json.loads(plain), json.loads(with_sig)
    sig = b.pop("sigmoid")
    assert a == b  # the softmax keys, values and order untouched
    assert list(a) == list(b)
    assert (sig["t"], sig["b"]) == (SIGLIP_T, SIGLIP_B) and "no logit_bias" in sig["tb_source"]
    assert sig["loss"] == pytest.approx(sigmoid_from_cosine(np.array(a["cosine"]), SIGLIP_T, SIGLIP_B).loss, rel=1e-12)
    code, text, _ = _cli(capsys, "batch", "--scenario", "duplicates", "--loss", "sigmoid", "--t", "20", "--b", "-5")
    assert code == 0 and "sigmoid  t=20.0000  b=-5.0000" in text and "t and b: given" in text


def test_cli_sweep_sigmoid_prints_the_optimum_and_a_grid(capsys):
    code, out, _ = _cli(capsys, "sweep", "--scenario", "batch-8", "--loss", "sigmoid", "--ts", "1", "10", "100",
                        "--bs", "-20", "-10", "0", "--json")
    assert code == 0
    sw = json.loads(out)
    assert sw["loss_kind"] == "sigmoid" and np.array(sw["loss"]).shape == (3, 3)
    assert sw["best_loss"] <= np.min(sw["loss"]) and 1 <= sw["best_t"] <= 100 and -20 <= sw["best_b"] <= 0


@pytest.mark.parametrize("argv,words", [(("batch", "--t", "3"), "add --loss sigmoid"),
                                        (("batch", "--loss", "sigmoid", "--b", "nan"), "b must be"),
                                        (("sweep", "--ts", "3"), "add --loss sigmoid"),
                                        (("sweep", "--loss", "sigmoid", "--taus", "3"), "--ts and --bs"),
                                        (("sweep", "--loss", "sigmoid", "--ts", "-1"), "t must be")])
def test_cli_refuses_mixed_flags_before_any_work(capsys, argv, words):
    code, _, err = _cli(capsys, *argv, "--scenario", "batch-8")
    assert code == 2 and words in err and err.count("\n") == 1
