"""Batch: build the live batch of (clip, caption) pairs — upload, record, add examples, edit, reorder."""

import pandas as pd
import streamlit as st

from clap_core.examples import load_examples
from ui import actions, state
from ui.batch import with_edits
from ui.settings import MAX_CLIPS, MAX_SECONDS, max_file_mb
from ui.widgets import clip_facts

state.require_app()

ss = st.session_state
ck = state.checkpoint()
ss.setdefault("upload_round", 0)
ss.setdefault("record_round", 0)

st.title("Batch")
st.caption(
    f"Each row is one pair: a clip and its caption. Row i's caption and clip are the *positive* pair the loss pulls "
    f"together; every other combination is a negative. Limits: {MAX_CLIPS} clips, {max_file_mb()} MB per file, "
    f"the first {MAX_SECONDS:g} s of each clip are read. Formats: WAV, FLAC, OGG (Vorbis/Opus), MP3, M4A/AAC, WebM."
)


up, rec, ex = st.tabs(["Upload clips", "Record", "Examples"])
with up:
    uploaded = st.file_uploader("Audio files — the format is read from the content, not the name",
                                accept_multiple_files=True, key=f"uploader-{ss.upload_round}")
    fresh = [f for f in uploaded or [] if f.file_id not in ss.seen_uploads]
    if fresh:
        ss.seen_uploads.update(f.file_id for f in fresh)
        actions.add([(f.name, f.getvalue()) for f in fresh], "upload")
        ss.upload_round += 1  # a fresh, empty uploader
        st.rerun()
with rec:
    recording = st.audio_input("Record a clip with your microphone", sample_rate=48_000,
                               key=f"recorder-{ss.record_round}")
    if recording is not None:
        st.button("Add the recording to the batch", key="add-recording", on_click=actions.add_recording, args=(recording,))
with ex:
    examples = load_examples()
    chosen = st.multiselect("Example clips", [e.name for e in examples], key="example-pick",
                            format_func=lambda n: f"{n} — {next(e.caption for e in examples if e.name == n)}")
    c1, c2 = st.columns(2)
    c1.button("Add the chosen examples", disabled=not chosen, key="add-examples", on_click=actions.add_examples,
              args=([e for e in examples if e.name in chosen],))
    c2.button("Reset to the example batch", key="reset-examples", on_click=actions.reset_examples)
    st.caption("Real recordings: freesound.org (xserra and contributors), via sms-tools, CC BY 4.0, unchanged.")

for kind, text in ss.messages:
    (st.success if kind == "ok" else st.error)(text)

items = state.batch()
if not items:
    st.info("The batch is empty: upload clips, record one, or add examples above.")
    st.stop()

st.subheader(f"{len(items)} pairs")
table = pd.DataFrame({
    "clip": [it.name for it in items],
    "caption": [it.caption for it in items],
    "true label": [it.label for it in items],
    "seconds": [round(it.info.seconds, 2) for it in items],
    "source rate": [it.info.source_rate for it in items],
    "channels": [it.info.channels for it in items],
}, index=pd.RangeIndex(1, len(items) + 1, name="#"))
edited = st.data_editor(
    table, key=f"editor-{ss.get('editor_version', 0)}", width="stretch", num_rows="fixed",
    disabled=["clip", "seconds", "source rate", "channels"],
    column_config={"caption": st.column_config.TextColumn("caption (edit me)", width="large"),
                   "true label": st.column_config.TextColumn(help="optional; used for zero-shot accuracy")},
)
captions = [str(c) if c is not None else "" for c in edited["caption"]]
labels = [str(x) if x is not None else "" for x in edited["true label"]]
if captions != [it.caption for it in items] or labels != [it.label for it in items]:
    if any(not c.strip() for c in captions):
        st.warning("A caption is empty; it is embedded as an empty string.")
    state.set_batch(with_edits(items, captions, labels), from_editor=True)
    items = state.batch()


names = [f"{i + 1}. {it.name}" for i, it in enumerate(items)]
if ss.get("pair-pick", 0) >= len(items):
    ss["pair-pick"] = 0
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
pick = c1.selectbox("Pair", range(len(items)), format_func=lambda i: names[i], key="pair-pick")
c2.button("↑ Move up", disabled=pick == 0, key="move-up", on_click=actions.move_picked, args=(-1,))
c3.button("↓ Move down", disabled=pick == len(items) - 1, key="move-down", on_click=actions.move_picked, args=(1,))
c4.button("Remove", key="remove-one", on_click=actions.remove_picked)
c1, c2, c3 = st.columns(3)
c1.button("Shuffle the captions", disabled=len(items) < 2, key="shuffle", on_click=actions.shuffle,
          help="Every clip gets another clip's caption: the diagonal now pairs wrong captions.")
c2.button("Restore the captions", disabled=ss.unshuffled is None, key="unshuffle", on_click=actions.restore)
c3.button("Clear the batch", key="clear", on_click=actions.clear)

with st.expander("Players and what preprocessing did", expanded=len(items) <= 12):
    for i, it in enumerate(items):
        a, b = st.columns([2, 3])
        a.markdown(f"**{i + 1}. {it.name}** · _{it.caption}_")
        a.audio(it.data, format=it.mime)
        b.caption(clip_facts(it, ck.window_seconds))
        for w in it.info.warnings:
            b.warning(w, icon="⚠️")
