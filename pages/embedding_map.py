"""Embedding map: the batch's 2N unit embeddings in 2-D, the modality gap, and the loss's pulls and pushes."""

import streamlit as st

from ui import state
from ui.embedding_map import (
    batch_map,
    forces_figure,
    forces_of,
    forces_table,
    item_label,
    map_figure,
    random_gap,
)
from ui.screen import chart
from ui.widgets import stop_if_empty

state.require_app()

st.title("Embedding map")
items = state.batch()
stop_if_empty(items)
E_t, E_a, res, m = batch_map()
captions, names = items.captions, items.names

share = m.projection.share
st.caption(
    "Every caption and clip of the batch is a unit vector in the model's shared space (d = "
    f"{E_t.shape[1]}). The map projects the 2N of them on the two directions along which they spread most "
    "(PCA of the stacked embeddings; the first axis points from the captions' centroid to the clips', the "
    "second's largest coordinate is positive, so the picture does not flip between reruns). Distances in the map "
    "are shorter than on the sphere: only what these two axes keep is shown. Hover a point for its caption or file."
)
c = st.columns(4)
c[0].metric("Variance kept by the map", f"{100 * m.projection.kept:.1f} %",
            help=f"PC 1 keeps {100 * share[0]:.1f} % of the 2N points' variance, PC 2 {100 * share[1]:.1f} %.")
c[1].metric("Modality gap", f"{m.gap:.3f}",
            help="‖μ_captions − μ_clips‖: the distance between the centroid of the N caption embeddings and that of "
                 "the N clip embeddings (0: the two modalities share a centre; at most 2).")
c[2].metric("… of it in the map", f"{m.gap_in_map:.3f}", help="The dashed line between the two × marks.")
with c[3]:
    gap_random = random_gap(items)
    if gap_random is not None:
        st.metric("Gap of a random-weight model", f"{gap_random:.3f}",
                  help="A model of this checkpoint's configuration with freshly initialised weights (torch seed 0), "
                       "on the same batch: built for this number and dropped (as large as the checkpoint while it runs).")

arrows = st.toggle("Show the pulls and pushes (−∂L/∂ê on every point)", value=True, key="map-arrows")
chart(map_figure(m, captions, names, arrows), "map")
st.caption(
    f"Each arrow is −∂L/∂ê at τ = {res.tau:.2f} for one embedding, projected onto the sphere's tangent there (the "
    "part that turns it; the radial part only changes a length the model normalises away), then into the map. "
    "∂L/∂Ê_t = τ·G·Ê_a and ∂L/∂Ê_a = τ·Gᵀ·Ê_t with G = ∂L/∂C, the matrix of the Similarity page's ∂L/∂C view."
)
if res.note:
    st.info(res.note)

st.subheader("The pull and the pushes on one item")
pick = st.selectbox("Caption or clip", range(2 * res.n), format_func=lambda k: item_label(k, captions, names),
                    key="map-item")
f = forces_of(pick, E_t, E_a, res, m)
partner = "clip" if f.kind == "caption" else "caption"
st.caption(
    f"−∂L/∂ê of {f.kind} {f.index + 1} is a sum over the other modality: a **pull** towards its own {partner}, of "
    f"weight τ·(2 − P_text[i,i] − P_audio[i,i])/(2N), and a **push** away from every other {partner} j, of weight "
    "τ·(P_text[i,j] + P_audio[i,j])/(2N) — the entries of ∂L/∂C. The table lists the three heaviest pushes and the "
    "probabilities that make them."
)
chart(forces_figure(f, E_t, E_a, captions, names), "map-forces")
st.caption(
    f"This chart is the sphere seen from {f.kind} {f.index + 1}: its tangent plane there (the log map), on the plane "
    f"of its pull and its heaviest push. Each {partner} sits at its angle from {f.kind} {f.index + 1} (in radians), in "
    "the direction of the shortest path on the sphere towards it, so the pull points at its own "
    f"{partner} (green) and each push points away from its negative (red); {partner}s off this plane are drawn by "
    "their shadow on it (the hover says how far off). The map above cannot do this: a projection of the whole cloud "
    "bends the directions seen from any one point."
)
table = forces_table(f, captions, names, res)
st.dataframe(table, width="stretch", hide_index=True)
