"""Retrieval metrics in both directions: recall@K and mean average precision (mAP).

``scores`` is (Q, G): queries in rows, gallery in columns; ``relevant`` (Q, G) marks the right
answers (the identity for a batch of pairs; same-label entries when only labels are known).
"""

from __future__ import annotations

import numpy as np


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Share of queries with at least one relevant item among their top k (ties broken by index)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([relevant[i, order[i]].any() for i in range(scores.shape[0])]))


def average_precision(scores_row: np.ndarray, relevant_row: np.ndarray) -> float:
    """AP of one ranking: mean over relevant items of precision at their rank."""
    order = np.argsort(-scores_row, kind="stable")
    hits = relevant_row[order].astype(float)
    if hits.sum() == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def mean_average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """mAP over queries (with one relevant item per query this is the mean reciprocal rank)."""
    return float(np.mean([average_precision(s, r) for s, r in zip(scores, relevant)]))


def retrieval_metrics(sim_text_audio: np.ndarray, relevant: np.ndarray | None = None) -> dict[str, float]:
    """R@1/5/10 and mAP for text→audio (rows of C) and audio→text (columns of C)."""
    sim = np.asarray(sim_text_audio, dtype=np.float64)
    rel = np.eye(*sim.shape, dtype=bool) if relevant is None else np.asarray(relevant, dtype=bool)
    out = {}
    for name, s, r in (("text_to_audio", sim, rel), ("audio_to_text", sim.T, rel.T)):
        for k in (1, 5, 10):
            out[f"{name}_R@{k}"] = recall_at_k(s, r, k)
        out[f"{name}_mAP"] = mean_average_precision(s, r)
    return out
