"""Evaluate a checkpoint on a labelled set: zero-shot accuracy, per class, the confusion matrix, the most
confident mistakes, and retrieval metrics both ways. Shared by the app's Evaluate page and
``python -m clap_core evaluate``: both open a :class:`LabelledSet` and run an :class:`Evaluation` over it
(the CLI through :func:`evaluate`, the page one chunk per rerun so that Stop keeps what was done), so the
same set gives the same numbers in both.

The sets themselves (a CSV, folders, a zip, the demo world, the shipped examples) are opened by
:mod:`clap_core.labelled`; this module scores them.

Memory: clips are read, decoded and embedded one chunk at a time; a run keeps each clip's embedding
(d float32), its name, label and caption, never its audio — except a playable copy of the few most
confident mistakes (``players``; at most the first 30 s as 16-bit WAV each).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .attributes import caption_twins, twin_accuracy
from .audio import AudioError, DecodedClip
from .batch import LIMITS, FileOutcome, Limits, read_clip
from .contrastive import cosine_matrix
from .demo_world import DEFAULT_TEMPLATE
from .features import DEFAULT_POLICY
from .labelled import (
    AUDIO_SUFFIXES,
    CLI_LIMITS,
    DEMO_WORLDS,
    HOSTED_LIMITS,
    LABELLED_DATA,
    LOCAL_LIMITS,
    DataError,
    LabelledClip,
    LabelledSet,
    SetLimits,
    check_size,
    demo_world_set,
    examples_set,
    path_set,
    read_labelled,
    wav_bytes,
    zip_set,
)
from .retrieval import retrieval_metrics
from .tables import csv_text
from .zeroshot import ZeroShotResult, check_labels, check_templates, label_embeddings, zero_shot

CHUNK = 16  # clips decoded and embedded at a time: a multiple of the embedder's 8, so batches do not depend on it


# -- the evaluation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mistake:
    """A clip given the wrong label: the clip's index among the evaluated ones, and a player when kept."""

    index: int
    name: str
    label: str
    predicted: str
    probability: float  # of the predicted label
    wav: bytes | None = None  # the clip as decoded (first 30 s at most), 16-bit WAV, for a player


@dataclass(frozen=True)
class ClassScore:
    """One label's clips, how many were classified right, and the share."""

    label: str
    clips: int
    correct: int
    predicted: int  # clips given this label

    @property
    def accuracy(self) -> float | None:
        """correct / clips; None without clips of this label."""
        return self.correct / self.clips if self.clips else None


@dataclass(frozen=True)
class EvalResult:
    """What an evaluation found, for the clips it read (all of the set, or those before Stop)."""

    checkpoint: str
    description: str
    templates: tuple[str, ...]
    zs: ZeroShotResult  # labels, probs (N, K), top1, true labels, accuracy, confusion
    names: tuple[str, ...]
    captions: tuple[str | None, ...]
    retrieval: dict[str, float]
    retrieval_on: str
    captions_missing: int
    mistakes: tuple[Mistake, ...]
    skipped: tuple[FileOutcome, ...]
    warnings: tuple[dict, ...]
    size: int  # entries in the set
    read: int  # entries looked at (evaluated or skipped)
    seconds: float  # wall time spent reading, decoding and embedding
    policy: str = DEFAULT_POLICY
    attributes: dict | None = None  # attribute-level accuracy over caption twins (attributes.caption_twins); None: no twins

    @property
    def clips(self) -> int:
        """Clips evaluated."""
        return len(self.names)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the clips were classified into."""
        return self.zs.labels

    @property
    def true_labels(self) -> tuple[str, ...]:
        """Each evaluated clip's true label."""
        return self.zs.true_labels

    @property
    def accuracy(self) -> float | None:
        """Top-1 accuracy over the clips whose true label is among the labels (None when none is)."""
        return self.zs.accuracy

    @property
    def stopped(self) -> bool:
        """Whether the run ended before the end of the set (Stop)."""
        return self.read < self.size

    @property
    def clips_per_second(self) -> float | None:
        """Evaluation throughput: entries read per second of wall time."""
        return self.read / self.seconds if self.seconds > 0 else None

    @property
    def outside_labels(self) -> int:
        """Clips whose true label is not among the labels (left out of the accuracy)."""
        return sum(t not in self.labels for t in self.true_labels)

    def per_class(self) -> list[ClassScore]:
        """Each label's count, correct count and predicted count, in label order."""
        m = self.zs.confusion()  # (K, K) rows true, columns predicted
        return [ClassScore(lab, int(m[k].sum()), int(m[k, k]), int(m[:, k].sum())) for k, lab in enumerate(self.labels)]

    def rows(self) -> list[dict]:
        """One row per evaluated clip: file, label, predicted, probability of the prediction, correct."""
        top = self.zs.probs.max(axis=1)
        return [{"file": n, "label": t, "predicted": p, "probability": float(q), "correct": p == t}
                for n, t, p, q in zip(self.names, self.true_labels, self.zs.top1, top)]

    def rows_csv(self) -> str:
        """:meth:`rows` as CSV (the CLI's --csv-out, the page's export)."""
        header = ["file", "label", "predicted", "probability", "correct"]
        return csv_text(header, ([r[k] for k in header] for r in self.rows()))

    def to_dict(self) -> dict:
        """Every figure as JSON-ready values (the CLI's --json; the page's export)."""
        return {
            "checkpoint": self.checkpoint, "clips": self.clips, "labels": list(self.labels),
            "template": list(self.templates), "zero_shot_accuracy": self.accuracy,
            "confusion": self.zs.confusion().tolist(), "retrieval_on": self.retrieval_on,
            "captions_missing": self.captions_missing, **self.retrieval,
            "warnings": list(self.warnings), "skipped": [{"file": o.name, "reason": o.reason} for o in self.skipped],
            "set": self.description, "set_size": self.size, "stopped": self.stopped, "tau": self.zs.tau,
            "policy": self.policy, "outside_labels": self.outside_labels,
            "per_class": [{"label": c.label, "clips": c.clips, "correct": c.correct, "predicted": c.predicted,
                           "accuracy": c.accuracy} for c in self.per_class()],
            "most_confident_mistakes": [{"file": m.name, "label": m.label, "predicted": m.predicted,
                                         "probability": m.probability} for m in self.mistakes],
            "attribute_accuracy": self.attributes,
        }


class Evaluation:
    """One run over a labelled set: :meth:`advance` reads, decodes and embeds the next chunk of clips (a bad
    file becomes a FileOutcome, or with ``strict`` an AudioError); :meth:`result` scores what is done so far.

    ``labels`` None: the distinct true labels of the clips evaluated, sorted (decided by :meth:`result`).
    With labels given, each chunk is classified as it comes, so a playable copy of the ``players`` most
    confident mistakes can be kept (the only audio a run keeps)."""

    def __init__(self, data: LabelledSet, embedder, labels: Sequence[str] | None = None,
                 templates: Sequence[str] | None = None, tau: float | None = None, policy: str = DEFAULT_POLICY,
                 limits: Limits = LIMITS, strict: bool = False, players: int = 0, chunk: int = CHUNK):
        self.data, self.embedder, self.policy, self.limits, self.strict = data, embedder, policy, limits, strict
        self.templates = check_templates(list(templates or [DEFAULT_TEMPLATE]))
        self.labels = check_labels(list(labels)) if labels is not None else None
        self.tau = float(embedder.checkpoint.tau if tau is None else tau)
        self.players, self.chunk = (players if self.labels else 0), chunk
        self._clips = data.clips()
        self.read = 0
        self.seconds = 0.0
        self.finished = False
        self._names: list[str] = []
        self._true: list[str] = []
        self._captions: list[str | None] = []
        self._emb: list[np.ndarray] = []  # (n, d) per chunk
        self._skipped: list[FileOutcome] = []
        self._warnings: list[dict] = []
        self._kept: list[tuple[float, int, str, str, bytes]] = []  # (-p, index, predicted, name, wav), best first

    @property
    def size(self) -> int:
        """Entries in the set."""
        return self.data.size

    @property
    def evaluated(self) -> int:
        """Clips embedded so far."""
        return len(self._names)

    def advance(self) -> None:
        """Read, decode and embed the next ``chunk`` entries; sets ``finished`` at the end of the set."""
        start = time.perf_counter()
        got: list[tuple[LabelledClip, DecodedClip]] = []
        while len(got) < self.chunk:
            entry = next(self._clips, None)
            if entry is None:
                self.finished = True
                break
            self.read += 1
            try:
                if entry.source is None:
                    raise AudioError(entry.name, entry.problem)
                got.append((entry, read_clip(entry.name, entry.source, self.limits)))
            except AudioError as e:
                if self.strict:
                    raise
                self._skipped.append(FileOutcome(entry.name, False, e.reason))
        if got:
            self._take([e for e, _ in got], [c for _, c in got])
        self.seconds += time.perf_counter() - start

    def _take(self, entries: list[LabelledClip], clips: list[DecodedClip]) -> None:
        ck = self.embedder.checkpoint
        E_a = self.embedder.embed_clips(clips, policy=self.policy)  # (n, d)
        first = len(self._names)
        self._emb.append(E_a)
        for e, c in zip(entries, clips):
            self._names.append(e.name)
            self._true.append(e.label)
            self._captions.append(e.caption)
            if c.warnings_for(ck.window_seconds):
                self._warnings.append({"file": c.info.name, "warnings": list(c.warnings_for(ck.window_seconds))})
        if self.players:
            self._keep_mistakes(E_a, entries, clips, first)

    def _keep_mistakes(self, E_a: np.ndarray, entries: list[LabelledClip], clips: list[DecodedClip], first: int) -> None:
        """Keep a player of each clip of this chunk that is among the ``players`` most confident mistakes so far."""
        zs = zero_shot(self.embedder, E_a, self.labels, self.templates, tau=self.tau)
        for k, (e, c) in enumerate(zip(entries, clips)):
            j = int(zs.probs[k].argmax())
            if e.label not in self.labels or zs.labels[j] == e.label:
                continue
            key = (-float(zs.probs[k, j]), first + k)
            if len(self._kept) < self.players or key < self._kept[-1][:2]:
                self._kept.append((*key, zs.labels[j], e.name, wav_bytes(c.samples, c.info.source_rate)))
                self._kept = sorted(self._kept, key=lambda m: m[:2])[: self.players]

    def run(self, on_chunk: Callable[[Evaluation], None] | None = None) -> Evaluation:
        """Advance to the end of the set; ``on_chunk`` is called after each chunk."""
        while not self.finished:
            self.advance()
            if on_chunk:
                on_chunk(self)
        return self

    def result(self, mistakes: int = 10) -> EvalResult:
        """The figures for the clips evaluated so far; DataError when there are none."""
        if not self._names:
            if not self.finished:
                raise DataError("no clip has been evaluated yet")
            shown = "; ".join(f"{o.name}: {o.reason}" for o in self._skipped[:3])
            more = f"; and {len(self._skipped) - 3} more" if len(self._skipped) > 3 else ""
            raise DataError(f"no readable clips left: all {len(self._skipped)} skipped ({shown}{more})"
                            if self._skipped else "no readable clips left: the set is empty")
        emb, rows = self.embedder, list(zip(self._names, self._true, self._captions))
        E_a = np.concatenate(self._emb)  # (N, d)
        labels = self.labels or sorted(set(self._true))
        zs = zero_shot(emb, E_a, labels, self.templates, tau=self.tau, true_labels=self._true)
        captioned = [i for i, (_, _, cap) in enumerate(rows) if cap]
        missing = len(rows) - len(captioned)
        attributes = None
        if len(captioned) >= 2:  # retrieval on the clips that have a caption; the others are left out of it
            E_t = emb.embed_texts([rows[i][2] for i in captioned])  # (M, d)
            sim = cosine_matrix(E_t, E_a[captioned])  # (M, M) captions × clips, float64 as every page ranks
            twins = caption_twins([rows[i][2] for i in captioned], [rows[i][1] for i in captioned])
            if twins:
                attributes = twin_accuracy(E_t, E_a[captioned], twins)
            retrieval = retrieval_metrics(sim, None)
            retrieval_on = "captions (each caption's own clip is the relevant one)"
            if missing:
                retrieval_on += f"; {missing} of {len(rows)} clips have no caption and are left out"
        else:
            present = [lab for lab in zs.labels if lab in set(self._true)]
            clips = [i for i, t in enumerate(self._true) if t in present]
            if len(present) < 2:
                retrieval, retrieval_on = {}, (f"nothing: {len(captioned)} clip(s) have a caption and "
                                               f"{len(present)} label(s) have clips; retrieval needs two")
            else:
                sim = cosine_matrix(label_embeddings(emb, present, self.templates), E_a[clips])  # (K', N') prompts × clips
                relevant = np.array([[self._true[i] == lab for i in clips] for lab in present])
                retrieval = retrieval_metrics(sim, relevant)
                retrieval_on = "label prompts (clips of the same label are relevant)"
                if len(present) < len(zs.labels) or len(clips) < len(rows):
                    retrieval_on += "; labels without clips and clips whose label is not a label are left out"
        return EvalResult(
            checkpoint=emb.checkpoint.name, description=self.data.description, templates=tuple(self.templates),
            zs=zs, names=tuple(self._names), captions=tuple(self._captions), retrieval=retrieval,
            retrieval_on=retrieval_on, captions_missing=missing, mistakes=self._mistakes(zs, mistakes),
            skipped=tuple(self._skipped), warnings=tuple(self._warnings), size=self.size, read=self.read,
            seconds=self.seconds, policy=self.policy, attributes=attributes,
        )

    def _mistakes(self, zs, n: int) -> tuple[Mistake, ...]:
        """The ``n`` most confident wrong predictions (ties: the earlier clip), with the players kept."""
        wav = {index: blob for _, index, _, _, blob in self._kept}
        top = zs.probs.max(axis=1)
        wrong = [i for i, (p, t) in enumerate(zip(zs.top1, zs.true_labels)) if t in zs.labels and p != t]
        wrong.sort(key=lambda i: (-float(top[i]), i))
        return tuple(Mistake(i, self._names[i], zs.true_labels[i], zs.top1[i], float(top[i]), wav.get(i))
                     for i in wrong[:n])


def evaluate(data: LabelledSet, embedder, labels: Sequence[str] | None = None,
             templates: Sequence[str] | None = None, **options) -> EvalResult:
    """Evaluate ``embedder``'s checkpoint on the whole set (see :class:`Evaluation` for the options)."""
    return Evaluation(data, embedder, labels, templates, **options).run().result()


__all__ = ["AUDIO_SUFFIXES", "CHUNK", "CLI_LIMITS", "DEMO_WORLDS", "HOSTED_LIMITS", "LABELLED_DATA", "LOCAL_LIMITS",
           "ClassScore", "DataError", "EvalResult", "Evaluation", "LabelledClip", "LabelledSet",
           "Mistake", "SetLimits", "check_size", "demo_world_set", "evaluate", "examples_set", "path_set",
           "read_labelled", "zip_set"]
