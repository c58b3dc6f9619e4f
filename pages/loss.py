"""Loss: the formulas, ℓ_text, ℓ_audio and L against chance, each item's share, a live τ slider."""

import pandas as pd
import streamlit as st

from ui import sigmoid, state
from ui.figures import per_item_bars
from ui.honest import demo_notice
from ui.screen import chart
from ui.sweep import sweep_section
from ui.widgets import export_buttons, stop_if_empty, tau_slider

state.require_app()

st.title("Loss")
items = state.batch()
stop_if_empty(items)
if sigmoid.loss_picker() == "sigmoid":
    res = state.result()
    demo_notice(res)
    sigmoid.loss_section(res, items)
    sigmoid.contrast_section(res, items)
    st.stop()

st.latex(r"C = \tau\, E_t E_a^{\top}\qquad P^{\text{text}}_{ij} = \frac{e^{C_{ij}}}{\sum_k e^{C_{ik}}}"
         r"\qquad P^{\text{audio}}_{ij} = \frac{e^{C_{ij}}}{\sum_k e^{C_{kj}}}")
st.latex(r"\ell_{\text{text}} = -\frac{1}{N}\sum_{i=1}^{N}\log P^{\text{text}}_{ii}\qquad"
         r"\ell_{\text{audio}} = -\frac{1}{N}\sum_{i=1}^{N}\log P^{\text{audio}}_{ii}\qquad "
         r"L = \tfrac{1}{2}\left(\ell_{\text{text}} + \ell_{\text{audio}}\right)")
with st.expander("A note on the formula as it is often quoted"):
    st.markdown(
        "It is often written $\\ell = \\frac{1}{N}\\sum_{i=0}^{N} \\log \\operatorname{diag}(\\operatorname{softmax}(C))$. "
        "Two slips: without the **minus sign** this is a log-likelihood (≤ 0, to be maximised), not a loss; and the "
        "index running **0..N** counts N+1 terms. The loss is the *negative* mean log-probability of the N "
        "true pairs, once along each axis."
    )

tau_slider()
res = state.result()
demo_notice(res)

m = st.columns(4)
m[0].metric("ℓ_text (text → audio)", f"{res.loss_text:.4f}")
m[1].metric("ℓ_audio (audio → text)", f"{res.loss_audio:.4f}")
m[2].metric("L = ½(ℓ_text + ℓ_audio)", f"{res.loss:.4f}",
            delta=f"{res.loss - res.chance:+.3f} vs chance" if res.n > 1 else None, delta_color="inverse")
m[3].metric("chance level log N", f"{res.chance:.4f}", help="the loss when every pair scores the same")
if res.note:
    st.info(res.note)

st.subheader("Each pair's terms")
st.caption("ℓ_text,i is −log of caption i's probability for its own clip (row i of P_text); ℓ_audio,i is −log of "
           "clip i's probability for its own caption (column i of P_audio). Each contributes 1/(2N) of its value to L.")
chart(per_item_bars(res, items.captions), "per-item")
share = pd.DataFrame({
    "caption": items.captions, "clip": items.names,
    "ℓ_text,i": res.per_item_text, "ℓ_audio,i": res.per_item_audio,
    "share of L": res.share, "% of L": res.share_percent,
}, index=pd.RangeIndex(1, res.n + 1, name="#"))
st.dataframe(share, width="stretch", column_config={
    "ℓ_text,i": st.column_config.NumberColumn(format="%.4f"), "ℓ_audio,i": st.column_config.NumberColumn(format="%.4f"),
    "share of L": st.column_config.NumberColumn(format="%.4f"),
    "% of L": st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100)})

sweep_section(res)
sigmoid.contrast_section(res, items)

st.subheader("transformers' return_loss is not this loss")
hf = state.transformers_loss(res)
st.markdown(
    f"`ClapModel(..., return_loss=True)` averages `cross_entropy(logits_per_text)` and "
    f"`cross_entropy(logits_per_audio.t())`. The transpose turns the audio logits back into caption rows, so both "
    f"terms are the text → audio direction and ℓ_audio never enters. On this batch: transformers would report "
    f"**{hf:.4f}**, the symmetric loss is **{res.loss:.4f}** (ℓ_text {res.loss_text:.4f}, ℓ_audio {res.loss_audio:.4f})."
)

st.subheader("Export")
export_buttons(res, items, key="loss-export")
