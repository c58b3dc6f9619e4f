"""Zero-shot: classify each clip of the batch against a label list with prompt templates."""

import pandas as pd
import streamlit as st

from clap_core.label_sets import PRESETS
from clap_core.zeroshot import zero_shot
from ui import state
from ui.figures import confusion, top_k_bars
from ui.resources import get_embedder
from ui.widgets import stop_if_empty

state.require_app()

ss = st.session_state
st.title("Zero-shot classification")
items = state.batch()
stop_if_empty(items)
st.caption("Each label is put into the template(s) and embedded; a clip's probabilities are the softmax over labels "
           "of τ·cos(clip, label). Several templates are averaged (normalised embeddings).")

BATCH = "Labels of this batch"
choices = list(PRESETS) + [BATCH]
preset = st.selectbox("Label preset", choices, index=0 if ss.checkpoint == "bundled" else 1, key="zs-preset",
                      help="The bundled model knows only the demo world; LAION checkpoints are benchmarked on ESC-50's 50 classes.")
batch_labels = list(dict.fromkeys(it.label for it in items if it.label))
default = PRESETS.get(preset, tuple(batch_labels))
c1, c2 = st.columns([3, 2])
labels_text = c1.text_area("Labels, one per line", "\n".join(default), height=200, key=f"zs-labels-{preset}")
templates_text = c2.text_area("Templates, one per line, each with {}", "This is a sound of {}.", height=120,
                              key="zs-templates")
k = c2.slider("Top k", 1, 10, 3, key="zs-k")
labels = [x.strip() for x in labels_text.splitlines() if x.strip()]
templates = [x.strip() for x in templates_text.splitlines() if x.strip()]

_, E_a = state.embeddings(items)
true = [it.label for it in items]
try:
    zs = zero_shot(get_embedder(ss.checkpoint), E_a, labels, templates, tau=state.tau(),
                   true_labels=true if any(true) else None)
except ValueError as e:
    st.error(f"Cannot classify: {e}")
    st.stop()

known = [t for t in true if t in zs.labels]
if zs.accuracy is not None:
    a, b = st.columns([1, 2])
    a.metric("Top-1 accuracy", f"{100 * zs.accuracy:.1f} %", help="over clips whose true label is in the list")
    a.caption(f"{len(known)} of {len(items)} clips have a true label in the list.")
    b.plotly_chart(confusion(zs), width="stretch", key="zs-confusion")
else:
    st.caption("Give clips a true label on the Batch page to see accuracy and a confusion matrix.")

st.subheader(f"Top {min(k, len(zs.labels))} per clip")
per_row = 3
for start in range(0, len(items), per_row):
    cols = st.columns(per_row)
    for col, i in zip(cols, range(start, min(start + per_row, len(items)))):
        with col:
            it = items[i]
            mark = ""
            if it.label in zs.labels:
                mark = " :green[✓ right]" if zs.top1[i] == it.label else f" :red[✗ true: {it.label}]"
            st.markdown(f"**{i + 1}. {it.name}**{mark}")
            st.plotly_chart(top_k_bars(zs, i, k), width="stretch", key=f"zs-bars-{i}")

st.subheader("All probabilities")
table = pd.DataFrame(zs.probs, columns=list(zs.labels), index=[f"{i + 1}. {it.name}" for i, it in enumerate(items)])
table.insert(0, "top label", zs.top1)
st.dataframe(table, width="stretch",
             column_config={lab: st.column_config.NumberColumn(format="%.3f") for lab in zs.labels})
st.download_button("zero_shot.csv", table.to_csv().encode(), "zero_shot.csv", "text/csv", key="zs-csv")
