"""Compare: two checkpoints on the same batch — both heatmaps, every loss term, per-pair ΔL, zero-shot
and retrieval for each, and where the softmaxes moved."""

import pandas as pd
import streamlit as st

from ui import compare, screen, sigmoid, state
from ui.screen import chart
from ui.text import md
from ui.views import VIEWS, view
from ui.widgets import stop_if_empty

state.require_app()
ss = st.session_state

st.title("Compare two checkpoints")
st.caption("A is the checkpoint in use (the sidebar); pick B. Both embed the same batch, each from the clips' source "
           "audio at its own rate, each at its own τ in use. The process keeps at most two checkpoints loaded.")
items = state.batch()
stop_if_empty(items)

a_name = state.checkpoint_name()
options = compare.choices()
if ss.get("compare-b") not in options:
    ss["compare-b"] = compare.default_b()
c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
c1.markdown(f"**A:** {md(a_name)}")
b_name = c2.selectbox("B", options, key="compare-b")
if b_name == compare.CUSTOM:
    with st.form("compare-custom", border=False):  # the typed value and the click arrive together
        typed = st.text_input("Hub id (owner/name) or local folder", key="compare-custom-name",
                              placeholder="laion/clap-htsat-unfused")
        st.form_submit_button("Use as B", key="compare-custom-use")
    b_name = (ss.get("compare-custom-name") or "").strip()
    if not b_name:
        st.stop()
problem = compare.check_name(b_name)
if problem:
    st.error(md(problem))
    st.stop()
line, allowed = compare.cost_line(b_name)
st.caption(md(line))
if not allowed:
    st.error(md(f"{b_name} is not loaded here: with {a_name} it would not fit in this server's memory. "
                "Compare it with a bundled checkpoint, or run the app locally."))
    st.stop()
if compare.needs_click(b_name):  # the click is taken by a callback, so it is never lost to a rerun
    st.button(f"Load {md(b_name)} as B", key="compare-load", on_click=compare.approve, args=(b_name,))
    st.info("Loading B takes time and memory (stated above when its size is known); it starts on the click.")
    st.stop()
with st.spinner(f"Loading {md(b_name)}…"):
    problem = compare.load(b_name)
if problem:
    st.error(md(problem))
    st.stop()
loaded = state.scenario()
if loaded and loaded[0].name == "hard-negatives" and {a_name, b_name} == {"bundled", "bundled-classes"}:
    st.info("This is what hard negatives bought: both checkpoints know the classes, but only `bundled` was "
            "trained with twins in its batches. The bars below show, pair by pair, how much more loss the "
            "class-only model pays for each twin it cannot tell apart.", icon=":material/school:")
else:
    st.caption("To see what hard negatives bought: load the *Hard negatives* scenario on the Batch page, use "
               "`bundled` as A and `bundled-classes` as B.")

with st.spinner("Embedding the batch with both checkpoints…"):
    cmp = compare.both(b_name)
names = (a_name, b_name)
if {a_name, b_name} == {"bundled", "bundled-sigmoid"}:
    st.info(compare.loss_alone(cmp, names), icon=":material/school:")

cols = st.columns(2)
for col, res, name in zip(cols, (cmp.a, cmp.b), ("A", "B")):
    with col:
        st.markdown(f"**{name}: {md(names[0 if name == 'A' else 1])}** · τ = {res.tau:.2f}")
        m = st.columns(4)
        m[0].metric("ℓ_text", f"{res.loss_text:.4f}")
        m[1].metric("ℓ_audio", f"{res.loss_audio:.4f}")
        m[2].metric("L", f"{res.loss:.4f}")
        m[3].metric("chance log N", f"{res.chance:.4f}")
        if sigmoid.loss_kind() == "sigmoid":  # the sigmoid chosen on the Loss page: each checkpoint at its own (t, b)
            st.caption(md(compare.sigmoid_line(res, names[0 if name == "A" else 1])))

st.subheader("Per pair: which got better, which worse")
st.caption(f"L_i = ½(ℓ_text,i + ℓ_audio,i), so L is their mean: L(B) − L(A) = {cmp.b.loss - cmp.a.loss:+.4f} = mean "
           f"of the bars. B is better on {int((cmp.delta < 0).sum())} of {len(items)} pairs.")
chart(compare.delta_bars(cmp, items.captions), "compare-delta")
with st.expander("The per-pair table"):
    st.dataframe(compare.pairs_frame(cmp, items.captions, items.names), width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("L_i (A)", "L_i (B)", "Δ (B − A)")})

st.subheader("Both matrices")
keys = [v.key for v in VIEWS]
v = view(st.radio("View", keys, horizontal=True, key="compare-view", format_func=lambda k: view(k).label))
numbers_only = screen.narrow() or st.toggle("Numbers instead of texts on the axes", key="compare-numbers", value=True,
                                            help="Pair i is row i and column i; hover a cell for its caption and clip.")
st.caption("One colour range for both" + (" (probabilities: 0…1)" if view(v.key).zrange else
                                         f" ({compare.side_view(v, cmp).zrange[0]:.2f} … "
                                         f"{compare.side_view(v, cmp).zrange[1]:.2f})")
           + ", so equal colours are equal numbers.")
fig_a, fig_b = compare.heatmaps(v, cmp, items.captions, items.names, names, numbers_only,
                                screen.square_px() or (560 if numbers_only else None))
# side by side on a laptop (B's column also holds the one colour scale: equal cells on both sides); one above the
# other on a phone, each square at the screen's width
c1, c2 = (st.container(), st.container()) if screen.narrow() else st.columns([1, 1.15])
chart(fig_a, "compare-heat-a", c1)
chart(fig_b, "compare-heat-b", c2)

st.subheader("Where the softmax moved: B − A")
what = st.radio("Difference of", ["P_text", "P_audio"], horizontal=True, key="compare-diff",
                format_func=lambda k: {"P_text": "P_text (rows: caption → clips)",
                                       "P_audio": "P_audio (columns: clip → captions)"}[k])
d = cmp.d_p_text if what == "P_text" else cmp.d_p_audio
st.caption("Red: B gives that cell more probability than A; blue: less. On the outlined diagonal, red means B is "
           "surer of the true pair.")
chart(compare.difference(d, what, items.captions, items.names, screen.square_px()), "compare-difference")

st.subheader("Zero-shot on the batch")
zs = compare.zero_shot_both(b_name)
if zs is None:
    st.caption("Give at least two pairs true labels (Batch page) to classify the clips among them.")
else:
    za, zb = zs
    m = st.columns(2)
    m[0].metric(f"top-1, A ({len(za.labels)} labels)", f"{za.accuracy:.1%}" if za.accuracy is not None else "—")
    m[1].metric(f"top-1, B ({len(zb.labels)} labels)", f"{zb.accuracy:.1%}" if zb.accuracy is not None else "—")
    st.caption(f"Labels: the batch's own true labels, template “{compare.TEMPLATE}”, each checkpoint at its τ.")
    differ = [i for i, (x, y) in enumerate(zip(za.top1, zb.top1)) if x != y]
    if differ:
        st.dataframe(pd.DataFrame({"clip": [items.names[i] for i in differ],
                                   "true label": [items.labels[i] for i in differ],
                                   "A says": [za.top1[i] for i in differ], "B says": [zb.top1[i] for i in differ]},
                                  index=pd.Index([i + 1 for i in differ], name="#")), width="stretch")
    else:
        st.caption("A and B agree on every clip's top-1 label.")

st.subheader("Retrieval on the batch")
r = cmp.retrieval()
st.dataframe(compare.retrieval_frame(r).rename(columns={"A": f"A: {a_name}", "B": f"B: {b_name}"}), width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in (f"A: {a_name}", f"B: {b_name}")})
st.caption("Each caption ranks the batch's clips by cosine (text → audio) and each clip the captions (audio → text); "
           "its true partner is the one relevant item. Ties go to the lower index, as on the Retrieval page.")

compare.export(cmp, names, items.captions, items.names)
