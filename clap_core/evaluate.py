"""Evaluate a checkpoint on a labelled set: zero-shot accuracy, per class, the confusion matrix, the most
confident mistakes, and retrieval metrics both ways. Shared by the app's Evaluate page and
``python -m clap_core evaluate``: both open a :class:`LabelledSet` and run an :class:`Evaluation` over it
(the CLI through :func:`evaluate`, the page one chunk per rerun so that Stop keeps what was done), so the
same set gives the same numbers in both.

Sources: a CSV ``file,label[,caption]``, a folder of label folders or a folder holding ``clips.csv``
(:func:`read_labelled`); a zip of either layout, read as untrusted input with :mod:`clap_core.batchfile`'s
bounded reader (:func:`zip_set`); the demo world generated from a seed (:func:`demo_world_set`); the
shipped examples (:func:`examples_set`).

Memory: clips are read, decoded and embedded one chunk at a time; a run keeps each clip's embedding
(d float32), its name, label and caption, never its audio — except a playable copy of the few most
confident mistakes (``players``; at most the first 30 s as 16-bit WAV each).
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .attributes import caption_twins, twin_accuracy
from .audio import AudioError, DecodedClip, describe_content
from .batch import LIMITS, FileOutcome, Limits, read_clip
from .contrastive import cosine_matrix
from .demo_world import DEFAULT_TEMPLATE
from .features import DEFAULT_POLICY
from .retrieval import retrieval_metrics
from .safezip import MemberUnread, Reader, TotalExceeded, ZipRefused, open_zip, visible, zip_members
from .tables import csv_text, unescape_cell
from .zeroshot import ZeroShotResult, check_labels, check_templates, label_embeddings, zero_shot

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm", ".mka", ".aif", ".aiff"}
LABELLED_DATA = "a CSV file (file,label[,caption]), a folder of label folders or a zip of either"
WORLD_CSV = "clips.csv"  # what demo-world writes beside its clips; a folder holding one is read through it
CHUNK = 16  # clips decoded and embedded at a time: a multiple of the embedder's 8, so batches do not depend on it
DEMO_WORLDS = ("classes", "attributes", "pairs")  # demo_world.generate, generate_attributed, attribute_pairs


class DataError(ValueError):
    """A labelled set that cannot be used; the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class SetLimits:
    """How big a labelled set may be: clips (None: no limit), zip entries, and a zip's clips unpacked."""

    max_clips: int | None
    max_members: int
    max_unpacked_mb: int


HOSTED_LIMITS = SetLimits(max_clips=300, max_members=400, max_unpacked_mb=200)  # a hosted app (2.7 GB RAM)
LOCAL_LIMITS = SetLimits(max_clips=5000, max_members=5100, max_unpacked_mb=2000)  # the app on your machine
CLI_LIMITS = SetLimits(max_clips=None, max_members=20_000, max_unpacked_mb=8000)  # the CLI: any folder or CSV


@dataclass(frozen=True)
class LabelledClip:
    """One entry of a labelled set, before decoding: its file (bytes or a path), true label, caption."""

    name: str
    label: str
    caption: str | None
    source: bytes | str | None  # None: the file could not be read, see ``problem``
    problem: str = ""


@dataclass(frozen=True)
class LabelledSet:
    """A labelled set, listed but not read: ``clips()`` yields its entries in order, reading each on the way."""

    description: str
    size: int  # entries (clips, readable or not)
    labels: tuple[str, ...]  # the distinct true labels, sorted
    clips: Callable[[], Iterator[LabelledClip]]


def check_size(data: LabelledSet, limits: SetLimits) -> LabelledSet:
    """The set, or DataError when it holds more clips than ``limits`` allow."""
    if limits.max_clips is not None and data.size > limits.max_clips:
        raise DataError(f"{data.description}: {data.size} clips; at most {limits.max_clips} are evaluated at a time "
                        f"here — split the set")
    return data


# -- sources: a CSV, a folder, a zip ---------------------------------------------------------------
def _rows_set(description: str, rows: Sequence[dict]) -> LabelledSet:
    """A set of rows {file (a path), label, caption|None, name?, problem?}."""
    def clips() -> Iterator[LabelledClip]:
        for r in rows:
            problem = r.get("problem", "")
            yield LabelledClip(r.get("name", r["file"]), r["label"], r["caption"], None if problem else r["file"],
                               problem)

    return LabelledSet(description, len(rows), tuple(sorted({r["label"] for r in rows})), clips)


def read_labelled(data: str) -> list[dict]:
    """Rows {file, label, caption|None} from a CSV (file,label[,caption]), a folder holding clips.csv, or a
    folder of label folders."""
    path = Path(data)
    if path.is_dir() and (path / WORLD_CSV).is_file():
        return _csv_rows(path / WORLD_CSV, str(path / WORLD_CSV))
    if path.is_dir():
        rows = [{"file": str(f), "label": d.name, "caption": None}
                for d in sorted(p for p in path.iterdir() if p.is_dir())
                for f in sorted(d.iterdir()) if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES]
        if not rows:
            raise DataError(f"{data}: no audio files in label subfolders and no {WORLD_CSV} "
                            f"(expected DIR/<label>/<clip> or DIR/{WORLD_CSV})")
        return rows
    if path.is_file():
        return _csv_rows(path, data)
    raise DataError(f"{data}: no such file or folder")


def _csv_text(path: Path, shown: str) -> str:
    """The file's text; a DataError naming it when its bytes are not UTF-8 text (an image, audio, …)."""
    with path.open("rb") as f:
        head = f.read(4096)
    text = None
    if b"\0" not in head:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    if text is None or "\0" in text:
        what = describe_content(head) or "binary data, not UTF-8 text"
        raise DataError(f"{shown}: not {LABELLED_DATA}; its content is {what}")
    return text


def _csv_table(text: str, shown: str) -> list[dict]:
    """Rows {file, label, caption|None} of a CSV file,label[,caption], the files as written."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        if not {"file", "label"} <= set(columns):
            raise DataError(f"{shown}: not {LABELLED_DATA}; its first line has no file and label columns")
        reader.fieldnames = columns
        for r in reader:
            file, label = (r.get("file") or "").strip(), (r.get("label") or "").strip()
            if not file or not label:
                raise DataError(f"{shown}: line {reader.line_num} has an empty {'file' if not file else 'label'}")
            rows.append({"file": file, "label": unescape_cell(label),
                         "caption": unescape_cell((r.get("caption") or "").strip()) or None})
    except csv.Error as e:
        raise DataError(f"{shown}: not a readable CSV (line {reader.line_num}: {e})") from None
    if not rows:
        raise DataError(f"{shown}: the CSV has no rows")
    return rows


def _csv_rows(path: Path, shown: str) -> list[dict]:
    """Rows of a CSV file,label[,caption]; relative file paths are taken from the CSV's folder. A file that is not
    there gets a problem naming the path tried."""
    rows = _csv_table(_csv_text(path, shown), shown)
    for r in rows:
        written = r["file"]
        r["file"] = written if Path(written).is_absolute() else str((path.parent / written).resolve())
        if not Path(r["file"]).is_file():
            where = "" if Path(written).is_absolute() else f" ({written!r} in the CSV, taken from the CSV's folder)"
            r["problem"] = f"file not found{where}"
    return rows


def path_set(data: str, limits: SetLimits = CLI_LIMITS) -> LabelledSet:
    """A labelled set from a path: a zip (either layout), a CSV, a folder of label folders or one with clips.csv."""
    data = str(Path(data).expanduser())
    path = Path(data)
    if path.is_file() and zipfile.is_zipfile(path):
        return zip_set(path, data, limits)
    rows = read_labelled(data)
    return check_size(_rows_set(f"{data}", rows), limits)


def _zip_rows(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], shown: str,
              total: int) -> tuple[list[dict], str]:
    """Rows {file (a member or None), name, label, caption, problem} of a zip, and its layout in words."""
    files = sorted(n for n in members if visible(n))
    tables = [n for n in files if n.lower().endswith(".csv")]
    if len(tables) > 1:
        raise DataError(f"{shown}: the zip holds {len(tables)} CSV files ({', '.join(tables[:4])}); keep one "
                        f"file,label[,caption] table, or use one folder per label and no CSV")
    if tables:
        table = tables[0]
        try:
            text = Reader(zf, total).text(members[table])
        except ZipRefused as e:
            raise DataError(f"{shown}: {e}") from None
        base = table[: -len(PurePosixPath(table).name)]
        rows = []
        for r in _csv_table(text, f"{shown}: {table}"):
            member = base + r["file"]
            rows.append({**r, "file": member if member in members else None, "name": r["file"],
                         "problem": "" if member in members else f"not in the zip (named in {table})"})
        return rows, f"a {table} table"
    rows = []
    for n in files:
        path = PurePosixPath(n)
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        if len(path.parts) < 2:
            rows.append({"file": None, "name": n, "label": "", "caption": None,
                         "problem": "not in a label folder (expected <label>/<clip>)"})
        else:
            rows.append({"file": n, "name": n, "label": path.parent.name, "caption": None, "problem": ""})
    if not rows:
        raise DataError(f"{shown}: no CSV and no audio files in label folders (expected <label>/<clip> or a "
                        f"file,label[,caption] CSV beside the clips)")
    return rows, "label folders"


def zip_set(data: bytes | str | Path, shown: str, limits: SetLimits = LOCAL_LIMITS,
            file_limits: Limits = LIMITS) -> LabelledSet:
    """A labelled set from a zip (bytes or a path): one folder per label, or a CSV file,label[,caption] with the
    files (paths relative to the CSV). Refused with a DataError: not a zip, an unsafe member name (absolute,
    '..', a backslash), more entries, clips or unpacked bytes than ``limits`` allow. Nothing is extracted to
    disk; each member is read when its chunk comes, bounded by its declared and its inflated size."""
    try:
        with open_zip(data, limits.max_members, "a labelled set here") as zf:
            members = zip_members(zf, limits.max_members, "a labelled set here")
            total = limits.max_unpacked_mb * 1_000_000
            rows, layout = _zip_rows(zf, members, shown, total)
    except ZipRefused as e:
        raise DataError(f"{shown}: {e}") from None
    too_big = (f"{shown}: the clips unpack to more than {limits.max_unpacked_mb} MB (the limit for a labelled set "
               f"here)")
    declared = sum(members[r["file"]].file_size for r in rows
                   if r["file"] and members[r["file"]].file_size <= file_limits.max_file_bytes)
    if declared > total:
        raise DataError(too_big)
    labels = tuple(sorted({r["label"] for r in rows if r["label"]}))

    def clips() -> Iterator[LabelledClip]:
        with open_zip(data) as zf:
            reader = Reader(zf, total)
            for r in rows:
                if not r["file"]:
                    yield LabelledClip(r["name"], r["label"], r["caption"], None, r["problem"])
                    continue
                try:
                    blob, problem = reader.read(zf.getinfo(r["file"]), file_limits.max_file_bytes), ""
                except MemberUnread as e:
                    blob, problem = None, str(e)
                except TotalExceeded:  # a header lied about its size: the whole set is refused
                    raise DataError(too_big) from None
                yield LabelledClip(r["name"], r["label"], r["caption"], blob, problem)

    return check_size(LabelledSet(f"{shown} ({layout})", len(rows), labels, clips), limits)


# -- built-in sets ---------------------------------------------------------------------------------
def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono samples as a 16-bit WAV file (what demo-world writes; the mistakes' players)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def demo_world_set(seed: int, n: int, world: str = "classes") -> LabelledSet:
    """``n`` demo-world clips from ``seed``, made one at a time as they are read: the ``classes`` world
    (demo_world.generate; the same files and names as ``demo-world --seed S --n N --out DIR`` writes) or the
    ``attributes`` world (demo_world.generate_attributed), or ``pairs`` (demo_world.attribute_pairs: same-class
    twins whose captions differ in one attribute word, consecutive; the set's attribute accuracy), each clip
    a 16-bit WAV at 48 kHz."""
    from . import demo_world

    if world not in DEMO_WORLDS:
        raise DataError(f"unknown demo world {world!r}; choose {' or '.join(DEMO_WORLDS)}")
    if n < 1:
        raise DataError("a demo-world set needs at least one clip")
    make = demo_world.make_clip if world == "classes" else demo_world.make_attribute_clip
    labels = demo_world.LABELS

    per_attribute = -(-n // (2 * sum(len(a) for a in demo_world.CLASS_ATTRIBUTES.values())))  # pairs: 42·k ≥ n
    order = ([lab for lab in labels for _ in demo_world.CLASS_ATTRIBUTES[lab] for _ in range(2 * per_attribute)]
             if world == "pairs" else [labels[i % len(labels)] for i in range(min(n, len(labels)))])

    def generated() -> Iterator:
        if world == "pairs":  # twins, consecutive: the first n clips of attribute_pairs(seed, k)
            yield from demo_world.world_clips(seed, per_attribute, "pairs")
            return
        rng = np.random.default_rng(seed)  # one generator drawn in order: generate()'s loop, a clip at a time
        for i in range(n):
            yield make(labels[i % len(labels)], rng)

    def clips() -> Iterator[LabelledClip]:
        for i, clip in zip(range(n), generated()):
            name = f"{i:04d}_{clip.label.replace(' ', '-')}.wav"
            yield LabelledClip(name, clip.label, clip.caption, _wav_bytes(clip.waveform, demo_world.RATE))

    used = sorted(set(order[:n]))
    return LabelledSet(f"demo world ({world}), seed {seed}, {n} clips", n, tuple(used), clips)


def examples_set() -> LabelledSet:
    """The shipped examples (assets/examples): demo-world clips and real recordings with their labels."""
    from .examples import load_examples

    rows = [{"file": str(ex.path), "name": ex.name, "label": ex.label, "caption": ex.caption or None}
            for ex in load_examples()]
    return _rows_set("the shipped examples", rows)


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
                self._kept.append((*key, zs.labels[j], e.name, _wav_bytes(c.samples, c.info.source_rate)))
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
