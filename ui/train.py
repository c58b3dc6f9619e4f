"""The Train page's run: a copy of the checkpoint's projection heads fine-tuned on the session's batch, a few
steps per fragment run, and what its buttons do (Start, Stop, Reset, Use these weights, Download).

One run per session (``st.session_state.train_run``); it holds the copied heads, Adam's state and the
batch's tower outputs, never the shared model. A run belongs to one batch and one checkpoint: when either
changes, it is dropped and the next Start begins from the checkpoint again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitAPIException

from clap_core.finetune import (
    MAX_STEPS,
    TRAIN_CHOICES,
    FineTuner,
    FinetuneSettings,
    folder_name,
    heads_bytes,
    zip_pretrained,
)

from . import state
from .settings import hosted
from .sigmoid import loss_kind

MAX_STEPS_PER_CLICK = 200  # a Start click takes at most this many steps
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
TRAIN_LABELS = dict(zip(TRAIN_CHOICES, ("projection heads", "heads + τ")))  # what to train, as the picker says it
WIDGET_DEFAULTS = {"train-steps": 50, "train-lr": 1e-3, "train-what": TRAIN_CHOICES[0], "train-holdout": 0,
                   "train-seed": 0}
CHUNK_STEPS, CHUNK_SECONDS = 10, 0.3  # the figures are redrawn after this many steps or this time, the sooner


@dataclass
class Run:
    """One fine-tuning run of this session and what the page needs to know about it."""

    tuner: FineTuner
    made_for: tuple  # the batch and long-clip policy it trains on
    checkpoint: str  # the checkpoint it started from
    pending: int = 0  # steps left of the last Start click
    clicked: int = 0  # steps the last Start click asked for
    seconds: float = 0.0  # time spent in steps
    used: str | None = None  # the name its heads went into use under (Use these weights)

    @property
    def ms_per_step(self) -> float | None:
        """Mean wall time of one step so far, ms."""
        return 1000 * self.seconds / self.tuner.steps if self.tuner.steps else None


def _made_for() -> tuple:
    items = state.batch()
    return state.policy(), tuple(p.clip.key for p in items), tuple(items.captions), loss_kind()


def current() -> Run | None:
    """This session's run, if it still belongs to the batch and checkpoint in use (else it is dropped)."""
    ss = st.session_state
    run = ss.get("train_run")
    if run is not None and (run.made_for != _made_for() or state.checkpoint_name() not in (run.checkpoint, run.used)):
        ss.train_run = run = None
        ss.train_note = ("The batch, the checkpoint or the loss changed: the last run was dropped; Start begins a new "
                         "one.")
    return run


def keep_widget_values(n: int) -> None:
    """Before the page's widgets are drawn: Streamlit forgets a widget's value when its page is left, so they
    are kept here and put back (a run's own settings win: its widgets show what it trains with)."""
    ss = st.session_state
    kept = ss.setdefault("train_kept", dict(WIDGET_DEFAULTS))
    kept.update({k: ss[k] for k in WIDGET_DEFAULTS if k in ss})
    run = current()
    if run is not None:
        s = run.tuner.settings
        kept.update({"train-lr": s.lr, "train-what": s.train, "train-holdout": s.holdout, "train-seed": s.seed})
    kept["train-holdout"] = min(kept["train-holdout"], max(0, n - 2))
    for k, v in kept.items():
        if k not in ss or ss[k] != v:  # only what was forgotten: a value set here is pushed to the browser
            ss[k] = v


def settings() -> FinetuneSettings:
    """The settings the page's widgets hold."""
    ss = st.session_state
    return FinetuneSettings(lr=float(ss["train-lr"]), train=ss["train-what"], seed=int(ss["train-seed"]),
                            holdout=int(ss["train-holdout"]), loss=loss_kind())


def start() -> None:
    """Start button: a new run from the checkpoint in use if there is none, then up to the chosen steps."""
    ss = st.session_state
    ss.train_note = None
    run = current()
    if run is None:
        items, name = state.batch(), state.checkpoint_name()
        own = state.own_checkpoints().get(name)
        try:
            sigmoid = settings().loss == "sigmoid"  # t and b then start from the checkpoint's or SigLIP's
            tuner = FineTuner(state.embedder(), items.clips, items.captions, state.policy(), settings(),
                              tau=None if sigmoid else state.tau(), root=own.root if own else None,
                              steps_before=own.steps if own else 0)
        except ValueError as e:
            ss.train_note = f"Cannot train: {e}."
            return
        ss.train_run = run = Run(tuner, _made_for(), name)
    run.pending = run.clicked = min(int(ss["train-steps"]), MAX_STEPS - run.tuner.steps)


def stop() -> None:
    """Stop button: no more steps for this click (the ones taken stay)."""
    run = st.session_state.get("train_run")
    if run is not None:
        run.pending = 0


def advance(run: Run) -> None:
    """Take the click's next steps: CHUNK_STEPS, or fewer when they take more than CHUNK_SECONDS (at least one)."""
    t0 = time.perf_counter()
    for _ in range(min(CHUNK_STEPS, run.pending)):
        if time.perf_counter() - t0 > CHUNK_SECONDS:
            break
        run.tuner.step()
        run.pending -= 1
    run.seconds += time.perf_counter() - t0


def continue_training() -> None:
    """Ask for the next chunk of steps: a rerun of the fragment only; in a full run of the page (the fragment
    drawn with the rest of it: a first visit, a test), where a fragment rerun cannot be asked, of the app."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def reset() -> None:
    """Reset button: back to the checkpoint; the run is dropped, and fine-tuned weights in use give way to it."""
    ss = st.session_state
    ss.train_run, ss.train_note, ss.train_whole_app = None, None, True
    state.drop_own_checkpoints()


def use() -> None:
    """Use these weights button: the heads as they are now become this session's checkpoint on every page."""
    ss = st.session_state
    run = current()
    if run is None:
        return
    ck = run.tuner.checkpoint()
    state.use_own_checkpoint(state.OwnCheckpoint(ck, run.tuner.embedder.for_heads(ck), run.tuner.root,
                                                 run.tuner.total_steps))
    run.used, run.pending = ck.name, 0
    ss.train_note = f"In use on every page: “{ck.name}”. Reset goes back to the checkpoint."
    ss.train_whole_app = True


DOWNLOAD_MAX_HOSTED_M = 20.0  # parameters (millions) a hosted server zips in memory for Download


def download_too_big() -> str | None:
    """Why Download is off (hosted mode and a full-size checkpoint: its zip, ≈ 4 bytes a parameter, would be built
    in the server's memory next to the model), or None."""
    n = state.checkpoint().n_params / 1e6
    if not hosted() or n <= DOWNLOAD_MAX_HOSTED_M:
        return None
    return (f"Off on this hosted server: the zip of a {n:.0f} M-parameter checkpoint (≈ {4 * n:.0f} MB) would be built in "
            "its memory next to the model. Run the app locally, or use `python -m clap_core finetune … --save DIR`.")


def download(run: Run) -> tuple[str, Callable[[], bytes]]:
    """(file name, a callable that makes the zip on the click, of the heads as they are then)."""
    tuner = run.tuner
    return f"{folder_name(tuner.root)}-fine-tuned.zip", lambda: zip_pretrained(tuner.checkpoint())


def memory_note(run: Run | None) -> str:
    """What fine-tuning holds in this session, in bytes, beside the shared model."""
    ck = state.checkpoint()
    held = heads_bytes(ck)
    now = f"This run holds {_kb(run.tuner.memory_bytes())}: the heads in float32 with their gradients and Adam's " \
          f"two moments, and the batch's tower outputs. " if run else ""
    return (f"{now}Using the weights adds a copy of the heads and τ, {_kb(held)}; the towers are shared, never "
            f"copied, and the shared model is never changed.")


def _kb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def curve(run: Run) -> go.Figure:
    """L on the training pairs, and the held-out pairs' loss, after each step (step 0: the checkpoint), each with
    its chance level (dotted)."""
    t = run.tuner
    steps = list(range(t.steps + 1))
    ends = [0, max(10, t.steps)]
    lines = [(f"L on the {len(t.train_idx)} training pairs", [t.loss0, *t.loss], len(t.train_idx), "#1f77b4")]
    if len(t.held_idx):
        lines.append((f"the {len(t.held_idx)} held-out pairs, against the whole batch", [t.heldout0, *t.heldout],
                      t.n, "#d62728"))
    fig = go.Figure()
    for name, values, n, colour in lines:
        fig.add_scatter(x=steps, y=values, mode="lines", name=name, line={"color": colour},
                        hovertemplate="step %{x}: %{y:.4g}<extra></extra>")
        fig.add_scatter(x=ends, y=[math.log(n)] * 2, mode="lines", name=f"chance, log {n}",
                        line={"color": colour, "dash": "dot", "width": 1}, hoverinfo="skip")
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": 1.16},
                      xaxis={"title": {"text": "step"}, "range": ends},
                      yaxis={"title": {"text": "nats (log scale)"}, "type": "log", "exponentformat": "power", "dtick": 1})
    return fig
