"""Real audio files for tests: the shipped CC BY 4.0 recordings (assets/real), encoded at test time into each format."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "assets" / "real"


def real_clip(name: str = "flute-A4.wav", seconds: float | None = 2.0) -> tuple[np.ndarray, int]:
    """A real recording as float32 (T,) or (T, C) and its rate, optionally cut to ``seconds``."""
    data, rate = sf.read(REAL / name, dtype="float32")
    if seconds is not None:
        data = data[: int(seconds * rate)]
    return data, rate


def encode_soundfile(data: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encode with libsndfile: WAV, FLAC, OGG (VORBIS/OPUS), MP3."""
    buf = io.BytesIO()
    sf.write(buf, data, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def encode_pyav(data: np.ndarray, rate: int, container: str, codec: str, video: bool = False, audio: bool = True) -> bytes:
    """Encode with FFmpeg (PyAV): e.g. ('mp4', 'aac') for M4A, ('webm', 'libopus') for WebM."""
    import av

    buf = io.BytesIO()
    mono = data if data.ndim == 1 else data.mean(axis=1)
    with av.open(buf, mode="w", format=container) as out:
        if video:
            vs = out.add_stream("libvpx" if container == "webm" else "mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        if audio:
            s = out.add_stream(codec, rate=rate)
            s.layout = "mono"
            frame_size = s.codec_context.frame_size or 1024
            pcm = (np.clip(mono, -1, 1) * 32767).astype(np.int16)
            pts = 0
            for i in range(0, len(pcm), frame_size):
                chunk = pcm[i : i + frame_size]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
                pts += len(chunk)
                for packet in s.encode(frame):
                    out.mux(packet)
            for packet in s.encode(None):
                out.mux(packet)
        if video:
            for k in range(5):
                img = np.full((32, 32, 3), 40 * k, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = k
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode(None):
                out.mux(packet)
    return buf.getvalue()


def resample_to(data: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Crude linear resampling for building fixtures at a codec's required rate (not under test)."""
    n = int(len(data) * target / rate)
    return np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.float32)


def all_formats(name: str = "flute-A4.wav", seconds: float = 2.0) -> dict[str, bytes]:
    """The same real recording in every supported format, keyed by a short format name."""
    data, rate = real_clip(name, seconds)
    stereo = np.stack([data, 0.5 * data], axis=1)
    at48 = resample_to(data, rate, 48_000)
    return {
        "wav": encode_soundfile(data, rate, "WAV", "PCM_16"),
        "wav-stereo-float": encode_soundfile(stereo, rate, "WAV", "FLOAT"),
        "flac": encode_soundfile(data, rate, "FLAC"),
        "ogg-vorbis": encode_soundfile(data, rate, "OGG", "VORBIS"),
        "ogg-opus": encode_soundfile(at48, 48_000, "OGG", "OPUS"),
        "mp3": encode_soundfile(data, rate, "MP3", "MPEG_LAYER_III"),
        "m4a-aac": encode_pyav(data, rate, "mp4", "aac"),
        "webm-opus": encode_pyav(at48, 48_000, "webm", "libopus"),
    }
