"""The loss terms against an independent reference, hand-solvable cases, and transformers' return_loss."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clap_core.contrastive import contrastive, contrastive_from_cosine, symmetric_loss_torch, transformers_return_loss


def reference_clip_loss(text: np.ndarray, audio: np.ndarray, tau: float):
    """open_clip's ClipLoss, written independently: mean of the two cross-entropies."""
    t = F.normalize(torch.tensor(text, dtype=torch.float64), dim=-1)
    a = F.normalize(torch.tensor(audio, dtype=torch.float64), dim=-1)
    logits_per_text = tau * t @ a.T
    logits_per_audio = tau * a @ t.T
    labels = torch.arange(len(t))
    lt = F.cross_entropy(logits_per_text, labels).item()
    la = F.cross_entropy(logits_per_audio, labels).item()
    return lt, la, (lt + la) / 2


def random_pair(seed, n, d=16):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


@pytest.mark.parametrize("seed,n", [(0, 2), (1, 5), (2, 12), (3, 64), (4, 256)])
def test_matches_open_clip_reference(seed, n):
    text, audio = random_pair(seed, n)
    tau = 14.285714
    res = contrastive(text, audio, tau)
    lt, la, loss = reference_clip_loss(text, audio, tau)
    assert res.loss_text == pytest.approx(lt, rel=1e-10)
    assert res.loss_audio == pytest.approx(la, rel=1e-10)
    assert res.loss == pytest.approx(loss, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 24),
    d=st.integers(1, 12),
    tau=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_reference_on_generated_inputs(n, d, tau, seed):
    rng = np.random.default_rng(seed)
    text, audio = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    res = contrastive(text, audio, tau)
    lt, la, loss = reference_clip_loss(text, audio, tau)
    assert res.loss == pytest.approx(loss, rel=1e-9, abs=1e-12)
    assert res.loss_text == pytest.approx(lt, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(res.P_text.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(res.P_audio.sum(axis=0), 1.0, atol=1e-12)
    assert res.share_text.sum() + res.share_audio.sum() == pytest.approx(res.loss, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(cos=arrays(np.float64, (6, 6), elements=st.floats(-1, 1)), tau=st.floats(0.5, 50))
def test_gradient_matches_autograd(cos, tau):
    res = contrastive_from_cosine(cos, tau)
    C = torch.tensor(res.C, requires_grad=True)
    labels = torch.arange(6)
    loss = 0.5 * (F.cross_entropy(C, labels) + F.cross_entropy(C.T, labels))
    loss.backward()
    np.testing.assert_allclose(res.grad_C, C.grad.numpy(), atol=1e-12)
    assert np.all(np.diag(res.grad_C) <= 0)  # pull the pairs together
    off = res.grad_C[~np.eye(6, dtype=bool)]
    assert np.all(off >= 0)  # push the others apart


def test_axes_rows_are_captions_columns_are_clips():
    # caption 0 matches clip 1 strongly: visible in row 0, column 1 of C
    cos = np.array([[0.0, 0.9], [0.1, 0.2]])
    res = contrastive_from_cosine(cos, 10.0)
    assert res.C[0, 1] == pytest.approx(9.0)
    assert res.P_text[0, 1] == pytest.approx(math.exp(9) / (1 + math.exp(9)))  # row softmax
    assert res.P_audio[0, 1] == pytest.approx(math.exp(9) / (math.exp(9) + math.exp(2)))  # column softmax
    assert not res.is_symmetric()
    assert res.loss_text != pytest.approx(res.loss_audio)


def test_identity_embeddings_are_solved():
    eye = np.eye(8)
    res = contrastive(eye, eye, 100.0)
    assert res.loss < 1e-30 + 8 * math.exp(-100) * 2
    assert np.array_equal(res.P_text.argmax(axis=1), np.arange(8))
    assert res.is_symmetric()


def test_equal_scores_give_chance_level():
    res = contrastive_from_cosine(np.zeros((7, 7)), 14.3)
    assert res.loss_text == pytest.approx(math.log(7))
    assert res.loss_audio == pytest.approx(math.log(7))
    assert res.chance == pytest.approx(math.log(7))


def test_single_pair_has_zero_loss_and_says_why():
    res = contrastive(np.ones((1, 4)), -np.ones((1, 4)), 14.3)
    assert res.loss == 0.0 and res.loss_text == 0.0 and res.loss_audio == 0.0
    assert "one pair" in res.note


def test_commonly_quoted_formula_lacks_the_minus_sign():
    text, audio = random_pair(7, 6)
    res = contrastive(text, audio, 14.3)
    quoted = np.mean(np.log(np.diag(res.P_text)))  # (1/N) Σ log diag(softmax(C)), as often quoted
    assert quoted < 0 < res.loss_text
    assert -quoted == pytest.approx(res.loss_text)


def test_tau_scales_logits_not_cosine():
    text, audio = random_pair(11, 5)
    a, b = contrastive(text, audio, 1.0), contrastive(text, audio, 30.0)
    np.testing.assert_allclose(a.cosine, b.cosine)
    np.testing.assert_allclose(b.C, 30.0 * a.cosine)
    assert b.loss != pytest.approx(a.loss)


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((0, 0)), np.zeros(3)])
def test_rejects_non_square(bad):
    with pytest.raises(ValueError, match="square"):
        contrastive_from_cosine(bad, 1.0)


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_rejects_bad_tau(tau):
    with pytest.raises(ValueError, match="τ"):
        contrastive_from_cosine(np.eye(2), tau)


def test_torch_training_loss_equals_displayed_loss():
    text, audio = random_pair(5, 9)
    t = F.normalize(torch.tensor(text), dim=-1)
    a = F.normalize(torch.tensor(audio), dim=-1)
    train = symmetric_loss_torch(t, a, torch.tensor(math.log(20.0), dtype=torch.float64)).item()
    assert train == pytest.approx(contrastive(text, audio, 20.0).loss, rel=1e-12)


def test_transformers_return_loss_is_not_the_symmetric_loss():
    """ClapModel(return_loss=True) takes cross_entropy(logits_per_audio.t()): the text→audio direction twice."""
    from tiny import tiny_config
    from transformers import ClapModel

    torch.manual_seed(0)
    cfg = tiny_config(max_positions=40)
    model = ClapModel(cfg).eval()
    n = 5
    ids = torch.randint(5, 100, (n, 12))
    feats = torch.randn(n, 1, 1001, 64)
    with torch.no_grad():
        out = model(input_ids=ids, input_features=feats, return_loss=True)
        model.logit_scale_t.fill_(math.log(5.0))  # the two scales apart, as in LAION's checkpoints
        out2 = model(input_ids=ids, input_features=feats, return_loss=True)
    C = out.logits_per_text.double().numpy()  # rows = texts, τ_t · E_t E_aᵀ
    tau = model.logit_scale_a.exp().item()
    cos = C / tau
    ours = contrastive_from_cosine(cos, tau)
    hf = out.loss.item()
    # with equal scales, transformers' value is ℓ_text counted twice: ℓ_audio never enters
    assert hf == pytest.approx(ours.loss_text, rel=1e-4)
    assert abs(hf - ours.loss) > 1e-3, f"expected a gap, got transformers {hf} vs symmetric {ours.loss}"
    assert transformers_return_loss(cos, 5.0, tau) == pytest.approx(out2.loss.item(), rel=1e-4), f"expected a gap, got transformers {hf} vs symmetric {ours.loss}"
    print(f"transformers return_loss {hf:.5f} vs symmetric L {ours.loss:.5f} (gap {hf - ours.loss:+.5f})")
