"""Heavy, shared resources: one checkpoint and one embedding cache per process (st.cache_resource)."""

from __future__ import annotations

import streamlit as st

from clap_core.checkpoints import LoadedCheckpoint, load_checkpoint
from clap_core.embed import Embedder


@st.cache_resource(show_spinner=False, max_entries=2)
def get_checkpoint(name: str, _on_step=None) -> LoadedCheckpoint:
    """Load a checkpoint once per process (failures are not cached, so a retry tries again).

    ``_on_step`` (not part of the cache key) hears each loading stage."""
    return load_checkpoint(name, on_step=_on_step)


@st.cache_resource(show_spinner=False, max_entries=2)
def get_embedder(name: str) -> Embedder:
    """The embedding cache of a checkpoint, shared by all sessions of this process."""
    return Embedder(get_checkpoint(name))
