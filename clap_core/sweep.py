"""The loss as a function of τ on one batch: ℓ_text, ℓ_audio and L over a grid, and the τ that minimises L.

Every point is :func:`clap_core.contrastive.contrastive_from_cosine` at that τ, so a sweep value is the
number ``python -m clap_core batch --tau t`` prints. The limits the Loss page explains:

    τ → 0:  C → 0, both softmaxes become uniform (1/N), so ℓ_text, ℓ_audio and L → log N (chance);
    τ → ∞:  −log P_text[i,i] → τ·(max_j cos[i,j] − cos[i,i]): 0 where the caption's own clip is its
            best match, else τ times the margin of its hardest negative; likewise down each column.
            So L grows like τ × s, s = (sum of those margins)/(2N) (:func:`large_tau_slope`: the mean
            over all 2N rows and columns, the winners counting 0), or falls to 0 when every pair wins
            its row and its column.

Where the minimum lies follows from the slope at the start: dL/dτ at τ = 0 is mean(cos) − mean(diag cos)
(each log-sum-exp starts with the mean of its row or column). When the true pairs' mean cosine is not
above the mean of all N² cells, L rises from log N at once and τ* is the bottom of the range; otherwise L
first falls below chance and τ* > 0, even when no pair ranks first (the Shuffled scenario: R@1 = 0,
τ* = 0.258). Values of L below ~1e-16 print as 0: log(1 + x) rounds to 0 in float64 for such x.

L is convex in τ (each term is a log-sum-exp of functions linear in τ, minus a linear one), so it has
one minimum on an interval, found here by golden-section search on log τ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .contrastive import contrastive_from_cosine
from .retrieval import partner_ranks

DEFAULT_TAU_RANGE = (0.1, 1000.0)
DEFAULT_TAU_POINTS = 61


def default_taus() -> np.ndarray:
    """(61,) τ log-spaced from 0.1 to 1000 (15 per decade, both ends included)."""
    lo, hi = DEFAULT_TAU_RANGE
    return np.logspace(math.log10(lo), math.log10(hi), DEFAULT_TAU_POINTS)


@dataclass(frozen=True)
class TauSweep:
    """ℓ_text, ℓ_audio and L of one batch at each τ of a grid, and the minimiser of L within the grid's range."""

    tau: np.ndarray  # (K,) the grid, ascending
    loss: np.ndarray  # (K,) L at each τ
    loss_text: np.ndarray  # (K,) ℓ_text
    loss_audio: np.ndarray  # (K,) ℓ_audio
    best_tau: float  # τ* = argmin L over [tau[0], tau[-1]]
    best_loss: float  # L(τ*)
    chance: float  # log N, the τ → 0 limit
    slope: float  # lim L/τ as τ → ∞: (sum of the losing margins)/(2N) (see large_tau_slope)
    wrong_rows: tuple[int, ...]  # captions whose own clip does not rank first (clap_core.retrieval's tie rule)
    wrong_cols: tuple[int, ...]  # clips whose own caption does not rank first
    start_slope: float  # dL/dτ at τ = 0: mean(cos) − mean(diag cos); ≥ 0 means τ* is the bottom of the range

    @property
    def at_upper_bound(self) -> bool:
        """Whether τ* sits at the top of the range (L still falling there: every pair wins its row and column)."""
        return bool(np.isclose(self.best_tau, self.tau[-1], rtol=1e-6))

    @property
    def at_lower_bound(self) -> bool:
        """Whether τ* sits at the bottom of the range (L rises from the start: it is above chance at every τ)."""
        return bool(np.isclose(self.best_tau, self.tau[0], rtol=1e-6))

    @property
    def rises_from_start(self) -> bool:
        """Whether L rises from τ = 0 (start_slope ≥ 0: the true pairs' mean cosine is not above the mean of all
        cells), so that no τ > 0 beats chance and τ* is the bottom of any range."""
        return self.start_slope >= 0

    def to_dict(self) -> dict:
        """The CLI's JSON keys."""
        return {"tau": self.tau.tolist(), "loss": self.loss.tolist(), "loss_text": self.loss_text.tolist(),
                "loss_audio": self.loss_audio.tolist(), "best_tau": self.best_tau, "best_loss": self.best_loss,
                "chance": self.chance, "large_tau_slope": self.slope, "start_slope": self.start_slope}


def check_taus(taus: Sequence[float]) -> np.ndarray:
    """The grid as a sorted, duplicate-free float64 array; ValueError on an empty grid or a τ that is not
    positive and finite."""
    arr = np.asarray(list(taus), dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("give at least one τ")
    bad = arr[~(np.isfinite(arr) & (arr > 0))]
    if bad.size:
        raise ValueError(f"every τ must be a positive, finite number, got {bad[0]!r}")
    return np.unique(arr)


def loss_at(cosine: np.ndarray, tau: float) -> float:
    """L at one τ, exactly as ``contrastive_from_cosine`` computes it."""
    return contrastive_from_cosine(cosine, tau).loss


def large_tau_slope(cosine: np.ndarray) -> float:
    """lim_{τ→∞} L/τ for a (N, N) cosine matrix: (1/2N) Σ_i [(max_j cos[i,j] − cos[i,i]) + (max_j cos[j,i] − cos[i,i])],
    the margins by which each caption's and each clip's hardest negative beats its partner (0 where it does not),
    summed and divided by 2N: the mean over all 2N rows and columns, not over the losing ones only."""
    cosine = np.asarray(cosine, dtype=np.float64)
    diag = np.diag(cosine)
    rows = cosine.max(axis=1) - diag  # (N,) ≥ 0: caption i's hardest clip over its own
    cols = cosine.max(axis=0) - diag  # (N,) ≥ 0: clip i's hardest caption over its own
    return float((rows.sum() + cols.sum()) / (2 * cosine.shape[0]))


_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618…


def minimise_tau(cosine: np.ndarray, lo: float, hi: float, tol: float = 1e-9) -> tuple[float, float]:
    """(τ*, L(τ*)): the minimiser of L over [lo, hi] by golden-section search on log τ, to ``tol`` in log τ.

    L is convex in τ, hence unimodal in log τ: the search finds the one minimum (an end of the interval
    when L is monotone on it). Among equal values the largest τ wins: when every pair wins its row and
    column, L falls towards 0 and reaches exactly 0.0 in float64 at a finite τ; τ* is then the top."""
    if not (0 < lo <= hi and math.isfinite(hi)):
        raise ValueError(f"need 0 < lo ≤ hi < ∞, got [{lo}, {hi}]")
    a, b = math.log(lo), math.log(hi)
    x1, x2 = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    f1, f2 = loss_at(cosine, math.exp(x1)), loss_at(cosine, math.exp(x2))
    while b - a > tol:
        if f1 < f2:  # ties go right: where L has flattened to 0 (float64), τ* is the top of the range
            b, x2, f2 = x2, x1, f1
            x1 = b - _GOLDEN * (b - a)
            f1 = loss_at(cosine, math.exp(x1))
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + _GOLDEN * (b - a)
            f2 = loss_at(cosine, math.exp(x2))
    candidates = [(f1, math.exp(x1)), (f2, math.exp(x2)), (loss_at(cosine, lo), lo), (loss_at(cosine, hi), hi)]
    best_loss, best = min(candidates, key=lambda c: (c[0], -c[1]))  # the ends too: a monotone L has its minimum there
    return float(best), float(best_loss)


def start_slope(cosine: np.ndarray) -> float:
    """dL/dτ at τ = 0 for a (N, N) cosine matrix: mean(cos) − mean(diag cos). L is convex in τ, so when this is
    ≥ 0, L only rises from its value log N at τ = 0."""
    cosine = np.asarray(cosine, dtype=np.float64)
    return float(cosine.mean() - np.diag(cosine).mean())


def sweep_tau(cosine: np.ndarray, taus: Sequence[float] | None = None) -> TauSweep:
    """ℓ_text, ℓ_audio and L of a (N, N) cosine matrix (rows = captions) at each τ of ``taus`` (default:
    :func:`default_taus`), and the τ in [min, max] of the grid that minimises L."""
    grid = default_taus() if taus is None else check_taus(taus)
    results = [contrastive_from_cosine(cosine, float(t)) for t in grid]
    loss = np.array([r.loss for r in results])
    best_tau, best_loss = minimise_tau(cosine, float(grid[0]), float(grid[-1]))
    k = int(loss.argmin())
    if loss[k] < best_loss:  # cannot happen for a convex L beyond rounding; keeps τ* ≤ every grid value
        best_tau, best_loss = float(grid[k]), float(loss[k])
    return TauSweep(tau=grid, loss=loss, loss_text=np.array([r.loss_text for r in results]),
                    loss_audio=np.array([r.loss_audio for r in results]), best_tau=best_tau, best_loss=best_loss,
                    chance=results[0].chance, slope=large_tau_slope(cosine), start_slope=start_slope(cosine),
                    **wrong_pairs(cosine))


def wrong_pairs(cosine: np.ndarray) -> dict[str, tuple[int, ...]]:
    """{"wrong_rows": captions, "wrong_cols": clips} whose partner does not rank first in their row (column), by the
    Retrieval page's rule (:func:`clap_core.retrieval.partner_ranks`: 12 decimals, ties to the lower index). Those
    beaten by a strictly higher cosine cost τ·margin at large τ; a tied one (a duplicate) keeps a constant cost."""
    rows, cols = partner_ranks(cosine)
    return {"wrong_rows": tuple(int(i) for i in np.flatnonzero(rows > 1)),
            "wrong_cols": tuple(int(i) for i in np.flatnonzero(cols > 1))}
