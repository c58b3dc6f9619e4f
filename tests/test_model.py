"""Checkpoints, features and embeddings: loading, equality with ClapProcessor, determinism, caching."""

import json

import numpy as np
import pytest

from clap_core import demo_world
from clap_core.audio import decode
from clap_core.checkpoints import CheckpointError, count_parameters, known, load_checkpoint, params_millions
from clap_core.embed import Embedder
from clap_core.features import split_windows, window_features, window_starts
from clap_core.paths import BUNDLED_DIR
from media import REAL


def waves(rate=48_000):
    """Real recordings at 48 kHz of several lengths up to 10 s, plus generated clips."""
    out = []
    for name, secs in [("flute-A4.wav", 0.3), ("piano.wav", 3.0), ("rain.wav", 7.0), ("ocean.wav", None)]:
        out.append(decode(REAL / name, max_seconds=secs or 10.0).waveform(rate))
    out.append(np.tile(out[2], 2)[:480_000])  # exactly the 10 s window
    out += [c.waveform for c in demo_world.generate(5, 3)]
    return out


def test_bundled_loads_offline(bundled):
    assert bundled.sampling_rate == 48_000 and bundled.window_seconds == 10.0
    assert bundled.device == "cpu" and not bundled.model.training
    assert 1 < bundled.tau <= 100.0
    # the registry's figure is counted from the weights file and agrees with the loaded model
    assert count_parameters(BUNDLED_DIR) == bundled.n_params
    assert params_millions(known("bundled")) == round(bundled.n_params / 1e6, 2)


def test_tiny_random_checkpoint_loads_by_path(tiny_checkpoint):
    steps = []
    ck = load_checkpoint(str(tiny_checkpoint), device="cpu", on_step=steps.append)
    assert steps == ["reading the configuration", "loading the tokenizer and feature extractor",
                     "loading the weights", "moving the model to cpu"]
    assert ck.fusion and ck.truncation == "fusion" and ck.embed_dim == 16
    assert ck.tau == pytest.approx(1 / 0.07, rel=1e-5)
    e = Embedder(ck).embed_audio(waves()[:2])
    assert e.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_features_equal_clap_processor_output(bundled):
    proc = bundled.processor
    for w in waves():
        assert len(w) <= 480_000
        ours = window_features(proc.feature_extractor, [w], 48_000)["input_features"]
        theirs = proc(audio=w, sampling_rate=48_000, return_tensors="np")["input_features"]
        np.testing.assert_array_equal(ours, theirs.astype(np.float32))


def test_fusion_checkpoint_never_draws_a_random_is_longer(tiny_checkpoint):
    ck = load_checkpoint(str(tiny_checkpoint), device="cpu")
    ws = waves()[:3]
    feats = window_features(ck.processor.feature_extractor, ws, 48_000)
    theirs = ck.processor(audio=ws, sampling_rate=48_000, return_tensors="np")
    np.testing.assert_array_equal(feats["input_features"], theirs["input_features"].astype(np.float32))
    assert not feats["is_longer"].any() and theirs["is_longer"].any()  # transformers flags one at random
    a = Embedder(ck).embed_audio(ws)
    b = Embedder(ck).embed_audio(ws[::-1])[::-1]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_same_numbers_twice(bundled):
    ws = waves()
    texts = [c.caption for c in demo_world.generate(5, 7)]
    a1, t1 = Embedder(bundled).embed_audio(ws), Embedder(bundled).embed_texts(texts)
    a2, t2 = Embedder(bundled).embed_audio(ws), Embedder(bundled).embed_texts(texts)
    assert np.array_equal(a1, a2) and np.array_equal(t1, t2)


def test_batch_order_and_batch_mates_do_not_change_an_embedding(bundled):
    ws = waves()
    alone = np.stack([Embedder(bundled).embed_audio([w])[0] for w in ws])
    together = Embedder(bundled, batch_size=8).embed_audio(ws)
    shuffled = Embedder(bundled, batch_size=3).embed_audio(ws[::-1])[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    np.testing.assert_allclose(shuffled, alone, atol=1e-6, rtol=0)
    texts = ["a low hum", "a loud rising whistle that goes on", "hiss"]
    t_alone = np.stack([Embedder(bundled).embed_texts([t])[0] for t in texts])
    np.testing.assert_allclose(Embedder(bundled).embed_texts(texts[::-1])[::-1], t_alone, atol=1e-6, rtol=0)


def test_long_clip_is_deterministic_and_follows_the_policy(bundled):
    long = np.tile(decode(REAL / "speech-male.wav").waveform(48_000), 4)  # > 10 s
    assert len(long) > 480_000
    runs = [Embedder(bundled).embed_audio([long])[0] for _ in range(3)]
    assert all(np.array_equal(runs[0], r) for r in runs[1:])
    # 'windows' = normalised mean of the window embeddings
    pieces = split_windows(long, 480_000, "windows")
    assert all(len(p) == 480_000 for p in pieces) and len(pieces) == int(np.ceil(len(long) / 480_000))
    per_window = Embedder(bundled).embed_audio(pieces)
    mean = per_window.mean(axis=0)
    np.testing.assert_allclose(runs[0], mean / np.linalg.norm(mean), atol=1e-6)
    first = Embedder(bundled).embed_audio([long], policy="first")[0]
    np.testing.assert_allclose(first, per_window[0], atol=1e-6)
    centre = Embedder(bundled).embed_audio([long], policy="centre")[0]
    assert not np.allclose(centre, first, atol=1e-4)


def test_window_starts():
    assert window_starts(100, 100) == [0]
    assert window_starts(250, 100, "windows") == [0, 100, 150]
    assert window_starts(250, 100, "first") == [0]
    assert window_starts(250, 100, "centre") == [75]
    with pytest.raises(ValueError, match="policy"):
        window_starts(250, 100, "random")


def test_cache_embeds_only_what_changed(bundled):
    emb = Embedder(bundled)
    ws = waves()[:3]
    captions = ["a low hum", "a rising sweep", "white noise"]
    emb.embed_audio(ws)
    emb.embed_texts(captions)
    before = (emb.stats.audio_computed, emb.stats.text_computed)
    emb.embed_audio(ws)
    emb.embed_texts(["a low hum", "a falling sweep", "white noise"])  # one caption edited
    assert emb.stats.audio_computed == before[0]
    assert emb.stats.text_computed == before[1] + 1
    assert emb.stats.text_reused == 2 and emb.stats.audio_reused == 3


def test_cached_arrays_are_read_only(bundled):
    emb = Embedder(bundled)
    a = emb.embed_audio(waves()[:1])
    a[0, 0] = 123.0  # the stacked result is the caller's copy …
    b = emb.embed_audio(waves()[:1])
    assert b[0, 0] != 123.0  # … the cache is untouched


def test_not_a_clap_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="not a CLAP checkpoint"):
        load_checkpoint(str(tmp_path))


def test_clap_config_without_weights(tiny_checkpoint, tmp_path):
    (tmp_path / "config.json").write_bytes((tiny_checkpoint / "config.json").read_bytes())
    with pytest.raises(CheckpointError, match="could not be loaded as a CLAP checkpoint"):
        load_checkpoint(str(tmp_path))


def test_missing_folder_and_bad_names(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(str(tmp_path))
    with pytest.raises(CheckpointError, match="neither"):
        load_checkpoint("not a name")


def test_hub_id_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint("laion/clap-htsat-unfused")
    msg = str(exc.value)
    assert "laion/clap-htsat-unfused" in msg and "bundled" in msg and "local folder" in msg


def test_precision_auto_keeps_small_models_in_fp32_and_follows_the_hardware(monkeypatch):
    from clap_core import family as checkpoints  # where precision is resolved (checkpoints re-exports it)

    assert checkpoints.resolve_precision("auto", "cpu", 500_000) == "fp32"  # the bundled model: exact figures
    assert checkpoints.resolve_precision("auto", "cuda", 150_000_000) == "bf16"
    assert checkpoints.resolve_precision("auto", "cuda:1", 150_000_000) == "bf16"
    monkeypatch.setattr(checkpoints, "cpu_has_fast_bf16", lambda: False)
    assert checkpoints.resolve_precision("auto", "cpu", 150_000_000) == "fp32"
    monkeypatch.setattr(checkpoints, "cpu_has_fast_bf16", lambda: True)
    assert checkpoints.resolve_precision("auto", "cpu", 150_000_000) == "bf16"
    assert checkpoints.resolve_precision("fp32", "cuda", 150_000_000) == "fp32"
    with pytest.raises(ValueError, match="unknown precision"):
        checkpoints.resolve_precision("fp8", "cpu", 1)


def test_bf16_embeddings_agree_with_fp32(bundled):
    """bf16 weights give embeddings within cosine 0.999 of fp32 on the shipped examples; τ is the fp32 one."""
    from clap_core.scenarios import default_batch

    assert bundled.precision == "fp32"  # auto on CPU for a small model
    half = load_checkpoint("bundled", device="cpu", precision="bf16")
    assert half.precision == "bf16" and half.tau == bundled.tau
    items = default_batch()
    full_emb, half_emb = Embedder(bundled), Embedder(half)
    for a, b in ((full_emb.embed_clips(items.clips), half_emb.embed_clips(items.clips)),
                 (full_emb.embed_texts(items.captions), half_emb.embed_texts(items.captions))):
        cos = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() >= 0.999, cos
        assert not np.array_equal(a, b)  # really another computation
