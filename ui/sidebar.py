"""The sidebar every page shares: checkpoint picker, τ in use, device, long-clip policy, model card."""

from __future__ import annotations

import streamlit as st

from clap_core.checkpoints import KNOWN_CHECKPOINTS, known
from clap_core.features import LONG_CLIP_POLICIES

from . import state
from .batch import resample_batch
from .resources import get_checkpoint
from .settings import hosted

CUSTOM = "Custom hub id or local folder…"
POLICY_LABEL = {"windows": "average all windows", "first": "first window only", "centre": "centre window only"}


def _switch_to(name: str) -> None:
    """Load ``name``; on success make it current, on failure keep the previous one and say why."""
    ss = st.session_state
    name = name.strip()
    if not name or name == ss.checkpoint:
        return
    status = st.status(f"Loading {name}…", expanded=True)
    try:
        ck = get_checkpoint(name, on_step=lambda msg: status.write(msg.capitalize() + "…"))
        status.write("Re-reading the batch at the model's sampling rate…")
        new_batch = resample_batch(state.batch(), ck.sampling_rate, ck.window_seconds)
        status.update(label=f"Loaded {name}", state="complete", expanded=False)
    except Exception as e:  # CheckpointError and anything else transformers raises: keep the old one
        status.update(label=f"Could not load {name}", state="error", expanded=False)
        ss.checkpoint_error = f"Could not load {name}: {str(e).rstrip('.')}. Still using {ss.checkpoint}."
        ss.ck_choice = ss.checkpoint if known(ss.checkpoint) else CUSTOM
        return
    ss.checkpoint, ss.checkpoint_error, ss.tau = name, None, None
    state.set_batch(new_batch)


def _on_pick() -> None:
    choice = st.session_state.ck_choice
    if choice != CUSTOM:
        _switch_to(choice)


def _on_policy() -> None:
    st.session_state.policy = st.session_state.policy_widget


def _on_custom() -> None:
    _switch_to(st.session_state.ck_custom)


def render() -> None:
    """Draw the sidebar."""
    ss = st.session_state
    names = [k.name for k in KNOWN_CHECKPOINTS] + ([] if hosted() else [CUSTOM])
    if "ck_choice" not in ss:
        ss.ck_choice = ss.checkpoint if ss.checkpoint in names else CUSTOM
    with st.sidebar:
        st.selectbox("Checkpoint", names, key="ck_choice", on_change=_on_pick,
                     help="bundled: the small demo model shipped with the app (offline). LAION checkpoints "
                          "download from the Hugging Face Hub on first use.")
        if ss.ck_choice == CUSTOM:
            with st.form("custom-checkpoint", border=False):  # the typed value and the click arrive together
                st.text_input("Hub id (owner/name) or local folder", key="ck_custom",
                              placeholder="laion/clap-htsat-unfused")
                st.form_submit_button("Load", on_click=_on_custom, key="ck_load")
        if ss.checkpoint_error:
            st.error(ss.checkpoint_error)
        ck = state.checkpoint()
        tau_now = state.tau()
        overridden = ss.tau is not None
        st.metric("τ in use", f"{tau_now:.2f}", help="C = τ · E_t · E_aᵀ; τ = exp(logit_scale_a)")
        st.caption(("set on the Loss page; " if overridden else "")
                   + f"checkpoint's τ = exp(logit_scale_a) = {ck.tau:.2f}"
                   + (f" (logit_scale_t gives {ck.tau_text:.2f}, unused)" if abs(ck.tau_text - ck.tau) > 1e-3 else ""))
        st.selectbox("Clips longer than the window", LONG_CLIP_POLICIES, index=LONG_CLIP_POLICIES.index(ss.policy),
                     key="policy_widget", on_change=_on_policy, format_func=POLICY_LABEL.get,
                     help="A clip longer than the model's window (10 s for LAION) is cut into windows: average "
                          "their embeddings, or use only the first or the centred one. No random crops.")
        entry = known(ss.checkpoint)
        with st.expander("Model card", expanded=False):
            st.markdown(
                f"- **{ck.name}**\n- device: `{ck.device}`\n- parameters: {ck.n_params / 1e6:.2f} M\n"
                f"- sampling rate: {ck.sampling_rate} Hz\n- window: {ck.window_seconds:g} s "
                f"(shorter clips are repeated then zero-padded; longer ones: the policy above)\n"
                f"- embedding size: {ck.embed_dim}\n- fusion: {'on (is_longer kept off)' if ck.fusion else 'off'}"
                + (f"\n\n{entry.notes}" if entry else "")
            )
        st.caption(f"Device: `{ck.device}`")
