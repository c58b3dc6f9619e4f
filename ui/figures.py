"""Plotly figure builders. Pure functions of results and labels (no Streamlit, no model)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from clap_core.contrastive import ContrastiveResult
from clap_core.zeroshot import ZeroShotResult

from . import text
from .views import MatrixView

HOVER = ("caption: %{y}<br>clip: %{x}<br>cosine %{customdata[0]:.4f}<br>C = τ·cos %{customdata[1]:.3f}"
         "<br>P_text (over clips) %{customdata[2]:.4f}<br>P_audio (over captions) %{customdata[3]:.4f}<extra></extra>")


def axis_labels(captions: list[str], clips: list[str]) -> tuple[list[str], list[str]]:
    """Axis labels: 'i. caption' for rows, 'i. file' for columns (numbered so duplicates stay apart).
    Plain text, cut to fit; escape with :func:`ui.text.plotly` before handing them to a figure."""
    return ([f"{i + 1}. {text.cut(c, 34)}" for i, c in enumerate(captions)],
            [f"{i + 1}. {text.cut(c, 24)}" for i, c in enumerate(clips)])


def heatmap(res: ContrastiveResult, view: MatrixView, captions: list[str], clips: list[str],
            numbers_only: bool = False, height: int | None = None, colorbar: bool = True,
            text_size: int | None = None, held_out: tuple[int, ...] = ()) -> go.Figure:
    """Heatmap of one view of C: rows = captions, columns = clips, the diagonal (true pairs) outlined.

    Built in one go (no per-shape layout validation, no Python loop over cells): the axis values are
    the full, escaped texts (what the hover shows), the ticks their short forms; the hover numbers
    travel as one float32 (N, N, 4) array."""
    n = res.n
    rows, cols = axis_labels(captions, clips)
    if numbers_only:  # narrow screens: the hover box still has every text
        rows = cols = [str(i + 1) for i in range(n)]
    y_ticks, x_ticks = [text.plotly(r) for r in rows], [text.plotly(c) for c in cols]
    if view.sums_axis == 1:
        y_ticks = [f"{r}  (Σ row = {s:.2f})" for r, s in zip(y_ticks, view.values(res).sum(axis=1))]
    elif view.sums_axis == 0:
        x_ticks = [f"{c}<br>(Σ col = {s:.2f})" for c, s in zip(x_ticks, view.values(res).sum(axis=0))]
    # category values: unique, full texts (numbered), wrapped for the hover box
    y_vals = [text.plotly(f"{i + 1}. {c}", width=60, limit=240) for i, c in enumerate(captions)]
    x_vals = [text.plotly(f"{i + 1}. {c}", width=60, limit=120) for i, c in enumerate(clips)]
    custom = np.stack([res.cosine, res.C, res.P_text, res.P_audio], axis=-1).astype(np.float32)  # (N, N, 4)
    colours: dict = {"colorscale": view.colorscale}
    if view.zrange:
        colours.update(zmin=view.zrange[0], zmax=view.zrange[1])
    if view.diverging:
        colours.update(zmid=0.0)
    size = height or max(420, min(900, 120 + 46 * n))
    layout = {
        "height": size, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "title": {"text": view.title, "font": {"size": 14}},
        "yaxis": {"autorange": "reversed", "title": {"text": "captions (text) — rows"}, "type": "category",
                  "tickmode": "array", "tickvals": y_vals, "ticktext": y_ticks},
        "xaxis": {"title": {"text": "clips (audio) — columns"}, "type": "category", "side": "bottom",
                  "tickangle": 0 if numbers_only else -35, "tickmode": "array", "tickvals": x_vals, "ticktext": x_ticks},
        "shapes": [{"type": "rect", "x0": i - 0.5, "x1": i + 0.5, "y0": i - 0.5, "y1": i + 0.5,  # the true pairs;
                    "line": {"color": "#ff4b4b", "width": 2.5} if i not in held_out else  # held-out ones dashed white
                    {"color": "white", "width": 3, "dash": "dot"}} for i in range(n)],
    }
    trace = {
        "type": "heatmap", "z": view.values(res), "x": x_vals, "y": y_vals, "customdata": custom,
        "colorbar": {"title": {"text": view.colorbar}, **({"thickness": 12} if text_size else {})}, "showscale": colorbar, "hovertemplate": HOVER, **colours,
        **({"texttemplate": f"%{{z:{view.cell_format}}}"} if n <= view.cell_text_max_n else {}),
        **({"textfont": {"size": text_size}} if text_size else {}),
    }
    # Plain dicts, not validated: plotly's per-property validation of 64 shapes costs ~40 ms per build,
    # and every key here is a documented heatmap/layout property (tests/test_figures.py checks them once).
    return go.Figure({"data": [trace], "layout": layout}, _validate=False)


def per_item_bars(res: ContrastiveResult, labels: list[str]) -> go.Figure:
    """Each item's ℓ_text_i and ℓ_audio_i, with the chance level log N."""
    x = [f"{i + 1}" for i in range(res.n)]
    labels = [text.plotly(lab, width=60, limit=240) for lab in labels]
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
    fig = go.Figure(go.Bar(x=[p for _, p in top][::-1], y=[text.plotly(lab, limit=60) for lab, _ in top][::-1],
                           orientation="h",
                           texttemplate="%{x:.2f}", hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(height=60 + 26 * len(top), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"range": [0, 1], "title": None})
    return fig


def confusion(zs: ZeroShotResult) -> go.Figure:
    """Confusion matrix: rows = true label, columns = predicted, over the labels that occur."""
    m = zs.confusion()
    used = [i for i in range(len(zs.labels)) if m[i].sum() > 0 or m[:, i].sum() > 0]
    sub = m[np.ix_(used, used)]
    names = [text.plotly(zs.labels[i], limit=40) for i in used]
    fig = go.Figure(go.Heatmap(z=sub, x=names, y=names, colorscale="Blues", texttemplate="%{z}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z} clips<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="true label", type="category")
    fig.update_xaxes(title="predicted", type="category", tickangle=-35)
    fig.update_layout(height=max(300, 80 + 34 * len(names)), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def tau_range(tau: float, tau_now: float | None = None) -> tuple[float, float]:
    """Slider bounds for τ: 1 … 100, widened to include the checkpoint's τ and the τ in use (down to 0.1, the bottom
    of the valid range, when a τ below 1 was set, e.g. from a batch file)."""
    now = tau if tau_now is None else tau_now
    return (1.0 if now >= 1.0 else 0.1), float(max(100.0, math.ceil(tau), math.ceil(now)))
