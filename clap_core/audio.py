"""Audio in: bytes or a path → a decoded clip (mono float32 at its source rate, a content key, a
record of what was done), and that clip at any model rate through a per-rate memo.

Memory is bounded whatever a file's header says: the header's rate × channels × seconds is checked before
decoding, and more than ``MAX_CHANNELS`` channels, a rate above ``MAX_RATE`` or more than ``MAX_DECODED_BYTES``
of samples to decode is refused with one line. The file is read in chunks of at most ``CHUNK_BYTES`` (all
channels, float32), each mixed to mono as it comes; a file above ``MAX_KEPT_RATE`` (more than any model uses)
is resampled down to it as it is read, so the clip's source rate (``AudioInfo.source_rate``, the rate of its
samples) is then ``MAX_KEPT_RATE`` and ``AudioInfo.file_rate`` is the file's own.

Formats are decided by content (magic bytes), never by the file name: WAV, FLAC, OGG (Vorbis, Opus)
and MP3 go through libsndfile (``soundfile``); M4A/AAC, WebM/Matroska and anything libsndfile refuses
go through FFmpeg (PyAV). Decoding stops once ``max_seconds`` of audio has been read. Unreadable input
raises :class:`AudioError`, whose message names the file and the reason (never a decoder's object repr).

Channels are mixed to mono by their mean, except when they cancel (phase-inverted stereo: the mean's RMS
is under 1 % of the channels'): then the first (left) channel is used and a warning says so. Samples are
otherwise kept as the file has them, even far outside [-1, 1]. Inputs that decode but deserve a second
look get a one-sentence entry in ``AudioInfo.warnings``: a truncated file (its header declares more than
could be read), a chained Ogg file (only its first stream is read), a rate above ``MAX_KEPT_RATE``, samples
far outside [-1, 1], a strong DC offset, cancelling channels, silence, a very short clip, and a clip cut at
``max_seconds``.

The clip keeps its source audio: two checkpoints with different rates can embed the same clip, and a
checkpoint switch resamples from the source, never from an already resampled copy.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SILENCE_PEAK = 1e-4  # peak |x| below this counts as silence
SHORT_SECONDS = 0.5  # clips shorter than this get a warning
DEFAULT_MAX_SECONDS = 30.0  # decoding stops here unless told otherwise (clap_core.batch.Limits)
UNRECOGNISED = "not a recognised audio format (WAV, FLAC, OGG, MP3, M4A/AAC, WebM)"
RATE_MEMO = 2  # model-rate copies a clip keeps (the current checkpoint and one more, e.g. a compare view)
FAR_OUTSIDE = 2.0  # peak |x| above this is far outside the [-1, 1] the model expects
DC_SHARE, DC_MIN = 0.5, 0.01  # |mean| above DC_SHARE·RMS and above DC_MIN is a strong DC offset
CANCEL_RATIO = 0.01  # the channel mean's RMS under this share of the channels' RMS: the channels cancel
TRUNCATED_SECONDS = 0.01  # a header may overstate the readable audio by this much before it counts as truncated
MAX_DECLARED_SECONDS = 24 * 3600.0  # a declared length beyond this is a placeholder (e.g. a chained Ogg's), not a length
# Bounds on what decoding may cost, whatever the header says (WAV, FLAC and Vorbis allow 255 channels, FLAC 1 MHz):
MAX_KEPT_RATE = 48_000  # above this (more than any model uses) a file is resampled down to it as it is read
MAX_RATE = 1_000_000  # a file sampled faster is refused (the fastest FLAC is 1 048 575 Hz, DSD-to-PCM 705 600 Hz)
MAX_CHANNELS = 64  # a file with more channels is refused (7.1.4 and ambisonics of order 7 fit)
# all channels as float32 over the seconds read, for a cut at DEFAULT_MAX_SECONDS (a longer cut allows proportionally
# more): a file that needs more is refused. 30 s of 8 channels at 655 350 Hz (629 MB) or 32 at 192 kHz (737 MB) pass
MAX_DECODED_BYTES = 1_000_000_000
CHUNK_BYTES = 8 << 20  # one read of all channels as float32 stays under this (decoding then peaks at +35–60 MB)


class AudioError(ValueError):
    """A file could not be read as audio; the message names the file and the reason."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


@dataclass(frozen=True)
class AudioInfo:
    """What decoding did to one clip (independent of any model's rate)."""

    name: str
    container: str  # sniffed from content: wav, flac, ogg, mp3, mp4, webm, aac, unknown
    decoder: str  # soundfile or pyav
    source_rate: int  # the rate of the clip's samples: the file's own, or MAX_KEPT_RATE when the file is above it
    channels: int
    source_seconds: float  # duration of the file as far as known, before any cut at max_seconds
    truncated: bool  # decoding stopped at max_seconds
    downmixed: bool
    seconds: float  # duration of what was decoded (after the cut)
    peak: float  # max |x| of the mono samples kept
    warnings: tuple[str, ...] = field(default=())
    file_rate: int = 0  # the file's own rate (differs from source_rate only above MAX_KEPT_RATE); 0: source_rate

    def __post_init__(self):
        if not self.file_rate:
            object.__setattr__(self, "file_rate", self.source_rate)


def content_key(samples: np.ndarray, rate: int) -> str:
    """SHA-256 of mono float32 samples and their rate: what a clip's embeddings are cached under."""
    h = hashlib.sha256(f"{int(rate)}:".encode())
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class DecodedClip:
    """A decoded clip: mono float32 source samples (T,) at ``info.source_rate``, its content key
    (computed once, here) and a memo of its waveform at the rates models asked for."""

    samples: np.ndarray  # (T,) mono float32 at info.source_rate, read-only
    info: AudioInfo
    key: str
    _memo: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_samples(cls, samples: np.ndarray, info: AudioInfo) -> DecodedClip:
        """Wrap mono samples (T,) at ``info.source_rate``; computes the content key once."""
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        samples.setflags(write=False)
        return cls(samples, info, content_key(samples, info.source_rate))

    def waveform(self, rate: int) -> np.ndarray:
        """(T',) mono float32 at ``rate``, resampled from the source once per rate (read-only)."""
        rate = int(rate)
        if rate == self.info.source_rate:
            return self.samples
        with self._lock:
            hit = self._memo.get(rate)
            if hit is None:
                hit = resample(self.samples, self.info.source_rate, rate)
                hit.setflags(write=False)
                self._memo[rate] = hit
                while len(self._memo) > RATE_MEMO:
                    self._memo.pop(next(iter(self._memo)))
            return hit

    @property
    def seconds(self) -> float:
        """Duration of the decoded audio, seconds."""
        return self.info.seconds

    def warnings_for(self, window_seconds: float | None) -> tuple[str, ...]:
        """The clip's warnings, plus one if it is longer than a model's window."""
        extra = ()
        if window_seconds and self.seconds > window_seconds:
            extra = (f"longer than the model's {window_seconds:g} s window; the long-clip policy applies",)
        return self.info.warnings + extra


def sniff_container(head: bytes) -> str:
    """Name the container from the first bytes of a file (content, not extension)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] in (b"RF64", b"BW64"):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] in (b"FORM",) and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS sync word, layer bits 00
            return "aac"
        if head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync
            return "mp3"
    return "unknown"


_NON_AUDIO = {
    b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (a batch file opens with Open batch in the app, --batch on the command line)",
    b"{": "JSON or text", b"<": "HTML or XML text",
}


def _non_audio_kind(head: bytes) -> str | None:
    return next((kind for magic, kind in _NON_AUDIO.items() if head.startswith(magic)), None)


def describe_content(head: bytes) -> str | None:
    """What a file's first bytes say it is, in words ('WAV audio', 'a PNG image'), or None when unrecognised."""
    if head[:1] == b"\xff":  # a bare MP3/ADTS sync word is two bits of evidence: too weak to name a kind
        return None
    container = sniff_container(head)
    return f"{container.upper()} audio" if container != "unknown" else _non_audio_kind(head[:8])


def _open_source(source: str | os.PathLike | bytes, name: str | None) -> tuple[str | bytes, str, int, bytes]:
    """(path or bytes, label, size, first 16 bytes). A path is not read whole: the decoders stream it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data, name or "<bytes>", len(data), data[:16]
    path = Path(source)
    label = name or path.name
    try:
        with path.open("rb") as f:
            head = f.read(16)
        return str(path), label, path.stat().st_size, head
    except FileNotFoundError:
        raise AudioError(label, "file not found") from None
    except IsADirectoryError:
        raise AudioError(label, "is a folder, not a file") from None
    except OSError as e:
        raise AudioError(label, f"cannot be read ({e.strerror or e})") from None


def _stream(src: str | bytes):
    """What soundfile and PyAV open: a path as is, bytes as an in-memory file."""
    return io.BytesIO(src) if isinstance(src, bytes) else src


class _Refused(Exception):
    """A file decode() will not read; the message is the reason (it becomes the AudioError's)."""


def _hz(rate: int) -> str:
    return f"{rate:,} Hz".replace(",", " ")


def _check_shape(rate: int, channels: int, frames: int, max_seconds: float) -> None:
    """Refuse, before decoding, what cannot be made small: too many channels, too high a rate, too many bytes."""
    budget = MAX_DECODED_BYTES * max(1.0, max_seconds / DEFAULT_MAX_SECONDS)
    if channels > MAX_CHANNELS:
        raise _Refused(f"{channels} channels: at most {MAX_CHANNELS} are read")
    if rate > MAX_RATE:
        raise _Refused(f"sampled at {_hz(rate)}: at most {_hz(MAX_RATE)} is read")
    if frames * channels * 4 > budget:
        raise _Refused(f"{channels} channels at {_hz(rate)} for {_seconds(frames / rate)} s are "
                       f"{_megabytes(frames * channels * 4)} of samples to decode: "
                       f"at most {_megabytes(budget)} is decoded per clip")


def _megabytes(n: int) -> str:
    """'1.47 GB', '737 MB', '0.1 MB': three significant digits."""
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


class _Mixer:
    """A stream's mono, built chunk by chunk in bounded memory: the mean over channels (float32, as a whole-array
    ``mean(axis=1)`` gives it) and channel 0 (for channels that cancel), resampled to MAX_KEPT_RATE as it comes
    when the file is above it; the sums of the cancel test in float64, NaN/inf checked per chunk."""

    def __init__(self, rate: int, channels: int, max_seconds: float, expected: int):
        if channels < 1:
            raise ValueError("the stream has no channels")
        _check_shape(rate, channels, expected, max_seconds)
        self.rate, self.channels, self.max_seconds = rate, channels, max_seconds
        self.limit = int(round(max_seconds * rate))  # frames kept at most
        self.kept_rate = min(rate, MAX_KEPT_RATE)
        self.chunk = max(1, CHUNK_BYTES // (4 * channels))  # frames per read
        self.n = 0  # frames kept (at most limit), at the file's rate
        self._decoded = 0  # frames decoded (the last chunk may run past limit)
        self._peak = 0.0  # max |x| over all channels
        self._sq_all = self._sq_mono = 0.0  # sums of squares, float64
        self._mono: list[np.ndarray] = []
        self._left: list[np.ndarray] = []
        self._soxr = None
        if rate > MAX_KEPT_RATE:
            import soxr

            self._soxr = soxr.ResampleStream(rate, MAX_KEPT_RATE, 1 if channels == 1 else 2, dtype="float32",
                                             quality=SOXR_QUALITY)

    def add(self, block: np.ndarray) -> None:
        """Mix one chunk (t, C) of float32 frames in; frames past ``limit`` are dropped."""
        if block.shape[1] != self.channels:
            raise ValueError(f"the channel count changes from {self.channels} to {block.shape[1]} mid-stream")
        self._decoded += block.shape[0]
        if self._decoded * self.channels * 4 > MAX_DECODED_BYTES:  # a header that understated the length
            _check_shape(self.rate, self.channels, self._decoded, self.max_seconds)
        block = np.ascontiguousarray(block[: self.limit - self.n])  # a row's mean depends on its layout
        if block.shape[0] == 0:
            return
        if not np.all(np.isfinite(block)):
            raise _Refused("contains NaN or infinite sample values")
        self.n += block.shape[0]
        if self.channels == 1:
            self._keep(block[:, 0], None)
            return
        mono = block.mean(axis=1, dtype=np.float32)
        self._peak = max(self._peak, float(block.max()), -float(block.min()))
        self._sq_all += float(np.sum(np.square(block, dtype=np.float64)))
        self._sq_mono += float(np.sum(np.square(mono, dtype=np.float64)))
        self._keep(mono, block[:, 0])

    def _keep(self, mono: np.ndarray, left: np.ndarray | None, last: bool = False) -> None:
        if self._soxr is not None:
            both = mono[:, None] if left is None else np.stack([mono, left], axis=1)
            out = self._soxr.resample_chunk(both, last=last)
            mono, left = out[:, 0], (None if left is None else out[:, 1])
        self._mono.append(np.array(mono, dtype=np.float32))  # a copy: the chunk it came from is let go
        if left is not None:
            self._left.append(np.array(left, dtype=np.float32))

    def finish(self) -> tuple[np.ndarray, bool]:
        """(mono samples at kept_rate, whether the channels cancelled and channel 0 is used instead)."""
        if self._soxr is not None:
            empty = np.zeros(0, np.float32)
            self._keep(empty, None if self.channels == 1 else empty, last=True)
        cancel = (self.channels > 1 and self._peak >= SILENCE_PEAK
                  and math.sqrt(self._sq_mono / self.n) < CANCEL_RATIO * math.sqrt(self._sq_all / (self.n * self.channels)))
        parts = self._left if cancel else self._mono
        self._mono = self._left = []
        return (np.concatenate(parts) if len(parts) != 1 else parts[0]), cancel


_MPEG = ("MP3", "MPEG")  # what soundfile names an MP3's format (0.12 on: MP3)


def _decode_soundfile(src: str | bytes, max_seconds: float) -> tuple[_Mixer, int, float, bool, float | None]:
    """(mixed frames, rate, source seconds, truncated, seconds the header declares if it holds less) with
    libsndfile, reading at most max_seconds in chunks."""
    import soundfile as sf

    with sf.SoundFile(_stream(src)) as f:
        rate = int(f.samplerate)
        limit = int(round(max_seconds * rate))
        total = f.frames if f.frames and f.frames > 0 else None  # unknown for some streams
        if total and total > MAX_DECLARED_SECONDS * rate:  # a placeholder (a chained Ogg gets 2⁶³ - 1): unknown
            total = None
        want = min(limit, total) if total else limit + 1
        mixer = _Mixer(rate, int(f.channels), max_seconds, want)
        # MPEG audio has at most 2 channels at 48 kHz, and libsndfile's MP3 samples depend on the read sizes: one read
        chunk = want if f.format in _MPEG else mixer.chunk
        got = 0
        while got < want:
            k = min(chunk, want - got)
            block = f.read(frames=k, dtype="float32", always_2d=True)
            mixer.add(block)
            got += block.shape[0]
            if block.shape[0] < k:
                break
        fmt = f.format
    declared = None
    if total is None:
        total = got
    elif got < want:  # the data ends before the length libsndfile was given
        if fmt not in _MPEG or _mp3_length_is_exact(src):  # without a Xing/Info/VBRI header an MP3's length is a guess
            declared = total / rate
        total = got
    if fmt == "WAV":  # libsndfile quietly shortens a WAV whose data chunk runs past the end of the file
        declared = _wav_declared_seconds(src, total / rate) or declared
    if declared is not None and (declared - total / rate <= TRUNCATED_SECONDS or declared > MAX_DECLARED_SECONDS):
        declared = None
    return mixer, rate, total / rate, total > limit, declared


_OGG_BOS = re.compile(rb"OggS\x00[\x02\x06]")  # an Ogg page that begins a logical stream (BOS, maybe also EOS)
_SCAN_BLOCK = 4 << 20


def _ogg_streams(src: str | bytes) -> int:
    """How many logical streams begin in an Ogg file (more than one: chained), from its pages' BOS flags; 1 without
    a scan when the last page belongs to the first page's stream."""
    size = len(src) if isinstance(src, bytes) else os.path.getsize(src)
    tail = _read_head(src, max(0, size - (128 << 10)), 128 << 10)  # an Ogg page is at most 65 307 bytes
    last = tail.rfind(b"OggS\x00", 0, max(0, len(tail) - 17))  # the last page whose serial is all there
    if last < 0 or tail[last + 14 : last + 18] == _read_head(src, 14, 4):
        return 1
    serials, offset = set(), 0
    while True:
        data = _read_head(src, offset, _SCAN_BLOCK + 18)  # 18: a page header's serial ends at byte 18
        serials.update(data[m.start() + 14 : m.start() + 18] for m in _OGG_BOS.finditer(data)
                       if m.start() < _SCAN_BLOCK and m.start() + 18 <= len(data))
        if len(data) < _SCAN_BLOCK + 18:
            return len(serials)
        offset += _SCAN_BLOCK


def _read_head(src: str | bytes, offset: int, n: int) -> bytes:
    """``n`` bytes of the file from ``offset`` (fewer at its end)."""
    if isinstance(src, bytes):
        return src[offset : offset + n]
    with open(src, "rb") as f:
        f.seek(offset)
        return f.read(n)


def _wav_declared_seconds(src: str | bytes, readable_seconds: float) -> float | None:
    """Seconds a RIFF WAV's data chunk declares, when that chunk runs past the end of the file; else None."""
    size = len(src) if isinstance(src, bytes) else os.path.getsize(src)
    offset = 12
    for _ in range(64):  # chunks before "data": fmt, fact, LIST, bext, … (a few, small)
        head = _read_head(src, offset, 8)
        if len(head) < 8:
            return None
        declared = int.from_bytes(head[4:8], "little")
        if head[:4] == b"data":
            present = size - offset - 8
            if declared in (0, 0xFFFFFFFF) or present <= 0 or declared <= present:  # 0/-1: a streaming placeholder
                return None
            return readable_seconds * declared / present  # constant bytes per second in a WAV data chunk
        offset += 8 + declared + (declared & 1)
    return None


def _mp3_length_is_exact(src: str | bytes) -> bool:
    """Whether an MP3 states its length in a Xing/Info/VBRI header (otherwise libsndfile estimates it)."""
    head = _read_head(src, 0, 10)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:  # skip an ID3v2 tag: syncsafe size, plus a footer if flagged
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10])) + (10 if head[5] & 0x10 else 0)
    frame = _read_head(src, start, 64)  # the tag sits after the side info, at most 36 bytes into the first frame
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def _decode_pyav(src: str | bytes, max_seconds: float) -> tuple[_Mixer | None, int, float, bool, float | None]:
    """(mixed frames, rate, source seconds, truncated, seconds the container declares if it holds clearly
    less) with FFmpeg, decoding no further than needed and mixing each decoded frame as it comes."""
    import av

    with av.open(_stream(src), mode="r") as container:
        if not container.streams.audio:
            raise _NoAudioStream()
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        known = float(stream.duration * stream.time_base) if stream.duration else None
        if known is None and container.duration:
            known = container.duration / 1_000_000
        if known is not None and known > MAX_DECLARED_SECONDS:
            known = None
        expected = max_seconds if known is None else min(known, max_seconds)
        if rate > 0:  # before decoding, from the codec's parameters
            _check_shape(rate, stream.codec_context.channels, int(round(expected * rate)), max_seconds)
        mixer = None
        n = 0
        for arr, frame_rate in _pyav_arrays(container.decode(stream)):
            rate = rate or frame_rate
            if mixer is None:
                mixer = _Mixer(rate, arr.shape[0], max_seconds, int(round(expected * rate)))
            mixer.add(_to_float32(arr).T)  # (t, C)
            n += arr.shape[1]
            if n > max_seconds * rate:
                break
    if mixer is None:
        return None, rate, 0.0, False, None
    truncated = n > mixer.limit
    seconds = max(known or 0.0, n / rate) if truncated else n / rate
    # container durations are estimates (codec priming, padding): only a clear shortfall counts as truncation
    declared = known if not truncated and known and known - seconds > max(0.1, 0.05 * known) else None
    return mixer, rate, seconds, truncated, declared


def _pyav_arrays(frames):
    """(C, t) arrays of decoded PyAV frames, with their rates. PyAV reads a planar frame's planes past
    AV_NUM_DATA_POINTERS (8) from the wrong memory (garbage, or a crash), so such frames are repacked first."""
    import av

    packer = None
    for frame in frames:
        if frame.format.is_planar and len(frame.layout.channels) > 8:
            if packer is None:
                packer = av.AudioResampler(format=frame.format.packed.name, layout=frame.layout, rate=frame.sample_rate)
            yield from ((_frame_array(f), int(f.sample_rate)) for f in packer.resample(frame))
        else:
            yield _frame_array(frame), int(frame.sample_rate)
    if packer is not None:
        yield from ((_frame_array(f), int(f.sample_rate)) for f in packer.resample(None))


def _frame_array(frame) -> np.ndarray:
    arr = frame.to_ndarray()  # planar: (C, t); packed: (1, t·C)
    return arr if frame.format.is_planar else arr.reshape(-1, len(frame.layout.channels)).T


def _to_float32(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind == "i":
        return (arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)).astype(np.float32)
    if arr.dtype.kind == "u":  # unsigned 8-bit PCM: midpoint is 128
        info = np.iinfo(arr.dtype)
        mid = (info.max + 1) / 2
        return ((arr.astype(np.float32) - mid) / mid).astype(np.float32)
    raise TypeError(f"unsupported sample type {arr.dtype}")


class _NoAudioStream(Exception):
    pass


def _decoder_detail(e: BaseException) -> str:
    """A decoder's own reason for failing, without object reprs, paths or libsndfile's misleading pipe message."""
    text = (str(e).strip().splitlines() or [""])[-1].strip()
    text = re.sub(r"^Error opening (<[^<>]*>|'[^']*'|\"[^\"]*\")\s*:\s*", "", text)  # libsndfile names the stream
    text = re.sub(r"^\[Errno -?\d+\]\s*|:\s*'[^']*'$", "", text)  # PyAV: an errno, then the path or '<none>'
    text = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "", text)
    text = re.sub(r"^Error\s*:\s*", "", text).strip(" .:")
    if not text or "possibly a pipe" in text:  # libsndfile's words for any stream it cannot open
        return ""
    return text[0].lower() + text[1:] if text[1:2].islower() else text


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _seconds(s: float) -> str:
    """Seconds with two decimals, more when that would read as 0.00."""
    return f"{s:.2f}" if s >= 0.005 or s == 0 else f"{s:.4f}"


def _level_warnings(mono: np.ndarray, peak: float) -> list[str]:
    """Warnings about the level of the mono samples: far outside [-1, 1], a constant, a strong DC offset."""
    out = []
    if peak > FAR_OUTSIDE:
        out.append(f"samples reach {peak:.1e}, far outside [-1, 1]; they are used as they are, "
                   "but the model expects [-1, 1]")
    mean, rms = float(np.mean(mono, dtype=np.float64)), _rms(mono)
    if abs(mean) > DC_MIN and abs(mean) > DC_SHARE * rms:
        if float(np.std(mono, dtype=np.float64)) < SILENCE_PEAK:
            out.append(f"the clip is DC only (a constant {mean:+.3f}); it carries no sound")
        else:
            out.append(f"strong DC offset (mean {mean:+.3f}, RMS {rms:.3f}); "
                       "the constant part carries no sound but shifts the embedding")
    return out


# torchaudio.functional.resample builds a sinc kernel of new'·(orig' + 2·width) values (orig', new' = rates / gcd),
# 9 GB for 47 999 → 48 000 Hz. Rule: torchaudio (default arguments) iff that kernel has at most this many elements
# (1 MiB float32; the largest of the usual rates, 11 025 → 48 000 Hz, needs 103 040), soxr for every other pair.
TORCHAUDIO_MAX_KERNEL = 1 << 18
SOXR_QUALITY = "VHQ"  # libsoxr's 28-bit "very high quality" recipe; its memory is bounded for any ratio


def torchaudio_kernel_size(source_rate: int, target_rate: int) -> int:
    """Elements in torchaudio.functional.resample's sinc kernel at its defaults (6 zero crossings, rolloff 0.99)."""
    g = math.gcd(int(source_rate), int(target_rate))
    orig, new = int(source_rate) // g, int(target_rate) // g
    width = math.ceil(6 * orig / (0.99 * min(orig, new)))
    return new * (orig + 2 * width)


def resampled_length(n: int, source_rate: int, target_rate: int) -> int:
    """Samples out for ``n`` in: ceil(n·new'/orig') with the quotient rounded to float32 first, as torchaudio does."""
    g = math.gcd(int(source_rate), int(target_rate))
    return math.ceil(np.float32(int(target_rate) // g * n / (int(source_rate) // g)))


def resample(waveform: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono float32 (T,) to (ceil(T·target/source),) as torchaudio counts, in bounded memory for any rates."""
    if source_rate == target_rate:
        return waveform
    # rule: torchaudio (bit-identical to before) iff its kernel has <= TORCHAUDIO_MAX_KERNEL elements, else soxr
    if torchaudio_kernel_size(source_rate, target_rate) <= TORCHAUDIO_MAX_KERNEL:
        import torch
        import torchaudio.functional as AF

        # a read-only clip is copied (same values): torch warns on tensors over non-writable memory
        out = AF.resample(torch.from_numpy(np.require(waveform, requirements="CW")), source_rate, target_rate)
        return out.numpy().astype(np.float32, copy=False)
    import soxr

    n = resampled_length(waveform.shape[0], source_rate, target_rate)
    if n == 0:
        return np.zeros(0, np.float32)
    # soxr returns round(T·new/orig) samples; trailing zeros (torchaudio pads with zeros too) make it give >= n
    pad = -(-2 * int(source_rate) // int(target_rate)) + 1
    x = np.concatenate([np.asarray(waveform, dtype=np.float32), np.zeros(pad, np.float32)])
    out = soxr.resample(x, int(source_rate), int(target_rate), quality=SOXR_QUALITY)
    return np.ascontiguousarray(out[:n], dtype=np.float32)


def decode(source: str | os.PathLike | bytes, *, name: str | None = None,
           max_seconds: float = DEFAULT_MAX_SECONDS) -> DecodedClip:
    """Decode a file or bytes to a mono clip at its source rate; raise AudioError if unreadable."""
    if not (max_seconds > 0 and np.isfinite(max_seconds)):
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds}")
    src, label, size, head = _open_source(source, name)
    if size == 0:
        raise AudioError(label, "the file is empty (0 bytes)")
    container = sniff_container(head)
    other = _non_audio_kind(head[:8]) if container == "unknown" else None
    if other:
        raise AudioError(label, f"not audio: the content is {other}")
    mixer = rate = duration = truncated = declared = None
    decoder = ""
    errors: list[str] = []
    if container in ("wav", "flac", "ogg", "mp3", "aiff"):
        try:
            mixer, rate, duration, truncated, declared = _decode_soundfile(src, max_seconds)
            decoder = "soundfile"
        except _Refused as e:
            raise AudioError(label, str(e)) from None
        except Exception as e:  # libsndfile refuses: fall back to FFmpeg below
            errors.append(_decoder_detail(e))
    if decoder != "soundfile":
        try:
            mixer, rate, duration, truncated, declared = _decode_pyav(src, max_seconds)
            decoder = "pyav"
        except _Refused as e:
            raise AudioError(label, str(e)) from None
        except _NoAudioStream:
            if container == "unknown":
                raise AudioError(label, UNRECOGNISED) from None
            raise AudioError(label, f"contains no audio stream ({container} container)") from None
        except Exception as e:
            if container == "unknown":
                raise AudioError(label, UNRECOGNISED) from None
            detail = next((d for d in [*errors, _decoder_detail(e)] if d), "")
            raise AudioError(label, f"corrupt or truncated {container.upper()} data"
                                    + (f" ({detail})" if detail else "")) from None
    if not rate or rate <= 0:
        raise AudioError(label, "the stream has no valid sampling rate")
    if mixer is None or mixer.n == 0:
        raise AudioError(label, f"contains no audio samples ({container} container)")
    channels, kept_rate = mixer.channels, mixer.kept_rate
    mono, cancel = mixer.finish()  # (T,) at kept_rate
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    seconds = mono.shape[0] / kept_rate
    warnings: list[str] = []
    if declared is not None:
        warnings.append(f"the file is truncated: its header declares {declared:.2f} s "
                        f"but only {_seconds(duration)} s could be read")
    streams = _ogg_streams(src) if container == "ogg" and decoder == "soundfile" else 1
    if streams > 1:
        warnings.append(f"the file chains {streams} Ogg streams; only the first was read")
    if kept_rate != rate:
        warnings.append(f"recorded at {_hz(rate)}, above what any model uses; kept at {_hz(kept_rate)}")
    if cancel:
        warnings.append("the channels cancel when mixed to mono (phase-inverted); the left channel is used")
    warnings += _level_warnings(mono, peak)
    if peak < SILENCE_PEAK:
        warnings.append(f"the clip is silent (peak {peak:.1e}); its embedding says little")
    if seconds < SHORT_SECONDS:
        warnings.append(f"very short clip ({seconds:.2f} s); it is repeated to fill the model's window")
    if truncated:
        warnings.append(f"only the first {max_seconds:g} s of {duration:.1f} s were read")
    info = AudioInfo(
        name=label,
        container=container,
        decoder=decoder,
        source_rate=int(kept_rate),
        channels=channels,
        source_seconds=float(duration),
        truncated=bool(truncated),
        downmixed=channels > 1 and not cancel,
        seconds=float(seconds),
        peak=peak,
        warnings=tuple(warnings),
        file_rate=int(rate),
    )
    return DecodedClip.from_samples(mono, info)
