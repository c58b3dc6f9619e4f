"""The Evaluate page's sources and its run: a labelled set is opened (listed, not read), then evaluated one
chunk per rerun, so the progress bar moves and Stop keeps what was done (clap_core.evaluate does the work)."""

from __future__ import annotations

import json
import time

import pandas as pd
import streamlit as st

from clap_core.evaluate import (
    CHUNK,
    DEMO_WORLDS,
    HOSTED_LIMITS,
    LOCAL_LIMITS,
    DataError,
    EvalResult,
    Evaluation,
    LabelledSet,
    SetLimits,
    check_size,
    demo_world_set,
    examples_set,
    path_set,
    zip_set,
)

from . import state
from .settings import LIMITS, hosted
from .zeroshot import lines as _lines

EXAMPLES, DEMO, ZIP, LOCAL = "Shipped examples", "Demo world (generated)", "Zip upload", "Local folder or CSV"
HELD_OUT_SEED = 987_654  # the seed of the bundled checkpoint's held-out figures (train_report.json's eval_seed)
HELD_OUT_N = 240
PLAYERS = 8  # the most confident mistakes that keep a player
STEP_SECONDS = 1.0  # work per rerun before the page redraws (and a Stop click gets through)
ZIP_LAYOUTS = ("A zip of one folder per label (<label>/<clip>, at any depth), or of the clips with one CSV "
               "file,label[,caption][,pair] beside them (paths relative to the CSV), or a standard dataset in its own "
               "layout — ESC-50 (meta/esc50.csv, audio/), UrbanSound8K (metadata/UrbanSound8K.csv, audio/foldN/), "
               "Clotho (clotho_captions_<split>.csv, <split>/), AudioCaps (<split>.csv, the clips named by youtube_id), "
               "each scored by its standard protocol. Nothing is extracted to disk; names with '..', a leading '/' or a "
               "backslash refuse the zip.")


def limits() -> SetLimits:
    """The set-size limits here: hosted or on your own machine."""
    return HOSTED_LIMITS if hosted() else LOCAL_LIMITS


def limits_note() -> str:
    """The limits in one sentence."""
    lim = limits()
    where = "in this hosted app" if hosted() else f"here ({HOSTED_LIMITS.max_clips} in a hosted app)"
    return (f"At most {lim.max_clips} clips per set {where}; a zip holds at most {lim.max_members} entries and "
            f"{lim.max_unpacked_mb} MB unpacked; {LIMITS.max_file_mb} MB per file; the first {LIMITS.max_seconds:g} s "
            f"of each clip are read.")


def sources() -> list[str]:
    """The sources offered: no local paths in hosted mode."""
    return [EXAMPLES, DEMO, ZIP] + ([] if hosted() else [LOCAL])


def open_set(kind: str, *, seed: int = HELD_OUT_SEED, n: int = HELD_OUT_N, world: str = DEMO_WORLDS[0],
             upload=None, path: str = "") -> LabelledSet | None:
    """The chosen set, listed (remembered while its inputs stay the same); None when there is nothing to open
    yet; DataError with a one-line reason when it cannot be used."""
    ss = st.session_state
    key = (kind, seed, n, world, upload.file_id if upload is not None else None, path.strip())
    if ss.get("ev_set_key") == key:
        return ss.ev_set
    if kind == EXAMPLES:
        data = examples_set()
    elif kind == DEMO:
        data = check_size(demo_world_set(int(seed), int(n), world), limits())
    elif kind == ZIP:
        data = zip_set(upload.getvalue(), upload.name, limits()) if upload is not None else None
    elif kind == LOCAL and not hosted():
        data = path_set(path.strip(), limits()) if path.strip() else None
    else:
        raise DataError(f"{kind} is not offered here")
    ss.ev_set_key, ss.ev_set = key, data
    ss.ev_set_version = ss.get("ev_set_version", 0) + 1  # a fresh labels box with the new set's labels
    return data


# -- the run -------------------------------------------------------------------------------------
def running() -> bool:
    """Whether an evaluation is in progress (it goes on one chunk per rerun)."""
    return bool(st.session_state.get("ev_running"))


def run() -> Evaluation | None:
    """The current (or last) run."""
    return st.session_state.get("ev_run")


def result() -> EvalResult | None:
    """The figures of the last run that stopped or finished."""
    return st.session_state.get("ev_result")


def start(labels_key: str, templates_key: str) -> None:
    """The Evaluate button: evaluate the open set with the labels and templates of those text boxes, with the
    checkpoint, τ and long-clip policy in use; bad labels or templates start nothing and say why."""
    ss = st.session_state
    try:
        ss.ev_run = Evaluation(ss.ev_set, state.embedder(), _lines(ss[labels_key]), _lines(ss[templates_key]),
                               tau=state.tau(), policy=state.policy(), limits=LIMITS, players=PLAYERS, chunk=CHUNK)
    except ValueError as e:
        ss.ev_error = f"Cannot evaluate: {e}"
        return
    ss.ev_result, ss.ev_error, ss.ev_running = None, None, True


def stop() -> None:
    """Stop after the chunk in progress; the figures are those of the clips done."""
    st.session_state.ev_running = False


def resume() -> None:
    """Go on with a stopped run."""
    if run() is not None and not run().finished:
        st.session_state.ev_running, st.session_state.ev_result = True, None


def step() -> None:
    """Evaluate chunks for about STEP_SECONDS; at the end of the set (or on an error) the run stops."""
    ss = st.session_state
    ev, t0 = run(), time.perf_counter()
    try:
        while not ev.finished and time.perf_counter() - t0 < STEP_SECONDS:
            ev.advance()
    except DataError as e:  # a zip whose headers lied about its size: what was done is kept
        ss.ev_error, ss.ev_running = str(e), False
    except Exception as e:  # the model or a decoder failed: say so once, keep what was done, no rerun loop
        ss.ev_error, ss.ev_running = f"The evaluation stopped: {type(e).__name__}: {str(e).rstrip('.')}.", False
    if ev.finished:
        ss.ev_running = False


def settle() -> None:
    """After a run stops or finishes: its figures, once."""
    ss = st.session_state
    if running() or run() is None or result() is not None:
        return
    if not run().evaluated:  # finished with no readable clip: say which files were skipped and why
        if run().finished and not ss.get("ev_error"):
            try:
                run().result()
            except DataError as e:
                ss.ev_error = f"Nothing was evaluated: {e}"
        return
    ss.ev_result = run().result()


def progress_text(ev: Evaluation) -> str:
    """'48 of 240 clips · 17.5 clips/s · about 11 s left'."""
    text = f"{ev.read} of {ev.size} clips"
    if ev.seconds > 0 and ev.read:
        rate = ev.read / ev.seconds
        text += f" · {rate:.1f} clips/s · about {max(0, ev.size - ev.read) / rate:.0f} s left"
    return text


# -- the result as tables ------------------------------------------------------------------------
def per_class_frame(res: EvalResult) -> pd.DataFrame:
    """Per label: its clips, how many were classified right, accuracy (%), and how many clips were given it."""
    return pd.DataFrame([{"label": c.label, "clips": c.clips, "right": c.correct,
                          "accuracy %": None if c.accuracy is None else 100 * c.accuracy, "predicted": c.predicted}
                         for c in res.per_class()])


def retrieval_frame(res: EvalResult) -> pd.DataFrame:
    """R@1/5/10 and mAP in both directions (rows)."""
    names = {"text_to_audio": "text → audio", "audio_to_text": "audio → text"}
    metrics = ["R@1", "R@5", "R@10", "mAP"] + (["mAP@10"] if "text_to_audio_mAP@10" in res.retrieval else [])
    return pd.DataFrame([[res.retrieval.get(f"{d}_{m}") for m in metrics] for d in names],
                        index=pd.Index(list(names.values()), name="direction"), columns=metrics)


def folds_frame(res: EvalResult) -> pd.DataFrame:
    """ESC-50 / UrbanSound8K: one row per fold (clips, correct, accuracy in percent)."""
    return pd.DataFrame([{"fold": f["fold"], "clips": f["clips"], "correct": f["correct"],
                          "accuracy %": 100 * f["accuracy"]} for f in res.folds["folds"]])


def export_json(res: EvalResult) -> str:
    """Every figure of the result as JSON (what the CLI's evaluate --json prints)."""
    return json.dumps(res.to_dict(), indent=1)


def skipped_frame(res: EvalResult) -> pd.DataFrame:
    """The files not evaluated and why."""
    return pd.DataFrame({"file": [o.name for o in res.skipped], "reason": [o.reason for o in res.skipped]})


def attribute_frame(figures: dict) -> pd.DataFrame:
    """The attribute accuracy per attribute word pair: pairs, caption → clip, clip → caption."""
    words = {"loud": "quiet / loud", "speed": "slow / fast", "pitch": "low / high"}
    return pd.DataFrame([[v["pairs"], v["rows"], v["columns"]] for v in figures["by_attribute"].values()],
                        index=pd.Index([words.get(k, k) for k in figures["by_attribute"]], name="words"),
                        columns=["pairs", "caption → clip", "clip → caption"])
