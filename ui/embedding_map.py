"""The Embedding map page's pieces: the 2-D map of the batch (clap_core.geometry) with its pulls and pushes,
the modality gap next to a random-weight model's, and one item's forces in detail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from clap_core.batch import Batch
from clap_core.checkpoints import LoadedCheckpoint
from clap_core.contrastive import ContrastiveResult
from clap_core.geometry import (
    CAPTION,
    CLIP,
    EmbeddingMap,
    ItemForces,
    embedding_map,
    item_forces,
    tangent_view,
)

from . import state, text
from .sigmoid import loss_kind
from .sigmoid import result as sigmoid_result

TEXT_COLOUR, CLIP_COLOUR = "#1f77b4", "#ff7f0e"
PULL_COLOUR, PUSH_COLOUR, TOTAL_COLOUR = "#2ca02c", "#d62728", "#444444"
AUTO_RANDOM_PARAMS = 20_000_000  # below this (the bundled model: 0.46 M) the random model is built unasked
ARROW_SHARE = 0.18  # the longest arrow drawn is this share of the map's width


def batch_map() -> tuple[np.ndarray, np.ndarray, ContrastiveResult, EmbeddingMap]:
    """(E_t, E_a, the loss terms, the map) of the current batch at the τ in use. With the sigmoid chosen on the Loss
    page, the terms that move the embeddings are the sigmoid's: ∂L_sig/∂Z in place of ∂L/∂C and t in place of τ
    (−∂L/∂ê_t,i = −t·Σ_j ∂L_sig/∂Z_ij·ê_a,j, the same chain rule), and σ(Z) in place of both softmaxes."""
    E_t, E_a = state.embeddings()
    res = state.result()
    if loss_kind() == "sigmoid":
        sg = sigmoid_result(res)
        res = dataclasses.replace(res, grad_C=sg.grad_Z, tau=sg.t, P_text=sg.sigma, P_audio=sg.sigma)
    return E_t, E_a, res, embedding_map(E_t, E_a, res)


def _span(m: EmbeddingMap) -> float:
    xy = np.vstack([m.text_xy, m.audio_xy])
    return float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1e-9))


def _arrows(starts: np.ndarray, vectors: np.ndarray, scale: float, colour: str, name: str,
            hover: list[str], width: float = 2.0) -> go.Scatter:
    """One trace of arrows start → start + scale·vector (segments split by None, an arrowhead at each end)."""
    x, y, size = [], [], []
    for (x0, y0), (dx, dy) in zip(starts, vectors * scale):
        x += [x0, x0 + dx, None]
        y += [y0, y0 + dy, None]
        size += [0, 11, 0]
    return go.Scatter(x=x, y=y, mode="lines+markers", name=name, line={"color": colour, "width": width},
                      marker={"symbol": "arrow", "angleref": "previous", "size": size, "color": colour},
                      hovertext=[h for h in hover for _ in range(3)], hovertemplate="%{hovertext}<extra></extra>")


def _points(m: EmbeddingMap, captions: list[str], names: list[str], faded: bool = False) -> list[go.Scatter]:
    """Captions (circles), clips (diamonds), a grey line joining each pair, and the two centroids."""
    n = len(captions)
    pair_x = [v for i in range(n) for v in (m.text_xy[i, 0], m.audio_xy[i, 0], None)]
    pair_y = [v for i in range(n) for v in (m.text_xy[i, 1], m.audio_xy[i, 1], None)]
    opacity = 0.35 if faded else 1.0
    numbers = [str(i + 1) for i in range(n)]
    cap_hover = [f"caption {i + 1}: {text.plotly(c, width=60, limit=240)}" for i, c in enumerate(captions)]
    clip_hover = [f"clip {i + 1}: {text.plotly(c, width=60, limit=120)}" for i, c in enumerate(names)]
    centroids = np.vstack([m.text_centroid_xy, m.audio_centroid_xy])
    return [
        go.Scatter(x=pair_x, y=pair_y, mode="lines", name="a pair (caption i — clip i)", opacity=opacity,
                   line={"color": "#bbbbbb", "width": 1}, hoverinfo="skip"),
        go.Scatter(x=m.text_xy[:, 0], y=m.text_xy[:, 1], mode="markers+text", name="caption (text)", text=numbers,
                   textposition="top center", opacity=opacity, hovertext=cap_hover,
                   marker={"symbol": "circle", "size": 11, "color": TEXT_COLOUR}, hovertemplate="%{hovertext}<extra></extra>"),
        go.Scatter(x=m.audio_xy[:, 0], y=m.audio_xy[:, 1], mode="markers+text", name="clip (audio)", text=numbers,
                   textposition="bottom center", opacity=opacity, hovertext=clip_hover,
                   marker={"symbol": "diamond", "size": 12, "color": CLIP_COLOUR}, hovertemplate="%{hovertext}<extra></extra>"),
        go.Scatter(x=centroids[:, 0], y=centroids[:, 1], mode="lines+markers", name=f"centroids: gap {m.gap:.3f}",
                   line={"color": "#7f7f7f", "dash": "dash"}, opacity=opacity,
                   marker={"symbol": "x", "size": 14, "color": [TEXT_COLOUR, CLIP_COLOUR]},
                   hovertext=["centroid of the captions", "centroid of the clips"],
                   hovertemplate="%{hovertext}<extra></extra>"),
    ]


def _layout(fig: go.Figure, m: EmbeddingMap, title: str) -> go.Figure:
    share = m.projection.share
    fig.update_layout(height=640, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title={"text": title, "font": {"size": 14}},
                      legend={"orientation": "h", "y": -0.12, "yanchor": "top"},
                      xaxis={"title": {"text": f"PC 1 ({100 * share[0]:.1f} % of the variance): captions → clips"},
                             "zeroline": False},
                      yaxis={"title": {"text": f"PC 2 ({100 * share[1]:.1f} %)"}, "scaleanchor": "x", "zeroline": False})
    return fig


def map_figure(m: EmbeddingMap, captions: list[str], names: list[str], arrows: bool = True) -> go.Figure:
    """The map: both modalities, the pairs joined, the centroids, and (``arrows``) each embedding's −∂L/∂ê,
    tangent part, all at one scale."""
    fig = go.Figure(_points(m, captions, names))
    forces = np.vstack([m.text_force_xy, m.audio_force_xy])
    longest = float(np.linalg.norm(forces, axis=1).max())
    if arrows and longest > 0:
        scale = ARROW_SHARE * _span(m) / longest
        hover = ([f"caption {i + 1}: −∂L/∂ê (in the map) length {np.linalg.norm(v):.3g}" for i, v in enumerate(m.text_force_xy)]
                 + [f"clip {i + 1}: −∂L/∂ê (in the map) length {np.linalg.norm(v):.3g}" for i, v in enumerate(m.audio_force_xy)])
        fig.add_trace(_arrows(np.vstack([m.text_xy, m.audio_xy]), forces, scale, TOTAL_COLOUR,
                              "−∂L/∂ê: where gradient descent moves it", hover, width=1.5))
        fig.add_annotation(text=f"arrows ×{scale:.3g}", xref="paper", yref="paper", x=1, y=1, showarrow=False)
    return _layout(fig, m, "The batch's 2N unit embeddings, projected on their first two principal axes")


def item_label(k: int, captions: list[str], names: list[str]) -> str:
    """The picker's text for item k of 2N: captions first, then clips (plain text, cut)."""
    n = len(captions)
    return f"caption {k + 1}: {text.cut(captions[k], 60)}" if k < n else f"clip {k - n + 1}: {text.cut(names[k - n], 60)}"


def forces_of(k: int, E_t: np.ndarray, E_a: np.ndarray, res: ContrastiveResult, m: EmbeddingMap) -> ItemForces:
    """Item k of 2N (captions, then clips): its pull and its three heaviest pushes."""
    kind, index = (CAPTION, k) if k < res.n else (CLIP, k - res.n)
    return item_forces(kind, index, E_t, E_a, res, m.projection)


def forces_figure(f: ItemForces, E_t: np.ndarray, E_a: np.ndarray, captions: list[str], names: list[str]) -> go.Figure:
    """One item seen from itself: the tangent plane of the sphere at the item (the log map: each item of the other
    modality at its angle from it, in the direction of the geodesic towards it), on the plane of the item's pull and
    its heaviest push. Directions are true here: the pull points at the partner, a push away from its negative."""
    view = tangent_view(f, E_t, E_a)
    other_kind, others = ("clip", names) if f.kind == CAPTION else ("caption", captions)
    symbol = "diamond" if f.kind == CAPTION else "circle"
    n = len(others)
    colour = ["#2ca02c" if j == f.index else "#d62728" if any(p.other == j for p in f.pushes) else "#9aa0a6"
              for j in range(n)]
    hover = [f"{other_kind} {j + 1}: {text.plotly(others[j], width=60, limit=120)}<br>angle from it "
             f"{np.hypot(*view.others_xy[j]):.3f} rad in the plane, {view.off_plane[j]:.3f} rad off it" for j in range(n)]
    fig = go.Figure([
        go.Scatter(x=view.others_xy[:, 0], y=view.others_xy[:, 1], mode="markers+text", name=f"{other_kind}s",
                   text=[str(j + 1) for j in range(n)], textposition="top center", hovertext=hover,
                   hovertemplate="%{hovertext}<extra></extra>",
                   marker={"symbol": symbol, "size": 12, "color": colour, "line": {"color": "white", "width": 1}}),
        go.Scatter(x=[0], y=[0], mode="markers+text", name=f"{f.kind} {f.index + 1} (here)",
                   text=[f"{f.kind} {f.index + 1}"], textposition="bottom center", hoverinfo="skip",
                   marker={"symbol": "circle" if f.kind == CAPTION else "diamond", "size": 16, "color": "black"}),
    ])
    reach = float(max(np.abs(view.others_xy).max(), 1e-9))
    longest = max(float(np.linalg.norm(v)) for v in [view.pull_xy, view.total_xy, *view.pushes_xy])
    scale = 0.45 * reach / longest if longest > 0 else 0.0
    origin = np.zeros((1, 2))
    fig.add_trace(_arrows(origin, view.pull_xy[None], scale, PULL_COLOUR, f"pull towards its {other_kind} "
                          f"(weight {f.pull.weight:.3e})", [f"pull: weight τ·|G| = {f.pull.weight:.3e}"], width=3))
    if len(view.pushes_xy):
        fig.add_trace(_arrows(np.repeat(origin, len(view.pushes_xy), axis=0), view.pushes_xy, scale, PUSH_COLOUR,
                              "pushes from the heaviest negatives",
                              [f"push away from {other_kind} {p.other + 1}: weight τ·G = {p.weight:.3e}" for p in f.pushes]))
    fig.add_trace(_arrows(origin, view.total_xy[None], scale, TOTAL_COLOUR, "the whole −∂L/∂ê (pull + every push)",
                          ["the whole −∂L/∂ê, tangent part, in this plane"], width=1.5))
    fig.update_layout(
        height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.15},
        title={"text": f"Seen from {f.kind} {f.index + 1}: the sphere's tangent plane there (arrows ×{scale:.3g})",
               "font": {"size": 14}},
        xaxis={"title": {"text": f"along its pull, towards its {other_kind} (radians)"}, "zeroline": True},
        yaxis={"title": {"text": "across it, towards the heaviest push's side (radians)"}, "scaleanchor": "x",
               "zeroline": True})
    return fig


def forces_table(f: ItemForces, captions: list[str], names: list[str], res: ContrastiveResult) -> pd.DataFrame:
    """One row per term: the pull, the heaviest pushes, the other negatives together and the total."""
    others = names if f.kind == CAPTION else captions
    cell = (("σ(Z_ij) (the cell alone)", "σ(Z_ij) (the same cell)") if loss_kind() == "sigmoid" else
            ("P_text[i, j] (caption i's row)", "P_audio[i, j] (clip j's column)"))
    rows = [{"term": "pull towards its partner", "other item": others[f.pull.other], "weight τ·|G|": f.pull.weight,
             cell[0]: f.pull.p_text, cell[1]: f.pull.p_audio, "length (tangent)": float(np.linalg.norm(f.pull.vector))}]
    rows += [{"term": f"push {r + 1}", "other item": others[p.other], "weight τ·|G|": p.weight, cell[0]: p.p_text,
              cell[1]: p.p_audio, "length (tangent)": float(np.linalg.norm(p.vector))} for r, p in enumerate(f.pushes)]
    rest = f.total - f.pull.vector - sum((p.vector for p in f.pushes), np.zeros_like(f.total))
    if res.n - 1 > len(f.pushes):
        rows.append({"term": f"the other {res.n - 1 - len(f.pushes)} negatives together", "other item": "",
                     "length (tangent)": float(np.linalg.norm(rest))})
    rows.append({"term": "total −∂L/∂ê", "other item": "", "length (tangent)": float(np.linalg.norm(f.total))})
    frame = pd.DataFrame(rows, columns=["term", "other item", "weight τ·|G|", *cell, "length (tangent)"])
    for c in frame.columns[2:]:  # one number format for the whole table; a dash where a row has no such number
        frame[c] = [NUMBER_FORMAT.format(v) if isinstance(v, float) and np.isfinite(v) else "—" for v in frame[c]]
    return frame


NUMBER_FORMAT = "{:.3e}"  # the forces table's one format: its numbers span 1e-8 … 1


@st.cache_data(max_entries=16, show_spinner=False)
def _random_gap(fingerprint: str, precision: str, policy: str, clip_keys: tuple[str, ...], captions: tuple[str, ...],
                _ck: LoadedCheckpoint, _items: Batch) -> float:
    """The random-weight model's gap on a batch, once per checkpoint, precision, policy and batch content."""
    from clap_core.baseline import random_model_gap

    return random_model_gap(_ck, _items.clips, captions, policy)


def random_gap(items: Batch) -> float | None:
    """The modality gap of a random-weight model of the checkpoint's config on this batch: computed at once for a
    small model, on a button for a full-size one (it builds a second model of the checkpoint's size for a moment);
    None until then."""
    ck = state.checkpoint()
    key = (ck.fingerprint, ck.precision, state.policy(), tuple(c.key for c in items.clips), tuple(items.captions))
    asked = st.session_state.setdefault("map_random_asked", set())
    if ck.n_params >= AUTO_RANDOM_PARAMS and key not in asked:
        mb = ck.n_params * (2 if ck.precision == "bf16" else 4) / 1e6
        st.button(f"Compute it (builds a random model of {mb:,.0f} MB for a few seconds)", key="map-random-gap",
                  on_click=asked.add, args=(key,))  # a callback: the click is never lost to a rerun
        return None
    with st.spinner("Embedding the batch with a random-weight model…"):
        return _random_gap(*key, ck, items)
