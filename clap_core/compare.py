"""Two checkpoints on one batch: every loss term of each, what changed pair by pair, and what a second
checkpoint costs in memory before it is loaded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contrastive import ContrastiveResult
from .retrieval import retrieval_metrics

# Memory (MB) of the app process, measured (benchmarks/RESULTS.md, section 4): the bundled server after a
# first visit holds 940 MB (torch, transformers, Streamlit, pandas, the bundled model); a full-size model's
# weights (615 MB in fp32) raised the peak with three sessions to 1 700 MB, i.e. ≈ 1.24 × its weights.
APP_BASE_MB = 940.0
PEAK_PER_WEIGHT_MB = 1.24
HOSTED_MB = 2_700.0  # Streamlit Community Cloud: about 2.7 GB per app
BYTES_PER_PARAM = {"fp32": 4, "bf16": 2}


def weights_mb(params_m: float, precision: str = "fp32") -> float:
    """A checkpoint's weights in memory, MB, from its parameter count (millions)."""
    return params_m * BYTES_PER_PARAM.get(precision, 4)


def peak_estimate_mb(params_m: list[float], precision: str = "fp32") -> float:
    """The app process's estimated peak with these checkpoints loaded (and a few sessions using them)."""
    return APP_BASE_MB + PEAK_PER_WEIGHT_MB * sum(weights_mb(p, precision) for p in params_m)


def fits_hosted(params_m: list[float], precision: str = "fp32") -> bool:
    """Whether these checkpoints together stay inside a hosted app's memory."""
    return peak_estimate_mb(params_m, precision) <= HOSTED_MB


@dataclass(frozen=True)
class Comparison:
    """Checkpoint A's and B's results on the same batch (same pairs, each at its own τ)."""

    a: ContrastiveResult
    b: ContrastiveResult

    @property
    def pair_loss_a(self) -> np.ndarray:
        """(N,) each pair's loss under A: ½(ℓ_text,i + ℓ_audio,i); L is their mean."""
        return 0.5 * (self.a.per_item_text + self.a.per_item_audio)

    @property
    def pair_loss_b(self) -> np.ndarray:
        """(N,) each pair's loss under B."""
        return 0.5 * (self.b.per_item_text + self.b.per_item_audio)

    @property
    def delta(self) -> np.ndarray:
        """(N,) B − A per pair: negative where B is better on that pair. Their mean is L_B − L_A."""
        return self.pair_loss_b - self.pair_loss_a

    @property
    def d_p_text(self) -> np.ndarray:
        """(N, N) P_text(B) − P_text(A)."""
        return self.b.P_text - self.a.P_text

    @property
    def d_p_audio(self) -> np.ndarray:
        """(N, N) P_audio(B) − P_audio(A)."""
        return self.b.P_audio - self.a.P_audio

    def retrieval(self) -> dict[str, dict[str, float]]:
        """R@1/5/10 and mAP both ways, for A and for B (ranked by cosine, with the tie rule of clap_core.retrieval)."""
        return {"A": retrieval_metrics(self.a.cosine), "B": retrieval_metrics(self.b.cosine)}

    def to_dict(self) -> dict:
        """Both results and the per-pair comparison, for export."""
        return {"A": self.a.to_dict(), "B": self.b.to_dict(), "pair_loss_A": self.pair_loss_a.tolist(),
                "pair_loss_B": self.pair_loss_b.tolist(), "delta_B_minus_A": self.delta.tolist(),
                "retrieval": self.retrieval()}


def compare(a: ContrastiveResult, b: ContrastiveResult) -> Comparison:
    """Pair two results of the same batch; ValueError if their sizes differ."""
    if a.n != b.n:
        raise ValueError(f"the two results are of different batches ({a.n} and {b.n} pairs)")
    return Comparison(a, b)


def shared_range(a: np.ndarray, b: np.ndarray, diverging: bool = False) -> tuple[float, float]:
    """One colour range for two matrices: their joint min…max, or ±max|·| around 0 when diverging."""
    if diverging:
        m = float(max(np.abs(a).max(), np.abs(b).max())) or 1.0
        return -m, m
    lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
