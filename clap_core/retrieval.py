"""Retrieval metrics in both directions: recall@K and mean average precision (mAP), with one tie rule.

``scores`` is (Q, G): queries in rows, gallery in columns; ``relevant`` (Q, G) marks the right
answers (the identity for a batch of pairs; same-label entries when only labels are known).
"""

from __future__ import annotations

import numpy as np

SCORE_DECIMALS = 12  # scores are compared to this many decimals, everywhere a rank is taken
TIE_RULE = ("Scores are compared to 12 decimals, and ties go to the lower index: of items with the same score, the one "
            "earlier in the batch ranks higher. So with a duplicate clip, a caption finds the earlier copy first and the "
            "later copy's own caption ranks its clip one place lower. (Without the rounding, a duplicate's cosines can "
            "differ from the original's in the 16th digit, by where they sit in the matrix product.)")


def tie_scores(scores: np.ndarray) -> np.ndarray:
    """Scores rounded to SCORE_DECIMALS, so that equal embeddings (a duplicate clip or caption) tie exactly: a
    float64 matrix product can round the same dot product differently in different rows or columns."""
    return np.round(np.asarray(scores, dtype=np.float64), SCORE_DECIMALS)


def ranking(scores: np.ndarray) -> np.ndarray:
    """Indices of ``scores`` best first along the last axis ((n,) → (n,), (Q, G) → (Q, G)), by :func:`tie_scores`;
    ties go to the lower index (a stable sort). Every rank, recall and AP of the project is taken through it."""
    return np.argsort(-tie_scores(scores), axis=-1, kind="stable")


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Share of queries with at least one relevant item among their top k (by :func:`ranking`)."""
    order = ranking(scores)[:, :k]
    return float(np.mean([relevant[i, order[i]].any() for i in range(scores.shape[0])]))


def average_precision(scores_row: np.ndarray, relevant_row: np.ndarray) -> float:
    """AP of one ranking (by :func:`ranking`): mean over relevant items of precision at their rank."""
    order = ranking(scores_row)
    hits = np.asarray(relevant_row)[order].astype(float)
    if hits.sum() == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def mean_average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """mAP over queries (with one relevant item per query this is the mean reciprocal rank)."""
    return float(np.mean([average_precision(s, r) for s, r in zip(scores, relevant)]))


def retrieval_metrics(sim_text_audio: np.ndarray, relevant: np.ndarray | None = None) -> dict[str, float]:
    """R@1/5/10 and mAP for text→audio (rows) and audio→text (columns) of a (captions, clips) score matrix, by
    :func:`ranking`. Pass cosines: the same scores the ranks of the Retrieval page use (C = τ·cos ranks the same
    in exact arithmetic, but its rounding to 12 decimals falls on other digits)."""
    sim = np.asarray(sim_text_audio, dtype=np.float64)
    rel = np.eye(*sim.shape, dtype=bool) if relevant is None else np.asarray(relevant, dtype=bool)
    out = {}
    for name, s, r in (("text_to_audio", sim, rel), ("audio_to_text", sim.T, rel.T)):
        for k in (1, 5, 10):
            out[f"{name}_R@{k}"] = recall_at_k(s, r, k)
        out[f"{name}_mAP"] = mean_average_precision(s, r)
    return out


def partner_ranks(sim_text_audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a batch's (N, N) scores (rows captions, columns clips, pair i on the diagonal): the 1-based rank of
    caption i's own clip in row i (text→audio) and of clip i's own caption in column i (audio→text), each (N,),
    by :func:`ranking`."""
    sim = np.asarray(sim_text_audio, dtype=np.float64)
    n = sim.shape[0]
    rows = np.array([int(np.flatnonzero(ranking(sim[i]) == i)[0]) + 1 for i in range(n)])
    cols = np.array([int(np.flatnonzero(ranking(sim[:, i]) == i)[0]) + 1 for i in range(n)])
    return rows, cols
