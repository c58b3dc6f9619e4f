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

Feature backends (``backend``), both computing the extractor's log-mel from the same repeat-padded
samples:
  numpy  transformers' ``ClapFeatureExtractor`` itself, one window at a time (a Python loop over frames).
  torch  the same computation on stacked windows with torch ops (``torch.stft``, the extractor's own
         window and mel matrix), on a given device. It runs in float64, as the extractor does: a float32
         STFT misses by up to 7e-3 dB on real clips; in float64 the largest difference measured on CPU is
         0 dB with the slaney filters (rand_trunc) and 1.9e-6 dB with the htk ones (fusion).
"""

from __future__ import annotations

import math

import numpy as np

from .family import OwnFrontEnd

LONG_CLIP_POLICIES = ("windows", "first", "centre")
DEFAULT_POLICY = "windows"
FEATURE_BACKENDS = ("numpy", "torch")  # the extractor itself, one window at a time | torch ops on stacked windows
# The CPU winner, torch. Measured on this project's 2-core CPU, shared with other jobs (load average 4-9, so wall
# times are noisy): ms per batch of 8 windows, wall min / median (process CPU time, median), 6-8 runs in random order,
# two sessions:
#   10 s windows            numpy 1157 / 1633 (626), 676 / 1724 (643)   torch 520 / 905 (441), 572 / 1620 (489)
#   3 s clips (→ 10 s pad)  numpy  990 / 1353 (646), 801 / 1973 (667)   torch 645 / 1162 (468), 436 / 1621 (457)
# With OMP_WAIT_POLICY=PASSIVE, as app.py sets it: 10 s numpy 1010 / 1380 (785), torch 301 / 719 (284); 3 s numpy
# 817 / 1085 (691), torch 622 / 855 (321). Torch also releases the GIL, which the extractor's Python loop over frames
# holds while the Embedder's model runs.
CPU_FEATURE_BACKEND = "torch"


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


def pick_feature_backend(device: str) -> str:
    """The faster feature backend for a model on ``device``: torch on CUDA, the measured winner on CPU."""
    return "torch" if str(device).startswith("cuda") else CPU_FEATURE_BACKEND


def window_features(feature_extractor, windows: list[np.ndarray], sampling_rate: int,
                    backend: str = "numpy", device: str | None = None) -> dict:
    """Features for windows of at most the extractor's length, sampled at ``sampling_rate``:
    input_features (W, C, T, F) float32, is_longer (W, 1) bool; C is 4 for a fusion extractor, else 1.
    The numpy backend returns numpy arrays; the torch backend returns torch tensors on ``device`` (default
    cpu), so features made on a GPU stay there. The extractor refuses a rate other than its own."""
    if backend not in FEATURE_BACKENDS:
        raise ValueError(f"unknown feature backend {backend!r}; choose one of {', '.join(FEATURE_BACKENDS)}")
    fe = feature_extractor
    if isinstance(fe, OwnFrontEnd):  # a checkpoint family with its own front end (clap_core.msclap)
        return fe.window_features(windows, sampling_rate, device)
    for w in windows:
        if len(w) > fe.nb_max_samples:
            raise ValueError("window longer than the feature extractor's max length")
        if len(w) == 0:
            raise ValueError("empty window")
    if backend == "torch":
        return _torch_window_features(fe, windows, sampling_rate, device or "cpu")
    # Each window alone: the extractor's per-clip work does not look at batch mates, but its
    # 'fusion' path draws a random is_longer for the batch; we overwrite it below.
    feats = [
        fe(np.asarray(w, dtype=np.float32), sampling_rate=sampling_rate, return_tensors="np")["input_features"][0]
        for w in windows
    ]
    input_features = np.stack(feats).astype(np.float32)  # (W, C, T, F)
    is_longer = np.zeros((len(windows), 1), dtype=bool)  # never the random fusion path
    return {"input_features": input_features, "is_longer": is_longer}


TORCH_CHUNK = 8  # windows per torch STFT: bounds its float64 intermediates to ~150 MB whatever the batch size


def _torch_window_features(fe, windows: list[np.ndarray], sampling_rate: int, device: str) -> dict:
    """The extractor's padding path (``_get_input_mel`` for a clip up to ``nb_max_samples``) and its
    ``_np_extract_fbank_features`` on stacked windows, in float64: periodic Hann window, centred frames with
    reflect padding, |STFT|² of the spectrum rounded to complex64 as the extractor stores it, its own mel
    matrix (slaney for rand_trunc, htk for fusion), floor 1e-10, 10·log10 (reference 1, no top_db), float32."""
    import torch
    from transformers.audio_utils import window_function

    if sampling_rate != fe.sampling_rate:
        raise ValueError(f"the feature extractor expects {fe.sampling_rate} Hz audio, got {sampling_rate} Hz")
    dev = torch.device(device)
    fusion = fe.truncation == "fusion"
    window = torch.from_numpy(window_function(fe.fft_window_size, "hann")).to(dev)  # (n_fft,) float64, periodic
    mel_filters = torch.from_numpy(fe.mel_filters if fusion else fe.mel_filters_slaney).to(dev)  # (K, F) float64
    log_mel = torch.cat([_torch_log_mel(fe, windows[i : i + TORCH_CHUNK], window, mel_filters)
                         for i in range(0, len(windows), TORCH_CHUNK)])  # (W, T, F) float32
    input_features = log_mel.unsqueeze(1)  # (W, 1, T, F)
    if fusion:  # the extractor stacks four copies of a padded clip's mel
        input_features = input_features.repeat(1, 4, 1, 1)  # (W, 4, T, F)
    is_longer = torch.zeros((len(windows), 1), dtype=torch.bool, device=dev)  # (W, 1), never the random path
    return {"input_features": input_features.contiguous(), "is_longer": is_longer}


def _torch_log_mel(fe, windows: list[np.ndarray], window, mel_filters):
    """(W, T, F) float32 log-mel of a few windows, on the device of ``window``."""
    import torch

    dev = window.device
    max_length = fe.nb_max_samples
    wave = torch.zeros(len(windows), max_length, dtype=torch.float64, device=dev)  # (W, L)
    for i, w in enumerate(windows):
        x = torch.from_numpy(np.array(w, dtype=np.float32)).to(dev)  # (n,)
        n = x.shape[0]
        if n < max_length:  # as the extractor: repeat, then the rest stays zero
            if fe.padding == "repeat":
                x = x.repeat(int(max_length / n) + 1)[:max_length]
            if fe.padding == "repeatpad":
                x = x.repeat(int(max_length / n))
        wave[i, : x.shape[0]] = x  # float32 samples, exact in float64
    spec = torch.stft(wave, n_fft=fe.fft_window_size, hop_length=fe.hop_length, window=window, center=True,
                      pad_mode="reflect", onesided=True, return_complex=True)  # (W, K, T) complex128
    del wave
    spec = spec.transpose(1, 2)  # (W, T, K): torch.stft's own memory order (contiguous), frames then bins
    # the extractor stores the spectrum as complex64, then takes np.abs(·, dtype=float64) ** 2; re² + im² of the
    # rounded parts in float64 is that to 1 ulp (float64), and ~3× faster here than abs of complex128
    parts = torch.view_as_real(spec).to(torch.float32)  # (W, T, K, 2): the complex64 rounding
    del spec
    power = parts[..., 0].to(torch.float64).square_().add_(parts[..., 1].to(torch.float64).square_())  # (W, T, K)
    del parts
    mel = torch.matmul(power, mel_filters).clamp_min_(1e-10)  # (W, T, F)
    return (10.0 * torch.log10(mel)).to(torch.float32)  # (W, T, F)
