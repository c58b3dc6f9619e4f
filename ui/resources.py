"""Heavy, shared resources: one checkpoint and one embedding cache per process (st.cache_resource)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from clap_core.checkpoints import LoadedCheckpoint, load_checkpoint
from clap_core.embed import Embedder


@st.cache_resource(show_spinner=False, max_entries=2)
def _slot(name: str) -> dict:
    """A per-process holder for one checkpoint. The load itself happens outside the cached function,
    so it can report progress to the page (cached functions may not draw on outside containers)."""
    return {"checkpoint": None, "lock": threading.Lock()}


def get_checkpoint(name: str, on_step: Callable[[str], None] | None = None) -> LoadedCheckpoint:
    """The checkpoint ``name``, loaded once per process; a failure is not remembered, so a retry tries again."""
    slot = _slot(name)
    with slot["lock"]:
        if slot["checkpoint"] is None:
            slot["checkpoint"] = load_checkpoint(name, on_step=on_step)
        return slot["checkpoint"]


@st.cache_resource(show_spinner=False, max_entries=2)
def get_embedder(name: str) -> Embedder:
    """The embedding cache of a checkpoint, shared by all sessions of this process."""
    return Embedder(get_checkpoint(name))
