"""Feature backends: torch log-mels equal the extractor's, embeddings agree, prefetching changes no number."""

import functools
import threading

import numpy as np
import pytest

from clap_core import embed as embed_module
from clap_core.audio import decode
from clap_core.checkpoints import load_checkpoint
from clap_core.embed import Embedder
from clap_core.features import FEATURE_BACKENDS, TORCH_CHUNK, pick_feature_backend, split_windows, window_features
from media import REAL

RATE = 48_000
WINDOW = 480_000  # the 10 s window at 48 kHz
MAX_DB = 1e-4  # torch vs numpy, every element


@functools.lru_cache(maxsize=1)
def real_clips() -> tuple[np.ndarray, ...]:
    """Every real recording at 48 kHz (all shorter than the window)."""
    return tuple(decode(p).waveform(RATE) for p in sorted(REAL.glob("*.wav")))


@functools.lru_cache(maxsize=1)
def windows() -> tuple[np.ndarray, ...]:
    """Windows of every kind the extractor meets: shorter than, equal to and cut from longer than the
    window, silence and a 0.05 s clip."""
    clips = real_clips()
    assert all(len(c) < WINDOW for c in clips)
    equal = np.tile(clips[0], WINDOW // len(clips[0]) + 1)[:WINDOW]
    cut = split_windows(np.concatenate(clips[:6]), WINDOW)  # > 20 s: windows, the last one end-aligned
    assert len(cut) >= 3 and all(len(w) == WINDOW for w in cut)
    silent = np.zeros(3 * RATE, np.float32)
    short = clips[1][: RATE // 20]
    return (*clips, equal, *cut, silent, short)


def both(fe, ws):
    """(numpy, torch) features of ``ws``: the extractor window by window, torch on all of them at once."""
    ref = window_features(fe, list(ws), RATE)
    return ref, window_features(fe, list(ws), RATE, backend="torch", device="cpu")


def test_backends_are_listed_and_picked():
    assert FEATURE_BACKENDS == ("numpy", "torch")
    assert pick_feature_backend("cuda") == pick_feature_backend("cuda:1") == "torch"
    assert pick_feature_backend("cpu") in FEATURE_BACKENDS
    with pytest.raises(ValueError, match="unknown feature backend"):
        window_features(None, [np.zeros(10, np.float32)], RATE, backend="jax")


def test_torch_features_equal_the_extractor_on_real_clips(bundled):
    import torch

    fe = bundled.processor.feature_extractor
    assert fe.truncation == "rand_trunc" and fe.padding == "repeatpad"
    ws = windows()
    assert len(ws) > TORCH_CHUNK  # several STFT chunks
    ref, ours = both(fe, ws)
    assert isinstance(ours["input_features"], torch.Tensor) and ours["input_features"].device.type == "cpu"
    x, y = ref["input_features"], ours["input_features"].numpy()
    assert x.shape == y.shape == (len(ws), 1, 1001, 64) and x.dtype == y.dtype == np.float32
    assert ours["is_longer"].dtype == torch.bool and not ours["is_longer"].any()
    assert tuple(ours["is_longer"].shape) == ref["is_longer"].shape == (len(ws), 1)
    worst = float(np.abs(x - y).max())
    assert worst <= MAX_DB, f"max |torch - numpy| = {worst:.2e} dB"
    assert np.all(y[-2] == -100.0)  # silence: the 1e-10 floor, as the extractor


def test_torch_features_follow_a_fusion_extractor(tiny_checkpoint):
    ck = load_checkpoint(str(tiny_checkpoint), device="cpu")
    fe = ck.processor.feature_extractor
    assert fe.truncation == "fusion"  # the htk filters and four copies of the mel
    ws = windows()
    ref, ours = both(fe, [ws[0], ws[len(real_clips())], ws[-1]])
    x, y = ref["input_features"], ours["input_features"].numpy()
    assert x.shape == y.shape == (3, 4, 1001, 64) and y.dtype == np.float32
    assert float(np.abs(x - y).max()) <= MAX_DB


def test_torch_features_refuse_what_the_extractor_refuses(bundled):
    fe = bundled.processor.feature_extractor
    with pytest.raises(ValueError):
        window_features(fe, [np.zeros(1000, np.float32)], 44_100, backend="torch")
    with pytest.raises(ValueError, match="longer"):
        window_features(fe, [np.zeros(WINDOW + 1, np.float32)], RATE, backend="torch")
    with pytest.raises(ValueError, match="empty"):
        window_features(fe, [np.zeros(0, np.float32)], RATE, backend="torch")


def embedding_clips() -> list[np.ndarray]:
    """Clips for the embedding tests: short, exactly 10 s, longer (three windows), silent, 0.05 s."""
    clips = real_clips()
    return [*clips[:4], np.tile(clips[4], 5)[:WINDOW], np.concatenate(clips[5:10]),
            np.zeros(2 * RATE, np.float32), clips[2][: RATE // 20]]


def test_torch_and_numpy_embeddings_agree(bundled):
    clips = embedding_clips()
    a = Embedder(bundled, features="numpy").embed_audio(clips)
    b = Embedder(bundled, features="torch").embed_audio(clips)
    cosine = (a.astype(np.float64) * b).sum(axis=1)
    assert cosine.min() >= 0.99999, cosine


def test_prefetching_changes_no_bit(bundled, monkeypatch):
    """The numpy backend's embeddings with the worker thread equal window_features + the model run by hand,
    batch by batch in this thread; the features are made in the worker thread."""
    import torch
    import torch.nn.functional as F

    clips = embedding_clips()
    emb = Embedder(bundled, batch_size=3, features="numpy")
    ws = [w for c in clips for w in split_windows(c, WINDOW)]
    assert len(ws) > 2 * emb.batch_size  # several batches: the next one is made while one runs
    threads = []

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return window_features(*args, **kwargs)

    monkeypatch.setattr(embed_module, "window_features", spy)
    pooled, projected = emb._run_audio(ws)
    assert len(threads) == -(-len(ws) // emb.batch_size) and all(t.startswith("clap-features") for t in threads)
    fe = bundled.processor.feature_extractor
    by_hand_pooled, by_hand_projected = [], []
    with torch.inference_mode():
        for i in range(0, len(ws), emb.batch_size):
            feats = window_features(fe, ws[i : i + emb.batch_size], RATE)
            x = torch.from_numpy(feats["input_features"]).to(bundled.device, bundled.dtype)  # (B, 1, T, F)
            out = bundled.model.audio_model(input_features=x, is_longer=torch.from_numpy(feats["is_longer"])).pooler_output
            by_hand_pooled.append(out.float().numpy())  # (B, H)
            by_hand_projected.append(F.normalize(bundled.model.audio_projection(out), dim=-1).float().numpy())  # (B, d)
    assert np.array_equal(pooled, np.concatenate(by_hand_pooled))
    assert np.array_equal(projected, np.concatenate(by_hand_projected).astype(np.float64))


def test_the_backend_is_part_of_the_cache_key(bundled):
    clips = embedding_clips()[:3]
    emb = Embedder(bundled, features="numpy")
    emb.embed_audio(clips)
    emb.embed_audio(clips)
    assert (emb.stats.audio_computed, emb.stats.audio_reused) == (3, 3)
    emb.features = "torch"  # the same embedder and clips, another backend: computed, not reused
    emb.embed_audio(clips)
    assert (emb.stats.audio_computed, emb.stats.audio_reused) == (6, 3)
    emb.embed_audio(clips)
    assert (emb.stats.audio_computed, emb.stats.audio_reused) == (6, 6)
    k = "some-clip"
    numpy_key = Embedder(bundled, features="numpy")._audio_key(k, "windows")
    assert Embedder(bundled, features="torch")._audio_key(k, "windows") != numpy_key


def test_auto_resolves_to_a_concrete_backend(bundled):
    emb = Embedder(bundled)  # the default: auto
    assert emb.features == pick_feature_backend("cpu") == "torch"  # measured the faster on CPU (features.py)
    assert emb._audio_key("k", "windows")[4] == emb.features
    with pytest.raises(ValueError, match="unknown feature backend"):
        Embedder(bundled, features="jax")
