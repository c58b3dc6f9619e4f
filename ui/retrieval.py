"""The Retrieval page's numbers: a typed query's ranking of the batch's clips, a clip's ranking of the captions,
the batch's R@K and mAP both ways, and each pair's rank of its true partner (clap_core.retrieval's tie rule)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from clap_core.batch import Batch
from clap_core.contrastive import ContrastiveResult, cosine_matrix, softmax
from clap_core.retrieval import TIE_RULE, partner_ranks, ranking, retrieval_metrics
from clap_core.tables import frame_csv
from clap_core.twins import twin_scores

from . import state

__all__ = ["TIE_RULE", "metrics_frame", "query_ranking", "caption_ranking", "partner_frame", "own_clip_ranks",
           "export_json", "table"]
DIRECTIONS = {"text_to_audio": "text → audio (a caption finds its clip)",
              "audio_to_text": "audio → text (a clip finds its caption)"}


def metrics_frame(res: ContrastiveResult) -> pd.DataFrame:
    """R@1/5/10 and mAP of the batch in both directions (rows), from its cosine matrix (ranked as the ranks are)."""
    m = retrieval_metrics(res.cosine)
    return pd.DataFrame([[m[f"{d}_R@1"], m[f"{d}_R@5"], m[f"{d}_R@10"], m[f"{d}_mAP"]] for d in DIRECTIONS],
                        index=pd.Index(list(DIRECTIONS.values()), name="direction"),
                        columns=["R@1", "R@5", "R@10", "mAP"])


NUMBERS = ("cosine", "C = τ·cos", "P (over clips)", "P_audio (over captions)", "cosine of the pair")


def table(frame: pd.DataFrame, name: str, index: bool = True) -> None:
    """A ranking or rank table (numbers to 4 decimals, sortable by a click) and its CSV download, ``name``.csv."""
    st.dataframe(frame, width="stretch", hide_index=not index, key=f"rt-{name}",
                 column_config={c: st.column_config.NumberColumn(format="%.4f") for c in NUMBERS if c in frame})
    st.download_button(f"{name}.csv", frame_csv(frame, index=index).encode(), f"{name}.csv", "text/csv", key=f"rt-{name}-csv")


def _ranked(scores: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order best first, cosine, probability = softmax of τ·cos over the candidates) for (n,) cosines."""
    return ranking(scores), scores, softmax(tau * scores, axis=0)


def query_ranking(query: str, items: Batch) -> pd.DataFrame:
    """The batch's clips ranked for a typed query (embedded through the checkpoint's text cache): rank, clip,
    its own caption, cosine, C = τ·cos and the query's probability over the clips."""
    _, E_a = state.embeddings(items)
    q = state.embedder().embed_texts([query])  # (1, d); a caption of the batch is a cache hit
    tau = state.tau()
    order, cos, p = _ranked(cosine_matrix(q, E_a)[0], tau)
    return pd.DataFrame({"#": order + 1, "clip": [items.names[j] for j in order],
                         "its caption": [items.captions[j] for j in order], "cosine": cos[order],
                         "C = τ·cos": tau * cos[order], "P (over clips)": p[order]},
                        index=pd.RangeIndex(1, len(order) + 1, name="rank"))


def caption_ranking(res: ContrastiveResult, items: Batch, clip: int) -> pd.DataFrame:
    """The batch's captions ranked for one clip (column ``clip`` of C): rank, caption, its clip, numbers."""
    order, cos, p = _ranked(res.cosine[:, clip], res.tau)
    return pd.DataFrame({"#": order + 1, "caption": [items.captions[i] for i in order],
                         "its clip": [items.names[i] for i in order], "cosine": cos[order],
                         "C = τ·cos": res.C[order, clip], "P_audio (over captions)": p[order]},
                        index=pd.RangeIndex(1, len(order) + 1, name="rank"))


def own_clip_ranks(query: str, items: Batch, ranked: pd.DataFrame) -> list[tuple[int, int]]:
    """(pair index, rank of that pair's clip) for every caption of the batch equal to the query (stripped)."""
    position = {int(j) - 1: r for r, j in zip(ranked.index, ranked["#"])}
    return [(i, position[i]) for i, c in enumerate(items.captions) if c.strip() == query.strip()]


def partner_frame(res: ContrastiveResult, items: Batch) -> pd.DataFrame:
    """Each pair's rank of its true partner in both directions, the worst first (then by pair number)."""
    rows, cols = partner_ranks(res.cosine)
    frame = pd.DataFrame({"#": np.arange(1, res.n + 1), "caption": items.captions, "clip": items.names,
                          "rank of its clip (text → audio)": rows, "rank of its caption (audio → text)": cols,
                          "cosine of the pair": np.diag(res.cosine)})
    worst = np.maximum(rows, cols)
    order = np.lexsort((frame["#"].to_numpy(), -(rows + cols), -worst))  # worst rank, then their sum, then #
    return frame.iloc[order].reset_index(drop=True)


def twins(res: ContrastiveResult, items: Batch, name: str | None = None) -> dict | None:
    """The Winoground/CompA twin test on the batch (clap_core.twins) under a checkpoint (default: the one in use):
    None when the batch holds no twins (same label, captions one attribute word apart)."""
    E_t, E_a = state.embeddings(items, name)
    return twin_scores(E_t, E_a, items.captions, items.labels, names=items.names)


def twin_frame(figures: dict) -> pd.DataFrame:
    """Text, audio and group score with their chance levels (rows), in percent."""
    return pd.DataFrame({"score": [100 * figures[k] for k in ("text", "audio", "group")],
                         "chance": [100 * figures["chance"][k] for k in ("text", "audio", "group")]},
                        index=pd.Index(["text: both clips pick their caption", "audio: both captions pick their clip",
                                        "group: both"], name="twin test"))


def twin_pairs_frame(figures: dict, items: Batch) -> pd.DataFrame:
    """One row per twin pair: its two captions, the word that differs, and the three outcomes."""
    mark = {True: "✓", False: "✗"}
    return pd.DataFrame([{"pair": f"{p['rows'][0] + 1} & {p['rows'][1] + 1}", "differs in": p["kind"],
                          "captions": f"{items.captions[p['rows'][0]]} / {items.captions[p['rows'][1]]}",
                          "text": mark[p["text"]], "audio": mark[p["audio"]], "group": mark[p["group"]]}
                         for p in figures["per_pair"]])


def export_json(res: ContrastiveResult, items: Batch) -> str:
    """The batch's retrieval metrics, each pair's partner ranks and the tie rule, as JSON."""
    rows, cols = partner_ranks(res.cosine)
    return json.dumps({"checkpoint": state.checkpoint_name(), "tau": res.tau, "captions": items.captions,
                       "clips": items.names, **retrieval_metrics(res.cosine),
                       "rank_of_clip_text_to_audio": rows.tolist(), "rank_of_caption_audio_to_text": cols.tolist(),
                       "tie_rule": TIE_RULE, "twins": twins(res, items)}, indent=1)
