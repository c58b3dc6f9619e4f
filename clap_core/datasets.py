"""Standard datasets in their published layouts, recognised from a folder, a zip or their metadata CSV, and the
protocol every figure on them is reported with.

Recognised (by :func:`recognise_folder` and :func:`recognise_zip`, which :func:`clap_core.labelled.path_set` and
:func:`clap_core.labelled.zip_set` try before the generic layouts):

  ESC-50        ``meta/esc50.csv`` (filename, fold, target, category, esc10, src_file, take) + ``audio/<filename>``;
                zero-shot over its classes, per fold (1–5) and their mean.
  UrbanSound8K  ``metadata/UrbanSound8K.csv`` (slice_file_name, fsID, start, end, salience, fold, classID, class) +
                ``audio/fold<fold>/<slice_file_name>``; zero-shot per fold (1–10) and their mean.
  Clotho        a captions CSV (file_name, caption_1 … caption_5), e.g. ``clotho_captions_evaluation.csv``, with its
                clips in ``evaluation/`` (the CSV's name after ``clotho_captions_``) or beside it; caption retrieval.
  AudioCaps     a CSV (audiocap_id, youtube_id, start_time, caption), e.g. ``test.csv``, one row per caption; a clip
                is ``<youtube_id>.<ext>`` or ``<youtube_id>_<start_time>.<ext>`` (any audio extension the app reads)
                beside the CSV, in ``<csv stem>/``, ``audio/`` or ``audio/<csv stem>/``; caption retrieval.

Labels are cleaned as the papers do: the class names with '_' → ' ' (``crackling_fire`` → ``crackling fire``).
The folder (or zip root) may hold more: only these files are read. A clip the table lists but the files lack is
listed as skipped ("not found"), so a partial download is evaluated on what is there and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from .tables import TableError, read_table

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm", ".mka", ".aif", ".aiff"}


class DataError(ValueError):
    """A labelled set that cannot be used; the message is one line naming the file and the reason (clap_core.labelled
    re-exports it: the standard datasets are read below the generic sets, so the error lives here)."""

ESC50_TABLE, US8K_TABLE = "meta/esc50.csv", "metadata/UrbanSound8K.csv"
ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
US8K_COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
CLOTHO_COLUMNS = ("file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5")
AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
TABLE_MAX_BYTES = 20_000_000  # a metadata table read from a zip (AudioCaps' train.csv is ≈ 4 MB)
LABEL_CLEANING = "the class names with '_' → ' ' (e.g. crackling_fire → crackling fire), as the papers do"
# which caption table of a folder is evaluated when it holds several: the test split first
SPLIT_PREFERENCE = ("evaluation", "test", "validation", "val", "development", "train")
POLICY_WORDS = {"windows": "the mean of the embeddings of its {w} s windows, the last ending at its end",
                "first": "its first {w} s only",
                "centre": "its centre {w} s only"}  # clap_core.features.LONG_CLIP_POLICIES
AUDIOCAPS_NAMING = ("<youtube_id>.<ext> or <youtube_id>_<start_time>.<ext> (any audio extension the app reads), beside "
                    "the CSV, in <csv stem>/, audio/ or audio/<csv stem>/")


@dataclass(frozen=True)
class Standard:
    """A recognised standard dataset: which, its task, the table read and what was found of it."""

    dataset: str  # "ESC-50", "UrbanSound8K", "Clotho", "AudioCaps"
    task: str  # "classification" (zero-shot per fold) or "captions" (retrieval over every caption)
    table: str  # the metadata file read, as found in the set
    listed: int  # clips the table lists
    found: int  # of them, with an audio file
    folds: tuple[int, ...] = ()  # classification: the folds the table lists
    naming: str = ""  # which files are taken for a clip
    choice: str = ""  # when a folder holds several caption tables: which one was taken and why

    @property
    def layout(self) -> str:
        """The set's layout in words (a LabelledSet's description ends with it)."""
        return f"{self.dataset}: {self.table}"

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "task": self.task, "table": self.table, "clips_listed": self.listed,
                "clips_found": self.found, "folds": list(self.folds), "naming": self.naming, "choice": self.choice}


def clean_label(name: str) -> str:
    """A class name as the papers prompt with it: '_' → ' ', spaces collapsed (``crackling_fire`` → ``crackling fire``)."""
    return " ".join(name.replace("_", " ").split())


# -- where the files are: a folder or a zip --------------------------------------------------------
@dataclass
class _Files:
    """The files of a folder or a zip, by posix name relative to the set's root: ``listing(folder)`` (the file
    names in one folder, read once), ``where(name)`` (a path on disk or a zip member: what a row's ``file`` is)."""

    list_folder: Callable[[str], Collection[str]]
    where: Callable[[str], str]

    def __post_init__(self) -> None:
        self._seen: dict[str, frozenset[str]] = {}

    def listing(self, folder: str) -> frozenset[str]:
        folder = folder.strip("/")
        if folder not in self._seen:
            self._seen[folder] = frozenset(self.list_folder(folder))
        return self._seen[folder]

    def exists(self, name: str) -> bool:
        p = PurePosixPath(name)
        parent = "" if str(p.parent) == "." else str(p.parent)
        return p.name in self.listing(parent)


def _disk_files(root: Path) -> _Files:
    def list_folder(folder: str) -> list[str]:
        try:
            with os.scandir(root / folder) as it:
                return [e.name for e in it if e.is_file()]
        except OSError:
            return []

    root = root.resolve()
    return _Files(list_folder, lambda name: str(root / name))


def _zip_files(names: Collection[str], prefix: str) -> _Files:
    by_folder: dict[str, set[str]] = {}
    for n in names:
        if n.startswith(prefix):
            p = PurePosixPath(n[len(prefix):])
            by_folder.setdefault("" if str(p.parent) == "." else str(p.parent), set()).add(p.name)
    return _Files(lambda folder: by_folder.get(folder, set()), lambda name: prefix + name)


# -- the tables ----------------------------------------------------------------------------------------
def _table(text: str, columns: Sequence[str], shown: str) -> list[tuple[int, dict[str, str]]]:
    try:
        return list(read_table(text, columns))
    except TableError as e:
        raise DataError(f"{shown}: not a readable table ({e})") from None


def _header(text: str) -> set[str]:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return {c.strip().strip('"') for c in first.split(",")}


def _fold(value: str, line: int, shown: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DataError(f"{shown}: line {line}: fold {value!r} is not a whole number") from None


def _resolve(rows: list[dict], files: _Files) -> list[dict]:
    """Rows {name, candidates, label, caption, captions, fold} → rows {file, name, …, problem}: the first candidate
    that exists, or no file and a problem naming what was looked for."""
    out = []
    for r in rows:
        hit = next((c for c in r.pop("candidates") if files.exists(c)), None)
        out.append({**r, "file": files.where(hit) if hit else None,
                    "problem": "" if hit else f"not found (looked for {r['looked_for']})"})
    for r in out:
        del r["looked_for"]
    return out


def _classification(dataset: str, table: str, text: str, files: _Files, shown: str) -> tuple[list[dict], Standard]:
    esc = dataset == "ESC-50"
    columns = ESC50_COLUMNS if esc else US8K_COLUMNS
    rows = []
    for line, r in _table(text, columns, f"{shown}: {table}"):
        fold = _fold(r["fold"] or "", line, f"{shown}: {table}")
        file = (r["filename"] if esc else r["slice_file_name"]).strip()
        label = clean_label(r["category"] if esc else r["class"])
        if not file or not label:
            raise DataError(f"{shown}: {table}: line {line} has an empty file name or class")
        rel = f"audio/{file}" if esc else f"audio/fold{fold}/{file}"
        rows.append({"name": file if esc else f"fold{fold}/{file}", "candidates": [rel], "looked_for": rel,
                     "label": label, "caption": None, "captions": (), "fold": fold})
    if not rows:
        raise DataError(f"{shown}: {table} lists no clips")
    rows = _resolve(rows, files)
    found = sum(r["file"] is not None for r in rows)
    return rows, Standard(dataset, "classification", table, len(rows), found,
                          tuple(sorted({r["fold"] for r in rows})), naming="audio/<filename>" if esc
                          else "audio/fold<fold>/<slice_file_name>")


def _split(table: str, prefix: str = "") -> str:
    stem = PurePosixPath(table).stem
    return stem[len(prefix):] if prefix and stem.startswith(prefix) else stem


def _base(table: str) -> str:
    """The folder of a table relative to the set's root, with a trailing '/' ('' at the root)."""
    parent = PurePosixPath(table).parent
    return "" if parent == PurePosixPath(".") else f"{parent}/"


def _clotho(table: str, text: str, files: _Files, shown: str) -> tuple[list[dict], Standard]:
    base = _base(table)
    split = _split(table, "clotho_captions_")
    rows = []
    for line, r in _table(text, CLOTHO_COLUMNS, f"{shown}: {table}"):
        name = (r["file_name"] or "").strip()
        captions = tuple(c for c in ((r[k] or "").strip() for k in CLOTHO_COLUMNS[1:]) if c)
        if not name:
            raise DataError(f"{shown}: {table}: line {line} has an empty file_name")
        candidates = [f"{base}{split}/{name}", f"{base}{name}"]
        rows.append({"name": name, "candidates": candidates, "looked_for": " or ".join(candidates), "label": "",
                     "caption": captions[0] if captions else None, "captions": captions, "fold": None})
    if not rows:
        raise DataError(f"{shown}: {table} lists no clips")
    rows = _resolve(rows, files)
    return rows, Standard("Clotho", "captions", table, len(rows), sum(r["file"] is not None for r in rows),
                          naming=f"{split}/<file_name> or <file_name> beside the CSV")


def _audiocaps(table: str, text: str, files: _Files, shown: str) -> tuple[list[dict], Standard]:
    base, stem = _base(table), _split(table)
    folders = [base.rstrip("/"), f"{base}{stem}", f"{base}audio", f"{base}audio/{stem}"]
    stems: dict[str, str] = {}  # file stem → the file, over the folders in order (the first one wins)
    for folder in folders:
        for f in sorted(files.listing(folder)):
            p = PurePosixPath(f)
            if p.suffix.lower() in AUDIO_SUFFIXES:
                stems.setdefault(p.stem, f"{folder}/{f}" if folder else f)
    clips: dict[str, dict] = {}
    for line, r in _table(text, AUDIOCAPS_COLUMNS, f"{shown}: {table}"):
        yid, start, caption = (r["youtube_id"] or "").strip(), (r["start_time"] or "").strip(), (r["caption"] or "").strip()
        if not yid:
            raise DataError(f"{shown}: {table}: line {line} has an empty youtube_id")
        clip = clips.setdefault(yid, {"start": start, "captions": []})
        if caption:
            clip["captions"].append(caption)
    if not clips:
        raise DataError(f"{shown}: {table} lists no clips")
    rows = []
    for yid, c in clips.items():
        starts = [c["start"]] + ([str(int(float(c["start"])))] if re.fullmatch(r"\d+\.0*", c["start"]) else [])
        hit = next((stems[k] for k in [yid] + [f"{yid}_{s}" for s in starts] if k in stems), None)
        captions = tuple(c["captions"])
        rows.append({"name": PurePosixPath(hit).name if hit else yid, "file": files.where(hit) if hit else None,
                     "problem": "" if hit else f"not found (looked for {yid}.<ext> or {yid}_{c['start']}.<ext>)",
                     "label": "", "caption": captions[0] if captions else None, "captions": captions, "fold": None})
    return rows, Standard("AudioCaps", "captions", table, len(rows), sum(r["file"] is not None for r in rows),
                          naming=AUDIOCAPS_NAMING)


CAPTION_TABLES = {"Clotho": (CLOTHO_COLUMNS, _clotho), "AudioCaps": (AUDIOCAPS_COLUMNS, _audiocaps)}


def caption_table_kind(text_head: str) -> str | None:
    """'Clotho' or 'AudioCaps' when a CSV's header line has that dataset's columns; None otherwise."""
    header = _header(text_head)
    return next((k for k, (cols, _) in CAPTION_TABLES.items() if set(cols) <= header), None)


def _pick(tables: list[str]) -> tuple[str, str]:
    """The caption table to evaluate among several (the test split first), and a note saying so."""
    if len(tables) == 1:
        return tables[0], ""

    def rank(t: str) -> tuple[int, str]:
        split = _split(t, "clotho_captions_").lower()
        return (SPLIT_PREFERENCE.index(split) if split in SPLIT_PREFERENCE else len(SPLIT_PREFERENCE), t)

    chosen = min(tables, key=rank)
    return chosen, (f"{chosen} of {', '.join(sorted(tables))} (the test split first; give a CSV's path to choose "
                    f"another)")


def _from_tables(tables: dict[str, str], read: Callable[[str], str], files: Callable[[str], _Files],
                 shown: str) -> tuple[list[dict], Standard] | None:
    """``tables``: {name relative to the set's root: 'ESC-50' | 'UrbanSound8K' | 'Clotho' | 'AudioCaps'} of the
    recognised tables; ``files(prefix)``: the files under a root."""
    for dataset, marker in (("ESC-50", ESC50_TABLE), ("UrbanSound8K", US8K_TABLE)):
        hits = sorted((t for t, k in tables.items() if k == dataset), key=len)
        if hits:
            root = hits[0][: -len(marker)]
            return _classification(dataset, marker, read(hits[0]), files(root), shown)
    caption_tables = [t for t, k in tables.items() if k in CAPTION_TABLES]
    if not caption_tables:
        return None
    table, choice = _pick(caption_tables)
    rows, std = CAPTION_TABLES[tables[table]][1](table, read(table), files(""), shown)
    return rows, replace(std, choice=choice)


def recognise_folder(path: Path, shown: str) -> tuple[list[dict], Standard] | None:
    """Rows {file (a path or None), name, label, caption, captions, fold, problem} and the dataset, when ``path`` is
    a standard dataset's folder (or its metadata CSV); None when it is not one (only a few files are looked at)."""
    def head(p: Path) -> str:
        with p.open("rb") as f:
            return f.read(4096).decode("utf-8-sig", errors="replace")

    def read(p: Path) -> str:
        try:
            return p.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{p}: not UTF-8 text") from None

    if path.is_file():
        if path.suffix.lower() != ".csv":
            return None
        for dataset, marker in (("ESC-50", ESC50_TABLE), ("UrbanSound8K", US8K_TABLE)):
            if path.as_posix().endswith("/" + marker):
                return _classification(dataset, marker, read(path), _disk_files(path.parent.parent), shown)
        kind = caption_table_kind(head(path))
        if kind is None:
            return None
        return CAPTION_TABLES[kind][1](path.name, read(path), _disk_files(path.parent), shown)
    if not path.is_dir():
        return None
    tables = {m: d for d, m in (("ESC-50", ESC50_TABLE), ("UrbanSound8K", US8K_TABLE)) if (path / m).is_file()}
    if not tables:
        for p in sorted(path.glob("*.csv")):
            kind = caption_table_kind(head(p)) if p.is_file() else None
            if kind:
                tables[p.name] = kind
    if not tables:
        return None
    return _from_tables(tables, lambda rel: read(path / rel), lambda root: _disk_files(path / root), shown)


def recognise_zip(names: Collection[str], read: Callable[[str], str], shown: str) -> tuple[list[dict], Standard] | None:
    """As :func:`recognise_folder` for a zip's (visible) member ``names``; ``read(name)`` gives a member's text.
    The dataset may sit in a top folder (``ESC-50-master/meta/esc50.csv``); a row's ``file`` is a member name."""
    tables: dict[str, str] = {}
    for n in names:
        for dataset, marker in (("ESC-50", ESC50_TABLE), ("UrbanSound8K", US8K_TABLE)):
            if n == marker or n.endswith("/" + marker):
                tables[n] = dataset
    if not tables:
        for n in sorted(names):
            if n.lower().endswith(".csv"):
                kind = caption_table_kind(read(n))
                if kind:
                    tables[n] = kind
    if not tables:
        return None
    return _from_tables(tables, read, lambda root: _zip_files(names, root), shown)


# -- the protocol ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protocol:
    """How figures were measured, aspect by aspect, in words (``text()``: the protocol string printed with every
    figure) and as ``facts`` a published reference is compared on (clap_core.references)."""

    dataset: str
    task: str  # what was measured
    templates: str
    labels: str
    folds: str
    sample_rate: str
    truncation: str
    clips: str
    facts: dict = field(default_factory=dict, compare=False)  # templates, labels, listed, evaluated, rate, fusion, seconds

    ASPECTS = ("templates", "labels", "folds", "sample_rate", "truncation", "clips")

    def text(self) -> str:
        """The one-line protocol string printed with every figure."""
        return " · ".join([f"{self.dataset}: {self.task}"] + [f"{a.replace('_', ' ')}: {getattr(self, a)}"
                                                               for a in self.ASPECTS])

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "task": self.task, **{a: getattr(self, a) for a in self.ASPECTS}}


def _seconds_range(seconds: Sequence[float]) -> str:
    if not seconds:
        return "none read"
    lo, hi = min(seconds), max(seconds)
    return f"{lo:.1f} s each" if hi - lo < 0.05 else f"{lo:.1f}–{hi:.1f} s"


def protocol(standard: Standard | None, description: str, *, templates: Sequence[str], labels_given: bool,
             labels: Sequence[str], folds: Sequence[int], rates: Collection[int], seconds: Sequence[float],
             model_rate: int, window_seconds: float, max_seconds: float, policy: str, fusion: bool,
             size: int) -> Protocol:
    """The protocol of an evaluation: the set (a standard dataset or ``description``), the templates, label
    cleaning, folds, sample-rate handling, truncation (first ``max_seconds``; the long-clip policy) and the clips.
    ``labels`` empty: no zero-shot (a caption set without --labels)."""
    captions = standard is not None and standard.task == "captions"
    found = "" if standard is None else f" ({standard.table}; {standard.found} of {standard.listed} listed clips found)"
    dataset = description if standard is None else standard.dataset + found
    if standard is None:
        task = "zero-shot over the set's labels; retrieval on its captions (or on label prompts)"
        label_kind, label_text = ("given", "as given (--labels)") if labels_given else ("as written", "the set's labels as written")
    elif captions:
        task = ("caption retrieval over every caption: text → audio R@1/5/10, mAP@10 (DCASE) and mAP, its clip the "
                "one relevant item; audio → text R@1/5/10 and mAP, any of the clip's captions counts; ranks by "
                "cosine, 12 decimals, ties to the lower index")
        label_kind, label_text = ("given", f"{len(labels)} given (--labels)") if labels else ("none", "none (captions as written)")
    else:
        task = (f"zero-shot accuracy over all clips and per fold, every clip classified into all {len(labels)} "
                "labels (top-1 of τ·cos; ties to the lower label index)")
        label_kind, label_text = ("given", "as given (--labels)") if labels_given else ("cleaned", LABEL_CLEANING)
    if captions and not labels:
        template_text = "not used (captions as written)"
    else:
        template_text = " + ".join(repr(t) for t in templates) + (" (prompts averaged)" if len(templates) > 1 else "")
    if standard is not None and standard.folds and not captions:
        fold_text = (f"{', '.join(map(str, standard.folds))} listed; evaluated {', '.join(map(str, folds)) or 'none'}; "
                     "accuracy per fold and their unweighted mean (and over all clips)")
    else:
        fold_text = "none (one set)"
    shown_rates = ", ".join(f"{r} Hz" for r in sorted(rates)) or "none read"
    resampled = any(r != model_rate for r in rates)
    rate_text = (f"files at {shown_rates}, mixed to mono (mean of channels), "
                 + (f"resampled to the model's {model_rate} Hz (torchaudio sinc; soxr VHQ for odd ratios)" if resampled
                    else f"used at the model's {model_rate} Hz"))
    truncation = (f"first {max_seconds:g} s; long-clip policy {policy} (a clip over the model's {window_seconds:g} s "
                  f"window: {POLICY_WORDS.get(policy, policy).format(w=f'{window_seconds:g}')}); shorter clips "
                  "repeat-padded" + ("; fusion off (is_longer unset)" if fusion else ""))
    clip_text = f"{len(seconds)} evaluated of {size} in the set; {_seconds_range(seconds)}"
    facts = {"templates": tuple(templates), "labels": label_kind, "listed": standard.listed if standard else size,
             "evaluated": len(seconds), "rate": model_rate, "fusion": False, "policy": policy,
             "window": window_seconds, "seconds": (min(seconds), max(seconds)) if seconds else None}
    return Protocol(dataset, task, template_text, label_text, fold_text, rate_text, truncation, clip_text, facts)


__all__ = ["AUDIOCAPS_COLUMNS", "CLOTHO_COLUMNS", "ESC50_COLUMNS", "LABEL_CLEANING", "US8K_COLUMNS", "Protocol", "Standard", "caption_table_kind", "clean_label", "protocol", "recognise_folder", "recognise_zip"]
