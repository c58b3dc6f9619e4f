"""The registry of matrix views: every view of C the app can show, one frozen record each.

The heatmap, the view picker, the explanation under it and the exports all read this registry, so a
new view is one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from clap_core.contrastive import ContrastiveResult


@dataclass(frozen=True)
class MatrixView:
    """One way of looking at the (N, N) batch matrix: rows = captions, columns = clips."""

    key: str  # stable id (widget value, export name)
    label: str  # the picker's text
    title: str  # the figure's title
    colorbar: str  # the colour bar's title
    matrix: Callable[[ContrastiveResult], np.ndarray]  # (N, N) from a result
    colorscale: str = "Viridis"
    zrange: tuple[float, float] | None = None  # fixed colour range (probabilities: 0…1)
    diverging: bool = False  # centre the colour scale on 0
    cell_format: str = ".2f"  # d3 format of the number printed in each cell
    cell_text_max_n: int = 16  # print numbers in the cells only up to this batch size
    sums_axis: int | None = None  # 1: rows sum to 1 (print row sums); 0: columns do
    export: bool = False  # offered as CSV on every page's export row
    explain: Callable[[ContrastiveResult], str] | None = None  # the sentence under the figure

    def values(self, res: ContrastiveResult) -> np.ndarray:
        """The (N, N) matrix this view shows."""
        return self.matrix(res)


def _explain_p_text(res: ContrastiveResult) -> str:
    s = res.P_text.sum(axis=1)
    return (f"Each **row** (a caption) is a probability distribution over the {res.n} clips: row sums "
            f"{s.min():.4f}…{s.max():.4f}. The diagonal entry is the probability of the right clip; "
            f"ℓ_text = mean of −log(diagonal) = **{res.loss_text:.4f}**.")


def _explain_p_audio(res: ContrastiveResult) -> str:
    s = res.P_audio.sum(axis=0)
    return (f"Each **column** (a clip) is a probability distribution over the {res.n} captions: column sums "
            f"{s.min():.4f}…{s.max():.4f}. ℓ_audio = mean of −log(diagonal) = **{res.loss_audio:.4f}**.")


def _explain_grad(res: ContrastiveResult) -> str:
    return ("The gradient of L with respect to C: (P_text − I)/(2N) + (P_audio − I)/(2N). Diagonal cells are "
            "negative (gradient descent raises them: pull the pair together); off-diagonal cells are positive "
            "(lower them: push apart), most where the model is most confused.")


def _sig(res: ContrastiveResult):
    from .sigmoid import result  # the checkpoint's (t, b) live in the session: looked up when the view is drawn

    return result(res)


def _explain_sigma(res: ContrastiveResult) -> str:
    sg = _sig(res)
    cols = sg.sigma.sum(axis=0)
    return (f"The sigmoid loss (SigLIP) asks each cell alone \"is this a match?\": σ(t·cos + b) with t = {sg.t:.3g}, "
            f"b = {sg.b:.3g}. Nothing makes a row or a column sum to 1 — here the column sums run "
            f"{cols.min():.3g}…{cols.max():.3g} — so a clip with no fitting caption can have a low column. "
            f"L_sig = **{sg.loss:.4f}** (chance N·H(1/N) = {sg.chance:.4f}); the Loss page has the rest.")


def _explain_grad_sig(res: ContrastiveResult) -> str:
    return ("∂L_sig/∂Z = (σ(Z) − I)/N per cell: a pair's cell is pulled up by 1 − σ, a negative's pushed down by σ — "
            "each by its own probability alone, not by its neighbours' as in ∂L/∂C of the softmax.")


def _explain_centred(res: ContrastiveResult) -> str:
    return (f"Cosine minus its mean over the whole matrix ({res.cosine.mean():+.4f}). A CLAP model's cosines can all "
            "sit in a narrow band away from 0; centring shows which cells stand out. The loss is unchanged: a "
            "softmax ignores a shift that is the same along its axis.")


VIEWS: tuple[MatrixView, ...] = (
    MatrixView("C", "C = τ·cos", "C = τ·cos (logits)", "C", lambda r: r.C, export=True),
    MatrixView("cosine", "cosine", "cosine similarity", "cos", lambda r: r.cosine),
    MatrixView("P_text", "softmax → along each row (over clips): ℓ_text",
               "P_text: softmax over clips, each caption's row sums to 1 → ℓ_text", "P_text", lambda r: r.P_text,
               colorscale="Blues", zrange=(0.0, 1.0), sums_axis=1, export=True, explain=_explain_p_text),
    MatrixView("P_audio", "softmax ↓ down each column (over captions): ℓ_audio",
               "P_audio: softmax over captions, each clip's column sums to 1 → ℓ_audio", "P_audio",
               lambda r: r.P_audio, colorscale="Blues", zrange=(0.0, 1.0), sums_axis=0, export=True,
               explain=_explain_p_audio),
    MatrixView("grad", "∂L/∂C", "∂L/∂C: negative pulls a pair together, positive pushes apart", "∂L/∂C",
               lambda r: r.grad_C, colorscale="RdBu_r", diverging=True, cell_format=".2g", cell_text_max_n=12,
               explain=_explain_grad),
    MatrixView("sigma", "σ(t·cos + b): each cell alone (sigmoid)", "σ(t·cos + b): each cell's own match probability "
               "(SigLIP)", "σ", lambda r: _sig(r).sigma, colorscale="Greens", zrange=(0.0, 1.0), explain=_explain_sigma),
    MatrixView("grad_sig", "∂L_sig/∂Z (sigmoid)", "∂L_sig/∂Z = (σ(Z) − I)/N: each cell pulled or pushed alone",
               "∂L_sig/∂Z", lambda r: _sig(r).grad_Z, colorscale="RdBu_r", diverging=True, cell_format=".2g",
               cell_text_max_n=12, explain=_explain_grad_sig),
    MatrixView("centred", "cos − mean cos", "cosine minus its mean: which cells stand out", "cos − mean",
               lambda r: r.cosine - r.cosine.mean(), colorscale="RdBu_r", diverging=True, explain=_explain_centred),
)
BY_KEY = {v.key: v for v in VIEWS}


def view(key: str) -> MatrixView:
    """The registered view ``key``."""
    return BY_KEY[key]


def exported() -> tuple[MatrixView, ...]:
    """The views every page offers as CSV."""
    return tuple(v for v in VIEWS if v.export)
