"""The live batch: (clip, caption) pairs and the operations on them. Pure Python, no Streamlit."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from clap_core.audio import AudioError, AudioInfo, decode
from clap_core.examples import Example, load_examples

MIME = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg", "mp4": "audio/mp4",
        "webm": "audio/webm", "aac": "audio/aac", "aiff": "audio/aiff"}
MAX_SECONDS = 30.0  # decoding stops after this many seconds of a clip, for every item however it is made
# Six demo-world clips the bundled model knows, and two real recordings it has never heard.
DEFAULT_BATCH = ("demo-low-tone.flac", "demo-rising-sweep.flac", "demo-falling-sweep.flac", "demo-white-noise.flac",
                 "demo-fast-clicks.flac", "demo-siren.flac", "rain.wav", "piano.wav")


@dataclass(frozen=True)
class BatchItem:
    """One pair of the batch: a decoded clip (kept with its original bytes for the player) and a caption."""

    uid: str  # stable id: content hash + a counter, so the same clip can appear twice
    name: str
    data: bytes
    waveform: np.ndarray  # (T,) mono float32 at info.sample_rate
    info: AudioInfo
    caption: str
    label: str = ""
    source: str = "upload"  # upload, recording, example

    @property
    def mime(self) -> str:
        """MIME type for the audio player."""
        return MIME.get(self.info.container, "audio/wav")


def default_caption(name: str) -> str:
    """A starting caption from a file name: 'dog-bark_01.wav' → 'dog bark 01'."""
    stem = name.rsplit(".", 1)[0]
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or "a sound"


def make_item(data: bytes, name: str, rate: int, *, caption: str | None = None, label: str = "",
              source: str = "upload", counter: int = 0, window_seconds: float | None = None) -> BatchItem:
    """Decode bytes into a batch item; raises AudioError (naming the file) if unreadable."""
    clip = decode(data, rate, name=name, max_seconds=MAX_SECONDS, window_seconds=window_seconds)
    uid = f"{hashlib.sha1(data).hexdigest()[:10]}-{counter}"
    return BatchItem(uid, name, data, clip.waveform, clip.info,
                     caption if caption is not None else default_caption(name), label, source)


def add_files(batch: list[BatchItem], files: list[tuple[str, bytes]], rate: int, *, source: str = "upload",
              max_clips: int, start_counter: int = 0,
              window_seconds: float | None = None) -> tuple[list[BatchItem], list[str]]:
    """Add readable files to the batch; return the new batch and one message per file not added.

    A bad file never costs the rest of the batch: it is reported and skipped."""
    batch, errors = list(batch), []
    for k, (name, data) in enumerate(files):
        if len(batch) >= max_clips:
            errors.append(f"{name}: not added, the batch is full ({max_clips} clips at most)")
            continue
        try:
            batch.append(make_item(data, name, rate, source=source, counter=start_counter + k,
                                   window_seconds=window_seconds))
        except AudioError as e:
            errors.append(str(e))
    return batch, errors


def example_items(examples: list[Example], rate: int, counter: int = 0, window_seconds: float | None = None) -> list[BatchItem]:
    """Batch items for shipped examples, with their captions and labels."""
    return [make_item(ex.path.read_bytes(), ex.name, rate, caption=ex.caption, label=ex.label, source="example",
                      counter=counter + k, window_seconds=window_seconds) for k, ex in enumerate(examples)]


def default_batch(rate: int, window_seconds: float | None = None) -> list[BatchItem]:
    """The batch a new session opens with: eight example clips with their captions and labels."""
    by_name = {ex.name: ex for ex in load_examples()}
    return example_items([by_name[n] for n in DEFAULT_BATCH], rate, window_seconds=window_seconds)


def with_edits(batch: list[BatchItem], captions: list[str], labels: list[str]) -> list[BatchItem]:
    """The batch with new captions and labels (same order and length)."""
    return [dataclasses.replace(it, caption=str(c), label=str(lab or "")) for it, c, lab in zip(batch, captions, labels)]


def move(batch: list[BatchItem], index: int, step: int) -> list[BatchItem]:
    """Move one pair (clip and caption together) up (step -1) or down (+1)."""
    j = index + step
    if not (0 <= index < len(batch) and 0 <= j < len(batch)):
        return list(batch)
    out = list(batch)
    out[index], out[j] = out[j], out[index]
    return out


def remove(batch: list[BatchItem], uids: set[str]) -> list[BatchItem]:
    """The batch without the given items."""
    return [it for it in batch if it.uid not in uids]


def shuffle_captions(batch: list[BatchItem], seed: int) -> list[BatchItem]:
    """Give every clip another clip's caption (a seeded derangement): the diagonal is now wrong."""
    n = len(batch)
    if n < 2:
        return list(batch)
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            break
    return [dataclasses.replace(it, caption=batch[int(p)].caption) for it, p in zip(batch, perm)]


def resample_batch(batch: list[BatchItem], rate: int, window_seconds: float | None = None) -> list[BatchItem]:
    """Re-decode items whose rate differs from ``rate`` (after a checkpoint change)."""
    out = []
    for it in batch:
        if it.info.sample_rate == rate:
            out.append(it)
        else:
            clip = decode(it.data, rate, name=it.name, max_seconds=MAX_SECONDS, window_seconds=window_seconds)
            out.append(dataclasses.replace(it, waveform=clip.waveform, info=clip.info))
    return out
