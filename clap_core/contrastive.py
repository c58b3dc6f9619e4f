"""The symmetric contrastive (InfoNCE) loss of CLAP, written out term by term.

Conventions: rows of C are captions (text), columns are clips (audio).

    C        = τ · E_t · E_aᵀ                       (N, N)
    P_text   = softmax over each row of C           each caption's distribution over clips
    P_audio  = softmax over each column of C        each clip's distribution over captions
    ℓ_text   = −(1/N) Σ_i log P_text[i, i]          text→audio cross-entropy
    ℓ_audio  = −(1/N) Σ_i log P_audio[i, i]         audio→text cross-entropy
    L        = ½ (ℓ_text + ℓ_audio)
    ∂L/∂C    = (P_text − I)/(2N) + (P_audio − I)/(2N)

This is open_clip's ``ClipLoss`` (mean of two cross-entropies over ``logits_per_text`` and its
transpose) and LAION-CLAP's training loss. Everything is computed in float64 numpy so the numbers are
the same on every machine and every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TAU_RANGE = (0.1, 1000.0)  # the one valid range of τ wherever it enters (batch file, slider, CLI); the sweep's grid


def check_tau(value: object, where: str = "τ") -> float:
    """``value`` as a float τ inside TAU_RANGE; ValueError with one line (``where`` names its source) otherwise.
    Any JSON number is safe here: a 400-digit integer or 1e308 is refused, not overflowed."""
    lo, hi = TAU_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, got {type(value).__name__}")
    try:
        tau = float(value)
    except OverflowError:
        tau = math.inf
    if not (math.isfinite(tau) and lo <= tau <= hi):
        shown = f"{tau:.4g}" if math.isfinite(tau) else ("a number too large to use" if tau > 0 or isinstance(value, int)
                                                        else "not a finite number")
        raise ValueError(f"{where} = {shown} is outside the valid range {lo:g} … {hi:g}")
    return tau


def l2_normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Return a copy of ``x`` scaled to unit L2 norm along ``axis`` (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(norm == 0.0, 1.0, norm)


def cosine_matrix(text_emb: np.ndarray, audio_emb: np.ndarray) -> np.ndarray:
    """Cosine similarity, rows = captions, columns = clips: (N_t, d) × (N_a, d) → (N_t, N_a)."""
    return l2_normalise(text_emb) @ l2_normalise(audio_emb).T


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Numerically stable log-softmax along ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax along ``axis`` (rows: axis=1, columns: axis=0)."""
    return np.exp(log_softmax(x, axis))


@dataclass(frozen=True)
class ContrastiveResult:
    """Every quantity of the symmetric loss for one batch of N (caption, clip) pairs."""

    tau: float  # the multiplier τ = exp(logit_scale) used for C
    cosine: np.ndarray  # (N, N) cos(text_i, audio_j)
    C: np.ndarray  # (N, N) τ · cosine, rows = captions, columns = clips
    P_text: np.ndarray  # (N, N) softmax over each row; rows sum to 1
    P_audio: np.ndarray  # (N, N) softmax over each column; columns sum to 1
    per_item_text: np.ndarray  # (N,) −log P_text[i, i]
    per_item_audio: np.ndarray  # (N,) −log P_audio[i, i]
    loss_text: float  # ℓ_text = mean(per_item_text)
    loss_audio: float  # ℓ_audio = mean(per_item_audio)
    loss: float  # L = ½ (ℓ_text + ℓ_audio)
    grad_C: np.ndarray  # (N, N) ∂L/∂C

    @property
    def n(self) -> int:
        """Batch size N."""
        return int(self.C.shape[0])

    @property
    def chance(self) -> float:
        """Loss of an untrained model that scores every pair alike: log N."""
        return float(np.log(self.n))

    @property
    def share_text(self) -> np.ndarray:
        """(N,) each item's share of L through ℓ_text: per_item_text / (2N); shares sum to L."""
        return self.per_item_text / (2 * self.n)

    @property
    def share_audio(self) -> np.ndarray:
        """(N,) each item's share of L through ℓ_audio: per_item_audio / (2N)."""
        return self.per_item_audio / (2 * self.n)

    @property
    def share(self) -> np.ndarray:
        """(N,) each pair's share of L through both terms; the shares sum to L."""
        return self.share_text + self.share_audio

    @property
    def share_percent(self) -> np.ndarray:
        """(N,) each pair's share of L in percent (zeros when L is 0)."""
        return 100 * self.share / self.loss if self.loss > 0 else np.zeros(self.n)

    def most_asymmetric(self) -> tuple[int, int, float]:
        """(i, j, |C[i,j] − C[j,i]|) for the pair of cells that differ most (first such pair in row order)."""
        gap = np.abs(self.C - self.C.T)  # (N, N)
        i, j = np.unravel_index(int(gap.argmax()), gap.shape)
        return int(i), int(j), float(gap[i, j])

    @property
    def note(self) -> str | None:
        """A remark the UI should show about degenerate batches, or None."""
        if self.n == 1:
            return (
                "With one pair the loss is 0: each softmax has a single entry, so the matching "
                "probability is 1 whatever the similarity. Add a second pair to see a contrast."
            )
        return None

    def is_symmetric(self, atol: float = 1e-9) -> bool:
        """Whether C equals its transpose (it generally does not: rows are texts, columns clips)."""
        return bool(np.allclose(self.C, self.C.T, atol=atol, rtol=0.0))

    def to_dict(self) -> dict:
        """JSON-ready view (lists of floats) of the result."""
        return {
            "tau": self.tau,
            "n": self.n,
            "cosine": self.cosine.tolist(),
            "C": self.C.tolist(),
            "P_text": self.P_text.tolist(),
            "P_audio": self.P_audio.tolist(),
            "loss_text": self.loss_text,
            "loss_audio": self.loss_audio,
            "loss": self.loss,
            "chance": self.chance,
            "per_item_text": self.per_item_text.tolist(),
            "per_item_audio": self.per_item_audio.tolist(),
            "grad_C": self.grad_C.tolist(),
        }


def contrastive_from_cosine(cosine: np.ndarray, tau: float) -> ContrastiveResult:
    """All loss terms from a square cosine matrix (rows = captions, columns = clips) and τ."""
    cosine = np.asarray(cosine, dtype=np.float64)
    if cosine.ndim != 2 or cosine.shape[0] != cosine.shape[1] or cosine.shape[0] == 0:
        raise ValueError(f"need a non-empty square N×N matrix, got shape {cosine.shape}")
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"τ must be a positive finite number, got {tau}")
    n = cosine.shape[0]
    C = float(tau) * cosine  # (N, N) logits
    log_p_text = log_softmax(C, axis=1)  # each row: a caption's distribution over clips
    log_p_audio = log_softmax(C, axis=0)  # each column: a clip's distribution over captions
    per_item_text = -np.diag(log_p_text).copy()
    per_item_audio = -np.diag(log_p_audio).copy()
    P_text, P_audio = np.exp(log_p_text), np.exp(log_p_audio)
    eye = np.eye(n)
    grad_C = (P_text - eye) / (2 * n) + (P_audio - eye) / (2 * n)
    loss_text = float(per_item_text.mean())
    loss_audio = float(per_item_audio.mean())
    return ContrastiveResult(
        tau=float(tau),
        cosine=cosine,
        C=C,
        P_text=P_text,
        P_audio=P_audio,
        per_item_text=per_item_text,
        per_item_audio=per_item_audio,
        loss_text=loss_text,
        loss_audio=loss_audio,
        loss=0.5 * (loss_text + loss_audio),
        grad_C=grad_C,
    )


def contrastive(text_emb: np.ndarray, audio_emb: np.ndarray, tau: float) -> ContrastiveResult:
    """All loss terms for N paired embeddings: text (N, d), audio (N, d), multiplier τ."""
    text_emb, audio_emb = np.asarray(text_emb), np.asarray(audio_emb)
    if text_emb.shape != audio_emb.shape:
        raise ValueError(
            f"need as many captions as clips with the same width, got {text_emb.shape} and {audio_emb.shape}"
        )
    return contrastive_from_cosine(cosine_matrix(text_emb, audio_emb), tau)


def transformers_return_loss(cosine: np.ndarray, tau_text: float, tau_audio: float) -> float:
    """What ``ClapModel(return_loss=True)`` reports (transformers 4.27–5.x), for comparison only.

    transformers computes ``caption_loss = CE(logits_per_text)`` and ``audio_loss =
    CE(logits_per_audio.t())`` with logits_per_audio = τ_a·E_a·E_tᵀ: the transpose turns it back
    into text rows, so both terms are the text→audio cross-entropy (ℓ_text), at τ_t and τ_a.
    """
    lt_t = contrastive_from_cosine(cosine, tau_text).loss_text
    lt_a = contrastive_from_cosine(cosine, tau_audio).loss_text
    return 0.5 * (lt_t + lt_a)


def symmetric_loss_torch(text_emb, audio_emb, logit_scale):
    """The same L on torch tensors, differentiable, for training: ½(CE(C) + CE(Cᵀ)), C = τ·E_t·E_aᵀ.

    ``text_emb``/``audio_emb`` are (N, d) L2-normalised; ``logit_scale`` is log τ.
    """
    import torch
    import torch.nn.functional as F

    C = logit_scale.exp() * text_emb @ audio_emb.T  # (N, N), rows = captions
    target = torch.arange(C.shape[0], device=C.device)
    loss_text = F.cross_entropy(C, target)  # softmax over each row
    loss_audio = F.cross_entropy(C.T, target)  # softmax over each column
    return 0.5 * (loss_text + loss_audio)


@dataclass(frozen=True)
class EmbeddingGradient:
    """∂L/∂(unit embeddings) and ∂L/∂τ for one batch, from G = ∂L/∂C (C = τ·Ê_t·Ê_aᵀ).

    Taken with respect to the L2-normalised embeddings Ê as free variables. The gradient with respect to a
    raw (unnormalised) projection e = ‖e‖·ê is this one projected onto the sphere's tangent at ê, over ‖e‖:
    (I − ê êᵀ)·∂L/∂ê / ‖e‖ (see clap_core.geometry.tangent)."""

    d_text: np.ndarray  # (N, d) ∂L/∂Ê_t = τ·G·Ê_a
    d_audio: np.ndarray  # (N, d) ∂L/∂Ê_a = τ·Gᵀ·Ê_t
    d_tau: float  # ∂L/∂τ = Σ_ij G_ij·cos_ij
    tau: float

    @property
    def d_logit_scale(self) -> float:
        """∂L/∂log τ = τ·∂L/∂τ (what a trainer of logit_scale sees)."""
        return self.tau * self.d_tau


def embedding_gradient(text_emb: np.ndarray, audio_emb: np.ndarray, res: ContrastiveResult) -> EmbeddingGradient:
    """∂L/∂Ê_t, ∂L/∂Ê_a and ∂L/∂τ for the batch ``res`` was computed from: text (N, d), audio (N, d)
    (normalised here, as ``contrastive`` does). Chain rule through C = τ·Ê_t·Ê_aᵀ: ∂C_ij/∂Ê_t,i = τ·Ê_a,j."""
    t_hat, a_hat = l2_normalise(text_emb), l2_normalise(audio_emb)  # (N, d) each
    G = res.grad_C  # (N, N)
    return EmbeddingGradient(d_text=res.tau * G @ a_hat, d_audio=res.tau * G.T @ t_hat,
                             d_tau=float((G * res.cosine).sum()), tau=res.tau)
