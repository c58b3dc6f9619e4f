"""Decoding real files in every format, by content; every kind of unreadable input."""

import io

import numpy as np
import pytest
import soundfile as sf

from clap_core.audio import AudioError, decode, sniff_container
from media import encode_pyav, encode_soundfile, real_clip, resample_to

EXPECTED_CONTAINER = {
    "wav": "wav", "wav-stereo-float": "wav", "flac": "flac", "ogg-vorbis": "ogg", "ogg-opus": "ogg",
    "mp3": "mp3", "m4a-aac": "mp4", "webm-opus": "webm",
}


@pytest.mark.parametrize("fmt", list(EXPECTED_CONTAINER))
def test_each_format_decodes_to_the_same_sound(formats, fmt):
    ref, rate = real_clip()
    clip = decode(formats[fmt], 48_000, name=f"flute.{fmt}")
    info = clip.info
    assert info.container == EXPECTED_CONTAINER[fmt]
    assert info.sample_rate == 48_000 and clip.waveform.dtype == np.float32 and clip.waveform.ndim == 1
    assert info.resampled == (info.source_rate != 48_000)
    assert info.seconds == pytest.approx(2.0, abs=0.08)  # codecs add a little priming/padding
    # same sound: spectra of the decoded clip and of the original agree (lossy codecs included)
    ref48 = decode(encode_soundfile(ref, rate, "WAV", "FLOAT"), 48_000).waveform
    n = min(len(ref48), len(clip.waveform))
    spec = lambda x: np.abs(np.fft.rfft(x[:n] * np.hanning(n)))  # noqa: E731
    corr = np.corrcoef(spec(ref48), spec(clip.waveform))[0, 1]
    assert corr > 0.9, f"{fmt}: spectral correlation {corr:.3f}"


def test_format_is_decided_by_content_not_name(formats):
    clip = decode(formats["flac"], 48_000, name="really-a-flac.mp3")
    assert clip.info.container == "flac" and clip.info.decoder == "soundfile"
    clip = decode(formats["m4a-aac"], 48_000, name="song.wav")
    assert clip.info.container == "mp4" and clip.info.decoder == "pyav"


def test_stereo_is_downmixed_to_the_channel_mean(formats):
    clip = decode(formats["wav-stereo-float"], 44_100)
    data, _ = real_clip()
    assert clip.info.channels == 2 and clip.info.downmixed and not clip.info.resampled
    np.testing.assert_allclose(clip.waveform, 0.75 * data, atol=1e-6)


def test_resampling_is_torchaudio_and_deterministic(formats):
    a = decode(formats["wav"], 48_000).waveform
    b = decode(formats["wav"], 48_000).waveform
    assert np.array_equal(a, b)
    assert len(a) == round(2.0 * 48_000)


def test_path_input_names_the_file(tmp_path, formats):
    p = tmp_path / "clip.ogg"
    p.write_bytes(formats["ogg-vorbis"])
    assert decode(p, 48_000).info.name == "clip.ogg"


def test_decoding_stops_at_max_seconds(tmp_path):
    data, rate = real_clip("ocean.wav", None)
    total = len(data) / rate
    clip = decode(encode_soundfile(data, rate, "WAV", "PCM_16"), rate, max_seconds=1.5)
    assert clip.info.truncated and clip.info.seconds == pytest.approx(1.5, abs=1e-3)
    assert clip.info.source_seconds == pytest.approx(total, abs=1e-3)
    assert any("first 1.5 s" in w for w in clip.info.warnings)
    mp4 = decode(encode_pyav(data, rate, "mp4", "aac"), rate, max_seconds=1.5)
    assert mp4.info.truncated and mp4.info.seconds == pytest.approx(1.5, abs=1e-3)
    for suffix, blob in (("flac", encode_soundfile(data, rate, "FLAC")), ("webm", encode_pyav(resample_to(data, rate, 48_000), 48_000, "webm", "libopus"))):
        path = tmp_path / f"long.{suffix}"  # from a path, the decoders stream the file
        path.write_bytes(blob)
        clip = decode(path, 48_000, max_seconds=1.0)
        assert clip.info.truncated and clip.info.seconds == pytest.approx(1.0, abs=1e-3), suffix


def test_silent_short_and_long_clips_are_accepted_with_warnings():
    silent = decode(encode_soundfile(np.zeros(48_000, np.float32), 48_000, "WAV", "PCM_16"), 48_000)
    assert any("silent" in w for w in silent.info.warnings)
    short = decode(encode_soundfile(np.full(2_400, 0.1, np.float32), 48_000, "WAV", "FLOAT"), 48_000)
    assert short.info.seconds == pytest.approx(0.05) and any("very short" in w for w in short.info.warnings)
    long = decode(encode_soundfile(np.full(48_000 * 12, 0.1, np.float32), 48_000, "WAV", "FLOAT"), 48_000,
                  window_seconds=10)
    assert any("window" in w for w in long.info.warnings)


def _truncated_flac(formats):
    return formats["flac"][:200]


BAD_INPUTS = {
    "empty": (lambda f: b"", "empty"),
    "text": (lambda f: b"time,value\n1,2\n3,4\n" * 20, "not a recognised audio format"),
    "png": (lambda f: b"\x89PNG\r\n\x1a\n" + bytes(200), "not audio: the content is a PNG image"),
    "random-bytes": (lambda f: bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
                     "not a recognised audio format"),
    "corrupt-wav": (lambda f: f["wav"][:12] + bytes(range(256)) * 4, "corrupt"),
    "truncated-flac": (_truncated_flac, "corrupt|no audio samples"),
    "corrupt-mp4": (lambda f: f["m4a-aac"][:64] + b"\x00" * 500, "corrupt|no audio"),
    "video-only-webm": (lambda f: encode_pyav(np.zeros(10), 48_000, "webm", "libopus", video=True, audio=False),
                        "no audio stream"),
    "video-only-mp4": (lambda f: encode_pyav(np.zeros(10), 48_000, "mp4", "aac", video=True, audio=False),
                       "no audio stream"),
    "header-only-wav": (lambda f: encode_soundfile(np.zeros((0,), np.float32), 48_000, "WAV", "PCM_16"),
                        "no audio samples"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_unreadable_input_raises_one_error_type_naming_file_and_reason(formats, kind):
    make, reason = BAD_INPUTS[kind]
    with pytest.raises(AudioError, match=reason) as exc:
        decode(make(formats), 48_000, name=f"{kind}.bin")
    assert str(exc.value).startswith(f"{kind}.bin: ")
    assert exc.value.name == f"{kind}.bin"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        decode(tmp_path / "nope.wav", 48_000)
    with pytest.raises(AudioError, match="folder"):
        decode(tmp_path, 48_000)


def test_nan_samples_are_rejected():
    buf = io.BytesIO()
    sf.write(buf, np.array([0.1, np.nan, 0.2] * 1000, np.float32), 48_000, format="WAV", subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        decode(buf.getvalue(), 48_000)


@pytest.mark.parametrize("head,name", [
    (b"RIFF\0\0\0\0WAVE", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3\x03", "mp3"),
    (b"\xff\xfb\x90", "mp3"), (b"\xff\xf1\x50", "aac"), (b"\0\0\0\x20ftypM4A ", "mp4"),
    (b"\x1a\x45\xdf\xa3", "webm"), (b"hello", "unknown"),
])
def test_sniff(head, name):
    assert sniff_container(head) == name
