"""Held-out quality of a demo-world checkpoint: classes, attributes and the loss, on clips never trained on.

Three figures, on the attribute world (``demo_world.generate_attributed``; its captions' attribute words
are true of the audio) drawn from seeds no training uses (and the first and last on the classes world,
``demo_world.generate``, as well):
  class top-1      zero-shot accuracy over the 12 classes with the default template;
  attribute        over pairs of same-class clips whose captions differ in one attribute word only
                   (``demo_world.attribute_pairs``), the share of rows of C (caption → clip) and of
                   columns (clip → caption) of each pair's 2×2 C that pick the right partner (chance 50 %),
                   overall and per attribute (loud, speed, pitch);
  loss             the mean symmetric loss on batches of 12 distinct-class (caption, clip) pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import demo_world

EVAL_SEED = 987_654  # class-level clips; training uses TRAIN_SEED (1234)
PAIRS_SEED = 987_655  # attribute pairs
EVAL_PER_CLASS = 20  # 240 clips per world: 20 batches of 12 distinct classes
EVAL_PER_ATTRIBUTE = 6  # pairs per (class, attribute): 21 of them, so 126 pairs, 252 clips


def pair_choices(E_t: np.ndarray, E_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For pairs laid out as consecutive rows (caption/clip 2k and 2k+1 are pair k's): whether each row of
    each pair's 2×2 C picks its own clip, and whether each column picks its own caption; (2K,) bools each."""
    t = E_t.reshape(-1, 2, E_t.shape[-1])  # (K, 2, d)
    a = E_a.reshape(-1, 2, E_a.shape[-1])
    C = np.einsum("kid,kjd->kij", t, a)  # (K, 2, 2); τ > 0 does not change which entry is larger
    diag = C[:, [0, 1], [0, 1]]  # (K, 2)
    rows = diag > C[:, [0, 1], [1, 0]]  # caption i: own clip over the other clip
    cols = diag > C[:, [1, 0], [0, 1]]  # clip j: own caption over the other caption
    return rows.reshape(-1), cols.reshape(-1)


WORD_TO_ATTRIBUTE = {w: a for a, words in demo_world.ATTRIBUTE_WORDS.items() for w in words}


def _words(caption: str) -> list[str]:
    return caption.lower().replace(",", " ").split()


def caption_twins(captions: Sequence[str | None], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Pairs (i, j, attribute) of rows with the same label whose captions differ in exactly one word, the two
    words being one attribute's (quiet/loud, slow/fast, low/high). Each row is in at most one pair: row i goes
    with the first later unpaired twin (so a demo-world ``pairs`` CSV gives its consecutive pairs)."""
    twins, used = [], set()
    for i, (ci, li) in enumerate(zip(captions, labels)):
        if i in used or not ci:
            continue
        wi = _words(ci)
        for j in range(i + 1, len(captions)):
            cj = captions[j]
            if j in used or not cj or labels[j] != li:
                continue
            wj = _words(cj)
            diff = [(a, b) for a, b in zip(wi, wj) if a != b]
            if len(wi) == len(wj) and len(diff) == 1:
                a, b = diff[0]
                attr = WORD_TO_ATTRIBUTE.get(a)
                if attr is not None and WORD_TO_ATTRIBUTE.get(b) == attr:
                    twins.append((i, j, attr))
                    used.update((i, j))
                    break
    return twins


def twin_accuracy(E_t: np.ndarray, E_a: np.ndarray, twins: Sequence[tuple[int, int, str]]) -> dict:
    """Attribute-level accuracy over twin pairs (caption_twins): the share of each pair's 2×2 C rows (caption →
    clip) and columns (clip → caption) that pick the right partner, overall and per attribute (chance 50 %)."""
    order = [k for i, j, _ in twins for k in (i, j)]
    rows, cols = pair_choices(E_t[order], E_a[order])
    which = np.repeat([a for _, _, a in twins], 2)
    return {
        "pairs": len(twins), "rows": float(rows.mean()), "columns": float(cols.mean()),
        "by_attribute": {a: {"pairs": int((which == a).sum() // 2), "rows": float(rows[which == a].mean()),
                             "columns": float(cols[which == a].mean())}
                         for a in demo_world.ATTRIBUTE_WORDS if (which == a).any()},
    }


def _audio_embeddings(ck, features: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """(N, d) L2-normalised embeddings of clips of one window each from their features, as Embedder does."""
    import torch

    from .towers import audio_forward, batches

    out = []
    with torch.inference_mode():
        for batch in batches(features, batch_size):
            x = torch.from_numpy(batch).to(ck.device, ck.dtype)  # (B, 1, T, F)
            _, emb = audio_forward(ck.model, x, torch.zeros(len(x), 1, dtype=torch.bool, device=ck.device))
            out.append(emb.float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def _features(fe, waves: list[np.ndarray]) -> np.ndarray:
    from .features import window_features
    from .towers import batches

    return np.concatenate([window_features(fe, batch, demo_world.RATE, backend="torch")["input_features"].numpy()
                           for batch in batches(waves, 16)])  # (N, 1, T, F)


def _class_figures(emb, E_a: np.ndarray, clips: list, tau: float) -> dict:
    from .contrastive import contrastive
    from .zeroshot import zero_shot

    k = len(demo_world.LABELS)  # clips cycle through the classes: each block of k is one per class
    E_t = emb.embed_texts([c.caption for c in clips])
    zs = zero_shot(emb, E_a, list(demo_world.LABELS), [demo_world.DEFAULT_TEMPLATE], true_labels=[c.label for c in clips])
    losses = [contrastive(E_t[i : i + k], E_a[i : i + k], tau).loss for i in range(0, len(clips), k)]
    return {"zero_shot_accuracy": zs.accuracy, "mean_batch_loss": float(np.mean(losses))}


def evaluate_held_out(checkpoints: Sequence, per_class: int = EVAL_PER_CLASS,
                      per_attribute: int = EVAL_PER_ATTRIBUTE) -> list[dict]:
    """The held-out figures of each checkpoint (a name, a folder or a LoadedCheckpoint) on one shared set of
    clips: on the attribute world, zero-shot top-1, attribute-level row and column accuracy (overall and
    per attribute) and the mean symmetric loss on 12-pair distinct-class batches; on the classes world
    (``demo_world.generate``, which the class-only checkpoint was trained on), top-1 and loss."""
    from .checkpoints import load_checkpoint
    from .embed import Embedder

    k = len(demo_world.LABELS)
    worlds = {"attributes": demo_world.generate_attributed(EVAL_SEED, per_class * k),
              "classes": demo_world.generate(EVAL_SEED, per_class * k)}
    pairs = demo_world.attribute_pairs(PAIRS_SEED, per_attribute)
    pair_clips = [c for p in pairs for c in p.clips]
    waves = [c.waveform for c in worlds["attributes"] + worlds["classes"] + pair_clips]
    features: dict[str, np.ndarray] = {}  # by feature-extractor settings: computed once for all checkpoints
    reports = []
    for ck in checkpoints:
        ck = ck if hasattr(ck, "model") else load_checkpoint(str(ck), device="cpu")
        fe = ck.processor.feature_extractor
        key = fe.to_json_string()
        if key not in features:
            features[key] = _features(fe, waves)
        E_all = _audio_embeddings(ck, features[key])
        n = per_class * k
        emb = Embedder(ck, batch_size=16)
        attributes = _class_figures(emb, E_all[:n], worlds["attributes"], ck.tau)
        classes = _class_figures(emb, E_all[n : 2 * n], worlds["classes"], ck.tau)
        twins = twin_accuracy(emb.embed_texts([c.caption for c in pair_clips]), E_all[2 * n :],
                              [(2 * j, 2 * j + 1, p.attribute) for j, p in enumerate(pairs)])
        reports.append({
            "eval_seed": EVAL_SEED,
            "eval_clips": n,
            **attributes,
            "batch_size": k,
            "chance_loss": math.log(k),
            "attribute_pairs_seed": PAIRS_SEED,
            "attribute_pairs": twins["pairs"],
            "attribute_accuracy_rows": twins["rows"],
            "attribute_accuracy_columns": twins["columns"],
            "attribute_accuracy_by_attribute": twins["by_attribute"],
            "classes_world": {"eval_clips": n, **classes},
            "tau": ck.tau,
        })
    return reports
