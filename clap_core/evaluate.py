"""Evaluate a checkpoint on a labelled set: zero-shot accuracy, per class, the confusion matrix, the most
confident mistakes, and retrieval metrics both ways. Shared by the app's Evaluate page and
``python -m clap_core evaluate``: both open a :class:`LabelledSet` and run an :class:`Evaluation` over it
(the CLI through :func:`evaluate`, the page one chunk per rerun so that Stop keeps what was done), so the
same set gives the same numbers in both.

The sets themselves (a CSV, folders, a zip, the demo world, the shipped examples) are opened by
:mod:`clap_core.labelled`; this module scores them. A standard dataset (ESC-50, UrbanSound8K, Clotho, AudioCaps;
recognised by :mod:`clap_core.datasets`) is scored by its standard protocol: zero-shot per fold and their mean, or
caption retrieval over every caption (R@1/5/10 both ways, DCASE's mAP@10); its published reference, when the
checkpoint has one (:mod:`clap_core.references`), is carried next to the measured figure. Every result carries
its protocol (templates, labels, folds, sample rate, truncation, clips) as one string, and the twin test
(:mod:`clap_core.twins`) when the set holds twin pairs (a pair column, or detected twins).

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
from .datasets import Protocol, Standard, protocol
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
from .references import compare
from .retrieval import ranking, retrieval_metrics
from .tables import csv_text
from .twins import find_pairs, pair_blocks, scores
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
    zs: ZeroShotResult | None  # labels, probs (N, K), top1, true labels, accuracy, confusion; None: a caption set
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
    tau: float | None = None  # the τ of the run (zs.tau when clips were classified)
    clip_labels: tuple[str, ...] = ()  # each evaluated clip's true label ('' in a caption set)
    standard: Standard | None = None  # the standard dataset evaluated (clap_core.datasets), or None
    protocol: Protocol | None = None  # how every figure was measured; protocol.text() is printed with them
    folds: dict | None = None  # per-fold zero-shot accuracy and their mean (ESC-50, UrbanSound8K)
    reference: dict | None = None  # the checkpoint's published figure on this dataset, the gap, the differences
    twins: dict | None = None  # the twin test (clap_core.twins): text, audio and group scores; None: no twins

    @property
    def clips(self) -> int:
        """Clips evaluated."""
        return len(self.names)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the clips were classified into (none in a caption set without labels)."""
        return self.zs.labels if self.zs is not None else ()

    @property
    def true_labels(self) -> tuple[str, ...]:
        """Each evaluated clip's true label."""
        return self.zs.true_labels if self.zs is not None else self.clip_labels

    @property
    def accuracy(self) -> float | None:
        """Top-1 accuracy over the clips whose true label is among the labels (None when none is, or no clip was
        classified)."""
        return self.zs.accuracy if self.zs is not None else None

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
        """Clips whose true label is not among the labels (left out of the accuracy); 0 when none was classified."""
        return sum(t not in self.labels for t in self.true_labels) if self.zs is not None else 0

    def per_class(self) -> list[ClassScore]:
        """Each label's count, correct count and predicted count, in label order ([] when none was classified)."""
        if self.zs is None:
            return []
        m = self.zs.confusion()  # (K, K) rows true, columns predicted
        return [ClassScore(lab, int(m[k].sum()), int(m[k, k]), int(m[:, k].sum())) for k, lab in enumerate(self.labels)]

    def rows(self) -> list[dict]:
        """One row per evaluated clip: file, label, predicted, probability of the prediction, correct (the last
        three None when no clip was classified)."""
        if self.zs is None:
            return [{"file": n, "label": t, "predicted": None, "probability": None, "correct": None}
                    for n, t in zip(self.names, self.true_labels)]
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
            "confusion": self.zs.confusion().tolist() if self.zs is not None else None, "retrieval_on": self.retrieval_on,
            "captions_missing": self.captions_missing, **self.retrieval,
            "warnings": list(self.warnings), "skipped": [{"file": o.name, "reason": o.reason} for o in self.skipped],
            "set": self.description, "set_size": self.size, "stopped": self.stopped,
            "tau": self.zs.tau if self.zs is not None else self.tau,
            "policy": self.policy, "outside_labels": self.outside_labels,
            "per_class": [{"label": c.label, "clips": c.clips, "correct": c.correct, "predicted": c.predicted,
                           "accuracy": c.accuracy} for c in self.per_class()],
            "most_confident_mistakes": [{"file": m.name, "label": m.label, "predicted": m.predicted,
                                         "probability": m.probability} for m in self.mistakes],
            "attribute_accuracy": self.attributes,
            "dataset": self.standard.to_dict() if self.standard is not None else None,
            "protocol": self.protocol.text() if self.protocol is not None else None,
            "protocol_aspects": self.protocol.to_dict() if self.protocol is not None else None,
            "folds": self.folds, "reference": self.reference, "twins": self.twins,
        }


class Evaluation:
    """One run over a labelled set: :meth:`advance` reads, decodes and embeds the next chunk of clips (a bad
    file becomes a FileOutcome, or with ``strict`` an AudioError); :meth:`result` scores what is done so far.

    ``labels`` None: the distinct true labels of the clips evaluated, sorted (decided by :meth:`result`); for a
    standard classification set (ESC-50, UrbanSound8K) all its classes, cleaned; for a caption set (Clotho,
    AudioCaps) none — no zero-shot, caption retrieval only (an empty list means the same there).
    With labels given, each chunk is classified as it comes, so a playable copy of the ``players`` most
    confident mistakes can be kept (the only audio a run keeps)."""

    def __init__(self, data: LabelledSet, embedder, labels: Sequence[str] | None = None,
                 templates: Sequence[str] | None = None, tau: float | None = None, policy: str = DEFAULT_POLICY,
                 limits: Limits = LIMITS, strict: bool = False, players: int = 0, chunk: int = CHUNK):
        self.data, self.embedder, self.policy, self.limits, self.strict = data, embedder, policy, limits, strict
        self.templates = check_templates(list(templates or [DEFAULT_TEMPLATE]))
        standard = data.standard
        self.captions_set = standard is not None and standard.task == "captions"
        if labels is not None and (list(labels) or not self.captions_set):
            self.labels = check_labels(list(labels))
        elif standard is not None and standard.task == "classification":
            self.labels = check_labels(list(data.labels))
        else:
            self.labels = None
        # labels other than the set's own (a standard set's cleaned classes): the protocol says so; the page passes
        # its labels box always, which holds the set's own unless edited
        self.labels_given = bool(labels) and tuple(sorted(self.labels)) != data.labels
        self.tau = float(embedder.checkpoint.tau if tau is None else tau)
        self.players, self.chunk = (players if self.labels else 0), chunk
        self._clips = data.clips()
        self.read = 0
        self.seconds = 0.0
        self.finished = False
        self._names: list[str] = []
        self._true: list[str] = []
        self._captions: list[str | None] = []
        self._all_captions: list[tuple[str, ...]] = []  # every caption of each clip (caption sets)
        self._folds: list[int | None] = []
        self._pairs: list[str | None] = []
        self._clip_seconds: list[float] = []
        self._rates: set[int] = set()
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
            self._all_captions.append(e.captions or ((e.caption,) if e.caption else ()))
            self._folds.append(e.fold)
            self._pairs.append(e.pair)
            self._clip_seconds.append(c.seconds)
            self._rates.add(c.info.file_rate)
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
        labels = self.labels or (None if self.captions_set else sorted(set(self._true)))
        zs = zero_shot(emb, E_a, labels, self.templates, tau=self.tau, true_labels=self._true) if labels else None
        captioned = [i for i, (_, _, cap) in enumerate(rows) if cap]
        missing = len(rows) - len(captioned)
        attributes = twins = None
        if self.captions_set:  # every caption of every clip (Clotho, AudioCaps)
            retrieval, retrieval_on = caption_retrieval(emb, E_a, self._all_captions)
        elif len(captioned) >= 2:  # retrieval on the clips that have a caption; the others are left out of it
            E_t = emb.embed_texts([rows[i][2] for i in captioned])  # (M, d)
            sim = cosine_matrix(E_t, E_a[captioned])  # (M, M) captions × clips, float64 as every page ranks
            twins_found = caption_twins([rows[i][2] for i in captioned], [rows[i][1] for i in captioned])
            if twins_found:
                attributes = twin_accuracy(E_t, E_a[captioned], twins_found)
            twins = self._twin_test(E_t, E_a[captioned], captioned)
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
        ck, standard = emb.checkpoint, self.data.standard
        folds = self._fold_scores(zs)
        used = protocol(standard, self.data.description, templates=self.templates, labels_given=self.labels_given,
                        labels=zs.labels if zs is not None else (), folds=[f["fold"] for f in folds["folds"]] if folds else [],
                        rates=self._rates, seconds=self._clip_seconds, model_rate=ck.sampling_rate,
                        window_seconds=ck.window_seconds, max_seconds=self.limits.max_seconds, policy=self.policy,
                        fusion=ck.fusion, size=self.size)
        reference = (compare(ck.name, standard.dataset, zs.accuracy, used)
                     if standard is not None and zs is not None and standard.task == "classification" else None)
        return EvalResult(
            checkpoint=ck.name, description=self.data.description, templates=tuple(self.templates),
            zs=zs, names=tuple(self._names), captions=tuple(self._captions), retrieval=retrieval,
            retrieval_on=retrieval_on, captions_missing=missing,
            mistakes=self._mistakes(zs, mistakes) if zs is not None else (),
            skipped=tuple(self._skipped), warnings=tuple(self._warnings), size=self.size, read=self.read,
            seconds=self.seconds, policy=self.policy, attributes=attributes, tau=self.tau,
            clip_labels=tuple(self._true), standard=standard, protocol=used, folds=folds, reference=reference,
            twins=twins,
        )

    def _twin_test(self, E_t: np.ndarray, E_a: np.ndarray, captioned: list[int]) -> dict | None:
        """The twin test (clap_core.twins) over the captioned clips: pairs from the pair column, else detected."""
        pairs, found_by, left_out = find_pairs([self._captions[i] for i in captioned],
                                               [self._true[i] for i in captioned],
                                               [self._pairs[i] for i in captioned])
        if not pairs:
            return None
        return scores(pair_blocks(E_t, E_a, pairs), pairs, found_by, [self._names[i] for i in captioned], left_out)

    def _fold_scores(self, zs: ZeroShotResult | None) -> dict | None:
        """Per fold: clips (those whose true label is a label), correct, accuracy; and the unweighted mean over
        the folds — for a set whose clips carry a fold (ESC-50, UrbanSound8K)."""
        if zs is None or all(f is None for f in self._folds):
            return None
        by_fold: dict[int, list[bool]] = {}
        for f, p, t in zip(self._folds, zs.top1, self._true):
            if f is not None and t in zs.labels:
                by_fold.setdefault(f, []).append(p == t)
        rows = [{"fold": f, "clips": len(v), "correct": int(sum(v)), "accuracy": sum(v) / len(v)}
                for f, v in sorted(by_fold.items())]
        return {"folds": rows, "mean_accuracy": float(np.mean([r["accuracy"] for r in rows])) if rows else None}

    def _mistakes(self, zs, n: int) -> tuple[Mistake, ...]:
        """The ``n`` most confident wrong predictions (ties: the earlier clip), with the players kept."""
        wav = {index: blob for _, index, _, _, blob in self._kept}
        top = zs.probs.max(axis=1)
        wrong = [i for i, (p, t) in enumerate(zip(zs.top1, zs.true_labels)) if t in zs.labels and p != t]
        wrong.sort(key=lambda i: (-float(top[i]), i))
        return tuple(Mistake(i, self._names[i], zs.true_labels[i], zs.top1[i], float(top[i]), wav.get(i))
                     for i in wrong[:n])


def caption_retrieval(embedder, E_a: np.ndarray, captions: Sequence[tuple[str, ...]]) -> tuple[dict[str, float], str]:
    """The standard caption-retrieval protocol over clips (N, d) with several captions each: every caption is a
    text → audio query whose one relevant item is its clip (R@1/5/10, mAP, and mAP@10 as in DCASE's
    language-based audio retrieval: 1/rank when the clip is in the top 10, else 0); every clip is an audio → text
    query over all captions where any of its own counts (R@1/5/10, mAP). Ranks by cosine through
    clap_core.retrieval's one tie rule. Clips without a caption stay in the gallery."""
    owner = np.array([i for i, caps in enumerate(captions) for _ in caps], dtype=int)
    texts = [c for caps in captions for c in caps]
    if len(texts) < 1 or len(captions) < 2:
        return {}, f"nothing: {len(texts)} caption(s) over {len(captions)} clip(s); retrieval needs two clips"
    sim = cosine_matrix(embedder.embed_texts(texts), E_a)  # (M captions, N clips)
    relevant = owner[:, None] == np.arange(len(captions))[None, :]
    out = retrieval_metrics(sim, relevant)
    ranks = np.argmax(ranking(sim) == owner[:, None], axis=1) + 1  # 1-based rank of each caption's clip
    out["text_to_audio_mAP@10"] = float(np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0)))
    per = len(texts) / len(captions)
    return out, (f"every caption ({len(texts)} over {len(captions)} clips, {per:.2f} per clip): text → audio, its clip "
                 "is the one relevant item; audio → text, any of the clip's captions counts")


def evaluate(data: LabelledSet, embedder, labels: Sequence[str] | None = None,
             templates: Sequence[str] | None = None, **options) -> EvalResult:
    """Evaluate ``embedder``'s checkpoint on the whole set (see :class:`Evaluation` for the options)."""
    return Evaluation(data, embedder, labels, templates, **options).run().result()


__all__ = ["AUDIO_SUFFIXES", "CHUNK", "CLI_LIMITS", "DEMO_WORLDS", "HOSTED_LIMITS", "LABELLED_DATA", "LOCAL_LIMITS",
           "ClassScore", "DataError", "EvalResult", "Evaluation", "LabelledClip", "LabelledSet",
           "Mistake", "SetLimits", "caption_retrieval", "check_size", "demo_world_set", "evaluate", "examples_set", "path_set",
           "read_labelled", "zip_set"]
