"""Decoding real files in every format, by content; every kind of unreadable input."""

import io

import numpy as np
import pytest
import soundfile as sf

from clap_core.audio import AudioError, content_key, decode, resample, sniff_container
from media import encode_pyav, encode_soundfile, real_clip, resample_to

EXPECTED_CONTAINER = {
    "wav": "wav", "wav-stereo-float": "wav", "flac": "flac", "ogg-vorbis": "ogg", "ogg-opus": "ogg",
    "mp3": "mp3", "m4a-aac": "mp4", "webm-opus": "webm",
}


@pytest.mark.parametrize("fmt", list(EXPECTED_CONTAINER))
def test_each_format_decodes_to_the_same_sound(formats, fmt):
    ref, rate = real_clip()
    clip = decode(formats[fmt], name=f"flute.{fmt}")
    info = clip.info
    assert info.container == EXPECTED_CONTAINER[fmt]
    wave = clip.waveform(48_000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert (wave is clip.samples) == (info.source_rate == 48_000)
    assert info.seconds == pytest.approx(2.0, abs=0.08)  # codecs add a little priming/padding
    # same sound: spectra of the decoded clip and of the original agree (lossy codecs included)
    ref48 = decode(encode_soundfile(ref, rate, "WAV", "FLOAT")).waveform(48_000)
    n = min(len(ref48), len(wave))
    spec = lambda x: np.abs(np.fft.rfft(x[:n] * np.hanning(n)))  # noqa: E731
    corr = np.corrcoef(spec(ref48), spec(wave))[0, 1]
    assert corr > 0.9, f"{fmt}: spectral correlation {corr:.3f}"


def test_format_is_decided_by_content_not_name(formats):
    clip = decode(formats["flac"], name="really-a-flac.mp3")
    assert clip.info.container == "flac" and clip.info.decoder == "soundfile"
    clip = decode(formats["m4a-aac"], name="song.wav")
    assert clip.info.container == "mp4" and clip.info.decoder == "pyav"


def test_stereo_is_downmixed_to_the_channel_mean(formats):
    clip = decode(formats["wav-stereo-float"])
    data, _ = real_clip()
    assert clip.info.channels == 2 and clip.info.downmixed and clip.info.source_rate == 44_100
    np.testing.assert_allclose(clip.waveform(44_100), 0.75 * data, atol=1e-6)


def test_resampling_is_deterministic_and_memoised_per_rate(formats):
    clip = decode(formats["wav"])
    a, b = clip.waveform(48_000), decode(formats["wav"]).waveform(48_000)
    assert np.array_equal(a, b) and len(a) == round(2.0 * 48_000)
    assert clip.waveform(48_000) is a  # resampled once per rate
    c = clip.waveform(16_000)  # a second model rate: from the source, not from the 48 kHz copy
    np.testing.assert_array_equal(c, resample(clip.samples, clip.info.source_rate, 16_000))
    assert clip.waveform(48_000) is a and not a.flags.writeable


def test_content_key_is_computed_once_from_the_source(formats):
    a, b = decode(formats["wav"]), decode(formats["wav"], name="other-name.wav")
    assert a.key == b.key == content_key(a.samples, a.info.source_rate)
    assert decode(formats["ogg-vorbis"]).key != a.key  # lossy: other samples, another key


def test_path_input_names_the_file(tmp_path, formats):
    p = tmp_path / "clip.ogg"
    p.write_bytes(formats["ogg-vorbis"])
    assert decode(p).info.name == "clip.ogg"


def test_decoding_stops_at_max_seconds(tmp_path):
    data, rate = real_clip("ocean.wav", None)
    total = len(data) / rate
    clip = decode(encode_soundfile(data, rate, "WAV", "PCM_16"), max_seconds=1.5)
    assert clip.info.truncated and clip.info.seconds == pytest.approx(1.5, abs=1e-3)
    assert clip.info.source_seconds == pytest.approx(total, abs=1e-3)
    assert any("first 1.5 s" in w for w in clip.info.warnings)
    mp4 = decode(encode_pyav(data, rate, "mp4", "aac"), max_seconds=1.5)
    assert mp4.info.truncated and mp4.info.seconds == pytest.approx(1.5, abs=1e-3)
    for suffix, blob in (("flac", encode_soundfile(data, rate, "FLAC")), ("webm", encode_pyav(resample_to(data, rate, 48_000), 48_000, "webm", "libopus"))):
        path = tmp_path / f"long.{suffix}"  # from a path, the decoders stream the file
        path.write_bytes(blob)
        clip = decode(path, max_seconds=1.0)
        assert clip.info.truncated and clip.info.seconds == pytest.approx(1.0, abs=1e-3), suffix


def test_silent_short_and_long_clips_are_accepted_with_warnings():
    silent = decode(encode_soundfile(np.zeros(48_000, np.float32), 48_000, "WAV", "PCM_16"))
    assert any("silent" in w for w in silent.info.warnings)
    short = decode(encode_soundfile(np.full(2_400, 0.1, np.float32), 48_000, "WAV", "FLOAT"))
    assert short.info.seconds == pytest.approx(0.05) and any("very short" in w for w in short.info.warnings)
    long = decode(encode_soundfile(np.full(48_000 * 12, 0.1, np.float32), 48_000, "WAV", "FLOAT"))
    assert not any("window" in w for w in long.info.warnings)  # no model yet: no window
    assert any("10 s window" in w for w in long.warnings_for(10.0))


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
        decode(make(formats), name=f"{kind}.bin")
    assert str(exc.value).startswith(f"{kind}.bin: ")
    assert exc.value.name == f"{kind}.bin"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        decode(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="folder"):
        decode(tmp_path)


def test_nan_samples_are_rejected():
    buf = io.BytesIO()
    sf.write(buf, np.array([0.1, np.nan, 0.2] * 1000, np.float32), 48_000, format="WAV", subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        decode(buf.getvalue())


@pytest.mark.parametrize("head,name", [
    (b"RIFF\0\0\0\0WAVE", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3\x03", "mp3"),
    (b"\xff\xfb\x90", "mp3"), (b"\xff\xf1\x50", "aac"), (b"\0\0\0\x20ftypM4A ", "mp4"),
    (b"\x1a\x45\xdf\xa3", "webm"), (b"hello", "unknown"),
])
def test_sniff(head, name):
    assert sniff_container(head) == name


# -- inputs that decode but deserve a warning (real recordings, real formats) ----------------------------------
NEW_WARNINGS = ("truncated", "far outside", "DC", "channels cancel")


def _written(tmp_path, name, blob):
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def test_ordinary_clips_get_none_of_the_new_warnings(formats):
    from media import REAL

    clips = [decode(b, name=k) for k, b in formats.items()] + [decode(p) for p in sorted(REAL.glob("*.wav"))]
    assert len(clips) > 10
    for clip in clips:
        assert not any(w for w in clip.info.warnings for word in NEW_WARNINGS if word in w), clip.info.name


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_truncated_wav_warns_and_keeps_what_could_be_read(tmp_path, subtype):
    data, rate = real_clip("speech-male.wav", 3.0)
    wav = encode_soundfile(data, rate, "WAV", subtype)
    full = decode(wav)
    half = wav[: len(wav) // 2]
    for source in (half, _written(tmp_path, "half.wav", half)):
        clip = decode(source, name="half.wav")
        n = len(clip.samples)
        assert 0.4 * len(data) < n < 0.6 * len(data)
        np.testing.assert_array_equal(clip.samples, full.samples[:n])  # what is there is read unchanged
        expected = f"the file is truncated: its header declares 3.00 s but only {n / rate:.2f} s could be read"
        assert expected in clip.info.warnings
        assert clip.info.source_seconds == pytest.approx(n / rate) and not clip.info.truncated


def test_truncated_mp3_bytes_and_path(tmp_path):
    data, rate = real_clip("speech-male.wav", 3.0)
    mp3 = encode_soundfile(data, rate, "MP3", "MPEG_LAYER_III")
    half = mp3[: len(mp3) // 2]
    for source in (half, _written(tmp_path, "half.mp3", half)):
        clip = decode(source, name="half.mp3")
        assert clip.info.container == "mp3" and clip.info.seconds < 1.5
        assert any(w.startswith("the file is truncated: its header declares 3.0") for w in clip.info.warnings)
    stub = mp3[: len(mp3) // 100]  # 1 %: not even one frame of audio left
    for source in (stub, _written(tmp_path, "stub.mp3", stub)):
        with pytest.raises(AudioError) as exc:
            decode(source, name="stub.mp3")
        message = str(exc.value)
        assert message.startswith("stub.mp3: corrupt or truncated MP3 data"), message
        for leak in ("pipe", "<_io", " at 0x", "BytesIO", str(tmp_path), "Errno"):
            assert leak not in message, message


def test_truncated_webm_warns_through_ffmpeg():
    data, rate = real_clip("flute-A4.wav", 2.0)
    webm = encode_pyav(resample_to(data, rate, 48_000), 48_000, "webm", "libopus")
    clip = decode(webm[: len(webm) // 2], name="half.webm")
    assert clip.info.decoder == "pyav"
    assert any(w.startswith("the file is truncated: its header declares 2.0") for w in clip.info.warnings)


def test_samples_far_outside_the_range_warn_and_are_kept():
    data, rate = real_clip("flute-A4.wav", 2.0)
    loud = (data / np.max(np.abs(data)) * 1e6).astype(np.float32)
    clip = decode(encode_soundfile(loud, rate, "WAV", "FLOAT"))
    np.testing.assert_array_equal(clip.samples, loud)  # not scaled: the numbers are what the file says
    assert ("samples reach 1.0e+06, far outside [-1, 1]; they are used as they are, "
            "but the model expects [-1, 1]") in clip.info.warnings


def test_strong_dc_offset_and_dc_only_warn():
    data, rate = real_clip("flute-A4.wav", 2.0)
    shifted = decode(encode_soundfile(0.2 * data + 0.3, rate, "FLAC"))
    assert any(w.startswith("strong DC offset (mean +0.30") for w in shifted.info.warnings), shifted.info.warnings
    constant = decode(encode_soundfile(np.full(rate, 0.25, np.float32), rate, "WAV", "PCM_16"))
    assert "the clip is DC only (a constant +0.250); it carries no sound" in constant.info.warnings
    quiet_hum = decode(encode_soundfile(data + 0.005, rate, "WAV", "FLOAT"))  # a small offset is not worth a word
    assert not any("DC" in w for w in quiet_hum.info.warnings)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_cancelling_stereo_uses_the_left_channel(subtype):
    data, rate = real_clip("speech-male.wav", 2.0)
    left = data if data.ndim == 1 else data[:, 0]
    blob = encode_soundfile(np.stack([left, -left], axis=1), rate, "WAV", subtype)
    clip = decode(blob)
    expected, _ = sf.read(io.BytesIO(blob), dtype="float32", always_2d=True)
    np.testing.assert_array_equal(clip.samples, expected[:, 0])
    assert clip.info.channels == 2 and not clip.info.downmixed
    assert "the channels cancel when mixed to mono (phase-inverted); the left channel is used" in clip.info.warnings
    blob = encode_soundfile(np.stack([left, 0.5 * left], axis=1), rate, "WAV", subtype)
    ordinary = decode(blob)  # ordinary stereo stays the channel mean
    expected, _ = sf.read(io.BytesIO(blob), dtype="float32", always_2d=True)
    np.testing.assert_array_equal(ordinary.samples, expected.mean(axis=1, dtype=np.float32))
    assert ordinary.info.downmixed and not any("cancel" in w for w in ordinary.info.warnings)
