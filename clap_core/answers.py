"""The four questions a colleague asks after reading the usual explanation of the loss, answered with a
batch's own numbers (clap_core.contrastive has the definitions; rows of C are captions, columns clips).

1. Is C symmetric?  No: C[i,j] compares caption i with clip j, C[j,i] caption j with clip i.
2. Why ℓ_text ≠ ℓ_audio from one matrix?  Softmax along rows vs down columns: different denominators.
3. Where do the off-diagonal entries enter?  Only in the denominators:
       L = −(1/N) Σ_i C_ii  +  (1/2N) Σ_i [log Σ_k e^{C_ik} + log Σ_k e^{C_ki}]
   and through them ∂L/∂C_ij = (P_text[i,j] + P_audio[i,j])/(2N) > 0 for i ≠ j: a push.
4. The quoted ``(1/N) Σ_{i=0}^{N} log diag(softmax(C))``: no minus sign (a log-likelihood ≤ 0, not a
   loss), N+1 terms where diag has N, and one softmax axis only (ℓ_text, not the symmetric L).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contrastive import ContrastiveResult, log_softmax


@dataclass(frozen=True)
class Asymmetry:
    """Answer 1: the pair of cells of C that differ most from each other's transpose."""

    i: int  # caption i vs clip j ...
    j: int  # ... and caption j vs clip i
    c_ij: float
    c_ji: float
    symmetric: bool  # C = Cᵀ to 1e-9 (N = 1, or a coincidence)

    @property
    def gap(self) -> float:
        """|C[i,j] − C[j,i]| = max |C − Cᵀ|."""
        return abs(self.c_ij - self.c_ji)


@dataclass(frozen=True)
class AxisGap:
    """Answer 2: ℓ_text vs ℓ_audio, and the pair whose row term and column term differ most."""

    loss_text: float
    loss_audio: float
    index: int  # pair k: row k of P_text vs column k of P_audio
    item_text: float  # −log P_text[k,k]
    item_audio: float  # −log P_audio[k,k]


@dataclass(frozen=True)
class Negative:
    """One off-diagonal cell of C and its push: ∂L/∂C_ij and the two probabilities that make it."""

    i: int  # caption
    j: int  # clip
    grad: float  # ∂L/∂C_ij = (P_text[i,j] + P_audio[i,j])/(2N)
    p_text: float
    p_audio: float


@dataclass(frozen=True)
class Denominators:
    """Answer 3: L split into what the diagonal contributes and what the softmax denominators do."""

    numerators: float  # −(1/N) Σ_i C_ii: the only place the diagonal appears alone
    denominators: float  # (1/2N) Σ_i (log Σ_k e^{C_ik} + log Σ_k e^{C_ki}): every entry of C, diagonal too
    negatives_share_text: float  # mean over rows of 1 − P_text[i,i]: the negatives' share of a row's denominator
    negatives_share_audio: float  # mean over columns of 1 − P_audio[i,i]
    heaviest: tuple[Negative, ...]  # the off-diagonal cells with the largest ∂L/∂C, largest first
    grad_sum: float  # Σ_ij ∂L/∂C_ij = 0: the pushes add up to the pulls

    @property
    def loss(self) -> float:
        """numerators + denominators = L."""
        return self.numerators + self.denominators


@dataclass(frozen=True)
class QuotedFormula:
    """Answer 4: the commonly quoted formula evaluated on the batch, next to the loss it should be."""

    n: int
    terms_asked: int  # the sum's index runs 0..N: N+1 terms
    as_quoted: float  # (1/N) Σ log P_text[i,i] over the N terms that exist: −ℓ_text, ≤ 0
    with_minus: float  # −as_quoted = ℓ_text: one axis only
    loss: float  # L = ½(ℓ_text + ℓ_audio)


@dataclass(frozen=True)
class FourAnswers:
    """All four answers for one batch."""

    asymmetry: Asymmetry
    axes: AxisGap
    denominators: Denominators
    quoted: QuotedFormula


def heaviest_negatives(res: ContrastiveResult, k: int = 3) -> tuple[Negative, ...]:
    """The k off-diagonal cells with the largest ∂L/∂C (ties in row order), largest first."""
    g = np.where(np.eye(res.n, dtype=bool), -np.inf, res.grad_C).ravel()  # (N²,) diagonal excluded
    order = np.argsort(-g, kind="stable")[: min(k, res.n * (res.n - 1))]
    cells = [divmod(int(c), res.n) for c in order]
    return tuple(Negative(i, j, float(res.grad_C[i, j]), float(res.P_text[i, j]), float(res.P_audio[i, j]))
                 for i, j in cells)


def denominators(res: ContrastiveResult, k: int = 3) -> Denominators:
    """L = numerators + denominators (see the module docstring), and the heaviest negatives."""
    C = res.C
    diag = np.diag(C)
    lse_rows = diag - np.diag(log_softmax(C, axis=1))  # (N,) log Σ_k e^{C_ik}, since log P_ii = C_ii − that
    lse_cols = diag - np.diag(log_softmax(C, axis=0))  # (N,) log Σ_k e^{C_ki}
    return Denominators(
        numerators=float(-diag.mean()), denominators=float((lse_rows + lse_cols).mean() / 2),
        negatives_share_text=float((1 - np.diag(res.P_text)).mean()),
        negatives_share_audio=float((1 - np.diag(res.P_audio)).mean()),
        heaviest=heaviest_negatives(res, k), grad_sum=float(res.grad_C.sum()),
    )


def four_answers(res: ContrastiveResult, k: int = 3) -> FourAnswers:
    """The four answers on the batch of ``res``."""
    i, j, _ = res.most_asymmetric()
    diff = np.abs(res.per_item_text - res.per_item_audio)
    m = int(diff.argmax())
    log_diag = -res.per_item_text  # log P_text[i,i]: softmax over the last axis, each caption's row
    return FourAnswers(
        asymmetry=Asymmetry(i=i, j=j, c_ij=float(res.C[i, j]), c_ji=float(res.C[j, i]), symmetric=res.is_symmetric()),
        axes=AxisGap(loss_text=res.loss_text, loss_audio=res.loss_audio, index=m,
                     item_text=float(res.per_item_text[m]), item_audio=float(res.per_item_audio[m])),
        denominators=denominators(res, k),
        quoted=QuotedFormula(n=res.n, terms_asked=res.n + 1, as_quoted=float(log_diag.mean()),
                             with_minus=float(-log_diag.mean()), loss=res.loss),
    )
