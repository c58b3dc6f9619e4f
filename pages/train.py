"""Train on this batch: fine-tune a copy of the checkpoint's projection heads (and τ) with the symmetric loss, live."""

import streamlit as st

from ui import screen, sigmoid, state, train
from ui.figures import heatmap
from ui.screen import chart
from ui.text import md
from ui.views import view
from ui.widgets import stop_if_empty

state.require_app()

st.title("Train on this batch")
items = state.batch()
stop_if_empty(items)
st.caption(
    "Fine-tune a copy of the checkpoint's two projection heads (the small networks that map each tower's output into "
    "the shared embedding space), and τ if you choose, on this batch with the symmetric loss L, using Adam. The "
    "towers do not run: their outputs for the batch are cached, so a step costs only the heads. The shared model is "
    "never changed and other sessions see nothing of this. Hold some pairs out to see overfitting: the training L "
    "falls, theirs need not. With the sigmoid loss (chosen here or on the Loss page) the bias b is trained too, and t "
    "with “heads + τ”."
)
sigmoid.loss_picker("train-loss-pick")


@st.fragment
def live() -> None:
    """Settings, buttons, progress and figures; a Start click trains in short chunks, each one a rerun of this
    fragment only (not of the page), so the figures are redrawn a few times a second and Stop gets through."""
    ss, n = st.session_state, len(items)
    train.keep_widget_values(n)
    run = train.current()
    if run is not None and run.pending:
        train.advance(run)  # first: the buttons below show the state after this chunk
    locked = run is not None
    c = st.columns([1.2, 1.4, 1.4, 1, 1])
    c[0].number_input(f"Steps per Start (at most {train.MAX_STEPS_PER_CLICK})", 1, train.MAX_STEPS_PER_CLICK,
                      key="train-steps")
    c[1].select_slider("Learning rate (Adam)", train.LEARNING_RATES, key="train-lr", disabled=locked,
                       format_func=lambda x: f"{x:g}")
    c[2].radio("Train", list(train.TRAIN_LABELS), format_func=train.TRAIN_LABELS.get, key="train-what",
               disabled=locked, horizontal=True, help="heads + τ also trains log τ, kept within [0, ln 100] as LAION does")
    c[3].number_input("Held-out pairs", 0, max(0, n - 2), key="train-holdout", disabled=locked,
                      help="Pairs kept out of training; their loss is measured against the whole batch at each step.")
    c[4].number_input("Seed", 0, 2**31 - 1, key="train-seed", disabled=locked,
                      help="Picks the held-out pairs; nothing else is random, so the same seed gives the same numbers.")
    b = st.columns([1, 1, 1, 1.6, 1.4, 3])
    b[0].button("Start", on_click=train.start, type="primary", key="train-start",
                disabled=run is not None and run.tuner.steps >= train.MAX_STEPS)
    b[1].button("Stop", on_click=train.stop, key="train-stop", disabled=run is None or not run.pending)
    b[2].button("Reset", on_click=train.reset, key="train-reset", disabled=run is None and not state.own_checkpoints())
    b[3].button("Use these weights", on_click=train.use, key="train-use", disabled=run is None or not run.tuner.steps)
    if ss.pop("train_whole_app", False):  # Reset or Use changed the checkpoint in use: the sidebar must say so
        st.rerun()
    too_big = train.download_too_big()
    if run is not None and run.tuner.steps and too_big:
        b[4].button("Download", key="train-download", disabled=True, help=too_big)
    elif run is not None and run.tuner.steps:
        file_name, zipped = train.download(run)
        b[4].download_button("Download", zipped, file_name=file_name, mime="application/zip", key="train-download",
                             on_click="ignore", help="The fine-tuned checkpoint as a save_pretrained folder, zipped: "
                             "unzip it and load the folder with “Custom hub id or local folder”.")
    if locked:
        st.caption(f"A run has fixed settings (Reset to change them); at most {train.MAX_STEPS} steps in all.")
    if ss.get("train_note"):
        st.info(md(ss.train_note))
    if run is None:
        now = state.result()
        st.metric("L now, before training (step 0)", f"{now.loss:.4f}", help=f"over all {now.n} pairs; chance log N = "
                  f"{now.chance:.4f}. Start trains the heads to lower it on the training pairs.")
        st.caption(train.memory_note(None))
        return

    t = run.tuner
    st.progress(1.0 - run.pending / max(1, run.clicked), text=f"step {t.steps} of this run"
                + (f", {run.pending} left of this Start" if run.pending else ""))
    m = st.columns(4)
    m[0].metric(f"L, {len(t.train_idx)} training pairs", f"{t.loss_now:.4f}",
                delta=f"{t.loss_now - t.loss0:+.4f} since step 0", delta_color="inverse")
    if len(t.held_idx):
        m[1].metric(f"Held-out pairs ({', '.join(str(i + 1) for i in t.held_idx)})", f"{t.heldout_now:.4f}",
                    delta=f"{t.heldout_now - t.heldout0:+.4f} since step 0", delta_color="inverse")
    m[2].metric("τ", f"{t.tau:.2f}")
    m[3].metric("Time per step", f"{run.ms_per_step:.1f} ms" if run.ms_per_step else "–",
                help="Wall time of an optimiser step on the heads (the towers' outputs are cached).")
    chart(train.curve(run), "train-curve")
    res = t.result()
    st.caption(f"C = τ·cos of the whole batch under the heads as they are now (L = {res.loss:.4f} over all {res.n} "
               "pairs, held-out ones included" + (": their true pairs are outlined with white dots" if len(t.held_idx)
                                                  else "") + ").")
    chart(heatmap(res, view("C"), items.captions, items.names, screen.narrow(), screen.square_px(),
                  held_out=tuple(int(i) for i in t.held_idx)), "train-heatmap")
    st.caption(train.memory_note(run))
    if run.pending:
        train.continue_training()


live()
