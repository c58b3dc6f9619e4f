"""decode() in bounded memory whatever a file's header says: hostile files (many channels, very high rates) are
refused in one line or kept small; ordinary files decode to exactly the samples of a whole-array downmix."""

import io

import av
import numpy as np
import pytest
import soundfile as sf

from benchmarks.decode_memory import HOSTILE, hostile_files, measure
from clap_core import audio
from clap_core.audio import CANCEL_RATIO, MAX_CHANNELS, MAX_KEPT_RATE, SILENCE_PEAK, AudioError, content_key, decode
from media import REAL, all_formats, encode_soundfile

MAX_KEPT_BYTES = 30 * 48_000 * 4  # 30 s of mono float32 at the highest rate a model uses
# measured here: +3 MB (255 channels, refused), +53 MB (32 ch at 192 kHz), +59 MB (8 ch at 655 350 Hz),
# +36 MB (mono at 655 350 Hz); before the change +2 810, +1 430, +1 276 and +226 MB
MAX_GROWTH_MB = 200
TINY_CHUNK = 4096  # bytes: a few hundred frames per read, so that every ordinary file crosses chunk boundaries


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_are_refused_or_kept_small_in_bounded_memory(hostile, name):
    out = measure(hostile[name])  # a fresh process: its peak RSS is this decode's
    assert "error" not in out, out
    assert out["growth_mb"] < MAX_GROWTH_MB, out
    rate, channels = HOSTILE[name][:2]
    if channels > MAX_CHANNELS:
        assert not out["accepted"] and out["message"] == f"{name}: {channels} channels: at most {MAX_CHANNELS} are read"
        return
    assert out["accepted"] and out["kept_bytes"] <= MAX_KEPT_BYTES and out["rate"] == MAX_KEPT_RATE, out
    assert f"recorded at {rate:,} Hz".replace(",", " ") in out["warnings"][0], out


@pytest.mark.parametrize("name", [n for n, (_, channels, *_) in HOSTILE.items() if channels <= MAX_CHANNELS])
def test_a_high_rate_file_is_kept_at_the_cap_and_says_so(hostile, name):
    rate, channels = HOSTILE[name][:2]
    clip = decode(hostile[name])
    info = clip.info
    assert (info.file_rate, info.source_rate, info.channels) == (rate, MAX_KEPT_RATE, channels)
    assert clip.samples.nbytes <= MAX_KEPT_BYTES and info.seconds == pytest.approx(30.0, abs=1e-3)
    hz = f"{rate:,}".replace(",", " ")
    assert info.warnings[0] == f"recorded at {hz} Hz, above what any model uses; kept at 48 000 Hz"
    assert clip.waveform(MAX_KEPT_RATE) is clip.samples and clip.key == content_key(clip.samples, MAX_KEPT_RATE)


def test_the_ffmpeg_path_is_bounded_too(hostile):
    with pytest.raises(audio._Refused, match="255 channels: at most 64 are read"):
        audio._decode_pyav(str(hostile["vorbis-255ch-48k.ogg"]), 30.0)
    mixer, rate, seconds, truncated, declared = audio._decode_pyav(str(hostile["vorbis-32ch-192k.ogg"]), 30.0)
    mono, cancel = mixer.finish()
    assert (rate, mixer.kept_rate, seconds, truncated, declared) == (192_000, MAX_KEPT_RATE, 30.0, False, None)
    assert mono.nbytes <= MAX_KEPT_BYTES and not cancel


def test_a_resampled_clip_keeps_its_sound():
    rate, t = 96_000, np.arange(96_000) / 96_000
    left = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    data = encode_soundfile(np.stack([left, 0.5 * left], axis=1), rate, "WAV", "FLOAT")
    clip = decode(data)
    assert (clip.info.file_rate, clip.info.source_rate, clip.samples.shape) == (96_000, 48_000, (48_000,))
    expected = 0.375 * np.sin(2 * np.pi * 1000 * np.arange(48_000) / 48_000)
    assert np.max(np.abs(clip.samples[100:-100] - expected[100:-100])) < 1e-4


def _wav(rate: int, channels: int, frames: int = 480) -> bytes:
    return encode_soundfile(np.zeros((frames, channels), np.float32), rate, "WAV", "PCM_16")


def test_what_cannot_be_made_small_is_refused_in_one_line(monkeypatch):
    with pytest.raises(AudioError) as e:
        decode(_wav(2_000_000, 1), name="fast.wav")
    assert str(e.value) == "fast.wav: sampled at 2 000 000 Hz: at most 1 000 000 Hz is read"
    with pytest.raises(AudioError) as e:
        decode(_wav(8000, 65), name="many.wav")
    assert str(e.value) == "many.wav: 65 channels: at most 64 are read"
    assert decode(_wav(8000, 64)).info.channels == 64
    monkeypatch.setattr(audio, "MAX_DECODED_BYTES", 100_000)
    with pytest.raises(AudioError) as e:
        decode(_wav(48_000, 8, 48_000), name="big.wav")
    assert str(e.value) == ("big.wav: 8 channels at 48 000 Hz for 1.00 s are 1.54 MB of samples to decode: "
                            "at most 0.1 MB is decoded per clip")
    assert decode(_wav(48_000, 8, 48_000), max_seconds=3000).info.channels == 8  # a longer cut allows more
    # a header that understates the length: the count of what was decoded refuses it as it passes the budget
    mixer = audio._Mixer(48_000, 2, max_seconds=30.0, expected=10)
    with pytest.raises(audio._Refused, match="at most 0.1 MB is decoded per clip"):
        for _ in range(100):
            mixer.add(np.zeros((1000, 2), np.float32))


def _ogg(seconds: float, seed: int) -> bytes:
    x = 0.1 * np.sin(np.arange(int(8000 * seconds)) * (0.1 + 0.01 * seed))
    return encode_soundfile(x.astype(np.float32), 8000, "OGG", "VORBIS")


@pytest.mark.parametrize("streams", [2, 1000])
def test_a_chained_ogg_says_only_its_first_stream_was_read(streams):
    data = b"".join(_ogg(0.5, i) for i in range(streams))  # each its own serial number
    clip = decode(data, name="chained.ogg")
    assert clip.info.seconds == pytest.approx(0.5) and clip.info.source_seconds == pytest.approx(0.5)
    assert f"the file chains {streams} Ogg streams; only the first was read" in clip.info.warnings
    assert not any("declares" in w for w in clip.info.warnings), clip.info.warnings  # no 10¹⁵ s placeholder
    assert not any("chains" in w for w in decode(_ogg(0.5, 0)).info.warnings)


def test_a_planar_stream_of_more_than_8_channels_decodes_through_ffmpeg():
    t = np.arange(24_000) / 24_000
    x = np.stack([np.sin(2 * np.pi * (200 + 50 * c) * t) * 0.05 for c in range(10)], axis=1).astype(np.float32)
    data = encode_soundfile(x, 24_000, "OGG", "VORBIS")  # FFmpeg decodes Vorbis to planar float
    mixer, rate, *_ = audio._decode_pyav(data, 30.0)
    mono, _ = mixer.finish()
    ref = decode(data).samples  # libsndfile's decoder
    n = min(len(mono), len(ref))
    assert mixer.channels == 10 and rate == 24_000 and abs(len(mono) - len(ref)) < 2048
    assert np.max(np.abs(mono[:n] - ref[:n])) < 1e-3


# -- ordinary files: exactly what today's whole-array decode gave --------------------------------------------------
def _reference(data: bytes, decoder: str, max_seconds: float = 30.0) -> tuple[np.ndarray, int, int, bool]:
    """(mono, rate, channels, downmixed) as the whole-array decode had them: every frame up to max_seconds of every
    channel in one array, their float32 mean, the left channel where they cancel."""
    if decoder == "soundfile":
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate = f.samplerate
            frames = f.read(frames=int(round(max_seconds * rate)), dtype="float32", always_2d=True)
    else:
        with av.open(io.BytesIO(data)) as c:
            stream = c.streams.audio[0]
            rate = stream.codec_context.sample_rate
            arrays = [fr.to_ndarray() for fr in c.decode(stream)]
            assert all(a.shape[0] == 1 for a in arrays)  # the FFmpeg-only fixtures are mono
            frames = np.concatenate([audio._to_float32(a).T for a in arrays])[: int(round(max_seconds * rate))]
    channels = frames.shape[1]
    if channels == 1:
        return frames[:, 0], rate, 1, False
    mono = frames.mean(axis=1, dtype=np.float32)
    rms = lambda x: np.sqrt(np.mean(np.square(x, dtype=np.float64)))  # noqa: E731
    if np.max(np.abs(frames)) >= SILENCE_PEAK and rms(mono) < CANCEL_RATIO * rms(frames):
        return frames[:, 0], rate, channels, False
    return mono, rate, channels, True


def _ordinary() -> dict[str, bytes]:
    files = {f"format-{k}": v for k, v in all_formats().items()}
    files.update({f"real-{p.name}": p.read_bytes() for p in sorted(REAL.glob("*.wav"))})
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((48_000 * 45, 2))).astype(np.float32)  # 45 s: cut at 30, several chunks
    files["stereo-48k-45s.flac"] = encode_soundfile(x, 48_000, "FLAC")
    files["cancelling-stereo.wav"] = encode_soundfile(np.stack([x[:44_100, 0], -x[:44_100, 0]], axis=1), 44_100, "WAV", "FLOAT")
    files["6ch-32k.wav"] = encode_soundfile(rng.standard_normal((64_000, 6)).astype(np.float32) * 0.1, 32_000, "WAV", "FLOAT")
    files["12ch-8k.ogg"] = encode_soundfile(rng.standard_normal((8000, 12)).astype(np.float32) * 0.1, 8000, "OGG", "VORBIS")
    return files


ORDINARY = _ordinary()


@pytest.mark.parametrize("chunk", [audio.CHUNK_BYTES, TINY_CHUNK])
@pytest.mark.parametrize("name", list(ORDINARY))
def test_ordinary_files_decode_to_the_same_samples_and_info(monkeypatch, name, chunk):
    data = ORDINARY[name]
    clip = decode(data, name=name)
    ref, rate, channels, downmixed = _reference(data, clip.info.decoder)
    assert np.array_equal(clip.samples, ref), name
    info = clip.info
    assert (info.source_rate, info.file_rate, info.channels, info.downmixed) == (rate, rate, channels, downmixed)
    assert info.seconds == len(ref) / rate and info.peak == float(np.max(np.abs(ref)))
    assert clip.key == content_key(ref, rate) and not any("recorded at" in w for w in info.warnings)
    monkeypatch.setattr(audio, "CHUNK_BYTES", chunk)
    again = decode(data, name=name)
    assert again.info == info and again.key == clip.key


def test_nan_in_a_late_chunk_is_refused(monkeypatch):
    x = np.zeros((20_000, 2), np.float32)
    x[-1, 1] = np.nan
    monkeypatch.setattr(audio, "CHUNK_BYTES", TINY_CHUNK)
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode(encode_soundfile(x, 16_000, "WAV", "FLOAT"))

