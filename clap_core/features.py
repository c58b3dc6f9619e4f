"""Waveform → model input features, with no randomness anywhere.

transformers' ``ClapFeatureExtractor`` has two random paths: ``rand_trunc`` crops clips longer than
the window at a random offset, and ``fusion`` picks random chunks and, when no clip of a batch is
long, flags a random one as ``is_longer``. We never reach either: a clip longer than the window is
cut into windows here by a fixed policy, each window is at most the window's length (so the
extractor only pads, with its ``repeatpad``), and ``is_longer`` is always False. A window's features
therefore depend on its samples alone, never on the run or on the other clips of the batch.

Long-clip policies (``policy``):
  windows  average the embeddings of consecutive, non-overlapping windows; the last window is
           aligned to the end of the clip (it may overlap the one before) so no window is padded.
  first    the first window only.
  centre   the centred window only.
"""

from __future__ import annotations

import math

import numpy as np

LONG_CLIP_POLICIES = ("windows", "first", "centre")
DEFAULT_POLICY = "windows"
FEATURE_BACKENDS = ("numpy",)  # transformers' ClapFeatureExtractor (numpy), one window at a time


def window_starts(n_samples: int, window: int, policy: str = DEFAULT_POLICY) -> list[int]:
    """Start indices of the windows a clip of ``n_samples`` is cut into (one if it fits)."""
    if policy not in LONG_CLIP_POLICIES:
        raise ValueError(f"unknown long-clip policy {policy!r}; choose one of {', '.join(LONG_CLIP_POLICIES)}")
    if n_samples <= window:
        return [0]
    if policy == "first":
        return [0]
    if policy == "centre":
        return [(n_samples - window) // 2]
    count = math.ceil(n_samples / window)
    return [min(k * window, n_samples - window) for k in range(count)]


def split_windows(waveform: np.ndarray, window: int, policy: str = DEFAULT_POLICY) -> list[np.ndarray]:
    """Cut a mono (T,) waveform into windows of at most ``window`` samples by ``policy``."""
    return [waveform[s : s + window] for s in window_starts(len(waveform), window, policy)]


def describe_windowing(n_samples: int, rate: int, window: int, policy: str = DEFAULT_POLICY) -> str:
    """One line saying how a clip meets the model's window (for the UI and the CLI)."""
    secs, win = n_samples / rate, window / rate
    if n_samples < window:
        return f"{secs:.2f} s < {win:g} s window: repeated, then zero-padded to {win:g} s (repeatpad)"
    if n_samples == window:
        return f"exactly the {win:g} s window"
    starts = window_starts(n_samples, window, policy)
    if policy == "windows":
        return f"{secs:.1f} s > {win:g} s: mean of {len(starts)} window embeddings"
    return f"{secs:.1f} s > {win:g} s: {policy} {win:g} s only (from {starts[0] / rate:.2f} s)"


def window_features(feature_extractor, windows: list[np.ndarray], sampling_rate: int,
                    backend: str = "numpy") -> dict[str, np.ndarray]:
    """Features for windows of at most the extractor's length, sampled at ``sampling_rate``:
    input_features (W, 1, T, F), is_longer (W, 1). The extractor refuses a rate other than its own."""
    if backend not in FEATURE_BACKENDS:
        raise ValueError(f"unknown feature backend {backend!r}; choose one of {', '.join(FEATURE_BACKENDS)}")
    fe = feature_extractor
    for w in windows:
        if len(w) > fe.nb_max_samples:
            raise ValueError("window longer than the feature extractor's max length")
        if len(w) == 0:
            raise ValueError("empty window")
    # Each window alone: the extractor's per-clip work does not look at batch mates, but its
    # 'fusion' path draws a random is_longer for the batch; we overwrite it below.
    feats = [
        fe(np.asarray(w, dtype=np.float32), sampling_rate=sampling_rate, return_tensors="np")["input_features"][0]
        for w in windows
    ]
    input_features = np.stack(feats).astype(np.float32)  # (W, 1, T, F)
    is_longer = np.zeros((len(windows), 1), dtype=bool)  # never the random fusion path
    return {"input_features": input_features, "is_longer": is_longer}
