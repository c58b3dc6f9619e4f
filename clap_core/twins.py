"""The twin test: Winoground / CompA scores over twin pairs (two clips whose captions differ in a word or two).

For a pair (captions c0, c1; clips a0, a1) and C = caption × clip cosines:
  text score   both clips pick their own caption:  C[c0,a0] > C[c1,a0]  and  C[c1,a1] > C[c0,a1];
  audio score  both captions pick their own clip:  C[c0,a0] > C[c0,a1]  and  C[c1,a1] > C[c1,a0];
  group score  both of the above.
A random C scores 1/4, 1/4 and 1/6 (of the 24 orderings of four distinct values, 4 put the diagonal first both
ways). Scores are compared to 12 decimals as every rank of the project is (clap_core.retrieval.tie_scores), and
a tie counts as a failure: a model that cannot tell the twins apart scores 0, not chance.

Pairs come from a ``pair`` column (two rows with the same id; see :func:`find_pairs`) or, without one, from twin
detection (:func:`clap_core.attributes.caption_twins`: same label, captions one attribute word apart).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .attributes import caption_twins
from .contrastive import l2_normalise
from .retrieval import tie_scores

CHANCE = {"text": 0.25, "audio": 0.25, "group": 1 / 6}
TIE_RULE = ("scores compared to 12 decimals; a tie counts as a failure (a model that cannot tell the twins apart "
            "scores 0, not chance)")
BY_COLUMN = "the pair column (two rows with the same id)"
BY_DETECTION = "twin detection (same label, captions one attribute word apart: quiet/loud, slow/fast, low/high)"
NO_TWINS = ("no twin pairs: give a pair column (two rows with the same id), or same-label clips whose captions "
            "differ in one attribute word only (quiet/loud, slow/fast, low/high); demo-world --world pairs writes such "
            "a set")


def find_pairs(captions: Sequence[str | None], labels: Sequence[str],
               pair_ids: Sequence[str | None] | None = None) -> tuple[list[tuple[int, int, str]], str, int]:
    """The twin pairs (i, j, kind) of rows with a caption, how they were found, and how many rows of the pair
    column were left out (an id held by one row, or by more than two). With any pair id given, the pair column
    decides (kind: the id); otherwise :func:`~clap_core.attributes.caption_twins` (kind: the attribute)."""
    if pair_ids is not None and any(pair_ids):
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(pair_ids):
            if p and captions[i]:
                groups.setdefault(p, []).append(i)
        pairs = [(g[0], g[1], pid) for pid, g in groups.items() if len(g) == 2]
        left_out = sum(len(g) for g in groups.values() if len(g) != 2)
        return pairs, BY_COLUMN, left_out
    return caption_twins(captions, labels), BY_DETECTION, 0


def pair_blocks(E_t: np.ndarray, E_a: np.ndarray, pairs: Sequence[tuple[int, int, str]]) -> np.ndarray:
    """(P, 2, 2) cosines of each pair: [p, c, a] = cos(caption c, clip a) with 0 = the pair's first row, 1 = its
    second (captions and clips in the same row order)."""
    i = np.array([p[0] for p in pairs], dtype=int)
    j = np.array([p[1] for p in pairs], dtype=int)
    T, A = l2_normalise(E_t), l2_normalise(E_a)
    t = np.stack([T[i], T[j]], axis=1)  # (P, 2, d)
    a = np.stack([A[i], A[j]], axis=1)
    return np.einsum("pcd,pad->pca", t, a)


def outcomes(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """Per pair (P,) bools: text, audio and group score; and whether any compared entries tie."""
    s = tie_scores(blocks)
    d0, d1 = s[:, 0, 0], s[:, 1, 1]
    text = (d0 > s[:, 1, 0]) & (d1 > s[:, 0, 1])  # clip a0 picks c0 over c1; clip a1 picks c1 over c0
    audio = (d0 > s[:, 0, 1]) & (d1 > s[:, 1, 0])  # caption c0 picks a0 over a1; caption c1 picks a1 over a0
    tied = (d0 == s[:, 1, 0]) | (d1 == s[:, 0, 1]) | (d0 == s[:, 0, 1]) | (d1 == s[:, 1, 0])
    return {"text": text, "audio": audio, "group": text & audio, "tied": tied}


def _shares(o: dict[str, np.ndarray], keep: np.ndarray | slice = slice(None)) -> dict:
    return {k: float(o[k][keep].mean()) for k in ("text", "audio", "group")}


def scores(blocks: np.ndarray, pairs: Sequence[tuple[int, int, str]], found_by: str = BY_DETECTION,
           names: Sequence[str] | None = None, left_out: int = 0) -> dict:
    """The twin test over pairs with their (P, 2, 2) cosines: text, audio and group score (shares of pairs), the
    chance levels, the tie rule, per kind (the attribute, for detected twins) and per pair."""
    if not len(pairs):
        raise ValueError(NO_TWINS)
    o = outcomes(blocks)
    kinds = np.array([k for _, _, k in pairs])
    out = {"pairs": len(pairs), "found_by": found_by, **_shares(o), "chance": dict(CHANCE), "ties": TIE_RULE,
           "tied_pairs": int(o["tied"].sum()), "left_out_rows": left_out}
    if found_by == BY_DETECTION:
        out["by_kind"] = {str(k): {"pairs": int((kinds == k).sum()), **_shares(o, kinds == k)}
                          for k in dict.fromkeys(k for _, _, k in pairs)}
    out["per_pair"] = [{"rows": [int(i), int(j)], "kind": str(k),
                        **({"files": [names[i], names[j]]} if names is not None else {}),
                        "text": bool(o["text"][p]), "audio": bool(o["audio"][p]), "group": bool(o["group"][p])}
                       for p, (i, j, k) in enumerate(pairs)]
    return out


def twin_scores(E_t: np.ndarray, E_a: np.ndarray, captions: Sequence[str | None], labels: Sequence[str],
                pair_ids: Sequence[str | None] | None = None, names: Sequence[str] | None = None) -> dict | None:
    """The twin test on a batch: caption and clip embeddings (N, d) in pair order, their captions and labels, and
    an optional pair column; None when the batch holds no twins."""
    pairs, found_by, left_out = find_pairs(captions, labels, pair_ids)
    if not pairs:
        return None
    return scores(pair_blocks(E_t, E_a, pairs), pairs, found_by, names, left_out)


def summary(figures: dict) -> str:
    """One line: 'twin test over 4 pairs, found by …: text 1.000, audio 0.750, group 0.750 (chance 0.250 / 0.250 / 0.167;
    ties count as failures)'."""
    c = figures["chance"]
    return (f"twin test over {figures['pairs']} pairs, found by {figures['found_by']}: text {figures['text']:.3f}, audio "
            f"{figures['audio']:.3f}, group {figures['group']:.3f} (chance {c['text']:.3f} / {c['audio']:.3f} / "
            f"{c['group']:.3f}; ties count as failures)")


__all__ = ["BY_COLUMN", "BY_DETECTION", "CHANCE", "NO_TWINS", "TIE_RULE", "find_pairs", "outcomes", "pair_blocks",
           "scores", "summary", "twin_scores"]
