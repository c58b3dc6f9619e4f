"""The sigmoid (SigLIP) loss on the pages, beside CLAP's softmax loss: the loss choice every page that shows a loss
shares, the sigmoid's numbers for the batch at the checkpoint's (t, b), its (t, b) map, and the section that puts both
losses on the loaded batch (a clip whose caption is left out: its softmax column still sums to 1, its sigmoid column
stays low)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from clap_core.batch import Batch
from clap_core.contrastive import ContrastiveResult, softmax
from clap_core.sigmoid import SigmoidResult, resolve_tb, sigmoid_from_cosine, sweep_tb

from . import state, text
from .screen import chart

LOSSES = {"softmax": "softmax (CLAP, the paper's)", "sigmoid": "sigmoid (SigLIP: each cell alone)"}


def loss_kind() -> str:
    """The loss the pages show: softmax (default) or sigmoid."""
    return st.session_state.get("loss_kind", "softmax")


def loss_picker(key: str = "loss-pick") -> str:
    """The loss choice, shared by every page (its value lives in the session's loss_kind)."""
    st.session_state.setdefault("loss_kind", "softmax")
    if st.session_state.get(key) != st.session_state.loss_kind:
        st.session_state[key] = st.session_state.loss_kind
    st.radio("Loss", list(LOSSES), format_func=LOSSES.get, horizontal=True, key=key,
             on_change=lambda: st.session_state.update(loss_kind=st.session_state[key]),
             help="CLAP trains with the softmax along each axis; SigLIP asks each cell alone whether it is a match.")
    return loss_kind()


def tb() -> tuple[float, float, str]:
    """(t, b, where they come from) for the checkpoint in use: its own when it was trained with the sigmoid loss,
    else SigLIP's initialisation t = 10, b = −10."""
    try:
        model = state.checkpoint().model
    except (KeyError, AttributeError):  # outside a session (a figure built alone): SigLIP's initialisation
        model = None
    return resolve_tb(model)


@st.cache_data(max_entries=32, show_spinner=False)
def _result(cosine: np.ndarray, t: float, b: float) -> SigmoidResult:
    return sigmoid_from_cosine(cosine, t, b)


def result(res: ContrastiveResult) -> SigmoidResult:
    """The sigmoid loss of the batch whose softmax result is ``res``, at the checkpoint's (t, b)."""
    t, b, _ = tb()
    return _result(res.cosine, t, b)


@st.cache_data(max_entries=16, show_spinner=False)
def _map(cosine: np.ndarray):
    return sweep_tb(cosine)


def formulas() -> None:
    st.latex(r"Z = t\,E_t E_a^{\top} + b\qquad z_{ij} = \begin{cases}+1 & i = j\\ -1 & i \ne j\end{cases}\qquad "
             r"L_{\text{sig}} = -\frac{1}{N}\sum_{i=1}^{N}\sum_{j=1}^{N}\log\sigma\!\left(z_{ij}\,Z_{ij}\right)")


def per_pair_bars(sg: SigmoidResult, captions: list[str]) -> go.Figure:
    """Each caption's row of L_sig: its own pair's term and its negatives', stacked (they sum to L·N)."""
    x = [str(i + 1) for i in range(sg.n)]
    own = np.diag(sg.terms)
    negatives = sg.terms.sum(axis=1) - own
    hover = [text.plotly(c, width=60, limit=240) for c in captions]
    fig = go.Figure([
        go.Bar(name="−log σ(Z_ii): the pair", x=x, y=own, hovertext=hover,
               hovertemplate="pair %{x}: %{hovertext}<br>%{y:.4f}<extra></extra>"),
        go.Bar(name="Σ_j −log σ(−Z_ij): its negatives", x=x, y=negatives, hovertext=hover,
               hovertemplate="pair %{x}: %{hovertext}<br>%{y:.4f}<extra></extra>"),
    ])
    fig.update_layout(barmode="stack", height=340, xaxis_title="pair (caption row)", yaxis_title="nats",
                      legend={"orientation": "h", "y": 1.14}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def map_figure(sw, t_now: float, b_now: float) -> go.Figure:
    """log10 L_sig over the (t, b) grid, the optimum (star) and the (t, b) in use (cross)."""
    fig = go.Figure(go.Heatmap(z=np.log10(np.maximum(sw.loss.T, 1e-300)), x=sw.t, y=sw.b, colorscale="Viridis",
                               colorbar={"title": {"text": "log₁₀ L"}},
                               hovertemplate="t %{x:.3g}<br>b %{y:.3g}<br>log₁₀ L %{z:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[sw.best_t], y=[sw.best_b], mode="markers", name=f"optimum (L = {sw.best_loss:.4f})",
                             marker={"symbol": "star", "size": 16, "color": "white", "line": {"color": "black", "width": 1}}))
    fig.add_trace(go.Scatter(x=[t_now], y=[b_now], mode="markers", name="the (t, b) in use",
                             marker={"symbol": "x", "size": 12, "color": "red"}))
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h", "y": -0.2},
                      xaxis={"type": "log", "title": {"text": "t (log scale)"}}, yaxis={"title": {"text": "b"}})
    return fig


def loss_section(res: ContrastiveResult, items: Batch) -> None:
    """The Loss page with the sigmoid chosen: its terms, each pair's share, its (t, b) map."""
    t, b, source = tb()
    sg = result(res)
    formulas()
    st.caption(f"t = {t:.3g}, b = {b:.3g}: {source}.")
    m = st.columns(4)
    m[0].metric("L_sig", f"{sg.loss:.4f}", delta=f"{sg.loss - sg.chance:+.3f} vs chance" if sg.n > 1 else None,
                delta_color="inverse")
    m[1].metric("from the pairs", f"{sg.loss_positive:.4f}", help="Σ_i −log σ(Z_ii) / N")
    m[2].metric("from the negatives", f"{sg.loss_negative:.4f}", help="Σ_{i≠j} −log σ(−Z_ij) / N")
    m[3].metric("chance N·H(1/N)", f"{sg.chance:.4f}",
                help=f"an uninformed model: t = 0 and the best bias b = −log(N − 1) = {sg.chance_b:.3f}; "
                     "not log N — every cell pays its own binary question")
    if sg.note:
        st.info(sg.note)
    st.subheader("Each pair's row")
    st.caption("Row i of L_sig: caption i's own pair, and its N − 1 negatives, each asked alone whether it is a "
               "match. The rows sum to N·L_sig; no softmax couples the cells of a row.")
    chart(per_pair_bars(sg, items.captions), "sig-per-pair")
    st.subheader("L_sig as a function of (t, b)")
    sw = _map(res.cosine)
    chart(map_figure(sw, t, b), "sig-map")
    st.markdown(f"L_sig is lowest at **t = {sw.best_t:.3g}, b = {sw.best_b:.3g}** (L = {sw.best_loss:.4f}"
                + ("" if sw.inside else ", on the edge of the map: it falls further beyond it") + "). "
                "L_sig is convex in (t, b): a sum of softplus of functions affine in (t, b), so this is the one "
                "minimum. The ratio −b/t is the cosine above which a cell counts as a match, one threshold for the "
                "whole batch.")


def answers_section(res: ContrastiveResult, items: Batch) -> None:
    """The Four answers where the sigmoid answers them differently, on the loaded batch."""
    sg = result(res)
    n = res.n
    st.subheader("Under the sigmoid loss (chosen on the Loss page)")
    rows, cols = sg.terms.sum(axis=1) / n, sg.terms.sum(axis=0) / n
    st.markdown(
        f"- **Is Z symmetric?** No more than C: Z = t·cos + b = {sg.t:.3g}·cos {sg.b:+.3g} shifts and scales C's cosines "
        "alike, so the same cells differ.\n"
        f"- **Why two terms?** There are none to tell apart: the sigmoid has one term per cell, and a caption's row "
        f"and a clip's column are two ways of adding up the same N² cells — both give L_sig = **{sg.loss:.4f}** "
        f"(rows {rows.sum():.4f}, columns {cols.sum():.4f}).\n"
        f"- **Where do the off-diagonal entries enter?** Each as a term of its own, −log σ(−Z_ij) = softplus(Z_ij), "
        f"not through a softmax's denominator: together {sg.loss_negative:.4f} of L_sig here, against "
        f"{sg.loss_positive:.4f} from the {n} pairs. A negative's cost does not depend on its neighbours.\n"
        "- **The quoted formula** is about the softmax; its sigmoid counterpart keeps the minus sign and sums N² "
        "cells, not N + 1.")


def contrast_section(res: ContrastiveResult, items: Batch) -> None:
    """Both losses on the loaded batch: one caption left out, its clip's softmax column still sums to 1 over the
    other captions, its sigmoid column stays low."""
    st.subheader("Two losses on one matrix")
    sg = result(res)
    n = res.n
    if n < 2:
        st.caption("Needs two pairs.")
        return
    gone = st.selectbox("Leave out caption", range(n), index=n - 1, key="sig-gone",
                        format_func=lambda i: f"{i + 1}. {text.cut(items.captions[i], 60)}",
                        help="Its clip then has no true caption in the batch.")
    keep = [i for i in range(n) if i != gone]
    column = softmax(res.C[keep][:, [gone]], axis=0)[:, 0]  # clip `gone` over the other captions
    sig_column = sg.sigma[keep, gone]
    st.markdown(
        f"Clip {gone + 1} ({text.md(items.names[gone])}) "
        f"now has no true caption. The **softmax** down its column still shares 1 among the {n - 1} other captions — "
        f"it must pick one: its favourite gets **{column.max():.2f}**. The **sigmoid** asks each cell alone: the "
        f"column's match probabilities sum to **{sig_column.sum():.3g}** (largest {sig_column.max():.3g}) — "
        "\"none of these\" is an answer it can give.")
    frame = pd.DataFrame({"caption": [items.captions[i] for i in keep], "softmax ↓ (sums to 1)": column,
                          "σ(t·cos + b) (each alone)": sig_column}, index=pd.Index([i + 1 for i in keep], name="#"))
    st.dataframe(frame, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in ("softmax ↓ (sums to 1)", "σ(t·cos + b) (each alone)")})
    st.caption(f"Also: the softmax loss reaches for log N (here {math.log(n):.2f}) as N grows, while the sigmoid's "
               f"chance is N·H(1/N) = {sg.chance:.2f}; b carries the prior that most cells are negatives (N − 1 of N "
               "in each row).")
