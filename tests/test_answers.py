"""The four answers (clap_core.answers) on random batches, hand-built ones and the example batch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from clap_core.answers import denominators, four_answers, heaviest_negatives
from clap_core.contrastive import contrastive, contrastive_from_cosine


def batch(seed, n, d=8, tau=14.3):
    rng = np.random.default_rng(seed)
    return contrastive(rng.standard_normal((n, d)), rng.standard_normal((n, d)), tau)


@pytest.mark.parametrize("n", [2, 5, 64])
def test_asymmetry_is_the_largest_gap_of_c_and_its_transpose(n):
    res = batch(n, n)
    a = four_answers(res).asymmetry
    assert not a.symmetric
    assert (a.c_ij, a.c_ji) == (res.C[a.i, a.j], res.C[a.j, a.i])
    assert a.gap == pytest.approx(np.abs(res.C - res.C.T).max())


def test_a_symmetric_matrix_is_said_to_be_one():
    res = contrastive_from_cosine(np.array([[0.9, 0.1], [0.1, 0.8]]), 10.0)
    a = four_answers(res).asymmetry
    assert a.symmetric and a.gap == 0.0
    assert four_answers(res).axes.loss_text == pytest.approx(four_answers(res).axes.loss_audio)


def test_axis_gap_names_the_pair_whose_row_and_column_differ_most():
    res = batch(1, 8)
    ax = four_answers(res).axes
    assert (ax.loss_text, ax.loss_audio) == (res.loss_text, res.loss_audio) and ax.loss_text != ax.loss_audio
    diffs = np.abs(res.per_item_text - res.per_item_audio)
    assert abs(ax.item_text - ax.item_audio) == diffs.max()
    assert ax.item_text == -math.log(res.P_text[ax.index, ax.index])
    assert ax.item_audio == -math.log(res.P_audio[ax.index, ax.index])


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_loss_is_numerators_plus_denominators(n):
    res = batch(2, n)
    den = denominators(res)
    assert den.loss == pytest.approx(res.loss, rel=1e-12, abs=1e-12)
    assert den.numerators == pytest.approx(-np.diag(res.C).mean())
    assert den.grad_sum == pytest.approx(0.0, abs=1e-12)  # the pushes add up to the pulls
    assert den.negatives_share_text == pytest.approx(1 - np.diag(res.P_text).mean())


def test_off_diagonal_entries_move_only_the_denominators():
    res = batch(3, 6)
    C = res.C.copy()
    C[1, 4] += 2.0  # one negative more similar
    moved = contrastive_from_cosine(C / res.tau, res.tau)
    before, after = denominators(res), denominators(moved)
    assert after.numerators == pytest.approx(before.numerators, abs=1e-12)
    assert after.denominators > before.denominators and moved.loss > res.loss


def test_heaviest_negatives_are_the_largest_off_diagonal_gradients():
    res = batch(4, 8)
    top = heaviest_negatives(res, 3)
    off = res.grad_C[~np.eye(8, dtype=bool)]
    assert [t.grad for t in top] == sorted(off, reverse=True)[:3]
    for t in top:
        assert t.i != t.j and t.grad == pytest.approx((t.p_text + t.p_audio) / 16, rel=1e-12)
    assert heaviest_negatives(batch(5, 1), 3) == ()
    assert len(heaviest_negatives(batch(5, 2), 3)) == 2


@pytest.mark.parametrize("n", [1, 3, 8])
def test_quoted_formula_is_minus_l_text_with_n_plus_one_terms(n):
    res = batch(6, n)
    q = four_answers(res).quoted
    # the formula as people type it, on the N terms that exist: softmax over the last axis (rows)
    C = torch.tensor(res.C)
    typed = float(torch.log(torch.diagonal(F.softmax(C, dim=-1))).sum() / n)
    assert q.as_quoted == pytest.approx(typed, rel=1e-12, abs=1e-15) and q.as_quoted <= 0
    assert q.with_minus == pytest.approx(res.loss_text) and q.loss == res.loss
    assert q.terms_asked == n + 1 and q.n == n
    with pytest.raises(IndexError):  # the (N+1)-th term does not exist
        torch.diagonal(F.softmax(C, dim=-1))[n].item()


def test_on_the_example_batch(bundled):
    from clap_core.embed import Embedder
    from clap_core.scenarios import default_batch

    items = default_batch()
    emb = Embedder(bundled)
    res = contrastive(emb.embed_texts(items.captions), emb.embed_clips(items.clips), bundled.tau)
    ans = four_answers(res)
    assert not ans.asymmetry.symmetric and ans.asymmetry.gap > 0
    assert ans.denominators.loss == pytest.approx(res.loss, rel=1e-12)
    assert ans.quoted.as_quoted == pytest.approx(-res.loss_text)
