"""Zero-shot: classify each clip of the batch against a label list with prompt templates."""

import pandas as pd
import streamlit as st

from ui import state, zeroshot
from ui.figures import confusion, top_k_bars
from ui.honest import demo_notice
from ui.screen import chart
from ui.text import md
from ui.widgets import stop_if_empty

state.require_app()

st.title("Zero-shot classification")
items = state.batch()
stop_if_empty(items)
demo_notice()
st.caption("Each label is put into the template(s) and embedded; a clip's probabilities are the softmax over labels "
           "of τ·cos(clip, label). Several templates are averaged (normalised embeddings).")

preset = st.selectbox("Label preset", zeroshot.preset_names(), index=zeroshot.default_preset_index(), key="zs-preset",
                      help="The bundled model knows only the demo world; LAION checkpoints are benchmarked on ESC-50's 50 classes.")
c1, c2 = st.columns([3, 2])
preset_lines = zeroshot.preset_labels(preset)
labels_text = c1.text_area("Labels, one per line", "\n".join(preset_lines), key=f"zs-labels-{preset}",
                           height=zeroshot.box_height(len(preset_lines)))
c1.caption(f"{len(zeroshot.lines(labels_text))} labels" + (" — the box scrolls" if len(preset_lines) > 12 else ""))
templates_text = c2.text_area("Templates, one per line, each with {}", zeroshot.DEFAULT_TEMPLATE, height=120,
                              key="zs-templates")
k = c2.slider("Top k", 1, 10, 3, key="zs-k")

try:
    zs = zeroshot.classify(zeroshot.lines(labels_text), zeroshot.lines(templates_text))
except ValueError as e:
    st.error(f"Cannot classify: {md(str(e))}")
    st.stop()

true = items.labels
known = [t for t in true if t in zs.labels]
if zs.accuracy is not None:
    a, b = st.columns([1, 2])
    a.metric("Top-1 accuracy", f"{100 * zs.accuracy:.1f} %", help="over clips whose true label is in the list")
    a.caption(f"{len(known)} of {len(items)} clips have a true label in the list.")
    chart(confusion(zs), "zs-confusion", b)
elif any(true):
    own = list(dict.fromkeys(t for t in true if t))
    st.info(f"None of the clips' true labels ({md(', '.join(own[:6]))}{', …' if len(own) > 6 else ''}) is among these "
            f"labels: pick the preset “{zeroshot.BATCH_PRESET}” (or add them to the box) to see accuracy and a "
            "confusion matrix.")
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
                mark = " :green[✓ right]" if zs.top1[i] == it.label else f" :red[✗ true: {md(it.label)}]"
            st.markdown(f"**{i + 1}. {md(it.name)}**{mark}")
            chart(top_k_bars(zs, i, k), f"zs-bars-{i}")

st.subheader("All probabilities")
table = pd.DataFrame(zs.probs, columns=list(zs.labels), index=[f"{i + 1}. {it.name}" for i, it in enumerate(items)])
table.insert(0, "top label", zs.top1)
st.caption(f"{len(zs.labels)} label columns" + (" — scroll sideways for all of them" if len(zs.labels) > 8 else ""))
st.dataframe(table, width="stretch",
             column_config={lab: st.column_config.NumberColumn(format="%.3f") for lab in zs.labels})
st.download_button("zero_shot.csv", table.to_csv().encode(), "zero_shot.csv", "text/csv", key="zs-csv")
