"""Session state: initialised once, idempotently; the current checkpoint, batch, τ and results."""

from __future__ import annotations

import numpy as np
import streamlit as st

from clap_core.checkpoints import LoadedCheckpoint
from clap_core.contrastive import ContrastiveResult, contrastive
from clap_core.features import DEFAULT_POLICY

from .batch import BatchItem, default_batch
from .resources import get_checkpoint, get_embedder
from .settings import default_checkpoint


def init() -> None:
    """Create this session's state on first use (the example batch is loaded here)."""
    ss = st.session_state
    if "checkpoint" not in ss:
        ss.checkpoint = default_checkpoint()
        ss.checkpoint_error = None
        ss.policy = DEFAULT_POLICY
        ss.tau = None  # None: the checkpoint's own τ
        ss.counter = 1000  # makes uids unique across additions
        ss.messages = []  # ("ok" or "error", text) from the last batch action
        ss.seen_uploads = set()
        ss.shuffle_seed = 0
        ss.unshuffled = None  # captions before the first shuffle
    if "batch" not in ss:
        try:
            ck = checkpoint()
        except Exception as e:  # the configured default failed: fall back to the bundled one
            ss.checkpoint_error = f"{ss.checkpoint}: {e}"
            ss.checkpoint = "bundled"
            ck = checkpoint()
        ss.batch = default_batch(ck.sampling_rate, ck.window_seconds)


def require_app() -> None:
    """Make sure the page runs under app.py's navigation (call first in every page).

    A fresh Streamlit process that finds a ``pages/`` folder runs its first session in the legacy
    multipage mode: a deep link such as /loss then executes pages/loss.py alone, without app.py's
    setup. Streamlit leaves that mode once ``st.navigation`` is called; we leave it at once and rerun,
    so app.py runs and routes to the same page.
    """
    from streamlit.runtime.pages_manager import PagesManager

    ss = st.session_state
    if PagesManager.uses_pages_directory or ("batch" not in ss and not ss.get("rerouted")):
        ss.rerouted = True  # once per session: never a rerun loop
        PagesManager.uses_pages_directory = False
        st.rerun()
    init()  # already done by app.py; a no-op unless this page somehow ran alone


def checkpoint() -> LoadedCheckpoint:
    """The checkpoint in use (loaded once per process)."""
    return get_checkpoint(st.session_state.checkpoint)


def batch() -> list[BatchItem]:
    """The current batch."""
    return st.session_state.batch


def set_batch(items: list[BatchItem], from_editor: bool = False) -> None:
    """Replace the batch; a change not made in the table gives the table a fresh key (no stale edits)."""
    st.session_state.batch = list(items)
    if not from_editor:
        st.session_state.editor_version = st.session_state.get("editor_version", 0) + 1


def next_counter(k: int = 1) -> int:
    """Reserve k uid counters."""
    c = st.session_state.counter
    st.session_state.counter = c + k
    return c


def tau() -> float:
    """The τ in use: the user's override, else the checkpoint's exp(logit_scale_a)."""
    t = st.session_state.get("tau")
    return float(t) if t else checkpoint().tau


def embeddings(items: list[BatchItem] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(E_t, E_a), each (N, d), for the batch; cached per content, so reruns embed nothing new."""
    items = batch() if items is None else items
    emb = get_embedder(st.session_state.checkpoint)
    E_a = emb.embed_audio([it.waveform for it in items], policy=st.session_state.policy)
    E_t = emb.embed_texts([it.caption for it in items])
    return E_t, E_a


def result(tau_value: float | None = None) -> ContrastiveResult | None:
    """Every loss term for the current batch at τ (default: the τ in use); None for an empty batch."""
    items = batch()
    if not items:
        return None
    E_t, E_a = embeddings(items)
    return contrastive(E_t, E_a, tau() if tau_value is None else tau_value)
