"""Batch: build the live batch of (clip, caption) pairs — upload, record, add examples, edit, reorder."""

import pandas as pd
import streamlit as st

from ui import actions, state
from ui.examples import examples
from ui.honest import demo_notice
from ui.scenarios import DEFAULT_SCENARIO, SCENARIOS, get
from ui.settings import LIMITS, MAX_UNPACKED_MB
from ui.store import status_line
from ui.text import md
from ui.widgets import clip_facts

state.require_app()

ss = st.session_state
ck = state.checkpoint()
ss.setdefault("upload_round", 0)
ss.setdefault("record_round", 0)
ss.setdefault("open_round", 0)

st.title("Batch")
st.caption(
    f"Each row is one pair: a clip and its caption. Row i's caption and clip are the *positive* pair the loss pulls "
    f"together; every other combination is a negative. Limits: {LIMITS.max_clips} clips, {LIMITS.max_file_mb} MB per "
    f"file, the first {LIMITS.max_seconds:g} s of each clip are read. Formats: WAV, FLAC, OGG (Vorbis/Opus), MP3, "
    f"M4A/AAC, WebM."
)

scenario_names = [sc.name for sc in SCENARIOS]
loaded = state.scenario()  # the table's edits of this run are in already (app.py takes them first)
if "scenario-pick" not in ss:
    ss["scenario-pick"] = loaded[0].name if loaded else DEFAULT_SCENARIO
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
scenario_pick = c1.selectbox("Scenario: a shipped batch that shows one thing", scenario_names, key="scenario-pick",
                             format_func=lambda n: get(n).title)
c2.button("Load this scenario", key="load-scenario", on_click=lambda: actions.ask_or("scenario", ss["scenario-pick"]),
          help="Replaces the batch; Undo brings yours back, and it asks first when the batch holds your own work.")


def confirm_box(act: str, question: str, yes: str) -> None:
    """The question ask_or left for ``act``, with its two answers."""
    if (ss.get("confirm") or (None,))[0] != act:
        return
    items = state.batch()
    own = sum(p.source in ("upload", "recording") for p in items)
    st.warning(f"{question} Your batch has {len(items)} pair{'s' * (len(items) != 1)}"
               + (f", {own} of them your own uploads or recordings" if own else ", with your own edits")
               + ". Undo brings it back afterwards, and Download batch keeps a copy.", icon=":material/warning:")
    a, b = st.columns(2)
    a.button(yes, key=f"confirm-{act}", type="primary", on_click=actions.confirmed, args=ss.confirm)
    b.button("Keep my batch", key=f"cancel-{act}", on_click=actions.cancel)


confirm_box("scenario", f"Load the scenario “{get((ss.get('confirm') or (None, DEFAULT_SCENARIO))[1] or DEFAULT_SCENARIO).title}” "
            "in place of your batch?", "Replace my batch")
if loaded and loaded[0].name == scenario_pick:
    st.info(md(loaded[0].look_at) + (" *You have changed this batch since it was loaded.*" if loaded[1] else ""),
            icon=":material/school:")
else:
    st.caption(md(get(scenario_pick).look_at))

up, rec, ex, bf = st.tabs(["Upload clips", "Record", "Examples", "Batch file"], key="batch-tabs", on_change="rerun")
with up:
    uploaded = st.file_uploader(f"Audio files, up to {LIMITS.max_file_mb} MB each — the format is read from the content, not the name",
                                accept_multiple_files=True, key=f"uploader-{ss.upload_round}",
                                max_upload_size=LIMITS.max_file_mb)
    if actions.take_uploads(uploaded):
        st.rerun()  # the scenario line at the top counts the new clips
with rec:
    recording = st.audio_input("Record a clip with your microphone", sample_rate=48_000,
                               key=f"recorder-{ss.record_round}")
    if recording is not None:
        st.button("Add the recording to the batch", key="add-recording", on_click=actions.add_recording, args=(recording,))
with ex:
    shipped = examples()
    chosen = st.multiselect("Example clips", [e.name for e in shipped], key="example-pick",
                            format_func=lambda n: f"{n} — {next(e.caption for e in shipped if e.name == n)}")
    c1, c2 = st.columns(2)
    c1.button("Add the chosen examples", disabled=not chosen, key="add-examples", on_click=actions.add_examples,
              args=([e for e in shipped if e.name in chosen],))
    c2.button("Back to the default scenario", key="reset-examples", on_click=actions.ask_or,
              args=("scenario", DEFAULT_SCENARIO))
    st.caption("Real recordings: freesound.org (xserra and contributors), via sms-tools, CC BY 4.0, unchanged.")
with bf:
    if bf.open:  # the zip is made only while this tab is open (ui.actions.batch_zip says why and what it costs)
        st.download_button("Download batch", data=actions.batch_zip(), file_name="clap-batch.zip",
                           mime="application/zip", key="download-batch", on_click="ignore",
                           disabled=not len(state.batch()),
                           help="A zip: the clips as uploaded, batch.csv (file, name, caption, label, source) and "
                                "settings.json (checkpoint, long-clip policy, τ).")
    else:
        actions.drop_batch_zip()
    open_key = f"open-batch-{ss.open_round}"
    st.file_uploader("Open batch (.zip) — it replaces the batch (Undo brings it back); a file that cannot be used "
                     "leaves the batch as it is", type=["zip"], key=open_key, on_change=actions.open_batch,
                     args=(open_key,), max_upload_size=MAX_UNPACKED_MB)
    st.caption(actions.BATCH_FILE_NOTE)
    st.caption(md(status_line()))

for kind, message in ss.messages:
    {"ok": st.success, "info": st.info, "warning": st.warning}.get(kind, st.error)(md(message))
undo = state.undo_entry()
if undo is not None:
    n_before = len(undo["batch"])
    st.button(f"↶ Undo: {md(undo['what'])} — bring back the batch before it ({n_before} pair{'s' * (n_before != 1)})",
              key="undo", on_click=actions.undo, help="Its link (?b=…) works again too.")

items = state.batch()
if not len(items):
    st.info("The batch is empty: upload clips, record one, or add examples above.")
    st.stop()

st.subheader(f"{len(items)} pair{'s' * (len(items) != 1)}")
table = pd.DataFrame({
    "clip": items.names,
    "caption": items.captions,
    "true label": items.labels,
    "seconds": [round(p.info.seconds, 2) for p in items],
    "source rate": [p.info.source_rate for p in items],
    "channels": [p.info.channels for p in items],
}, index=pd.RangeIndex(1, len(items) + 1, name="#"))
st.data_editor(
    table, key=f"editor-{ss.get('editor_version', 0)}", width="stretch", num_rows="fixed",
    disabled=["clip", "seconds", "source rate", "channels"],
    column_config={"caption": st.column_config.TextColumn("caption (edit me)", width="large"),
                   "true label": st.column_config.TextColumn(help="optional; used for zero-shot accuracy")},
)
items = state.batch()  # the table's edits are in already: app.py takes them before anything is drawn
if (taken := actions.edits_line()) is not None:
    st.caption(taken)
demo_notice()
for note in state.caption_notes(items):
    st.warning(note, icon=":material/short_text:")

names = actions.pair_names()  # "1. file.wav", …: the options change with the batch, so the box never shows a stale name
if ss.get("pair-pick") not in names:
    ss["pair-pick"] = names[0]
c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
pick = names.index(c1.selectbox("Pair", names, key="pair-pick"))
c2.button("↑ Move up", disabled=pick == 0, key="move-up", on_click=actions.move_picked, args=(-1,))
c3.button("↓ Move down", disabled=pick == len(items) - 1, key="move-down", on_click=actions.move_picked, args=(1,))
c4.button("Remove", key="remove-one", on_click=actions.remove_picked)
c1, c2, c3 = st.columns(3)
c1.button("Shuffle the captions", disabled=len(items) < 2, key="shuffle", on_click=actions.shuffle,
          help="Every clip gets another clip's caption: the diagonal now pairs wrong captions.")
c2.button("Restore the captions", disabled=not items.shuffled, key="unshuffle", on_click=actions.restore)
c3.button("Clear the batch", key="clear", on_click=actions.ask_or, args=("clear",))
confirm_box("clear", "Clear the batch?", "Clear my batch")

with st.expander("Players and what preprocessing did", expanded=len(items) <= 12):
    for i, pair in enumerate(items):
        a, b = st.columns([2, 3])
        a.markdown(f"**{i + 1}. {md(pair.name)}** · _{md(pair.caption)}_")
        if pair.data is not None:
            a.audio(pair.data, format=pair.mime)
        b.caption(clip_facts(pair, ck.sampling_rate, ck.window_seconds))
        for w in pair.clip.warnings_for(ck.window_seconds):
            b.warning(w, icon="⚠️")
