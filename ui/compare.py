"""The Compare page's pieces: the second checkpoint's choice and cost, both results, and the figures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from clap_core.checkpoints import (
    BUNDLED,
    BUNDLED_CLASSES,
    KNOWN_CHECKPOINTS,
    check,
    count_parameters,
    known,
    params_millions,
)
from clap_core.compare import (
    HOSTED_MB,
    Comparison,
    compare,
    fits_hosted,
    peak_estimate_mb,
    shared_range,
    weights_mb,
)
from clap_core.contrastive import ContrastiveResult
from clap_core.tables import frame_csv
from clap_core.zeroshot import ZeroShotResult, zero_shot

from . import state, text
from .figures import axis_labels, heatmap
from .resources import get_checkpoint, is_loaded
from .settings import hosted
from .views import MatrixView

FULL_SIZE_M = 20.0  # parameters (millions) above which loading waits for a click and states its cost
TEMPLATE = "This is a sound of {}."


CUSTOM = "Custom hub id or local folder…"


def choices() -> list[str]:
    """Checkpoints B can be, as in the sidebar's picker: the known ones, this session's own and (not in hosted
    mode) a custom hub id or folder; without the one in use (A)."""
    names = [k.name for k in KNOWN_CHECKPOINTS] + list(state.own_checkpoints()) + ([] if hosted() else [CUSTOM])
    return [n for n in names if n != state.checkpoint_name()]


def default_b() -> str:
    """B's first choice: the other bundled checkpoint when A is a bundled one, else the bundled one."""
    options = choices()
    preferred = BUNDLED_CLASSES if state.checkpoint_name() == BUNDLED else BUNDLED
    return preferred if preferred in options else options[0]


def params_of(name: str) -> float | None:
    """Parameters (millions) of a checkpoint before loading it: the registry's (or a loaded one's) count."""
    own = state.own_checkpoints().get(name)
    if own is not None:
        return own.checkpoint.n_params / 1e6
    entry = known(name)
    if entry:
        return params_millions(entry)
    folder = Path(name).expanduser()
    try:  # a local folder: counted from its safetensors header, nothing loaded
        return count_parameters(folder) / 1e6 if (folder / "model.safetensors").is_file() else None
    except Exception:  # an unreadable header: the load will say what is wrong
        return None


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a checkpoint (a missing folder, a file, no config.json, …), before offering to load
    it; None when it may be one (a hub id is only checked by loading it)."""
    problem = None if name in state.own_checkpoints() else check(name)
    return f"B cannot be loaded: {problem}." if problem else None


def cost_line(name: str) -> tuple[str, bool]:
    """What loading ``name`` next to the checkpoint in use costs, and whether this server allows it."""
    if name in state.own_checkpoints():
        return "It is this session's own checkpoint: its towers are already loaded, its heads are a few MB.", True
    precision = state.checkpoint().precision
    b = params_of(name)
    a = state.checkpoint().n_params / 1e6
    if b is None:
        return "Its size is unknown until it is loaded.", not hosted()
    total = peak_estimate_mb([a, b], precision)
    line = (f"{name}: {b:,.1f} M parameters, ≈ {weights_mb(b, precision):,.0f} MB of weights in {precision}; with "
            f"{state.checkpoint_name()} ({a:,.1f} M) the app would peak near {total / 1000:.2f} GB")
    ok = not hosted() or fits_hosted([a, b], precision)
    if hosted():
        line += f" of the {HOSTED_MB / 1000:.1f} GB this hosted server has" + ("." if ok else ": too much, so not here.")
    else:
        line += "."
    return line, ok


def needs_click(name: str) -> bool:
    """Whether loading B should wait for a click (a large model that is not loaded yet, not approved yet)."""
    p = params_of(name)
    own = name in state.own_checkpoints()
    approved = name in st.session_state.get("compare_approved", set())
    return not own and not approved and not is_loaded(name, state.precision()) and (p is None or p > FULL_SIZE_M)


def approve(name: str) -> None:
    """The "Load … as B" button's callback: this session asked for ``name`` as B."""
    st.session_state.setdefault("compare_approved", set()).add(name)


def load(name: str) -> str | None:
    """Load B (shared per process, at most two checkpoints); the error text if it fails."""
    if name in state.own_checkpoints():
        return None
    try:
        get_checkpoint(name, state.precision())
    except Exception as e:  # CheckpointError and whatever transformers raises: say it, keep the page
        return f"Could not load {name}: {str(e).rstrip('.')}."
    return None


def both(b_name: str) -> Comparison:
    """A's and B's results on the batch, each at its τ in use."""
    return compare(state.result(), state.result(b_name))


def zero_shot_both(b_name: str) -> tuple[ZeroShotResult, ZeroShotResult] | None:
    """Zero-shot over the batch's own true labels (one template) for A and B; None with fewer than 2 labels."""
    items = state.batch()
    labels = list(dict.fromkeys(lab for lab in items.labels if lab))
    if len(labels) < 2:
        return None
    out = []
    for name in (state.checkpoint_name(), b_name):
        _, E_a = state.embeddings(items, name)
        out.append(zero_shot(state.embedder(name), E_a, labels, [TEMPLATE], tau=state.tau(name),
                             true_labels=items.labels))
    return out[0], out[1]


def side_view(view: MatrixView, cmp: Comparison) -> MatrixView:
    """The view with one colour range for both heatmaps (probability views keep their fixed 0…1)."""
    if view.zrange:
        return view
    rng = shared_range(view.values(cmp.a), view.values(cmp.b), view.diverging)
    return dataclasses.replace(view, zrange=rng)


def heatmaps(view: MatrixView, cmp: Comparison, captions: list[str], clips: list[str], names: tuple[str, str],
             numbers_only: bool, height: int | None = None) -> tuple[go.Figure, go.Figure]:
    """A's and B's heatmap of one view, in one colour range (``height`` in px: None for the usual size)."""
    shared = side_view(view, cmp)
    if len(captions) > 8 and shared.cell_format == ".2f":  # narrower cells side by side: one decimal fewer
        shared = dataclasses.replace(shared, cell_format=".1f")
    figs = []
    for res, name, bar in ((cmp.a, names[0], False), (cmp.b, names[1], True)):  # one colour scale, shown once (B)
        fig = heatmap(res, dataclasses.replace(shared, title=f"{text.plotly(text.cut(name, 40))}: {view.title}"),
                      captions, clips, numbers_only=numbers_only, height=height, colorbar=bar, text_size=11)
        figs.append(fig)
    return figs[0], figs[1]


def difference(matrix: np.ndarray, what: str, captions: list[str], clips: list[str],
               square_px: int | None = None) -> go.Figure:
    """B − A of a probability view: red where B puts more probability, blue where less; ±1 at most. With
    ``square_px`` (a phone): that height, and numbered axes."""
    rows, cols = axis_labels(captions, clips)
    n = len(captions)
    if square_px:
        rows = cols = [str(i + 1) for i in range(n)]
    y, x = [text.plotly(r) for r in rows], [text.plotly(c) for c in cols]
    size = square_px or max(420, min(900, 120 + 46 * n))
    return go.Figure({
        "data": [{"type": "heatmap", "z": matrix, "x": x, "y": y, "colorscale": "RdBu_r", "zmin": -1, "zmax": 1,
                  "zmid": 0, "colorbar": {"title": {"text": "B − A"}},
                  "hovertemplate": f"caption: %{{y}}<br>clip: %{{x}}<br>{what}(B) − {what}(A) %{{z:+.4f}}<extra></extra>",
                  **({"texttemplate": "%{z:+.2f}"} if n <= 12 else {})}],
        "layout": {"height": size, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
                   "title": {"text": f"{what}(B) − {what}(A)", "font": {"size": 14}},
                   "yaxis": {"autorange": "reversed", "type": "category", "title": {"text": "captions — rows"}},
                   "xaxis": {"type": "category", "tickangle": -35, "title": {"text": "clips — columns"}},
                   "shapes": [{"type": "rect", "x0": i - 0.5, "x1": i + 0.5, "y0": i - 0.5, "y1": i + 0.5,
                               "line": {"color": "#333", "width": 2}} for i in range(n)]},
    }, _validate=False)


def delta_bars(cmp: Comparison, captions: list[str]) -> go.Figure:
    """Per-pair ΔL = L_i(B) − L_i(A): green bars where B is better (lower), red where worse."""
    d = cmp.delta
    hover = [text.plotly(c, width=60, limit=240) for c in captions]
    return go.Figure({
        "data": [{"type": "bar", "x": [str(i + 1) for i in range(len(d))], "y": d, "hovertext": hover,
                  "marker": {"color": ["#2e7d32" if v < 0 else "#c62828" for v in d]},
                  "customdata": np.stack([cmp.pair_loss_a, cmp.pair_loss_b], axis=-1),
                  "hovertemplate": "pair %{x}: %{hovertext}<br>A %{customdata[0]:.4f} → B %{customdata[1]:.4f}"
                                   "<br>Δ %{y:+.4f}<extra></extra>"}],
        "layout": {"height": 340, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
                   "xaxis": {"title": {"text": "pair"}}, "yaxis": {"title": {"text": "ΔL_i = L_i(B) − L_i(A), nats"}},
                   "title": {"text": "per pair: below 0, B is better; above 0, worse", "font": {"size": 14}}},
    }, _validate=False)


def pairs_frame(cmp: Comparison, captions: list[str], clips: list[str]) -> pd.DataFrame:
    """One row per pair: its loss under A and B and the change."""
    return pd.DataFrame({"caption": captions, "clip": clips, "L_i (A)": cmp.pair_loss_a, "L_i (B)": cmp.pair_loss_b,
                         "Δ (B − A)": cmp.delta}, index=pd.RangeIndex(1, len(captions) + 1, name="#"))


def sigmoid_line(res: ContrastiveResult, name: str) -> str:
    """One checkpoint's sigmoid loss on the batch at its own (t, b) (SigLIP's when it has none)."""
    from clap_core.sigmoid import resolve_tb, sigmoid_from_cosine

    t, b, _ = resolve_tb(state.checkpoint(name).model)
    sg = sigmoid_from_cosine(res.cosine, t, b)
    return (f"sigmoid: L_sig {sg.loss:.4f} (pairs {sg.loss_positive:.4f}, negatives {sg.loss_negative:.4f}; chance "
            f"{sg.chance:.4f}) at t = {t:.3g}, b = {b:.3g}")


def loss_alone(cmp: Comparison, names: tuple[str, str]) -> str:
    """For bundled against bundled-sigmoid (one recipe, world, size and step count; only the loss differs): one
    sentence of what the loss alone changed on this batch — each model's own loss, and how far apart its match
    probabilities σ(t·cos + b) put true pairs and negatives."""
    from clap_core.sigmoid import resolve_tb, sigmoid_from_cosine

    parts = []
    for res, name in ((cmp.a, names[0]), (cmp.b, names[1])):
        t, b, _ = resolve_tb(state.checkpoint(name).model)
        sg = sigmoid_from_cosine(res.cosine, t, b)
        off = ~np.eye(res.n, dtype=bool)
        parts.append(f"{name}: σ {float(np.diag(sg.sigma).mean()):.2f} on true pairs, {float(sg.sigma[off].mean()):.3f} "
                     f"on negatives (softmax L {res.loss:.3f}, L_sig {sg.loss:.3f})")
    return ("Same recipe, world, size and steps — only the loss differs, so this is what the loss alone changed. "
            "The softmax model's τ·cos only ranks (its σ with SigLIP's default t, b means little); the sigmoid model's "
            "σ(t·cos + b) is a match probability of its own: " + "; ".join(parts) + ".")


RETRIEVAL_ROWS = {f"{d}_{m}": f"{words}: {m}" for d, words in (("text_to_audio", "text → audio"),
                                                                  ("audio_to_text", "audio → text"))
                  for m in ("R@1", "R@5", "R@10", "mAP")}


def retrieval_frame(r: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Comparison.retrieval() as a table with words for rows ('text → audio: R@1'), A and B as columns."""
    frame = pd.DataFrame(r).loc[list(RETRIEVAL_ROWS)]
    frame.index = pd.Index(list(RETRIEVAL_ROWS.values()), name="metric")
    return frame


def export(cmp: Comparison, names: tuple[str, str], captions: list[str], clips: list[str]) -> None:
    """Download the per-pair table (CSV) and everything (JSON)."""
    c1, c2 = st.columns(2)
    c1.download_button("compare_pairs.csv", frame_csv(pairs_frame(cmp, captions, clips)).encode(),
                       file_name="compare_pairs.csv", mime="text/csv", key="compare-csv")
    payload = {"checkpoint_A": names[0], "checkpoint_B": names[1], "captions": captions, "clips": clips,
               **cmp.to_dict()}
    c2.download_button("compare.json", json.dumps(payload, indent=1).encode(), file_name="compare.json",
                       mime="application/json", key="compare-json")
