"""Labelled sets, listed but not read: the sources an evaluation runs over (clap_core.evaluate).

A CSV ``file,label[,caption][,pair]`` (paths relative to the CSV's own folder), a folder of label folders or a
folder holding ``clips.csv`` (:func:`read_labelled`, :func:`path_set`); a zip of either layout, read as untrusted
input through :mod:`clap_core.safezip` (:func:`zip_set`); a standard dataset (ESC-50, UrbanSound8K, Clotho,
AudioCaps) in its published layout, as a folder, a zip or its metadata CSV (recognised first, by
:mod:`clap_core.datasets`); the demo world generated from a seed (:func:`demo_world_set`); the shipped examples
(:func:`examples_set`). Each is a :class:`LabelledSet` whose ``clips()`` yields its entries in order, reading each
on the way, so a set is never held in memory whole.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from .audio import describe_content
from .batch import LIMITS, Limits
from .datasets import AUDIO_SUFFIXES, DataError
from .safezip import MemberUnread, Reader, TotalExceeded, ZipRefused, open_zip, visible, zip_members
from .tables import TableError, read_table

if TYPE_CHECKING:
    from .datasets import Standard

LABELLED_DATA = "a CSV file (file,label[,caption]), a folder of label folders or a zip of either"
WORLD_CSV = "clips.csv"  # what demo-world writes beside its clips; a folder holding one is read through it
DEMO_WORLDS = ("classes", "attributes", "pairs")  # demo_world.generate, generate_attributed, attribute_pairs


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
    fold: int | None = None  # a standard dataset's fold (ESC-50, UrbanSound8K)
    captions: tuple[str, ...] = ()  # every caption of the clip (Clotho, AudioCaps: several); () when one or none
    pair: str | None = None  # the CSV's pair column: two rows with the same id are twins (clap_core.twins)


@dataclass(frozen=True)
class LabelledSet:
    """A labelled set, listed but not read: ``clips()`` yields its entries in order, reading each on the way."""

    description: str
    size: int  # entries (clips, readable or not)
    labels: tuple[str, ...]  # the distinct true labels, sorted
    clips: Callable[[], Iterator[LabelledClip]]
    standard: Standard | None = None  # a recognised standard dataset (clap_core.datasets); None for any other set


def check_size(data: LabelledSet, limits: SetLimits) -> LabelledSet:
    """The set, or DataError when it holds more clips than ``limits`` allow."""
    if limits.max_clips is not None and data.size > limits.max_clips:
        raise DataError(f"{data.description}: {data.size} clips; at most {limits.max_clips} are evaluated at a time "
                        f"here — split the set")
    return data


# -- sources: a CSV, a folder, a zip ---------------------------------------------------------------
def _clip(r: dict, source: bytes | str | None, problem: str) -> LabelledClip:
    """A row {name?, file, label, caption, fold?, captions?, pair?} as a clip with its source."""
    return LabelledClip(r.get("name", r["file"]), r["label"], r["caption"], source, problem, r.get("fold"),
                        tuple(r.get("captions", ())), r.get("pair"))


def _labels(rows: Sequence[dict]) -> tuple[str, ...]:
    return tuple(sorted({r["label"] for r in rows if r["label"]}))


def _rows_set(description: str, rows: Sequence[dict], standard: Standard | None = None) -> LabelledSet:
    """A set of rows {file (a path), label, caption|None, name?, problem?, fold?, captions?, pair?}."""
    def clips() -> Iterator[LabelledClip]:
        for r in rows:
            problem = r.get("problem", "")
            yield _clip(r, None if problem else r["file"], problem)

    return LabelledSet(description, len(rows), _labels(rows), clips, standard)


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
    rows = []
    try:
        for line, r in read_table(text, ("file", "label")):
            file, label = (r.get("file") or "").strip(), (r.get("label") or "").strip()
            if not file or not label:
                raise DataError(f"{shown}: line {line} has an empty {'file' if not file else 'label'}")
            rows.append({"file": file, "label": label, "caption": (r.get("caption") or "").strip() or None,
                         "pair": (r.get("pair") or "").strip() or None})
    except TableError as e:
        if e.columns is not None:
            raise DataError(f"{shown}: not {LABELLED_DATA}; its first line has no file and label columns") from None
        raise DataError(f"{shown}: not a readable CSV (line {e.line}: {e})") from None
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
    """A labelled set from a path: a zip (either layout), a CSV, a folder of label folders or one with clips.csv; a
    standard dataset's folder or metadata CSV first (clap_core.datasets)."""
    data = str(Path(data).expanduser())
    path = Path(data)
    if path.is_file() and zipfile.is_zipfile(path):
        return zip_set(path, data, limits)
    from .datasets import recognise_folder

    found = recognise_folder(path, data)
    if found is not None:
        rows, standard = found
        return check_size(_rows_set(f"{data} ({standard.layout})", rows, standard), limits)
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
            rows, layout, standard = _zip_standard(zf, members, shown, total)
    except ZipRefused as e:
        raise DataError(f"{shown}: {e}") from None
    too_big = (f"{shown}: the clips unpack to more than {limits.max_unpacked_mb} MB (the limit for a labelled set "
               f"here)")
    declared = sum(members[r["file"]].file_size for r in rows
                   if r["file"] and members[r["file"]].file_size <= file_limits.max_file_bytes)
    if declared > total:
        raise DataError(too_big)
    labels = _labels(rows)

    def clips() -> Iterator[LabelledClip]:
        with open_zip(data) as zf:
            reader = Reader(zf, total)
            for r in rows:
                if not r["file"]:
                    yield _clip(r, None, r["problem"])
                    continue
                try:
                    blob, problem = reader.read(zf.getinfo(r["file"]), file_limits.max_file_bytes), ""
                except MemberUnread as e:
                    blob, problem = None, str(e)
                except TotalExceeded:  # a header lied about its size: the whole set is refused
                    raise DataError(too_big) from None
                yield _clip(r, blob, problem)

    return check_size(LabelledSet(f"{shown} ({layout})", len(rows), labels, clips, standard), limits)


def _zip_standard(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], shown: str,
                  total: int) -> tuple[list[dict], str, Standard | None]:
    """The zip's rows, its layout in words and the standard dataset it holds (clap_core.datasets), or None and
    the generic layouts (:func:`_zip_rows`)."""
    from .datasets import TABLE_MAX_BYTES, recognise_zip

    reader = Reader(zf, total)
    found = recognise_zip([n for n in members if visible(n)],
                          lambda name: reader.text(members[name], TABLE_MAX_BYTES), shown)
    if found is None:
        return (*_zip_rows(zf, members, shown, total), None)
    rows, standard = found
    return rows, standard.layout, standard


# -- built-in sets ---------------------------------------------------------------------------------
def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
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
            yield LabelledClip(name, clip.label, clip.caption, wav_bytes(clip.waveform, demo_world.RATE))

    used = sorted(set(order[:n]))
    return LabelledSet(f"demo world ({world}), seed {seed}, {n} clips", n, tuple(used), clips)


def examples_set() -> LabelledSet:
    """The shipped examples (assets/examples): demo-world clips and real recordings with their labels."""
    from .examples import load_examples

    rows = [{"file": str(ex.path), "name": ex.name, "label": ex.label, "caption": ex.caption or None}
            for ex in load_examples()]
    return _rows_set("the shipped examples", rows)
