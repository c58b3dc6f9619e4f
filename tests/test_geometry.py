"""∂L/∂E and ∂L/∂τ against torch autograd; the map's PCA, its sign convention and the tangent projection;
each item's pull and pushes; the modality gap and the random-weight model it is compared with."""

import numpy as np
import pytest
import torch

from clap_core.contrastive import contrastive, embedding_gradient, l2_normalise, symmetric_loss_torch
from clap_core.geometry import CAPTION, CLIP, embedding_map, item_forces, modality_gap, pca_2d, tangent


def random_pair(seed, n, d=16):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


def autograd(text, audio, tau):
    """∂L/∂Ê_t, ∂L/∂Ê_a (unit embeddings as leaves) and ∂L/∂τ by torch autograd, in float64."""
    t = torch.tensor(l2_normalise(text), requires_grad=True)
    a = torch.tensor(l2_normalise(audio), requires_grad=True)
    log_tau = torch.tensor(np.log(tau), dtype=torch.float64, requires_grad=True)
    tau_t = log_tau.exp()
    tau_t.retain_grad()
    loss = symmetric_loss_torch(t, a, torch.log(tau_t))
    loss.backward()
    return t.grad.numpy(), a.grad.numpy(), float(tau_t.grad), float(log_tau.grad), float(loss.detach())


@pytest.mark.parametrize("seed,n,tau", [(0, 1, 14.3), (1, 2, 1.0), (2, 8, 14.3), (3, 64, 50.0)])
def test_embedding_gradient_matches_autograd_on_random_embeddings(seed, n, tau):
    text, audio = random_pair(seed, n)
    res = contrastive(text, audio, tau)
    g = embedding_gradient(text, audio, res)
    d_text, d_audio, d_tau, d_log_tau, loss = autograd(text, audio, tau)
    assert res.loss == pytest.approx(loss, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(g.d_text, d_text, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(g.d_audio, d_audio, rtol=1e-9, atol=1e-13)
    assert g.d_tau == pytest.approx(d_tau, rel=1e-9, abs=1e-13)
    assert g.d_logit_scale == pytest.approx(d_log_tau, rel=1e-9, abs=1e-13)


def test_embedding_gradient_matches_autograd_on_real_embeddings(bundled):
    from clap_core.embed import Embedder
    from clap_core.scenarios import default_batch

    items = default_batch()
    emb = Embedder(bundled)
    E_t, E_a = emb.embed_texts(items.captions), emb.embed_clips(items.clips)
    res = contrastive(E_t, E_a, bundled.tau)
    g = embedding_gradient(E_t, E_a, res)
    d_text, d_audio, d_tau, _, _ = autograd(E_t.astype(np.float64), E_a.astype(np.float64), bundled.tau)
    np.testing.assert_allclose(g.d_text, d_text, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.d_audio, d_audio, rtol=1e-9, atol=1e-12)
    assert g.d_tau == pytest.approx(d_tau, rel=1e-9, abs=1e-12)


def test_gradient_of_raw_embeddings_is_the_tangent_part_over_the_norm():
    """What the class docstring states: for e = ‖e‖·ê, ∂L/∂e = (I − êêᵀ)·∂L/∂ê / ‖e‖."""
    text, audio = random_pair(5, 6)
    text *= 3.0
    res = contrastive(text, audio, 10.0)
    g = embedding_gradient(text, audio, res)
    t = torch.tensor(text, requires_grad=True)
    a = torch.tensor(audio)
    symmetric_loss_torch(torch.nn.functional.normalize(t, dim=-1), torch.nn.functional.normalize(a, dim=-1),
                         torch.tensor(np.log(10.0), dtype=torch.float64)).backward()
    expected = tangent(text, g.d_text) / np.linalg.norm(text, axis=1, keepdims=True)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-9, atol=1e-13)


def test_tangent_projection_is_orthogonal_to_the_point_and_idempotent():
    rng = np.random.default_rng(0)
    at, v = rng.standard_normal((10, 7)), rng.standard_normal((10, 7))
    p = tangent(at, v)
    np.testing.assert_allclose((p * l2_normalise(at)).sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(tangent(at, p), p, atol=1e-12)
    np.testing.assert_allclose(tangent(at, 2.5 * l2_normalise(at)), 0.0, atol=1e-12)  # radial: nothing left


def test_pca_keeps_the_most_variance_and_is_deterministic():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    a, b = pca_2d(X), pca_2d(X.copy())
    np.testing.assert_array_equal(a.axes, b.axes)
    np.testing.assert_array_equal(a.points(X), b.points(X))
    np.testing.assert_allclose(a.axes @ a.axes.T, np.eye(2), atol=1e-12)
    centred = X - X.mean(axis=0)
    total = (centred**2).sum() / len(X)
    assert a.total_variance == pytest.approx(total)
    assert a.variance[0] >= a.variance[1] and a.kept == pytest.approx(a.variance.sum() / total)
    np.testing.assert_allclose(a.points(X).var(axis=0), a.variance, rtol=1e-10)
    for _ in range(20):  # no other plane keeps more
        q, _ = np.linalg.qr(rng.standard_normal((6, 2)))
        assert (centred @ q).var(axis=0).sum() <= a.variance.sum() + 1e-9


def test_pca_sign_convention():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 5)) * np.array([4.0, 2.0, 1.0, 0.5, 0.1])
    p = pca_2d(X)
    for axis in p.axes:  # the largest-magnitude coordinate of each axis is positive
        assert axis[np.argmax(np.abs(axis))] > 0
    # the rule depends on the axes alone: reordered points, and a mirrored SVD, give the same map
    perm = rng.permutation(12)
    np.testing.assert_allclose(pca_2d(X[perm]).axes, p.axes, atol=1e-12)
    np.testing.assert_allclose(pca_2d(X[perm]).points(X), p.points(X), atol=1e-12)
    # `toward` sets the first axis' direction, both ways
    assert pca_2d(X, toward=p.axes[0]).axes[0] @ p.axes[0] > 0
    assert pca_2d(X, toward=-p.axes[0]).axes[0] @ p.axes[0] < 0


def test_pca_of_two_points_and_of_no_spread():
    p = pca_2d(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert p.share[0] == pytest.approx(1.0) and p.share[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(p.axes @ p.axes.T, np.eye(2), atol=1e-12)
    flat = pca_2d(np.ones((4, 3)))
    assert flat.kept == 0.0 and np.all(flat.points(np.ones((4, 3))) == 0)


def test_modality_gap():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 5))
    assert modality_gap(a, 4 * a) == pytest.approx(0.0, abs=1e-12)  # same directions: no gap
    shifted = l2_normalise(l2_normalise(a) + 3 * np.eye(5)[0])  # every caption moved towards one pole
    gap = modality_gap(shifted, a)
    assert gap == pytest.approx(np.linalg.norm(shifted.mean(0) - l2_normalise(a).mean(0)))
    assert 0.5 < gap <= 2.0


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_map_and_forces(n):
    text, audio = random_pair(4, n)
    text = text + 2.0  # a modality gap
    res = contrastive(text, audio, 12.0)
    m = embedding_map(text, audio, res)
    assert m.text_xy.shape == m.audio_xy.shape == m.text_force_xy.shape == (n, 2)
    assert m.gap == pytest.approx(modality_gap(text, audio))
    assert m.gap_in_map <= m.gap + 1e-12
    assert m.audio_centroid_xy[0] >= m.text_centroid_xy[0]  # captions left, clips right
    g = embedding_gradient(text, audio, res)
    for kind, idx in [(CAPTION, 0), (CLIP, n - 1)]:
        f = item_forces(kind, idx, text, audio, res, m.projection)
        own = l2_normalise(text if kind == CAPTION else audio)[idx]
        grad = (g.d_text if kind == CAPTION else g.d_audio)[idx]
        np.testing.assert_allclose(f.total, tangent(own[None], -grad[None])[0], atol=1e-12)
        np.testing.assert_allclose(f.total_xy, (m.text_force_xy if kind == CAPTION else m.audio_force_xy)[idx],
                                   atol=1e-12)
        assert abs(f.total @ own) < 1e-12 and abs(f.pull.vector @ own) < 1e-12
        assert len(f.pushes) == min(3, n - 1) and f.pull.other == idx
        # weights: the P entries that make G, times τ
        assert f.pull.weight == pytest.approx(12.0 * (2 - f.pull.p_text - f.pull.p_audio) / (2 * n), abs=1e-12)
        weights = [p.weight for p in f.pushes]
        assert weights == sorted(weights, reverse=True)
        for p in f.pushes:
            i, j = (idx, p.other) if kind == CAPTION else (p.other, idx)
            assert (p.p_text, p.p_audio) == (res.P_text[i, j], res.P_audio[i, j])
            assert p.weight == pytest.approx(12.0 * (p.p_text + p.p_audio) / (2 * n), rel=1e-12)
        others = np.delete(res.grad_C[idx] if kind == CAPTION else res.grad_C[:, idx], idx)
        if n > 1:  # the heaviest really are the heaviest
            assert f.pushes[0].weight == pytest.approx(12.0 * others.max())


def test_item_forces_refuse_bad_items():
    text, audio = random_pair(0, 3)
    res = contrastive(text, audio, 10.0)
    proj = embedding_map(text, audio, res).projection
    with pytest.raises(ValueError, match="outside"):
        item_forces(CAPTION, 3, text, audio, res, proj)
    with pytest.raises(ValueError, match="kind"):
        item_forces("word", 0, text, audio, res, proj)


def test_random_twin_is_deterministic_and_leaves_the_checkpoint_alone(tiny_checkpoint):
    from clap_core.baseline import random_model_gap, random_twin
    from clap_core.checkpoints import load_checkpoint
    from clap_core.scenarios import default_batch

    ck = load_checkpoint(str(tiny_checkpoint), device="cpu")
    before = {k: v.clone() for k, v in ck.model.state_dict().items()}
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a, b, c = random_twin(ck, 0), random_twin(ck, 0), random_twin(ck, 1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    wa, wb, wc = (m.model.state_dict() for m in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa if wa[k].is_floating_point())
    assert all(torch.equal(before[k], v) for k, v in ck.model.state_dict().items())
    assert a.fingerprint != ck.fingerprint and type(a.model) is type(ck.model)
    items = default_batch()
    gap = random_model_gap(ck, items.clips[:3], items.captions[:3])
    assert gap == random_model_gap(ck, items.clips[:3], items.captions[:3]) and 0 < gap <= 2


def test_the_tangent_view_points_the_pull_at_the_partner_and_a_push_away_from_its_negative():
    from clap_core.geometry import log_map, tangent_view

    rng = np.random.default_rng(11)
    E_t, E_a = rng.standard_normal((6, 16)), rng.standard_normal((6, 16))
    res = contrastive(E_t, E_a, 12.0)
    m = embedding_map(E_t, E_a, res)
    for kind, index in (("caption", 2), ("clip", 4)):
        f = item_forces(kind, index, E_t, E_a, res, m.projection)
        v = tangent_view(f, E_t, E_a)
        assert np.allclose(v.axes @ v.axes.T, np.eye(2), atol=1e-12)
        partner, negative = v.others_xy[index], v.others_xy[f.pushes[0].other]
        cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
        assert cos(v.pull_xy, partner) == pytest.approx(1.0, abs=1e-9)  # the pull points at the partner
        assert cos(v.pushes_xy[0], negative) == pytest.approx(-1.0, abs=1e-9)  # the push away from its negative
        assert v.off_plane[index] == pytest.approx(0.0, abs=1e-9) and v.off_plane[f.pushes[0].other] < 1e-9
    # the log map's length is the angle; a point seen from itself is at 0
    a = np.array([1.0, 0.0, 0.0])
    got = log_map(a, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 1e-9, 0.0]]))
    assert got[0] == pytest.approx([0, np.pi / 2, 0]) and np.allclose(got[1], 0)
