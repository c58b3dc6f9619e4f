"""Heavy, shared resources: one checkpoint and one embedding cache per process (st.cache_resource)."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

import streamlit as st

from clap_core.batch import Batch
from clap_core.checkpoints import LoadedCheckpoint, load_checkpoint
from clap_core.embed import Embedder
from clap_core.features import DEFAULT_POLICY

_LOG = logging.getLogger(__name__)


class _Slot(dict):
    """A per-process holder for one checkpoint (a dict subclass, so the registry below can hold it weakly)."""


_SLOTS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # (name, precision) → slot still cached


@st.cache_resource(show_spinner=False, max_entries=2)
def _slot(name: str, precision: str) -> _Slot:
    """A per-process holder for one checkpoint. The load itself happens outside the cached function,
    so it can report progress to the page (cached functions may not draw on outside containers).
    At most two are kept: the process never holds more than two checkpoints."""
    slot = _Slot(checkpoint=None, lock=threading.Lock())
    _SLOTS[name, precision] = slot
    return slot


def is_loaded(name: str, precision: str = "auto") -> bool:
    """Whether ``name`` in ``precision`` is loaded in this process now (asking does not load or evict anything)."""
    slot = _SLOTS.get((name, precision))
    return slot is not None and slot["checkpoint"] is not None


def get_checkpoint(name: str, precision: str = "auto",
                   on_step: Callable[[str], None] | None = None) -> LoadedCheckpoint:
    """The checkpoint ``name`` in ``precision``, loaded once per process; a failure is not remembered,
    so a retry tries again."""
    slot = _slot(name, precision)
    with slot["lock"]:
        if slot["checkpoint"] is None:
            slot["checkpoint"] = load_checkpoint(name, precision=precision, on_step=on_step)
        return slot["checkpoint"]


@st.cache_resource(show_spinner=False, max_entries=2)
def get_embedder(name: str, precision: str = "auto") -> Embedder:
    """The embedding cache of a checkpoint, shared by all sessions of this process."""
    return Embedder(get_checkpoint(name, precision))


@st.cache_resource(show_spinner=False, max_entries=2)
def _warm(name: str, precision: str, _batch: Batch) -> threading.Thread:
    """Once per process and checkpoint: a background thread that embeds the first session's batch."""
    emb = get_embedder(name, precision)

    def run() -> None:  # captions first (milliseconds), so a session never waits on them
        try:
            emb.embed_texts(_batch.captions)
            emb.embed_clips(_batch.clips, policy=DEFAULT_POLICY)
        except Exception as e:  # a head start only: a page that needs these computes them and reports its own errors
            _LOG.debug("warm-up of %s stopped: %s", name, e)  # e.g. the process exiting while it ran

    thread = threading.Thread(target=run, name=f"warm-up {name}", daemon=True)
    thread.start()
    return thread


def warm_up(name: str, precision: str, batch: Batch) -> None:
    """Start embedding the example batch in the background, once per process: the first visit to a page
    that shows numbers then finds them computed (later sessions share the cache)."""
    _warm(name, precision, batch)
