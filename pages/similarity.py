"""Similarity matrix: C and its views as a heatmap; a cell inspector; is C symmetric?"""

import streamlit as st

from ui import screen, state
from ui.figures import axis_labels, heatmap
from ui.honest import demo_notice
from ui.screen import chart
from ui.text import md
from ui.views import VIEWS, view
from ui.widgets import export_buttons, stop_if_empty

state.require_app()

st.title("Similarity matrix")
items = state.batch()
stop_if_empty(items)
res = state.result()
demo_notice(res)

st.caption(
    f"Rows are captions (text), columns are clips (audio); outlined cells are the true pairs. "
    f"C = τ·E_t·E_aᵀ with τ = {res.tau:.2f}. Hover a cell for all its numbers."
)
picked = view(st.radio("View", [v.key for v in VIEWS], format_func=lambda k: view(k).label, horizontal=True,
                       key="sim_view"))
if screen.narrow():  # a phone: square, numbered (the hover, or a tap, shows the texts)
    numbers_only = True
    st.caption("Axes numbered: pair i is row i and column i; tap a cell for its caption, clip and numbers.")
else:
    numbers_only = st.toggle("Number the axes only", key="sim_numbers",
                             help="Rows and columns show i instead of the caption and file name; hover a cell for both.")
chart(heatmap(res, picked, items.captions, items.names, numbers_only, screen.square_px()), "heatmap")
if picked.explain:
    st.info(picked.explain(res))

st.subheader("Is C symmetric?")
if res.n == 1:
    st.write("With one pair, C is a single number.")
elif res.is_symmetric():
    st.write("Here it happens to be (to 1e-9), but in general it is not: rows are captions and columns clips.")
else:
    i, j, gap = res.most_asymmetric()
    st.write(
        f"**No.** C[i, j] compares caption i with clip j, and C[j, i] compares caption j with clip i — different "
        f"embeddings. On this batch the largest gap is between C[{i + 1}, {j + 1}] = {res.C[i, j]:.3f} "
        f"(“{md(items[i].caption)}” vs {md(items[j].name)}) and C[{j + 1}, {i + 1}] = {res.C[j, i]:.3f} "
        f"(“{md(items[j].caption)}” vs {md(items[i].name)}); max |C − Cᵀ| = {gap:.3f}. Hence ℓ_text "
        f"({res.loss_text:.4f}) ≠ ℓ_audio ({res.loss_audio:.4f}): same matrix, softmax along different axes."
    )

st.subheader("Cell inspector")
st.caption("Pick a caption and a clip to see their cell's numbers and hear the clip (hovering a cell shows them too).")
rows, cols = axis_labels(items.captions, items.names)
a, b = st.columns(2)
ci = a.selectbox("Caption (row)", range(res.n), format_func=lambda i: rows[i], key="insp-caption")
aj = b.selectbox("Clip (column)", range(res.n), index=min(1, res.n - 1), format_func=lambda j: cols[j], key="insp-clip")
if items[aj].data is not None:
    b.audio(items[aj].data, format=items[aj].mime)
m = st.columns(5)
m[0].metric("cosine", f"{res.cosine[ci, aj]:.4f}")
m[1].metric("C = τ·cos", f"{res.C[ci, aj]:.3f}")
m[2].metric("P_text (row)", f"{res.P_text[ci, aj]:.4g}", help="softmax over clips for this caption")
m[3].metric("P_audio (column)", f"{res.P_audio[ci, aj]:.4g}", help="softmax over captions for this clip")
m[4].metric("∂L/∂C", f"{res.grad_C[ci, aj]:+.4g}")
st.caption("A true pair (on the diagonal)." if ci == aj else
           f"Not a pair: “{md(items[ci].caption)}” belongs to clip {ci + 1}.")

st.subheader("Export")
export_buttons(res, items, key="sim-export")
