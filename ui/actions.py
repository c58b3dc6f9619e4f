"""What the Batch page's controls do to the session's batch (used as widget callbacks)."""

from __future__ import annotations

import streamlit as st

from clap_core.examples import Example

from . import state
from .batch import add_files, default_batch, example_items, move, remove, shuffle_captions, with_edits
from .settings import MAX_CLIPS


def _say(kind: str, text: str) -> list[tuple[str, str]]:
    return [(kind, text)]


def add(files: list[tuple[str, bytes]], source: str) -> None:
    """Add (name, bytes) files; unreadable ones become error messages, the rest of the batch stays."""
    ck, before = state.checkpoint(), state.batch()
    items, errors = add_files(before, files, ck.sampling_rate, source=source, max_clips=MAX_CLIPS,
                              start_counter=state.next_counter(len(files)), window_seconds=ck.window_seconds)
    state.set_batch(items)
    added = len(items) - len(before)
    st.session_state.messages = [("error", e) for e in errors] + (
        _say("ok", f"Added {added} clip{'s' * (added != 1)}.") if added else [])


def add_recording(recording) -> None:
    """Add the microphone recording and give the recorder a fresh key."""
    ss = st.session_state
    add([(f"recording-{ss.record_round + 1}.wav", recording.getvalue())], "recording")
    ss.record_round += 1


def add_examples(picked: list[Example]) -> None:
    """Add shipped examples, as many as fit."""
    ck, room = state.checkpoint(), MAX_CLIPS - len(state.batch())
    state.set_batch(state.batch() + example_items(picked[:room], ck.sampling_rate, state.next_counter(len(picked)),
                                                  ck.window_seconds))
    st.session_state.messages = _say("ok", f"Added {min(room, len(picked))} example clips.")
    st.session_state["example-pick"] = []


def reset_examples() -> None:
    """Back to the example batch a session opens with."""
    ck = state.checkpoint()
    state.set_batch(default_batch(ck.sampling_rate, ck.window_seconds))
    st.session_state.messages, st.session_state.unshuffled = _say("ok", "The example batch is back."), None


def move_picked(step: int) -> None:
    """Move the picked pair up (-1) or down (+1); the pick follows it."""
    ss = st.session_state
    state.set_batch(move(state.batch(), ss["pair-pick"], step))
    ss["pair-pick"] = min(max(ss["pair-pick"] + step, 0), len(state.batch()) - 1)


def remove_picked() -> None:
    """Remove the picked pair."""
    ss = st.session_state
    gone = state.batch()[ss["pair-pick"]]
    state.set_batch(remove(state.batch(), {gone.uid}))
    ss.messages, ss["pair-pick"] = _say("ok", f"Removed {gone.name}."), 0


def shuffle() -> None:
    """Give every clip another clip's caption (remembering the captions before the first shuffle)."""
    ss = st.session_state
    if ss.unshuffled is None:
        ss.unshuffled = {it.uid: it.caption for it in state.batch()}
    ss.shuffle_seed += 1
    state.set_batch(shuffle_captions(state.batch(), ss.shuffle_seed))


def restore() -> None:
    """Put back the captions from before the first shuffle."""
    ss = st.session_state
    keep, now = ss.unshuffled or {}, state.batch()
    state.set_batch(with_edits(now, [keep.get(it.uid, it.caption) for it in now], [it.label for it in now]))
    ss.unshuffled = None


def clear() -> None:
    """Empty the batch."""
    state.set_batch([])
    st.session_state.messages, st.session_state.unshuffled = [], None
