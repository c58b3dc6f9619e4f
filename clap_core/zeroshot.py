"""Zero-shot classification: labels → prompts → text embeddings; probabilities over labels per clip.

For each label, each template (which must contain ``{}``) is filled in and embedded; several
templates are ensembled by averaging their L2-normalised embeddings and normalising again (as CLIP
does). A clip's probabilities are the softmax over labels of τ · cos(clip, label) — the same as
transformers' ``zero-shot-audio-classification`` pipeline for a single template.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .contrastive import cosine_matrix, l2_normalise, softmax


def check_templates(templates: list[str]) -> list[str]:
    """Return the templates, or raise ValueError naming one that is not literal text with exactly
    one empty ``{}`` slot (other braces must be doubled: ``{{`` and ``}}``)."""
    if not templates:
        raise ValueError("give at least one prompt template, e.g. 'This is a sound of {}.'")
    rule = "a template is literal text with exactly one {} for the label; write other braces as {{ and }}"
    for t in templates:
        try:
            slots = [(f, spec or "", conv or "") for _, f, spec, conv in string.Formatter().parse(t) if f is not None]
        except ValueError as e:  # a lone { or }
            raise ValueError(f"template {t!r}: {str(e).rstrip('.').lower()}; {rule}") from None
        if slots != [("", "", "")]:
            found = ", ".join("{" + f + (f"!{c}" if c else "") + (f":{s}" if s else "") + "}" for f, s, c in slots)
            raise ValueError(f"template {t!r} has {found or 'no slot'}; {rule}")
    return list(templates)


MAX_LABELS = 1000  # labels per classification (AudioSet has 527): each is embedded once per template


def check_labels(labels: list[str]) -> list[str]:
    """Strip labels; raise ValueError on more than MAX_LABELS, fewer than two, blanks or duplicates (linear time)."""
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} labels; at most {MAX_LABELS} are classified into at a time")
    labels = [str(x).strip() for x in labels]
    if any(not x for x in labels):
        raise ValueError("labels must not be blank")
    dupes = sorted(x for x, k in Counter(labels).items() if k > 1)
    if dupes:
        shown = ", ".join(dupes[:10]) + (f" and {len(dupes) - 10} more" if len(dupes) > 10 else "")
        raise ValueError(f"duplicate labels: {shown}")
    if len(labels) < 2:
        raise ValueError("give at least two labels to choose between")
    return labels


@dataclass(frozen=True)
class ZeroShotResult:
    """Zero-shot scores for N clips over K labels."""

    labels: tuple[str, ...]
    templates: tuple[str, ...]
    tau: float
    cosine: np.ndarray  # (N, K) cos(clip, label prompt embedding)
    probs: np.ndarray  # (N, K) softmax over labels of τ·cos; rows sum to 1
    true_labels: tuple[str, ...] | None = None

    @property
    def top1(self) -> list[str]:
        """The most probable label of each clip."""
        return [self.labels[i] for i in self.probs.argmax(axis=1)]

    def top_k(self, k: int) -> list[list[tuple[str, float]]]:
        """For each clip, the k most probable (label, probability), best first (ties: label order)."""
        order = np.argsort(-self.probs, axis=1, kind="stable")[:, :k]
        return [[(self.labels[j], float(self.probs[i, j])) for j in row] for i, row in enumerate(order)]

    @property
    def accuracy(self) -> float | None:
        """Top-1 accuracy over the clips whose true label is one of the labels; None without labels."""
        if self.true_labels is None:
            return None
        pairs = [(p, t) for p, t in zip(self.top1, self.true_labels) if t in self.labels]
        return float(np.mean([p == t for p, t in pairs])) if pairs else None

    def confusion(self) -> np.ndarray | None:
        """(K, K) counts, rows = true label, columns = predicted; None without true labels."""
        if self.true_labels is None:
            return None
        index = {lab: i for i, lab in enumerate(self.labels)}
        m = np.zeros((len(self.labels), len(self.labels)), dtype=int)
        for p, t in zip(self.top1, self.true_labels):
            if t in index:
                m[index[t], index[p]] += 1
        return m


def label_embeddings(embedder, labels: list[str], templates: list[str]) -> np.ndarray:
    """(K, d) one normalised embedding per label: the normalised mean over templates."""
    labels, templates = check_labels(labels), check_templates(templates)
    prompts = [t.format(lab) for lab in labels for t in templates]
    emb = l2_normalise(embedder.embed_texts(prompts)).reshape(len(labels), len(templates), -1)  # (K, T, d)
    return l2_normalise(emb.mean(axis=1))


def zero_shot(
    embedder, audio_emb: np.ndarray, labels: list[str], templates: list[str],
    tau: float | None = None, true_labels: list[str] | None = None,
) -> ZeroShotResult:
    """Probabilities over ``labels`` for clips with embeddings (N, d), using ``templates``."""
    tau = float(embedder.checkpoint.tau if tau is None else tau)
    labels = check_labels(labels)
    cos = cosine_matrix(audio_emb, label_embeddings(embedder, labels, templates))  # (N, K)
    return ZeroShotResult(
        labels=tuple(labels), templates=tuple(templates), tau=tau, cosine=cos,
        probs=softmax(tau * cos, axis=1), true_labels=tuple(true_labels) if true_labels is not None else None,
    )
