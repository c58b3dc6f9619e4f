"""SigLIP's sigmoid loss on the same matrix as the softmax loss, written out term by term (Zhai et al., ICCV 2023).

Conventions as in :mod:`clap_core.contrastive`: rows are captions (text), columns are clips (audio).

    Z        = t · cos + b                            (N, N) logits; t = exp(t') > 0 a learned scale, b a learned bias
    z_ij     = +1 if i = j (the pair), −1 otherwise   the label of each cell
    σ(Z)     = 1 / (1 + e^−Z)                         each cell's own "these match" probability (not a distribution)
    term_ij  = −log σ(z_ij · Z_ij) = softplus(−z_ij · Z_ij)
    L        = (1/N) Σ_i Σ_j term_ij                  = L₊ (the N pairs) + L₋ (the N² − N others)
    ∂L/∂Z    = (σ(Z) − I) / N        ∂L/∂t = Σ_ij ∂L/∂Z_ij · cos_ij        ∂L/∂b = Σ_ij ∂L/∂Z_ij

Where it differs from the softmax loss: a softmax couples every cell of a row (raising one logit lowers the
others' probabilities, and the row sums to 1 even when no caption fits the clip); here each cell asks its own
yes/no question and its term depends on that cell alone. SigLIP initialises t = 10 (t' = log 10) and b = −10:
most of the N² cells are negatives, so b starts every cell near "no" and training starts close to that prior.

Chance. An uninformed model (t = 0) gives every cell Z = b, so L(b) = softplus(−b) + (N − 1)·softplus(b);
dL/db = −σ(−b) + (N − 1)·σ(b) = 0 gives σ(b) = 1/N, b* = −log(N − 1), and

    L* = log N + (N − 1)·log(N / (N − 1)) = N·H(1/N)       (H the binary entropy in nats)

which lies in [log N, log N + 1) and tends to log N + 1, not the softmax's log N. With N = 1 it is 0 (b* = +∞).

Large batches. At a fixed (t, b) the loss has no log-sum-exp: with the pairs at cosine p and every other cell at q,
L = softplus(−(t·p + b)) + (N − 1)·softplus(t·q + b), affine in N, each negative paying its own cost whatever the
batch holds (the softmax's row loss is log(1 + (N − 1)·e^−τ(p−q)), which grows like log N once N > e^τ(p−q)).
How steep that line is depends on how far below the threshold −b/t the negatives lie: b is the knob. It is no free
lunch: refit b for each N (b is learned) and the best L grows like log N again, as the softmax's does.

One cut. The softmax asks each pair to beat its own row and column; the sigmoid asks one threshold −b/t to lie below
every pair and above every other cell of the batch. A batch can pass the first and fail the second: then L_sig has a
finite minimiser in (t, b) while the softmax L falls to 0 as τ grows.

Everything is float64 numpy, as in contrastive.py; :func:`sigmoid_loss_torch` is the differentiable twin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .contrastive import cosine_matrix

SIGLIP_T = 10.0  # SigLIP's initial scale: t = exp(t'), t' = log 10
SIGLIP_B = -10.0  # SigLIP's initial bias


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ), stable at both ends (np.logaddexp)."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = −softplus(−x), stable at both ends."""
    return -softplus(-np.asarray(x, dtype=np.float64))


def sigmoid_prob(x: np.ndarray) -> np.ndarray:
    """σ(x) = exp(log σ(x)): no overflow for large |x|."""
    return np.exp(log_sigmoid(x))


def pair_labels(n: int) -> np.ndarray:
    """(n, n) z: +1 on the diagonal (the pairs), −1 elsewhere."""
    return 2.0 * np.eye(n) - 1.0


def match_probabilities(cosine: np.ndarray, t: float, b: float) -> np.ndarray:
    """σ(t·cos + b) for a cosine matrix of any shape (a caption row may be missing: no square needed)."""
    return sigmoid_prob(float(t) * np.asarray(cosine, dtype=np.float64) + float(b))


def chance_bias(n: int) -> float:
    """The best bias of an uninformed model (t = 0): b* = −log(N − 1) (+∞ for N = 1: "always yes")."""
    return math.inf if n == 1 else -math.log(n - 1)


def chance_loss(n: int) -> float:
    """L at t = 0 with b = b*: log N + (N − 1)·log(N / (N − 1)) = N·H(1/N) nats (0 for N = 1)."""
    return 0.0 if n == 1 else math.log(n) + (n - 1) * math.log(n / (n - 1))


def check_tb(t: float, b: float) -> tuple[float, float]:
    """(t, b) as floats; ValueError unless t is finite and ≥ 0 (0: an uninformed model) and b is finite."""
    t, b = float(t), float(b)
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a finite number ≥ 0, got {t}")
    if not math.isfinite(b):
        raise ValueError(f"b must be a finite number, got {b}")
    return t, b


@dataclass(frozen=True)
class SigmoidResult:
    """Every quantity of the sigmoid loss for one batch of N (caption, clip) pairs."""

    t: float  # the scale t = exp(t')
    b: float  # the bias
    cosine: np.ndarray  # (N, N) cos(text_i, audio_j)
    Z: np.ndarray  # (N, N) t·cos + b, rows = captions, columns = clips
    sigma: np.ndarray  # (N, N) σ(Z): each cell's own match probability; rows and columns need not sum to 1
    terms: np.ndarray  # (N, N) −log σ(z_ij·Z_ij) = softplus(−z_ij·Z_ij) ≥ 0
    loss: float  # L = terms.sum() / N
    grad_Z: np.ndarray  # (N, N) ∂L/∂Z = (σ(Z) − I) / N

    @property
    def n(self) -> int:
        """Batch size N."""
        return int(self.Z.shape[0])

    @property
    def loss_positive(self) -> float:
        """L₊ = (1/N) Σ_i −log σ(Z_ii): the N pairs' part of L."""
        return float(np.trace(self.terms) / self.n)

    @property
    def loss_negative(self) -> float:
        """L₋ = (1/N) Σ_{i≠j} −log σ(−Z_ij): the N² − N non-pairs' part; L₊ + L₋ = L."""
        return float((self.terms.sum() - np.trace(self.terms)) / self.n)

    @property
    def share(self) -> np.ndarray:
        """(N,) each pair's share of L by caption row: (its positive cell + its N − 1 negatives) / N; sums to L."""
        return self.terms.sum(axis=1) / self.n

    @property
    def share_columns(self) -> np.ndarray:
        """(N,) the column view of the same cells: clip j's column / N; sums to L too (one sum, two ways to cut it)."""
        return self.terms.sum(axis=0) / self.n

    @property
    def share_percent(self) -> np.ndarray:
        """(N,) each row's share of L in percent (zeros when L is 0)."""
        return 100 * self.share / self.loss if self.loss > 0 else np.zeros(self.n)

    @property
    def grad_t(self) -> float:
        """∂L/∂t = Σ_ij ∂L/∂Z_ij · cos_ij."""
        return float((self.grad_Z * self.cosine).sum())

    @property
    def grad_log_t(self) -> float:
        """∂L/∂t' = t·∂L/∂t (what a trainer of t' = log t sees)."""
        return self.t * self.grad_t

    @property
    def grad_b(self) -> float:
        """∂L/∂b = Σ_ij ∂L/∂Z_ij = (Σ σ(Z) − N) / N: zero when the σ of all N² cells add up to N."""
        return float(self.grad_Z.sum())

    @property
    def chance(self) -> float:
        """The loss of an uninformed model: t = 0 with its best b = −log(N − 1): N·H(1/N), not log N."""
        return chance_loss(self.n)

    @property
    def chance_b(self) -> float:
        """The bias that attains :attr:`chance`: −log(N − 1) (+∞ for N = 1)."""
        return chance_bias(self.n)

    @property
    def note(self) -> str | None:
        """A remark for degenerate batches, or None."""
        if self.n == 1:
            return ("With one pair only the positive term is left: L = −log σ(t·cos + b), not 0 as with the softmax: "
                    "σ asks whether this pair matches, not which of one candidate does.")
        return None

    def report_lines(self, captions: Sequence[str], clips: Sequence[str]) -> list[str]:
        """The CLI's text view: L split into its pairs and its non-pairs, ∂L/∂t and ∂L/∂b, chance, then one line per
        pair: σ of the pair, the highest σ among its row's non-pairs, and its row and column shares of L."""
        chance_b = f"{self.chance_b:.4f}" if math.isfinite(self.chance_b) else "+∞"
        lines = [f"sigmoid  t={self.t:.4f}  b={self.b:.4f}  chance N·H(1/N)={self.chance:.4f} (t=0, b=−log(N−1)="
                 f"{chance_b})",
                 f"loss {self.loss:.4f} = pairs {self.loss_positive:.4f} + non-pairs {self.loss_negative:.4f}  "
                 f"∂L/∂t {self.grad_t:+.4g}  ∂L/∂b {self.grad_b:+.4g}"]
        off = np.where(np.eye(self.n, dtype=bool), -np.inf, self.sigma)  # (N, N) the non-pairs' σ
        for i, (caption, clip) in enumerate(zip(captions, clips)):
            worst = f"{off[i].max():.4f}" if self.n > 1 else "—"
            lines.append(f"  [{i}] {caption!r:40.40} ↔ {clip}:  σ(Z_ii) {self.sigma[i, i]:.4f}  max σ of its non-pairs "
                         f"{worst}  row share {self.share[i]:.4f}  column share {self.share_columns[i]:.4f}")
        return lines + ([self.note] if self.note else [])

    def to_dict(self) -> dict:
        """JSON-ready view (lists of floats; chance_b is None for N = 1, where it is +∞)."""
        return {
            "t": self.t, "b": self.b, "n": self.n, "cosine": self.cosine.tolist(), "Z": self.Z.tolist(),
            "sigma": self.sigma.tolist(), "terms": self.terms.tolist(), "loss": self.loss,
            "loss_positive": self.loss_positive, "loss_negative": self.loss_negative,
            "share": self.share.tolist(), "share_columns": self.share_columns.tolist(), "grad_Z": self.grad_Z.tolist(),
            "grad_t": self.grad_t, "grad_b": self.grad_b, "chance": self.chance,
            "chance_b": self.chance_b if math.isfinite(self.chance_b) else None, "note": self.note,
        }


def sigmoid_from_cosine(cosine: np.ndarray, t: float = SIGLIP_T, b: float = SIGLIP_B) -> SigmoidResult:
    """All terms of the sigmoid loss from a square cosine matrix (rows = captions, columns = clips), t and b."""
    cosine = np.asarray(cosine, dtype=np.float64)
    if cosine.ndim != 2 or cosine.shape[0] != cosine.shape[1] or cosine.shape[0] == 0:
        raise ValueError(f"need a non-empty square N×N matrix, got shape {cosine.shape}")
    t, b = check_tb(t, b)
    n = cosine.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        Z = t * cosine + b  # (N, N)
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"t·cos + b is not finite for t = {t:g}, b = {b:g} (a non-finite cosine, or t too large)")
    terms = softplus(-pair_labels(n) * Z)  # −log σ(z·Z)
    sigma = sigmoid_prob(Z)
    return SigmoidResult(t=t, b=b, cosine=cosine, Z=Z, sigma=sigma, terms=terms, loss=float(terms.sum() / n),
                         grad_Z=(sigma - np.eye(n)) / n)


def sigmoid(text_emb: np.ndarray, audio_emb: np.ndarray, t: float = SIGLIP_T, b: float = SIGLIP_B) -> SigmoidResult:
    """All terms of the sigmoid loss for N paired embeddings: text (N, d), audio (N, d), normalised here."""
    text_emb, audio_emb = np.asarray(text_emb), np.asarray(audio_emb)
    if text_emb.shape != audio_emb.shape:
        raise ValueError(
            f"need as many captions as clips with the same width, got {text_emb.shape} and {audio_emb.shape}"
        )
    return sigmoid_from_cosine(cosine_matrix(text_emb, audio_emb), t, b)


def sigmoid_loss_torch(text_emb, audio_emb, log_t, b):
    """The same L on torch tensors, differentiable, for training: Z = exp(log_t)·E_t·E_aᵀ + b,
    L = −Σ log σ(z ⊙ Z) / N. ``text_emb``/``audio_emb`` are (N, d) L2-normalised; ``log_t`` is t' = log t."""
    import torch
    import torch.nn.functional as F

    Z = log_t.exp() * text_emb @ audio_emb.T + b  # (N, N), rows = captions
    z = 2 * torch.eye(Z.shape[0], dtype=Z.dtype, device=Z.device) - 1
    return -F.logsigmoid(z * Z).sum() / Z.shape[0]


def pe_audio_return_loss(logits: np.ndarray) -> float:
    """What transformers' ``PeAudioModel(return_loss=True)`` reports (5.x), for comparison only:
    −Σ log σ(I ⊙ Z) / N with labels torch.eye (0/1, not ±1). Every non-pair cell has label 0, so it contributes
    −log σ(0) = log 2 whatever its logit: (1/N)·[Σ_i softplus(−Z_ii) + (N² − N)·log 2]."""
    logits = np.asarray(logits, dtype=np.float64)
    return float(softplus(-np.eye(len(logits)) * logits).sum() / len(logits))


def checkpoint_tb(model) -> tuple[float, float] | None:
    """(exp(logit_scale), logit_bias) of a model trained with the sigmoid loss (SigLIP-style attributes), or None.
    CLAP checkpoints (transformers' ClapModel, MS-CLAP) have no logit_bias: their τ was trained for the softmax."""
    bias, scale = getattr(model, "logit_bias", None), getattr(model, "logit_scale", None)
    if bias is not None and scale is not None:  # SigLIP-style attributes
        return float(np.exp(float(scale.detach().float().reshape(-1)[0]))), float(bias.detach().float().reshape(-1)[0])
    saved = getattr(getattr(model, "config", None), "logit_bias", None)  # a ClapModel trained here with the sigmoid
    if saved is not None and getattr(model, "logit_scale_a", None) is not None:  # (training.py, recipe "sigmoid")
        return float(np.exp(float(model.logit_scale_a.detach().float()))), float(saved)
    return None


def resolve_tb(model, t: float | None = None, b: float | None = None) -> tuple[float, float, str]:
    """(t, b, where they come from): each as given, else the checkpoint's (:func:`checkpoint_tb`), else SigLIP's
    initialisation. Checked with :func:`check_tb`."""
    own = checkpoint_tb(model)
    default_t, default_b = own if own is not None else (SIGLIP_T, SIGLIP_B)
    source = ("the checkpoint's logit_scale and logit_bias" if own is not None
              else "SigLIP's initialisation t = 10, b = −10 (this checkpoint was trained with the softmax: no logit_bias)")
    if t is not None or b is not None:
        source = "given" if t is not None and b is not None else f"{'t' if t is not None else 'b'} given, else {source}"
    t, b = check_tb(default_t if t is None else t, default_b if b is None else b)
    return t, b, source


# -- the (t, b) map: L is convex in (t, b) (a sum of softplus of functions affine in (t, b)) --------------------------
DEFAULT_TS = tuple(float(x) for x in np.logspace(0, 3, 13))  # t: 1 … 1000, 4 per decade
DEFAULT_BS = tuple(float(x) for x in np.linspace(-50, 10, 13))  # b: −50 … 10, every 5


def _loss_grad_hess(cosine: np.ndarray, t: float, b: float) -> tuple[float, np.ndarray, np.ndarray]:
    """L, its gradient (∂L/∂t, ∂L/∂b) and its 2×2 Hessian (1/N)·Σ σ(1 − σ)·[cos², cos; cos, 1] at (t, b)."""
    res = sigmoid_from_cosine(cosine, t, b)
    w = res.sigma * (1 - res.sigma) / res.n  # (N, N) ∂²L/∂Z² per cell
    c = res.cosine
    hess = np.array([[(w * c * c).sum(), (w * c).sum()], [(w * c).sum(), w.sum()]])
    return res.loss, np.array([res.grad_t, res.grad_b]), hess


def _loss(cosine: np.ndarray, t: float, b: float) -> float:
    return sigmoid_from_cosine(cosine, t, b).loss


def _newton(cosine: np.ndarray, t: float, b: float, max_iter: int = 100, tol: float = 1e-20):
    """Damped Newton (Levenberg-regularised step, backtracking line search) on the 2-D problem from (t, b), t ≥ 0:
    ((t*, b*), L*) once the Newton decrement gᵀH⁻¹g (≈ 2·(L − L*)) is below ``tol`` relative to L, else None. A batch
    whose pairs all win never gets there (L and its decrement shrink together as t grows): None, the caller's edges."""
    x = np.array([max(t, 0.0), b], dtype=np.float64)
    f, g, h = _loss_grad_hess(cosine, *x)
    for _ in range(max_iter):
        step = -np.linalg.solve(h + 1e-12 * (np.trace(h) + 1e-300) * np.eye(2), g)
        if not np.all(np.isfinite(step)) or g @ step > 0:
            step = -g
        if f > 0 and -(g @ step) <= tol * f:
            return x, f
        a = 1.0
        while a > 1e-12:
            cand = x + a * step
            if cand[0] < 0:  # t < 0 leaves the problem; the box starts at t ≥ 0 anyway
                a /= 2
                continue
            fc = _loss(cosine, *cand)
            if fc <= f + 1e-4 * a * (g @ step):
                break
            a /= 2
        else:
            return None
        x = cand
        f, g, h = _loss_grad_hess(cosine, *x)
    return None


def _golden(fun, lo: float, hi: float, tol: float = 1e-10) -> tuple[float, float]:
    """(x*, f(x*)) of a convex f on [lo, hi] by golden-section search, ends included."""
    r = (math.sqrt(5.0) - 1.0) / 2.0
    a, c = lo, hi
    x1, x2 = c - r * (c - a), a + r * (c - a)
    f1, f2 = fun(x1), fun(x2)
    while c - a > tol * max(1.0, abs(a) + abs(c)):
        if f1 <= f2:
            c, x2, f2 = x2, x1, f1
            x1 = c - r * (c - a)
            f1 = fun(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + r * (c - a)
            f2 = fun(x2)
    return min([(f1, x1), (f2, x2), (fun(lo), lo), (fun(hi), hi)], key=lambda p: p[0])[::-1]


def minimise_tb(cosine: np.ndarray, t_range: tuple[float, float], b_range: tuple[float, float],
                start: tuple[float, float] | None = None) -> tuple[float, float, float, bool]:
    """(t*, b*, L*, inside): the minimiser of L over the box t_range × b_range. L is convex, so Newton's stationary
    point is the answer when it lies in the box (inside = True); otherwise the minimum lies on the box's edge and is
    the best of the four edges' 1-D minima (golden section). A batch whose pairs all win has no finite minimiser:
    L keeps falling as t grows, and t* is the top of the range."""
    (t_lo, t_hi), (b_lo, b_hi) = t_range, b_range
    if not (0 <= t_lo <= t_hi and b_lo <= b_hi and math.isfinite(t_hi) and math.isfinite(b_lo) and math.isfinite(b_hi)):
        raise ValueError(f"need 0 ≤ t_lo ≤ t_hi < ∞ and finite b_lo ≤ b_hi, got {t_range} × {b_range}")
    t0, b0 = start if start is not None else ((t_lo + t_hi) / 2, (b_lo + b_hi) / 2)
    found = _newton(cosine, t0, b0)
    if found is not None:
        (t, b), f = found
        if t_lo <= t <= t_hi and b_lo <= b <= b_hi:
            return float(t), float(b), float(f), True
    edges = []
    for t_edge in (t_lo, t_hi):  # b free on [b_lo, b_hi]
        b, f = _golden(lambda v, te=t_edge: _loss(cosine, te, v), b_lo, b_hi)
        edges.append((f, t_edge, b))
    for b_edge in (b_lo, b_hi):  # t free on [t_lo, t_hi]
        t, f = _golden(lambda v, be=b_edge: _loss(cosine, v, be), t_lo, t_hi)
        edges.append((f, t, b_edge))
    f, t, b = min(edges, key=lambda e: (e[0], -e[1]))
    return float(t), float(b), float(f), False


@dataclass(frozen=True)
class TBSweep:
    """The sigmoid loss of one batch on a (t, b) grid, and its minimiser within the grid's box."""

    t: np.ndarray  # (K_t,) ascending
    b: np.ndarray  # (K_b,) ascending
    loss: np.ndarray  # (K_t, K_b) L at each (t, b)
    best_t: float  # the minimiser over [t_min, t_max] × [b_min, b_max]
    best_b: float
    best_loss: float
    inside: bool  # the minimiser is a stationary point inside the box (False: on its edge, L falls beyond it)
    chance: float  # N·H(1/N): t = 0 with b = −log(N − 1)
    chance_b: float

    @property
    def grid_best(self) -> tuple[float, float, float]:
        """(t, b, L) of the best grid point (the optimum is never worse)."""
        i, j = np.unravel_index(int(self.loss.argmin()), self.loss.shape)
        return float(self.t[i]), float(self.b[j]), float(self.loss[i, j])

    def report_lines(self) -> list[str]:
        """The CLI's text view: the optimum, where it lies, chance, then the grid (rows t, columns b)."""
        gt, gb, gl = self.grid_best
        where = ("inside the map: ∂L/∂t = ∂L/∂b = 0 there" if self.inside
                 else "on the edge of the map: L still falls beyond it")
        chance_b = f"{self.chance_b:.4f}" if math.isfinite(self.chance_b) else "+∞"
        lines = [f"best t {self.best_t:.4f}  b {self.best_b:.4f}  L {self.best_loss:.4g}  ({where})",
                 f"best grid point t {gt:.4g}  b {gb:.4g}  L {gl:.4g};  chance N·H(1/N) {self.chance:.4f} "
                 f"(t=0, b=−log(N−1)={chance_b})",
                 "  t \\ b  " + "".join(f"{b:>9.4g}" for b in self.b)]
        lines += [f"{t:8.4g}  " + "".join(f"{v:>9.3g}" for v in row) for t, row in zip(self.t, self.loss)]
        return lines

    def to_dict(self) -> dict:
        """The CLI's JSON keys."""
        gt, gb, gl = self.grid_best
        return {"t": self.t.tolist(), "b": self.b.tolist(), "loss": self.loss.tolist(), "best_t": self.best_t,
                "best_b": self.best_b, "best_loss": self.best_loss, "inside": self.inside,
                "grid_best": {"t": gt, "b": gb, "loss": gl}, "chance": self.chance,
                "chance_b": self.chance_b if math.isfinite(self.chance_b) else None}


def tb_grid(ts: Sequence[float] | None = None, bs: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (t, b) grid as two sorted, duplicate-free float64 arrays (defaults DEFAULT_TS, DEFAULT_BS); ValueError on
    an empty grid, a t that is not finite and ≥ 0, or a b that is not finite."""
    return _grid(ts, DEFAULT_TS, "t", 0.0), _grid(bs, DEFAULT_BS, "b", -math.inf)


def _grid(values: Sequence[float] | None, default: Sequence[float], name: str, lo: float) -> np.ndarray:
    arr = np.unique(np.asarray(list(default if values is None else values), dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"give at least one {name}")
    bad = arr[~(np.isfinite(arr) & (arr >= lo))]
    if bad.size:
        raise ValueError(f"every {name} must be a finite number" + (" ≥ 0" if lo == 0 else "") + f", got {float(bad[0]):g}")
    return arr


def sweep_tb(cosine: np.ndarray, ts: Sequence[float] | None = None, bs: Sequence[float] | None = None) -> TBSweep:
    """L of a (N, N) cosine matrix at every (t, b) of ``ts`` × ``bs`` (defaults: DEFAULT_TS, DEFAULT_BS), and the
    (t, b) that minimises it within [min ts, max ts] × [min bs, max bs] (:func:`minimise_tb`, started from the best
    grid point)."""
    cosine = np.asarray(cosine, dtype=np.float64)
    t_grid, b_grid = tb_grid(ts, bs)
    loss = np.array([[_loss(cosine, t, b) for b in b_grid] for t in t_grid])
    i, j = np.unravel_index(int(loss.argmin()), loss.shape)
    best_t, best_b, best_loss, inside = minimise_tb(cosine, (t_grid[0], t_grid[-1]), (b_grid[0], b_grid[-1]),
                                                    start=(t_grid[i], b_grid[j]))
    if loss[i, j] < best_loss:  # beyond rounding this cannot happen for a convex L; keeps the optimum ≤ every grid value
        best_t, best_b, best_loss, inside = float(t_grid[i]), float(b_grid[j]), float(loss[i, j]), False
    n = cosine.shape[0]
    return TBSweep(t=t_grid, b=b_grid, loss=loss, best_t=best_t, best_b=best_b, best_loss=best_loss, inside=inside,
                   chance=chance_loss(n), chance_b=chance_bias(n))
