"""What the Batch page's controls do to the session's batch (widget callbacks and the upload/editor
steps). Each action changes the batch through clap_core's Batch and leaves one list of messages."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from clap_core.batch import FileOutcome
from clap_core.batchfile import MAX_MEMBERS, MAX_UNPACKED_MB, BatchFileError, read_batch_zip, write_batch_zip
from clap_core.examples import Example
from clap_core.scenarios import DEFAULT_SCENARIO, get

from . import state
from .settings import LIMITS
from .text import cut, md

BATCH_FILE_NOTE = (f"A batch file holds at most {MAX_MEMBERS} entries, {LIMITS.max_clips} clips of up to "
                   f"{LIMITS.max_file_mb} MB each and {MAX_UNPACKED_MB} MB unpacked. A zip without batch.csv is "
                   f"read as clips, captioned from their file names.")


def _say(*messages: tuple[str, str]) -> None:
    st.session_state.messages = list(messages)


def _report(outcomes: list[FileOutcome], lead: str = "Added", *more: tuple[str, str]) -> None:
    """One message per file the user chose: the ones not added (and why), then how many were added."""
    added = sum(o.added for o in outcomes)
    msgs = [("error", o.message) for o in outcomes if not o.added]
    if added:
        names = ", ".join(o.name for o in outcomes if o.added)
        msgs.append(("ok", f"{lead} {added} clip{'s' * (added != 1)}: {names}."))
    _say(*msgs, *more)


def add(files: list[tuple[str, bytes]], source: str) -> None:
    """Add (name, bytes) files; every file gets a message, the rest of the batch stays."""
    new, outcomes = state.batch().add_files(files, source)
    state.set_batch(new)
    _report(outcomes)


def take_uploads(uploaded: list) -> bool:
    """Add the uploader's files not seen before (each upload is processed once); True if there were any."""
    ss = st.session_state
    fresh = [f for f in uploaded or [] if f.file_id not in ss.seen_uploads]
    if not fresh:
        return False
    ss.seen_uploads.update(f.file_id for f in fresh)
    add([(f.name, f.getvalue()) for f in fresh], "upload")
    # the uploader keeps its list: a file it refused itself (over its limit) stays there with the reason beside it
    return True


def add_recording(recording) -> None:
    """Add the microphone recording and give the recorder a fresh key."""
    ss = st.session_state
    add([(f"recording-{ss.record_round + 1}.wav", recording.getvalue())], "recording")
    ss.record_round += 1


def add_examples(picked: list[Example]) -> None:
    """Add shipped examples, as many as fit."""
    new, outcomes = state.batch().add_examples(picked)
    state.set_batch(new)
    _report(outcomes)
    st.session_state["example-pick"] = []


def load_scenario(name: str = DEFAULT_SCENARIO) -> None:
    """Replace the batch with a shipped scenario (default: the one a session opens with); undoable."""
    st.session_state.pop("confirm", None)
    state.load_scenario(name)
    _say(("ok", f"Loaded the scenario “{get(name).title}”: {len(state.batch())} pairs."))


def ask_or(act: str, arg: str | None = None) -> None:
    """A destroying act (``act``: 'scenario' or 'clear') on the Batch page: done at once when the batch holds no
    work of the person's own (it can be undone anyway), else asked first (``confirm`` holds the question)."""
    if state.own_work():
        st.session_state.confirm = (act, arg)
    else:
        confirmed(act, arg)


def confirmed(act: str, arg: str | None = None) -> None:
    """Do the act ask_or asked about."""
    st.session_state.pop("confirm", None)
    if act == "scenario":
        load_scenario(arg or DEFAULT_SCENARIO)
    elif act == "clear":
        clear()


def cancel() -> None:
    """Keep the batch: forget the question."""
    st.session_state.pop("confirm", None)
    _say(("info", "Kept your batch."))


def undo() -> None:
    """Bring back the batch the last destroying act replaced."""
    entry = state.undo_entry()
    state.undo()
    if entry:
        _say(("ok", f"Brought back the batch from before “{entry['what']}”: {len(state.batch())} pairs."))


def take_table_edits() -> None:
    """Apply the Batch page's table edits of this run (the editor's edited rows, in session state) before
    anything is drawn, so that every line drawn before the table (the scenario line) already counts them. This is
    the one place table edits reach the batch."""
    ss = st.session_state
    delta = ss.get(f"editor-{ss.get('editor_version', 0)}")
    if not isinstance(delta, dict) or not delta.get("edited_rows"):
        return
    items = state.batch()
    captions, labels = list(items.captions), list(items.labels)
    for row, change in delta["edited_rows"].items():
        r = int(row)
        if 0 <= r < len(items):
            captions[r] = change.get("caption", captions[r])
            labels[r] = change.get("true label", labels[r])
    apply_edits(captions, labels)


def apply_edits(captions: list, labels: list) -> None:
    """Take the table's captions and labels (None → ''); the table keeps its key, so typing is not lost. Each cell
    taken is recorded for :func:`edits_line`, so that a person sees every edit the app received."""
    items = state.batch()
    captions = [str(c) if c is not None else "" for c in captions]
    labels = [str(x) if x is not None else "" for x in labels]
    if captions != items.captions or labels != items.labels:
        taken = st.session_state.setdefault("table_edits", {})
        for column, before, after in (("caption", items.captions, captions), ("true label", items.labels, labels)):
            for i, (old, new) in enumerate(zip(before, after)):
                if old != new:
                    taken.pop((i, column), None)  # a cell edited again moves to the end
                    taken[(i, column)] = new
        state.set_batch(items.with_edits(captions, labels), from_editor=True)
        _say()  # the last action's message ("Added 3 clips…") is about a batch that has changed since


EDITS_SHOWN = 6  # cells named in the line under the table; the rest are counted


def edits_line() -> str | None:
    """One line under the table naming the cells the app has taken from it since the table got its key (newest last),
    with their text as received, so that an edit the grid never sent cannot vanish silently. The grid can drop one:
    keys typed before its cell editor has opened, and, in a burst of edits typed while the page is still rerunning
    for the previous one, a whole cell's commit (measured in Chromium: 1–3 of 8 edits made back to back within
    ~0.3 s of each other, as in a minimal app with nothing but a data editor; none of 5 typed at 100 ms per key).
    None before the first edit. Markdown-escaped."""
    taken = st.session_state.get("table_edits") or {}
    if not taken:
        return None
    cells = [f"{column} {row + 1} “{md(cut(text, 60))}”" for (row, column), text in taken.items()]
    more = len(cells) - EDITS_SHOWN
    shown = cells[-EDITS_SHOWN:]
    return ("Taken from the table and kept (a reload keeps them): " + " · ".join(shown)
            + (f" · and {more} earlier" if more > 0 else "") + ".")


def pair_names() -> list[str]:
    """The Batch page's pair picker options: "i. file name", numbered so that duplicates stay apart."""
    return [f"{i + 1}. {name}" for i, name in enumerate(state.batch().names)]


def _picked() -> int:
    return pair_names().index(st.session_state["pair-pick"])


def move_picked(step: int) -> None:
    """Move the picked pair up (-1) or down (+1); the pick follows it."""
    i = _picked()
    state.set_batch(state.batch().move(i, step))
    _say()
    st.session_state["pair-pick"] = pair_names()[min(max(i + step, 0), len(state.batch()) - 1)]


def remove_picked() -> None:
    """Remove the picked pair (undoable)."""
    gone = state.batch()[_picked()]
    state.replace_batch(state.batch().remove({gone.uid}), f"Removed {gone.name}")
    st.session_state.pop("pair-pick", None)
    _say(("ok", f"Removed {gone.name}."))


def shuffle() -> None:
    """Give every clip another clip's caption (the captions from before the first shuffle are kept)."""
    state.replace_batch(state.batch().shuffle_captions(), "Shuffled the captions")
    _say()


def restore() -> None:
    """Put back the captions from before the first shuffle."""
    state.set_batch(state.batch().restore_captions())
    _say()


def clear() -> None:
    """Empty the batch (undoable)."""
    st.session_state.pop("confirm", None)
    state.replace_batch(state.batch().clear(), "Cleared the batch")
    state.forget_scenario()
    _say()


HELD_ZIP_MB = 64  # a batch whose clips take more gets its zip made on the click, not held while the tab is open


def batch_zip() -> bytes | Callable[[], bytes]:
    """What Download batch serves: the batch as a zip (clips, batch.csv, settings.json).

    Made while the Batch file tab is open, once per batch and settings, and handed to the button as bytes: the zip is
    deterministic, so every rerun serves it under the same URL and a click that lands while the page reruns (or while
    other sessions run) still finds its file. A zip made only on the click (a callable) is a placeholder that
    Streamlit drops whenever this session's run has started and any session's run ends before the button is drawn
    again: that click failed ("Deferred file … not found"). Memory: one copy of the zip (Streamlit's store keeps the
    same bytes object) while the tab is open — the clips as uploaded plus a few KB, 2.1 MB for the 12-pair default
    batch; :func:`drop_batch_zip` lets it go when the tab closes. A batch whose clips take more than HELD_ZIP_MB gets
    the callable instead: its zip exists only while it is being downloaded; an empty batch holds none."""
    items, settings = state.batch(), state.batch_settings()
    if not len(items):
        drop_batch_zip()
        return b""  # nothing to download (the button is disabled)
    if items.nbytes > HELD_ZIP_MB * 1_000_000:
        drop_batch_zip()
        return lambda: write_batch_zip(items, settings)
    held = st.session_state.get(_ZIP_KEY)
    if held is not None and held[0] is items and held[1] == settings:
        return held[2]
    data = write_batch_zip(items, settings)
    st.session_state[_ZIP_KEY] = (items, settings, data)
    return data


def drop_batch_zip() -> None:
    """Forget the zip :func:`batch_zip` made (the Batch file tab is closed)."""
    st.session_state.pop(_ZIP_KEY, None)


_ZIP_KEY = "batch-zip"


def _apply_settings(settings: dict) -> list[tuple[str, str]]:
    """Take a batch file's long-clip policy and τ (those it holds); lines on what changed and on the checkpoint
    it was made with.

    τ goes to the checkpoint the file was made with (the current one when the file names none or the same):
    a τ chosen for one model says nothing about another. The checkpoint is never switched automatically."""
    current = state.checkpoint_name()
    made_with = settings.get("checkpoint") or current
    taken = []
    if "policy" in settings:
        state.set_policy(settings["policy"])
        taken.append(f"long-clip policy {settings['policy']}")
    if "tau" in settings:
        if settings["tau"] is None:
            state.reset_tau(made_with)
            taken.append("the checkpoint's own τ")
        else:
            state.set_tau(settings["tau"], made_with)
            taken.append(f"τ = {settings['tau']:.4g}")
    notes = [("info", f"Settings from the file: {', '.join(taken)}.")] if taken else []
    if "tau_refused" in settings:
        notes.append(("warning", settings["tau_refused"][0].upper() + settings["tau_refused"][1:] + "."))
    if made_with != current:
        notes.append(("info", f"The file was made with the checkpoint {made_with}; this session still uses {current} "
                              f"(its τ is unchanged). Pick {made_with} in the sidebar for the file's numbers."))
    return notes


def open_batch(key: str) -> None:
    """Open the batch file in the uploader ``key``: it replaces the batch, or, when it cannot be used, the
    batch stays and the message says why. The uploader starts empty again."""
    ss = st.session_state
    upload = ss.get(key)
    ss.open_round = ss.get("open_round", 0) + 1
    if upload is None:
        return
    try:
        new, outcomes, settings = read_batch_zip(upload.getvalue(), state.batch().limits)
    except BatchFileError as e:
        _say(("error", f"Could not open {upload.name}: {e}. The batch is unchanged."))
        return
    if not len(new):  # a file none of whose clips can be used replaces nothing (nor the saved ?b= record)
        reasons = [("error", o.message) for o in outcomes if not o.added]
        why = (f"none of its {len(outcomes)} clip{'s' * (len(outcomes) != 1)} could be used (below)" if outcomes
               else "it holds no clips")
        _say(("error", f"Could not open {upload.name}: {why}. The batch is unchanged."), *reasons)
        return
    notes = _apply_settings(settings)  # first: the batch is saved for a reload with them
    state.replace_batch(new, f"Opened {upload.name}")
    state.forget_scenario()
    _report(outcomes, f"Opened {upload.name} with", *notes)
