"""The batch: N (clip, caption) pairs and what a person does to them — add files (every file gets an
outcome), edit, move, remove, shuffle and restore the captions. Shared by the app and the CLI.

A :class:`Batch` is immutable: every operation returns a new one, so a caller can keep the old one
(undo, compare) and the app's session state has a single owner. Row i's caption and clip are the
positive pair; every other combination is a negative.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import DEFAULT_MAX_SECONDS, AudioError, AudioInfo, DecodedClip, decode
from .examples import Example

MIME = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg", "mp4": "audio/mp4",
        "webm": "audio/webm", "aac": "audio/aac", "aiff": "audio/aiff"}


@dataclass(frozen=True)
class Limits:
    """What one batch and one file may hold: the same in the app and the CLI."""

    max_seconds: float = DEFAULT_MAX_SECONDS  # decoding stops after this many seconds of a clip
    max_clips: int = 64  # pairs in a batch
    max_file_mb: int = 25  # bytes per file, MB (10⁶ bytes)

    @property
    def max_file_bytes(self) -> int:
        """The per-file limit in bytes."""
        return self.max_file_mb * 1_000_000


LIMITS = Limits()


@dataclass(frozen=True)
class Pair:
    """One pair of the batch: a decoded clip and its caption (and an optional true label)."""

    uid: str  # stable within a batch: content key + a counter, so the same clip can appear twice
    clip: DecodedClip
    caption: str
    label: str = ""
    source: str = "upload"  # upload, recording, example, file
    data: bytes | None = None  # the file as given, for a player; None when it was read from a path
    file_sha: str | None = None  # SHA-256 of ``data`` (hex), computed once when the pair is made and carried by edits

    @property
    def name(self) -> str:
        """The clip's file name."""
        return self.clip.info.name

    @property
    def info(self) -> AudioInfo:
        """What decoding did to the clip."""
        return self.clip.info

    @property
    def mime(self) -> str:
        """MIME type for an audio player."""
        return MIME.get(self.clip.info.container, "audio/wav")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file the user chose: added, or not and why."""

    name: str
    added: bool
    reason: str = ""

    @property
    def message(self) -> str:
        """One line for the user."""
        return f"{self.name}: added" if self.added else f"{self.name}: not added — {self.reason}"


def visible_name(name: str) -> str:
    """A file name with its invisible characters shown: controls (NUL, newlines) and format characters (the bidi
    overrides such as U+202E, zero-width ones) become ⟨U+XXXX⟩, so one name cannot pass for another on the page."""
    return "".join(f"⟨U+{ord(ch):04X}⟩" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in str(name))


def over_limit(size: int, limit_bytes: int) -> str:
    """'26.3 MB is over the limit of 25 MB per file', in bytes when MB would round to the limit itself."""
    if float(f"{size / 1e6:.1f}") > limit_bytes / 1e6:
        return f"{size / 1e6:.1f} MB is over the limit of {limit_bytes / 1e6:g} MB per file"
    return f"{size:,} bytes is over the limit of {limit_bytes / 1e6:g} MB ({limit_bytes:,} bytes) per file".replace(",", " ")


def default_caption(name: str) -> str:
    """A starting caption from a file name: 'dog-bark_01.wav' → 'dog bark 01'."""
    stem = name.rsplit(".", 1)[0]
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or "a sound"


def _size(source: bytes | str | os.PathLike) -> int | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    try:
        return Path(source).stat().st_size
    except OSError:
        return None  # decode names the problem


def read_clip(name: str, source: bytes | str | os.PathLike, limits: Limits = LIMITS) -> DecodedClip:
    """Decode one file within the limits; raise AudioError naming the file and the reason.

    Any failure of a decoder becomes an AudioError for that file, never an escaping exception."""
    size = _size(source)
    if size is not None and size > limits.max_file_bytes:
        raise AudioError(name, over_limit(size, limits.max_file_bytes))
    try:
        return decode(source, name=name, max_seconds=limits.max_seconds)
    except AudioError:
        raise
    except MemoryError:
        raise AudioError(name, "decoding it needs more memory than this server has") from None
    except Exception as e:  # a decoder bug or an odd stream: this file's message, the rest goes on
        raise AudioError(name, f"could not be decoded ({type(e).__name__})") from None


@dataclass(frozen=True)
class Batch:
    """An immutable batch of pairs; operations return a new batch."""

    pairs: tuple[Pair, ...] = ()
    limits: Limits = LIMITS
    next_id: int = 0  # makes uids unique across additions
    shuffles: int = 0  # seeds the next caption shuffle
    unshuffled: tuple[tuple[str, str], ...] | None = None  # (uid, caption) from before the first shuffle

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def __getitem__(self, i: int) -> Pair:
        return self.pairs[i]

    @property
    def captions(self) -> list[str]:
        """Row i's caption, for every row."""
        return [p.caption for p in self.pairs]

    @property
    def labels(self) -> list[str]:
        """Each pair's true label ('' when none)."""
        return [p.label for p in self.pairs]

    @property
    def names(self) -> list[str]:
        """Each clip's file name."""
        return [p.name for p in self.pairs]

    @property
    def clips(self) -> list[DecodedClip]:
        """Each pair's decoded clip."""
        return [p.clip for p in self.pairs]

    @property
    def nbytes(self) -> int:
        """Bytes its clips take: each file as given, or the decoded samples of a pair read from a path."""
        return sum(len(p.data) if p.data is not None else p.clip.samples.nbytes for p in self.pairs)

    @property
    def room(self) -> int:
        """How many more pairs fit."""
        return max(0, self.limits.max_clips - len(self.pairs))

    @property
    def shuffled(self) -> bool:
        """Whether the captions are shuffled (and can be restored)."""
        return self.unshuffled is not None

    # -- adding --------------------------------------------------------------------------------
    def add_files(self, files: Iterable[tuple[str, bytes | str | os.PathLike]], source: str = "upload",
                  captions: Sequence[str | None] | None = None,
                  labels: Sequence[str] | None = None) -> tuple[Batch, list[FileOutcome]]:
        """Add (name, bytes or path) files; return the new batch and one outcome per file, in order.

        A bad file never costs the rest: it gets its reason and is skipped. ``captions``/``labels``
        (aligned with ``files``) go with the files that are added; a missing caption comes from the name."""
        pairs, outcomes, next_id = list(self.pairs), [], self.next_id
        for k, (name, src) in enumerate(files):
            name = visible_name(name)
            if len(pairs) >= self.limits.max_clips:
                outcomes.append(FileOutcome(name, False, f"the batch is full ({self.limits.max_clips} clips at most)"))
                continue
            try:
                clip = read_clip(name, src, self.limits)
            except AudioError as e:
                outcomes.append(FileOutcome(name, False, e.reason))
                continue
            caption = captions[k] if captions is not None and captions[k] is not None else default_caption(name)
            data = bytes(src) if isinstance(src, (bytes, bytearray, memoryview)) else None
            pairs.append(Pair(f"{clip.key[:10]}-{next_id}", clip, str(caption),
                              str(labels[k] or "") if labels is not None else "", source, data,
                              hashlib.sha256(data).hexdigest() if data is not None else None))
            next_id += 1
            outcomes.append(FileOutcome(name, True))
        return dataclasses.replace(self, pairs=tuple(pairs), next_id=next_id), outcomes

    def add_examples(self, examples: Sequence[Example]) -> tuple[Batch, list[FileOutcome]]:
        """Add shipped examples with their captions and labels (the player gets the file's bytes)."""
        return self.add_files([(ex.name, ex.path.read_bytes()) for ex in examples], "example",
                              captions=[ex.caption for ex in examples], labels=[ex.label for ex in examples])

    # -- editing -------------------------------------------------------------------------------
    def with_edits(self, captions: Sequence[str], labels: Sequence[str]) -> Batch:
        """The batch with new captions and labels (same order and length)."""
        if len(captions) != len(self.pairs) or len(labels) != len(self.pairs):
            raise ValueError(f"need {len(self.pairs)} captions and labels, got {len(captions)} and {len(labels)}")
        pairs = tuple(dataclasses.replace(p, caption=str(c), label=str(lab or ""))
                      for p, c, lab in zip(self.pairs, captions, labels))
        return dataclasses.replace(self, pairs=pairs)

    def move(self, index: int, step: int) -> Batch:
        """Move one pair (clip and caption together) up (step -1) or down (+1)."""
        j = index + step
        if not (0 <= index < len(self.pairs) and 0 <= j < len(self.pairs)):
            return self
        pairs = list(self.pairs)
        pairs[index], pairs[j] = pairs[j], pairs[index]
        return dataclasses.replace(self, pairs=tuple(pairs))

    def remove(self, uids: Iterable[str]) -> Batch:
        """The batch without the given pairs."""
        gone = set(uids)
        return dataclasses.replace(self, pairs=tuple(p for p in self.pairs if p.uid not in gone))

    def clear(self) -> Batch:
        """An empty batch (the uid counter goes on)."""
        return dataclasses.replace(self, pairs=(), unshuffled=None)

    def shuffle_captions(self) -> Batch:
        """Give every clip another clip's caption (a seeded derangement): the diagonal is now wrong.

        The captions from before the first shuffle are kept for :meth:`restore_captions`."""
        n = len(self.pairs)
        if n < 2:
            return self
        seed = self.shuffles + 1
        rng = np.random.default_rng(seed)
        while True:
            perm = rng.permutation(n)
            if not np.any(perm == np.arange(n)):
                break
        pairs = tuple(dataclasses.replace(p, caption=self.pairs[int(k)].caption) for p, k in zip(self.pairs, perm))
        keep = self.unshuffled if self.unshuffled is not None else tuple((p.uid, p.caption) for p in self.pairs)
        return dataclasses.replace(self, pairs=pairs, shuffles=seed, unshuffled=keep)

    def restore_captions(self) -> Batch:
        """Put back the captions from before the first shuffle (pairs added since keep theirs)."""
        keep = dict(self.unshuffled or ())
        pairs = tuple(dataclasses.replace(p, caption=keep.get(p.uid, p.caption)) for p in self.pairs)
        return dataclasses.replace(self, pairs=pairs, unshuffled=None)


def read_clips(files: Iterable[tuple[str, bytes | str | os.PathLike]],
               limits: Limits = LIMITS) -> tuple[list[DecodedClip | None], list[FileOutcome]]:
    """Decode files that are not a batch of pairs (zero-shot, evaluation): one clip or None and one
    outcome per file, in order; no limit on how many."""
    clips, outcomes = [], []
    for name, src in files:
        try:
            clips.append(read_clip(name, src, limits))
            outcomes.append(FileOutcome(name, True))
        except AudioError as e:
            clips.append(None)
            outcomes.append(FileOutcome(name, False, e.reason))
    return clips, outcomes
