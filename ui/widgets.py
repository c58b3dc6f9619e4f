"""Small shared widgets: exports, the per-clip facts line, the τ slider, the empty-batch guard."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from clap_core.batch import Batch, Pair
from clap_core.contrastive import ContrastiveResult
from clap_core.features import describe_windowing
from clap_core.tables import frame_csv

from . import state
from .figures import tau_range
from .views import MatrixView, exported


def clip_facts(pair: Pair, rate: int, window_seconds: float) -> str:
    """'3.21 s · 44100 Hz · 2 ch · WAV — downmixed to mono; resampled to 48000 Hz; …' for one clip."""
    info = pair.info
    steps = [f"{info.seconds:.2f} s", f"{info.file_rate} Hz", f"{info.channels} ch", info.container.upper()]
    done = []
    if info.downmixed:
        done.append("downmixed to mono")
    if info.file_rate != info.source_rate:
        done.append(f"kept at {info.source_rate} Hz on reading")
    if info.source_rate != rate:
        done.append(f"resampled to {rate} Hz")
    if info.truncated:
        done.append(f"cut at {info.seconds:.0f} s")
    window = int(round(window_seconds * rate))
    done.append(describe_windowing(len(pair.clip.waveform(rate)), rate, window, state.policy()))
    return " · ".join(steps) + " — " + "; ".join(done)


def matrix_frame(res: ContrastiveResult, items: Batch, view: MatrixView) -> pd.DataFrame:
    """One view's matrix as a table with caption rows and clip columns."""
    return pd.DataFrame(view.values(res), index=pd.Index(items.captions, name="caption \\ clip"), columns=items.names)


def loss_terms_csv(res: ContrastiveResult, items: Batch) -> str:
    """Each pair's terms and share of L as CSV, with a last line giving τ and the three losses."""
    terms = pd.DataFrame({"caption": items.captions, "clip": items.names, "loss_text_i": res.per_item_text,
                          "loss_audio_i": res.per_item_audio, "share_of_L_text": res.share_text,
                          "share_of_L_audio": res.share_audio})
    return (frame_csv(terms, index=False)
            + f"# tau={res.tau},loss_text={res.loss_text},loss_audio={res.loss_audio},loss={res.loss}\n")


def export_buttons(res: ContrastiveResult, items: Batch, key: str) -> None:
    """Download each exported view as CSV, the loss terms as CSV, and everything as JSON."""
    views = exported()
    cols = st.columns(len(views) + 2)
    for col, v in zip(cols, views):
        col.download_button(f"{v.key}.csv", frame_csv(matrix_frame(res, items, v)).encode(), file_name=f"{v.key}.csv",
                            mime="text/csv", key=f"{key}-{v.key}")
    cols[-2].download_button("loss_terms.csv", loss_terms_csv(res, items).encode(), file_name="loss_terms.csv",
                             mime="text/csv", key=f"{key}-terms")
    payload = {"captions": items.captions, "clips": items.names, **res.to_dict()}
    cols[-1].download_button("all.json", json.dumps(payload, indent=1).encode(), file_name="clap_batch.json",
                             mime="application/json", key=f"{key}-json")


def tau_slider() -> None:
    """The τ slider (its range includes the checkpoint's τ) and its reset button; both write through
    state's τ owner, and the slider is set from it before it is drawn."""
    ck = state.checkpoint()
    lo, hi = tau_range(ck.tau, state.tau())
    state.sync_tau_widget()
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.slider("τ (temperature multiplier): sharper softmax when larger", lo, hi, step=0.05, key=state.TAU_WIDGET,
              on_change=lambda: state.set_tau(st.session_state[state.TAU_WIDGET]),
              help=f"The checkpoint's τ = exp(logit_scale_a) = {ck.tau:.3f}. Applies to every page.")
    c2.button("Checkpoint's τ", on_click=state.reset_tau, key="tau-reset", disabled=not state.tau_overridden())


def stop_if_empty(items: Batch) -> None:
    """On an empty batch, point to the Batch page and stop this page."""
    if not len(items):
        st.info("The batch is empty: add clips on the Batch page.")
        st.page_link("pages/batch.py", label="Go to the Batch page", icon=":material/library_music:")
        st.stop()
