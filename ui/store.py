"""Batches that survive a reload: the session's batch is kept on the server under a random id that goes in
the URL (``?b=<id>``); a new session opened on that URL gets the batch back (captions, labels, order, clips).

Clips are stored once under the SHA-256 of their bytes (sessions that upload the same file share it);
a batch is a small JSON record of (sha, name, caption, label, source) per pair plus the settings at the
time. Everything lives in one ``diskcache.Cache`` of at most :data:`STORE_MB` with least-recently-used
eviction: batches are kept while space allows. Its folder is ``CLAP_EXPLORER_STORE``, else
``~/.cache/clap-explorer/store`` — never user input; an id from the URL must match :data:`ID_PATTERN`
and is only ever a cache key. Opening a link starts a new id (a copy), so two tabs never write one record.
A failing store never costs the batch: it is reported on the Batch page and the app goes on without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import diskcache
import streamlit as st

from clap_core.batch import LIMITS, Batch, FileOutcome, Limits
from clap_core.batchfile import assemble_batch, clip_bytes

STORE_MB = 512  # the whole store, all sessions together
KEEP_MB = STORE_MB // 2  # a batch whose clips take more is not kept
QUERY_KEY = "b"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,32}")
RECORD_FORMAT = 1
GONE = "no longer kept on the server (the store makes room by dropping what was used least recently)"


def store_dir() -> Path:
    """The store's folder: CLAP_EXPLORER_STORE, else the user's cache folder."""
    folder = os.environ.get("CLAP_EXPLORER_STORE")
    if folder:
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clap-explorer" / "store"


def valid_id(text: object) -> bool:
    """Whether ``text`` is a batch id this app could have made (6–32 of A–Z a–z 0–9 _ -)."""
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


class BatchStore:
    """Clips under their SHA-256 and batch records under their id, in one size-bounded LRU diskcache."""

    def __init__(self, folder: Path, size_mb: int = STORE_MB):
        self.cache = diskcache.Cache(str(folder), size_limit=size_mb * 1_000_000,
                                     eviction_policy="least-recently-used")

    def put_clip(self, sha: str, data: bytes, touch: bool = True) -> None:
        """Store a clip's bytes once; with ``touch``, one already there counts as used now (evicted last)."""
        key = ("clip", sha)
        if key not in self.cache:
            self.cache.set(key, data)
        elif touch:
            handle = self.cache.get(key, read=True)  # marks it used without reading it
            if hasattr(handle, "close"):
                handle.close()

    def save(self, batch_id: str, entries: list[dict], settings: dict) -> None:
        """Write a batch record: entries {sha, name, caption, label, source} in order, and the settings."""
        record = {"format": RECORD_FORMAT, "pairs": entries, "settings": settings}
        self.cache.set(("batch", batch_id), json.dumps(record, ensure_ascii=False))

    def load(self, batch_id: str, limits: Limits = LIMITS) -> tuple[Batch, list[FileOutcome]] | None:
        """The batch saved under ``batch_id`` (its clips decoded within ``limits``) and one outcome per pair; None
        when there is no such record. Each pair's ``file_sha`` is computed from the bytes read back, so a clip whose
        bytes changed in the store would be saved under its true hash, not the record's."""
        raw = self.cache.get(("batch", batch_id)) if valid_id(batch_id) else None
        if not isinstance(raw, str):
            return None
        record = json.loads(raw)
        rows = [{**e, "file": e["sha"]} for e in record.get("pairs", [])]
        payload: dict[str, bytes | str] = {}
        for sha in dict.fromkeys(r["file"] for r in rows):
            data = self.cache.get(("clip", sha))
            payload[sha] = data if isinstance(data, bytes) else GONE
        return assemble_batch(rows, payload, limits)


@functools.lru_cache(maxsize=8)
def _open(folder: str) -> BatchStore:
    return BatchStore(Path(folder))


def _store() -> BatchStore:
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return _open(str(folder))


def _problem(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).strip() or 'no detail'}".splitlines()[0]


def file_of(pair) -> tuple[bytes, str]:
    """(the bytes the store keeps for a pair, their SHA-256): the file as given with the hash the pair carries
    (computed once, when the pair was made); for a pair read from a path, its float32 WAV (batchfile.clip_bytes)."""
    if pair.data is not None and pair.file_sha is not None:
        return pair.data, pair.file_sha
    data = clip_bytes(pair)[0]
    return data, hashlib.sha256(data).hexdigest()


def save(batch: Batch, settings: dict) -> None:
    """Keep the session's batch and its ``settings`` (ui.state.batch_settings) in the store (ui.state.set_batch
    calls this after every change); the first save of a session makes its id and puts it in the URL."""
    ss = st.session_state
    size = batch.nbytes
    if size > KEEP_MB * 1_000_000:  # one session must not flush everyone's batches
        ss.store_error = (f"its clips take {size / 1e6:.0f} MB, more than the {KEEP_MB} MB one batch may use "
                          f"here; use Download batch to keep it")
        forget_link()
        return
    try:
        store = _store()
        saved = ss.get("store_saved", set())  # clips this session has put in the store
        entries = []
        for pair in batch:
            data, sha = file_of(pair)
            store.put_clip(sha, data, touch=sha not in saved)  # touched once per session, not on every edit
            saved.add(sha)
            entries.append({"sha": sha, "name": pair.name, "caption": pair.caption, "label": pair.label,
                            "source": pair.source})
        batch_id = ss.get("store_id") or secrets.token_urlsafe(9)
        store.save(batch_id, entries, settings)
    except Exception as e:  # a full disk or a locked database must not cost the batch in hand
        ss.store_error = _problem(e)
        return
    ss.store_saved, ss.store_id, ss.store_error = saved, batch_id, None
    keep_link()


def restored_or(make: Callable[[], Batch], settings: Callable[[], dict]) -> Batch:
    """A new session's batch: the one saved under the URL's id (?b=…) when the store has it — saved under a new
    id from now on, with ``settings()`` — else ``make()`` (the example batch)."""
    ss = st.session_state
    asked = st.query_params.get(QUERY_KEY)
    if asked is None:
        return make()
    found, failed = None, None
    try:
        found = _store().load(asked) if valid_id(asked) else None
    except Exception as e:  # the store is unreadable: say so, open the example batch
        ss.store_error = failed = _problem(e)
    forget_link()
    if failed:
        ss.messages = [("error", f"The batch of this link could not be read: the server's batch store failed "
                                 f"({failed}). Here is the example batch.")]
        return make()
    if found is None:
        ss.messages = [("info", "The batch of this link is no longer kept on the server (it keeps batches while "
                                "space allows); here is the example batch.")]
        return make()
    batch, outcomes = found
    lost = [o.message for o in outcomes if not o.added]
    ss.messages = [("error", m) for m in lost] + [("ok", f"The batch of this link is back: {len(batch)} pairs.")]
    save(batch, settings())
    return batch


def forget_link() -> None:
    """This session's batch is no longer kept: drop its id from the session and the URL."""
    st.session_state.pop("store_id", None)
    if QUERY_KEY in st.query_params:
        del st.query_params[QUERY_KEY]


def keep_link() -> None:
    """Keep the session's id in the URL (a page switch drops query parameters); call once per run."""
    batch_id = st.session_state.get("store_id")
    if batch_id and st.query_params.get(QUERY_KEY) != batch_id:
        st.query_params[QUERY_KEY] = batch_id


def status_line() -> str:
    """One line for the Batch page: how the batch is kept for a reload, or why it is not."""
    problem = st.session_state.get("store_error")
    if problem:
        return f"This batch is not kept for a reload: {problem}."
    return (f"A reload keeps this batch: it is saved on this server under the link's ?b=… code. The server keeps "
            f"{STORE_MB} MB of clips for all visitors together and drops the least recently used first, so a batch "
            f"is kept while space allows; Download batch keeps it for good.")
