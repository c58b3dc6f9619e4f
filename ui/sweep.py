"""The Loss page's τ sweep: ℓ_text, ℓ_audio and L against τ, with chance, the checkpoint's τ, the τ in use
and the τ that minimises L on this batch (clap_core.sweep), and what the two ends of the curve mean."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from clap_core.contrastive import TAU_RANGE, ContrastiveResult
from clap_core.sweep import TauSweep, loss_at, sweep_tau

from . import state
from .screen import chart


@st.cache_data(max_entries=16, show_spinner=False)
def cached_sweep(cosine: np.ndarray) -> TauSweep:
    """The sweep of a (N, N) cosine matrix over the default grid (61 τ from 0.1 to 1000; ~0.1 s at N = 64),
    cached by the matrix: moving the τ slider does not recompute it."""
    return sweep_tau(cosine)


def sweep_figure(sw: TauSweep, tau_checkpoint: float, tau_now: float, loss_now: float) -> go.Figure:
    """The three curves against τ (log axis), chance log N, and vertical marks at the checkpoint's τ, the τ in
    use (where L = ``loss_now``) and τ*. The marks are traces, not shapes with annotations: on a log axis an
    annotation's x is log10(τ), a shape's is τ, and mixing them stretches the axis."""
    top = max(2.5 * max(sw.chance, 0.3), 1.3 * loss_now)  # the large-τ ends leave the top: double-click shows all
    fig = go.Figure([
        go.Scatter(x=sw.tau, y=sw.loss, name="L = ½(ℓ_text + ℓ_audio)", line={"width": 3, "color": "#d62728"},
                   hovertemplate="τ %{x:.3g}<br>L %{y:.4f}<extra></extra>"),
        go.Scatter(x=sw.tau, y=sw.loss_text, name="ℓ_text (rows)", line={"dash": "dash", "color": "#1f77b4"},
                   hovertemplate="τ %{x:.3g}<br>ℓ_text %{y:.4f}<extra></extra>"),
        go.Scatter(x=sw.tau, y=sw.loss_audio, name="ℓ_audio (columns)", line={"dash": "dot", "color": "#ff7f0e"},
                   hovertemplate="τ %{x:.3g}<br>ℓ_audio %{y:.4f}<extra></extra>"),
    ])
    marks = [(tau_checkpoint, "grey", f"checkpoint's τ = {tau_checkpoint:.2f}")]
    if not math.isclose(tau_now, tau_checkpoint, rel_tol=1e-9):
        marks.append((tau_now, "#9467bd", f"τ in use = {tau_now:.2f}"))
    marks.append((sw.best_tau, "#2ca02c", f"τ* = {sw.best_tau:.4g} (L = {sw.best_loss:.4f})"))
    for x, colour, label in marks:
        fig.add_trace(go.Scatter(x=[x, x], y=[0, top], mode="lines", name=label, hoverinfo="skip",
                                 line={"dash": "dash", "color": colour, "width": 1.5}))
    fig.add_trace(go.Scatter(x=[sw.best_tau], y=[sw.best_loss], mode="markers", showlegend=False,
                             marker={"size": 13, "color": "#2ca02c", "symbol": "star"},
                             hovertemplate="τ* %{x:.4g}<br>L %{y:.4f}<extra></extra>"))
    if sw.chance > 0:
        fig.add_hline(y=sw.chance, line_dash="dot", line_color="grey", annotation_text=f"chance log N = {sw.chance:.3f}",
                      annotation_position="top right")
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "y": -0.2, "x": 0},
                      xaxis={"type": "log", "title": {"text": "τ (log scale)"},
                             "range": [math.log10(sw.tau[0]) - 0.05, math.log10(sw.tau[-1]) + 0.05]},
                      yaxis={"title": {"text": "nats"}, "range": [0, top]})
    return fig


def _wrong(sw: TauSweep) -> str:
    rows = ", ".join(str(i + 1) for i in sw.wrong_rows) or "none"
    cols = ", ".join(str(i + 1) for i in sw.wrong_cols) or "none"
    return (f"captions whose own clip does not rank first: {rows}; clips whose own caption does not rank first: {cols} "
            "— ranked as on the Retrieval page: ties, as with a duplicate clip, go to the earlier item, and a tied pair "
            "costs a constant, not τ × a margin")


def sweep_section(res: ContrastiveResult) -> None:
    """The sweep's chart and, beside it, what its ends mean on this batch."""
    st.subheader("L as a function of τ")
    sw = cached_sweep(res.cosine)
    ck_tau = state.checkpoint().tau
    left, words = st.columns([3, 2])
    chart(sweep_figure(sw, ck_tau, res.tau, res.loss), "tau-sweep", left)
    if res.n == 1:
        words.info("With one pair L = 0 at every τ: each softmax has a single entry.")
        return
    if sw.at_upper_bound:
        best = (f"L keeps falling up to τ = {sw.best_tau:g}, the top of the range (L = {sw.best_loss:.4f}): every "
                "caption's own clip is its best match and every clip's own caption is its, so a larger τ only sharpens "
                "the right answers.")
    elif sw.at_lower_bound:
        why = ((f"the true pairs' mean cosine ({float(np.mean(np.diag(res.cosine))):.4f}) is not above the mean "
                f"of all N² cells ({float(np.mean(res.cosine)):.4f}), so dL/dτ ≥ 0 from τ = 0 and L only rises")
               if sw.rises_from_start else "L's minimum lies below the smallest τ tried")
        best = (f"L is lowest at the smallest τ tried, {sw.best_tau:g} (L = {sw.best_loss:.4f}): {why}. On this batch "
                "sharpening gains nothing.")
    else:
        best = (f"L is lowest at **τ\\* = {sw.best_tau:.3f}** (L = {sw.best_loss:.4f}); the checkpoint's τ = "
                f"{ck_tau:.2f} gives L = {loss_at(res.cosine, ck_tau):.4f}.")
        if sw.best_loss > 0.99 * sw.chance:
            best += (f" That best L is within 1 % of chance (log N = {sw.chance:.4f}): no τ makes this batch's true "
                     "pairs stand out; the embeddings, not τ, are what is missing.")
    words.markdown(
        f"{best}\n\n"
        f"- **Small τ**: C = τ·cos → 0, so every softmax becomes uniform (1/N each) and ℓ_text, ℓ_audio and L → "
        f"log N = {sw.chance:.4f}, whatever the embeddings.\n"
        f"- **Large τ**: each softmax puts all its mass on the largest entry of its row or column. A caption or clip "
        f"whose own partner is that entry costs nothing; one that loses costs τ × (its hardest negative's cosine − "
        f"its own). So L grows like τ × s, with s the sum of those margins divided by 2N (the mean over all 2N rows "
        f"and columns, the winners counting 0): "
        + (f"here τ × {sw.slope:.4f} ({_wrong(sw)})." if sw.slope > 0 else
           f"here no negative beats a partner, so s = 0 and L levels off: at 0, or at the constant the tied pairs keep "
           f"({_wrong(sw)})." if sw.wrong_rows or sw.wrong_cols else
           "here every caption and every clip wins, so the margin is 0 and L → 0.")
    )
    if not sw.at_upper_bound and not math.isclose(sw.best_tau, res.tau, rel_tol=1e-6):
        words.button(f"Use τ* = {sw.best_tau:.4g} on every page", key="use-tau-star", on_click=state.set_tau,
                     args=(float(np.clip(sw.best_tau, *TAU_RANGE)),),
                     help="Sets the τ in use (the slider above follows); the checkpoint's τ button sets it back.")
    words.caption("The checkpoint's τ was learnt on its training batches, not on this one: τ* is what this batch alone "
                  "would pick. The curves are exact values at 61 τ from 0.1 to 1000 (python -m clap_core sweep prints "
                  "them); τ* is searched between them. Whether τ* > 0 at all follows from the start of the curve: dL/dτ at "
                  "τ = 0 is mean(cos) − mean(diag cos), so L dips below chance only when the true pairs' mean cosine is "
                  "above the mean of all cells — even if no pair ranks first. Values of L below ~1e-16 print as 0 "
                  "(float64 rounding of log(1 + x)).")
