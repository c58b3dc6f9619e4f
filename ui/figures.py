"""Plotly figure builders. Pure functions of results and labels (no Streamlit, no model)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from clap_core.contrastive import ContrastiveResult
from clap_core.zeroshot import ZeroShotResult

# view key → (short title, colour bar title)
VIEWS = {
    "C": ("C = τ·cos (logits)", "C"),
    "cosine": ("cosine similarity", "cos"),
    "P_text": ("P_text: softmax over clips, each caption's row sums to 1 → ℓ_text", "P_text"),
    "P_audio": ("P_audio: softmax over captions, each clip's column sums to 1 → ℓ_audio", "P_audio"),
    "grad": ("∂L/∂C: negative pulls a pair together, positive pushes apart", "∂L/∂C"),
}


def axis_labels(captions: list[str], clips: list[str]) -> tuple[list[str], list[str]]:
    """Axis labels: 'i. caption' for rows, 'i. file' for columns (numbered so duplicates stay apart)."""
    def cut(s: str, n: int) -> str:
        return s if len(s) <= n else s[: n - 1] + "…"

    return ([f"{i + 1}. {cut(c, 34)}" for i, c in enumerate(captions)],
            [f"{i + 1}. {cut(c, 24)}" for i, c in enumerate(clips)])


def view_matrix(res: ContrastiveResult, view: str) -> np.ndarray:
    """The (N, N) matrix a view shows."""
    return {"C": res.C, "cosine": res.cosine, "P_text": res.P_text, "P_audio": res.P_audio, "grad": res.grad_C}[view]


def heatmap(res: ContrastiveResult, rows: list[str], cols: list[str], view: str, captions: list[str],
            clips: list[str]) -> go.Figure:
    """Heatmap of one view of C: rows = captions, columns = clips, the diagonal (true pairs) outlined."""
    n = res.n
    z = view_matrix(res, view)
    y_labels, x_labels = list(rows), list(cols)
    if view == "P_text":
        y_labels = [f"{r}  (Σ row = {s:.2f})" for r, s in zip(rows, res.P_text.sum(axis=1))]
    if view == "P_audio":
        x_labels = [f"{c}<br>(Σ col = {s:.2f})" for c, s in zip(cols, res.P_audio.sum(axis=0))]
    custom = np.empty((n, n, 6), dtype=object)
    for i in range(n):
        for j in range(n):
            custom[i, j] = (captions[i], clips[j], res.cosine[i, j], res.C[i, j], res.P_text[i, j], res.P_audio[i, j])
    kwargs: dict = {"colorscale": "Viridis"}
    if view in ("P_text", "P_audio"):
        kwargs = {"colorscale": "Blues", "zmin": 0.0, "zmax": 1.0}
    elif view == "grad":
        kwargs = {"colorscale": "RdBu_r", "zmid": 0.0}
    fig = go.Figure(go.Heatmap(
        z=z, x=x_labels, y=y_labels, customdata=custom, colorbar={"title": VIEWS[view][1]},
        texttemplate="%{z:.2f}" if view != "grad" and n <= 16 else ("%{z:.3f}" if n <= 12 else None),
        hovertemplate=("caption: %{customdata[0]}<br>clip: %{customdata[1]}<br>cosine %{customdata[2]:.4f}"
                       "<br>C = τ·cos %{customdata[3]:.3f}<br>P_text (over clips) %{customdata[4]:.4f}"
                       "<br>P_audio (over captions) %{customdata[5]:.4f}<extra></extra>"),
        **kwargs,
    ))
    for i in range(n):  # outline the true pairs
        fig.add_shape(type="rect", x0=i - 0.5, x1=i + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line={"color": "#ff4b4b", "width": 2.5})
    fig.update_yaxes(autorange="reversed", title="captions (text) — rows", type="category")
    fig.update_xaxes(title="clips (audio) — columns", type="category", side="bottom", tickangle=-35)
    size = max(420, min(900, 120 + 46 * n))
    fig.update_layout(height=size, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": VIEWS[view][0], "font": {"size": 14}})
    return fig


def per_item_bars(res: ContrastiveResult, labels: list[str]) -> go.Figure:
    """Each item's ℓ_text_i and ℓ_audio_i, with the chance level log N."""
    x = [f"{i + 1}" for i in range(res.n)]
    fig = go.Figure([
        go.Bar(name="ℓ_text,i = −log P_text[i,i]", x=x, y=res.per_item_text, hovertext=labels,
               hovertemplate="pair %{x}: %{hovertext}<br>ℓ_text,i %{y:.4f}<extra></extra>"),
        go.Bar(name="ℓ_audio,i = −log P_audio[i,i]", x=x, y=res.per_item_audio, hovertext=labels,
               hovertemplate="pair %{x}: %{hovertext}<br>ℓ_audio,i %{y:.4f}<extra></extra>"),
    ])
    if res.n > 1:
        fig.add_hline(y=res.chance, line_dash="dot", annotation_text=f"chance log N = {res.chance:.2f}",
                      annotation_position="top left")
    fig.update_layout(barmode="group", height=360, xaxis_title="pair", yaxis_title="nats",
                      legend={"orientation": "h", "y": 1.12}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def top_k_bars(zs: ZeroShotResult, index: int, k: int) -> go.Figure:
    """Horizontal bars of one clip's k most probable labels."""
    top = zs.top_k(k)[index]
    fig = go.Figure(go.Bar(x=[p for _, p in top][::-1], y=[lab for lab, _ in top][::-1], orientation="h",
                           texttemplate="%{x:.2f}", hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(height=60 + 26 * len(top), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"range": [0, 1], "title": None})
    return fig


def confusion(zs: ZeroShotResult) -> go.Figure:
    """Confusion matrix: rows = true label, columns = predicted, over the labels that occur."""
    m = zs.confusion()
    used = [i for i in range(len(zs.labels)) if m[i].sum() > 0 or m[:, i].sum() > 0]
    sub = m[np.ix_(used, used)]
    names = [zs.labels[i] for i in used]
    fig = go.Figure(go.Heatmap(z=sub, x=names, y=names, colorscale="Blues", texttemplate="%{z}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z} clips<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="true label", type="category")
    fig.update_xaxes(title="predicted", type="category", tickangle=-35)
    fig.update_layout(height=max(300, 80 + 34 * len(names)), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def tau_range(tau: float) -> tuple[float, float]:
    """Slider bounds for τ that include the checkpoint's value."""
    return 1.0, float(max(100.0, math.ceil(tau)))
