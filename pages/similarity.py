"""Similarity matrix: C and its two softmaxes as a heatmap; a cell inspector; is C symmetric?"""

import numpy as np
import streamlit as st

from ui import state
from ui.figures import VIEWS, axis_labels, heatmap
from ui.widgets import export_buttons, stop_if_empty

state.require_app()

st.title("Similarity matrix")
items = state.batch()
stop_if_empty(items)
res = state.result()

st.caption(
    f"Rows are captions (text), columns are clips (audio); outlined cells are the true pairs. "
    f"C = τ·E_t·E_aᵀ with τ = {res.tau:.2f}. Hover a cell for all its numbers."
)
LABELS = {
    "C": "C = τ·cos",
    "cosine": "cosine",
    "P_text": "softmax → along each row (over clips): ℓ_text",
    "P_audio": "softmax ↓ down each column (over captions): ℓ_audio",
    "grad": "∂L/∂C",
}
view = st.radio("View", list(VIEWS), format_func=LABELS.get, horizontal=True, key="sim_view")
captions, clips = [it.caption for it in items], [it.name for it in items]
rows, cols = axis_labels(captions, clips)
st.plotly_chart(heatmap(res, rows, cols, view, captions, clips), width="stretch", key="heatmap")

if view == "P_text":
    s = res.P_text.sum(axis=1)
    st.info(f"Each **row** (a caption) is a probability distribution over the {res.n} clips: row sums "
            f"{s.min():.4f}…{s.max():.4f}. The diagonal entry is the probability of the right clip; "
            f"ℓ_text = mean of −log(diagonal) = **{res.loss_text:.4f}**.")
elif view == "P_audio":
    s = res.P_audio.sum(axis=0)
    st.info(f"Each **column** (a clip) is a probability distribution over the {res.n} captions: column sums "
            f"{s.min():.4f}…{s.max():.4f}. ℓ_audio = mean of −log(diagonal) = **{res.loss_audio:.4f}**.")
elif view == "grad":
    st.info("The gradient of L with respect to C: (P_text − I)/(2N) + (P_audio − I)/(2N). Diagonal cells are "
            "negative (gradient descent raises them: pull the pair together); off-diagonal cells are positive "
            "(lower them: push apart), most where the model is most confused.")

st.subheader("Is C symmetric?")
asym = np.abs(res.C - res.C.T)
if res.n == 1:
    st.write("With one pair, C is a single number.")
elif res.is_symmetric():
    st.write("Here it happens to be (to 1e-9), but in general it is not: rows are captions and columns clips.")
else:
    i, j = np.unravel_index(int(asym.argmax()), asym.shape)
    st.write(
        f"**No.** C[i, j] compares caption i with clip j, and C[j, i] compares caption j with clip i — different "
        f"embeddings. On this batch the largest gap is between C[{i + 1}, {j + 1}] = {res.C[i, j]:.3f} "
        f"(“{items[i].caption}” vs {items[j].name}) and C[{j + 1}, {i + 1}] = {res.C[j, i]:.3f} "
        f"(“{items[j].caption}” vs {items[i].name}); max |C − Cᵀ| = {asym.max():.3f}. Hence ℓ_text "
        f"({res.loss_text:.4f}) ≠ ℓ_audio ({res.loss_audio:.4f}): same matrix, softmax along different axes."
    )

st.subheader("Cell inspector")
st.caption("Plotly clicks don't reach the app: pick a caption and a clip here.")
a, b = st.columns(2)
ci = a.selectbox("Caption (row)", range(res.n), format_func=lambda i: rows[i], key="insp-caption")
aj = b.selectbox("Clip (column)", range(res.n), index=min(1, res.n - 1), format_func=lambda j: cols[j], key="insp-clip")
b.audio(items[aj].data, format=items[aj].mime)
m = st.columns(5)
m[0].metric("cosine", f"{res.cosine[ci, aj]:.4f}")
m[1].metric("C = τ·cos", f"{res.C[ci, aj]:.3f}")
m[2].metric("P_text (row)", f"{res.P_text[ci, aj]:.4g}", help="softmax over clips for this caption")
m[3].metric("P_audio (column)", f"{res.P_audio[ci, aj]:.4g}", help="softmax over captions for this clip")
m[4].metric("∂L/∂C", f"{res.grad_C[ci, aj]:+.4g}")
st.caption("A true pair (on the diagonal)." if ci == aj else
           f"Not a pair: “{items[ci].caption}” belongs to clip {ci + 1}.")

st.subheader("Export")
export_buttons(res, items, key="sim-export")
