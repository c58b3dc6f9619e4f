"""The sidebar every page shares: checkpoint picker, τ in use, device, long-clip policy, model card."""

from __future__ import annotations

import streamlit as st

from clap_core.checkpoints import KNOWN_CHECKPOINTS, PRECISIONS, known
from clap_core.features import LONG_CLIP_POLICIES

from . import state
from .resources import get_checkpoint
from .settings import hosted
from .text import md

CUSTOM = "Custom hub id or local folder…"
POLICY_LABEL = {"windows": "average all windows", "first": "first window only", "centre": "centre window only"}


def _switch_to(name: str, precision: str | None = None) -> None:
    """Load ``name`` (in ``precision``, default: the session's); on success make both current, on
    failure keep the previous ones and say why.

    The batch stays as it is: each clip keeps its source audio and is resampled to the new rate on use."""
    ss = st.session_state
    name, precision = name.strip(), precision or state.precision()
    if not name or (name == state.checkpoint_name() and precision == state.precision()):
        return
    if name in state.own_checkpoints():  # made in this session: nothing to load
        state.set_checkpoint(name)
        return
    label = name + (f" ({precision})" if precision != state.precision() else "")
    with st.sidebar:
        status = st.status(f"Loading {label}…", expanded=True)
    try:
        get_checkpoint(name, precision, on_step=lambda msg: status.write(msg.capitalize() + "…"))
        status.update(label=f"Loaded {label}", state="complete", expanded=False)
    except Exception as e:  # CheckpointError and anything else transformers raises: keep the old one
        status.update(label=f"Could not load {label}", state="error", expanded=False)
        ss.checkpoint_error = f"Could not load {label}: {str(e).rstrip('.')}. Still using {state.checkpoint_name()}."
        if known(name):
            current = state.checkpoint_name()
            ss.ck_choice = current if known(current) or current in state.own_checkpoints() else CUSTOM
        return
    state.set_precision(precision)
    state.set_checkpoint(name)


def _on_pick() -> None:
    choice = st.session_state.ck_choice
    if choice != CUSTOM:
        _switch_to(choice)


def _on_policy() -> None:
    state.set_policy(st.session_state.policy_widget)


def _on_precision() -> None:
    _switch_to(state.checkpoint_name(), st.session_state.precision_widget)


def _on_custom() -> None:
    _switch_to(st.session_state.ck_custom)


def render() -> None:
    """Draw the sidebar."""
    ss = st.session_state
    names = [k.name for k in KNOWN_CHECKPOINTS] + list(state.own_checkpoints()) + ([] if hosted() else [CUSTOM])
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
            st.error(md(ss.checkpoint_error))
        ck = state.checkpoint()
        tau_now = state.tau()
        overridden = state.tau_overridden()
        st.metric("τ in use", f"{tau_now:.2f}", help="C = τ · E_t · E_aᵀ; τ = exp(logit_scale_a)")
        st.caption(("set on the Loss page; " if overridden else "")
                   + f"checkpoint's τ = exp(logit_scale_a) = {ck.tau:.2f}"
                   + (f" (logit_scale_t gives {ck.tau_text:.2f}, unused)" if abs(ck.tau_text - ck.tau) > 1e-3 else ""))
        st.selectbox("Clips longer than the window", LONG_CLIP_POLICIES, index=LONG_CLIP_POLICIES.index(ss.policy),
                     key="policy_widget", on_change=_on_policy, format_func=POLICY_LABEL.get,
                     help="A clip longer than the model's window (10 s for LAION) is cut into windows: average "
                          "their embeddings, or use only the first or the centred one. No random crops.")
        ss.precision_widget = state.precision()  # the widget shows the setting in use (after a failed load too)
        own = state.own_checkpoints().get(ss.checkpoint)
        st.selectbox("Precision", PRECISIONS, key="precision_widget", disabled=own is not None,
                      on_change=_on_precision, format_func=lambda p: f"auto ({ck.precision} here)" if p == "auto" else p,
                      help="The weights' number format. auto: bf16 on a GPU and on CPUs with hardware bf16 (AMX, "
                           "AVX512-BF16) for full-size models, else fp32. bf16 embeddings agree with fp32 to a cosine "
                           "above 0.999; fp32 gives the published figures exactly.")
        entry = known(ss.checkpoint)
        with st.expander("Model card", expanded=False):
            st.markdown(
                f"- **{md(ck.name)}**\n- device: `{ck.device}`, {ck.precision}\n- parameters: {ck.n_params / 1e6:.2f} M\n"
                f"- sampling rate: {ck.sampling_rate} Hz\n- window: {ck.window_seconds:g} s "
                f"(shorter clips are repeated then zero-padded; longer ones: the policy above)\n"
                f"- embedding size: {ck.embed_dim}\n- fusion: {'on (is_longer kept off)' if ck.fusion else 'off'}"
                + (f"\n\n{entry.notes}" if entry else "")
                + (f"\n\nFine-tuned in this session from {md(own.root)} ({own.steps} steps): its projection heads"
                   f"{' and τ' if ck.tau != state.checkpoint(own.root).tau else ''} are this session's own, the towers "
                   f"are {md(own.root)}'s. No other session sees it; Reset on the Train page goes back." if own else "")
            )
        st.caption(f"Device: `{ck.device}` · {ck.precision}")
