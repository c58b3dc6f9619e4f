"""Small shared widgets: exports, the per-clip facts line."""

from __future__ import annotations

import io
import json

import pandas as pd
import streamlit as st

from clap_core.contrastive import ContrastiveResult
from clap_core.features import describe_windowing

from .batch import BatchItem


def clip_facts(it: BatchItem, window_seconds: float) -> str:
    """'3.21 s · 44100 Hz · 2 ch → mono, resampled to 48000 Hz · repeated…' for one clip."""
    info = it.info
    steps = [f"{info.seconds:.2f} s", f"{info.source_rate} Hz", f"{info.channels} ch", info.container.upper()]
    done = []
    if info.downmixed:
        done.append("downmixed to mono")
    if info.resampled:
        done.append(f"resampled to {info.sample_rate} Hz")
    if info.truncated:
        done.append(f"cut at {info.seconds:.0f} s")
    window = int(round(window_seconds * info.sample_rate))
    done.append(describe_windowing(len(it.waveform), info.sample_rate, window, st.session_state.policy))
    return " · ".join(steps) + " — " + "; ".join(done)


def matrices_frame(res: ContrastiveResult, captions: list[str], clips: list[str], which: str) -> pd.DataFrame:
    """One matrix as a table with caption rows and clip columns."""
    m = {"C": res.C, "P_text": res.P_text, "P_audio": res.P_audio, "cosine": res.cosine}[which]
    return pd.DataFrame(m, index=pd.Index(captions, name="caption \\ clip"), columns=clips)


def export_buttons(res: ContrastiveResult, items: list[BatchItem], key: str) -> None:
    """Download C, P_text, P_audio and the loss terms as CSV (one zip-free file each) and JSON."""
    captions = [it.caption for it in items]
    clips = [it.name for it in items]
    payload = {"captions": captions, "clips": clips, **res.to_dict()}
    cols = st.columns(5)
    for col, which in zip(cols[:3], ("C", "P_text", "P_audio")):
        col.download_button(f"{which}.csv", matrices_frame(res, captions, clips, which).to_csv().encode(),
                            file_name=f"{which}.csv", mime="text/csv", key=f"{key}-{which}")
    terms = pd.DataFrame({"caption": captions, "clip": clips, "loss_text_i": res.per_item_text,
                          "loss_audio_i": res.per_item_audio, "share_of_L_text": res.share_text,
                          "share_of_L_audio": res.share_audio})
    buf = io.StringIO()
    terms.to_csv(buf, index=False)
    buf.write(f"# tau={res.tau},loss_text={res.loss_text},loss_audio={res.loss_audio},loss={res.loss}\n")
    cols[3].download_button("loss_terms.csv", buf.getvalue().encode(), file_name="loss_terms.csv", mime="text/csv",
                            key=f"{key}-terms")
    cols[4].download_button("all.json", json.dumps(payload, indent=1).encode(), file_name="clap_batch.json",
                            mime="application/json", key=f"{key}-json")


def stop_if_empty(items: list[BatchItem]) -> None:
    """On an empty batch, point to the Batch page and stop this page."""
    if not items:
        st.info("The batch is empty: add clips on the Batch page.")
        st.page_link("pages/batch.py", label="Go to the Batch page", icon=":material/library_music:")
        st.stop()
