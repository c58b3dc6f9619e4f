"""Session state: one owner for each piece — the checkpoint, the batch, τ (per checkpoint) — and the
results every page reads. Initialised once per session, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from clap_core import scenarios
from clap_core.batch import Batch
from clap_core.checkpoints import BUNDLED, LoadedCheckpoint
from clap_core.contrastive import ContrastiveResult, check_tau, contrastive, transformers_return_loss
from clap_core.embed import TEXT_MAX_TOKENS, Embedder
from clap_core.features import DEFAULT_POLICY
from clap_core.scenarios import DEFAULT_SCENARIO, Scenario

from . import store
from .resources import get_checkpoint, get_embedder
from .settings import LIMITS, default_checkpoint

TAU_WIDGET = "tau_widget"  # the Loss page's slider; kept in step with the τ in use by sync_tau_widget


def init() -> None:
    """Create this session's state on first use (the example batch is loaded here)."""
    ss = st.session_state
    if "checkpoint" not in ss:
        ss.checkpoint = default_checkpoint()
        ss.checkpoint_error = None
        ss.policy = DEFAULT_POLICY
        ss.precision = "auto"  # weights' precision for the checkpoints this session loads (auto, fp32, bf16)
        ss.taus = {}  # checkpoint name → τ the user set; absent: the checkpoint's own τ
        ss.messages = []  # ("ok" | "error" | "info", text) from the last batch action
        ss.seen_uploads = set()
    if "batch" not in ss:
        try:
            checkpoint()
        except Exception as e:  # the configured default failed: fall back to the bundled one
            ss.checkpoint_error = (f"The configured default checkpoint could not be loaded: {str(e).rstrip('.')}. "
                                  f"Still using {BUNDLED}.")
            ss.checkpoint = BUNDLED
            checkpoint()
        # the URL's ?b=<id>, else the default scenario
        ss.batch = store.restored_or(lambda: _scenario_batch(DEFAULT_SCENARIO), batch_settings)
    store.keep_link()  # page switches drop the URL's ?b=<id>: put it back


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


# -- the checkpoint ------------------------------------------------------------------------------
def checkpoint_name() -> str:
    """The name of the checkpoint in use."""
    return st.session_state.checkpoint


def precision() -> str:
    """The precision setting (auto, fp32 or bf16) checkpoints are loaded in."""
    return st.session_state.precision


def set_precision(value: str) -> None:
    """The precision checkpoints are loaded in from now on (the sidebar, once the checkpoint has loaded in it)."""
    st.session_state.precision = value


def checkpoint(name: str | None = None) -> LoadedCheckpoint:
    """A checkpoint (default: the one in use): this session's own, else in this session's precision, loaded
    once per process."""
    name = name or checkpoint_name()
    own = own_checkpoints().get(name)
    return own.checkpoint if own else get_checkpoint(name, precision())


def embedder(name: str | None = None) -> Embedder:
    """The embedding cache of a checkpoint (default: the one in use): this session's own for its own
    checkpoints, else the one shared by the process, in this session's precision."""
    name = name or checkpoint_name()
    own = own_checkpoints().get(name)
    return own.embedder if own else get_embedder(name, precision())


@dataclass(frozen=True)
class OwnCheckpoint:
    """A checkpoint made in this session (fine-tuned heads on a shared checkpoint's towers), held by it alone."""

    checkpoint: LoadedCheckpoint
    embedder: Embedder  # shares the root's tower outputs, keeps its own projections
    root: str  # the shared checkpoint it was fine-tuned from
    steps: int  # fine-tuning steps since the root


def own_checkpoints() -> dict[str, OwnCheckpoint]:
    """This session's own checkpoints by name: never in the process-wide cache, gone with the session."""
    return st.session_state.setdefault("own_checkpoints", {})


def shared_checkpoint_name() -> str:
    """The shared checkpoint in use or under this session's own one (what the process caches and warms up)."""
    own = own_checkpoints().get(checkpoint_name())
    return own.root if own else checkpoint_name()


def use_own_checkpoint(own: OwnCheckpoint) -> None:
    """Make a checkpoint of this session's the one in use on every page; it replaces the session's previous
    own checkpoint (one at a time: its heads are the memory it costs)."""
    _forget_own()
    own_checkpoints()[own.checkpoint.name] = own
    st.session_state.taus.pop(own.checkpoint.name, None)
    set_checkpoint(own.checkpoint.name)
    st.session_state.pop("ck_choice", None)  # the sidebar's picker shows it


def drop_own_checkpoints() -> None:
    """Forget this session's own checkpoints; if one was in use, its root is in use again."""
    root = shared_checkpoint_name()
    _forget_own()
    if root != checkpoint_name():
        set_checkpoint(root)
        st.session_state.pop("ck_choice", None)


def _forget_own() -> None:
    for old in own_checkpoints():
        st.session_state.taus.pop(old, None)  # a τ set for it goes with it
    own_checkpoints().clear()


def set_checkpoint(name: str) -> None:
    """Make ``name`` (already loaded) the checkpoint in use; its τ is whatever it was for it."""
    st.session_state.checkpoint, st.session_state.checkpoint_error = name, None


# -- the batch -----------------------------------------------------------------------------------
def batch() -> Batch:
    """The current batch."""
    return st.session_state.batch


def set_batch(new: Batch, from_editor: bool = False) -> None:
    """Replace the batch; a change not made in the table gives the table a fresh key (no stale edits)."""
    st.session_state.batch = new
    store.save(new, batch_settings())  # kept on the server for a reload (ui/store.py)
    if not from_editor:
        st.session_state.editor_version = st.session_state.get("editor_version", 0) + 1
        st.session_state.pop("table_edits", None)  # the cells it names were about the table that went


UNDO_DEPTH = 5  # replaced batches a session can bring back (each holds its clips: they are shared, not copied)


def replace_batch(new: Batch, what: str) -> None:
    """Replace the batch by an act that can destroy work (a scenario, clear, open, shuffle, remove): the batch before
    goes on this session's undo list with its saved link, and the new batch is saved under a new link, so the old
    ``?b=`` record stays as it was and comes back with :func:`undo`. ``what`` says what was done ("Loaded …")."""
    ss = st.session_state
    if len(batch()):
        entry = {"batch": batch(), "what": what, "link": ss.get("store_id"), "scenario": ss.get("scenario")}
        ss.undo_stack = [*ss.get("undo_stack", []), entry][-UNDO_DEPTH:]
    store.forget_link()  # the new batch gets a link of its own
    ss.upload_round = ss.get("upload_round", 0) + 1  # the uploader's list was about the batch that went
    set_batch(new)


def undo_entry() -> dict | None:
    """The last replaced batch and what replaced it, or None."""
    stack = st.session_state.get("undo_stack") or []
    return stack[-1] if stack else None


def undo() -> None:
    """Bring back the batch the last destroying act replaced, under its own link again."""
    ss = st.session_state
    entry = (ss.get("undo_stack") or [None])[-1]
    if entry is None:
        return
    ss.undo_stack = ss.undo_stack[:-1]
    ss.scenario = entry["scenario"]
    if entry["link"]:
        ss.store_id = entry["link"]
    else:
        store.forget_link()
    set_batch(entry["batch"])
    if entry["scenario"]:
        ss["scenario-pick"] = entry["scenario"][0]


def own_work() -> bool:
    """Whether the batch holds the person's own work: uploads, recordings, or a batch changed since it was loaded
    (typed captions, labels, added clips). A scenario or examples as shipped are not own work."""
    items = batch()
    if any(p.source in ("upload", "recording") for p in items):
        return True
    loaded = scenario()
    return bool(len(items)) and (loaded is None or loaded[1])


# -- the scenario the batch came from -------------------------------------------------------------
def _signature(b: Batch) -> tuple[tuple[str, str], ...]:
    return tuple((p.clip.key, p.caption) for p in b)


def _scenario_batch(name: str) -> Batch:
    """A shipped scenario's batch, remembered as this session's scenario (to say so on every page)."""
    new = scenarios.load(name, LIMITS)
    st.session_state.scenario = (name, _signature(new))
    return new


def load_scenario(name: str) -> None:
    """Replace the batch with a shipped scenario (the Batch page's picker follows it); undoable."""
    before = st.session_state.get("scenario")
    new = _scenario_batch(name)
    st.session_state.scenario, after = before, st.session_state.scenario
    replace_batch(new, f"Loaded the scenario “{scenarios.get(name).title}”")
    st.session_state.scenario = after
    st.session_state["scenario-pick"] = name


def forget_scenario() -> None:
    """The batch is the user's own now (cleared, or opened from a file): no scenario line."""
    st.session_state.scenario = None


def scenario() -> tuple[Scenario, bool] | None:
    """The scenario the batch was loaded from and whether it has changed since (clips or captions); None
    for a batch the user built or opened."""
    held = st.session_state.get("scenario")
    return None if held is None else (scenarios.get(held[0]), _signature(batch()) != held[1])


def policy() -> str:
    """The long-clip policy in use."""
    return st.session_state.policy


def set_policy(value: str) -> None:
    """The long-clip policy from now on (the sidebar's picker shows it on its next draw)."""
    ss = st.session_state
    ss.policy = value
    if ss.get("policy_widget") != value:
        ss.pop("policy_widget", None)


def batch_settings() -> dict:
    """What a saved or downloaded batch records next to its pairs: checkpoint, long-clip policy, τ when the user
    set it."""
    name = checkpoint_name()
    return {"checkpoint": name, "policy": policy(), "tau": st.session_state.taus.get(name)}


# -- τ: one owner, per checkpoint ----------------------------------------------------------------
def tau(name: str | None = None) -> float:
    """The τ in use for a checkpoint (default: the current one): the user's, else exp(logit_scale_a)."""
    name = name or checkpoint_name()
    t = st.session_state.taus.get(name)
    return float(t) if t is not None else checkpoint(name).tau


def tau_overridden(name: str | None = None) -> bool:
    """Whether the user has set τ for this checkpoint."""
    return (name or checkpoint_name()) in st.session_state.taus


def set_tau(value: float, name: str | None = None) -> None:
    """Set τ for a checkpoint (default: the current one)."""
    st.session_state.taus[name or checkpoint_name()] = check_tau(value)


def reset_tau(name: str | None = None) -> None:
    """Back to the checkpoint's own τ."""
    st.session_state.taus.pop(name or checkpoint_name(), None)


def sync_tau_widget() -> None:
    """Before drawing the τ slider: make its value the τ in use (after a switch, a reset, another page)."""
    if st.session_state.get(TAU_WIDGET) != tau():
        st.session_state[TAU_WIDGET] = tau()


# -- results -------------------------------------------------------------------------------------
def embeddings(items: Batch | None = None, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(E_t, E_a), each (N, d), for the batch under a checkpoint; cached per content, so reruns embed nothing."""
    items = batch() if items is None else items
    emb = embedder(name)
    E_a = emb.embed_clips(items.clips, policy=policy())
    E_t = emb.embed_texts(items.captions)
    return E_t, E_a


def result(name: str | None = None, tau_value: float | None = None) -> ContrastiveResult | None:
    """Every loss term for the current batch under a checkpoint at τ (default: its τ in use); None if empty."""
    items = batch()
    if not len(items):
        return None
    E_t, E_a = embeddings(items, name)
    return contrastive(E_t, E_a, tau(name) if tau_value is None else tau_value)


def caption_notes(items: Batch | None = None) -> list[str]:
    """What the model will really read of each odd caption: empty or blank ones, and ones over the
    tokenizer's limit (it keeps the first TEXT_MAX_TOKENS tokens)."""
    items = batch() if items is None else items
    emb = embedder()
    notes = []
    for i, caption in enumerate(items.captions, start=1):
        n = emb.token_count(caption)
        if not caption.strip():
            what = "empty" if not caption else "only spaces"
            notes.append(f"Caption {i} is {what}: it is embedded as it is — {n} tokens, the start and end markers"
                         f"{' and the spaces' if caption else ''} — a point that describes no sound in particular.")
        elif n > TEXT_MAX_TOKENS:
            notes.append(f"Caption {i} has {n} tokens: the text tower reads only the first {TEXT_MAX_TOKENS} "
                         "(the rest is cut off).")
    return notes


def transformers_loss(res: ContrastiveResult, name: str | None = None) -> float:
    """What ``ClapModel(return_loss=True)`` would report for this batch: at the checkpoint's two scales,
    or at the user's τ for both when τ is overridden (transformers has no single τ to set)."""
    ck = checkpoint(name)
    tau_text = res.tau if tau_overridden(name) else ck.tau_text
    return transformers_return_loss(res.cosine, tau_text, res.tau)
