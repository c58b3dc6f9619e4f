"""Deterministic random weights of MS-CLAP's real shapes, and small stand-in tokenizers, for the parity check.

Runs unchanged in msclap's environment (numpy < 2, transformers < 5) and in this project's: the same seed and the
same list of (key, shape, dtype) give the same tensors in both, so msclap's outputs on these weights can be stored
small (tests/reference/msclap-<version>.npz) and the test regenerates the weights instead of storing ~700 MB.

Values: learned tensors from numpy's PCG64 (seeded per key), scaled so the towers neither vanish nor blow up
(He scale for matrices, 0.02 for embeddings, 1 ± 0.1 for norm weights, positive running variances); the log-mel
front end is a real one (periodic-Hann DFT, slaney mel filters as msclap's torchlibrosa builds them: 32 kHz and
14 kHz for the 2023 HTS-AT, 44.1 kHz and 14 kHz for the 2022 CNN14); buffers the modules build themselves
(position ids, masks, relative position index) and batch counts are zeros here: msclap's side replaces them
with its model's own values (:func:`self_built`), this project's loader ignores them.

Tokenizers: the hub's gpt2 and bert-base-uncased are out of reach, so the check uses tokenizers of the same
classes with small vocabularies that keep the ids msclap relies on ('!' = 0 is GPT-2's pad, <|endoftext|> = 50256;
BERT's [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

SEED = 20240611
SELF_BUILT = ("attn_mask", "relative_position_index", "position_ids", "attn.bias", "attn.masked_bias",
              "num_batches_tracked", "token_type_ids")
FRONT = {"2022": (44100, 14000), "2023": (32000, 14000)}  # (rate, fmax) msclap builds each version's mel matrix with


def _front(key: str, shape: tuple, version: str) -> np.ndarray | None:
    n_fft = 1024
    if key.endswith(("stft.conv_real.weight", "stft.conv_imag.weight")):
        k = np.arange(n_fft)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * k / n_fft)  # periodic Hann
        phase = 2 * np.pi * ((np.arange(n_fft // 2 + 1)[:, None] * k[None, :]) % n_fft) / n_fft  # (K, n_fft)
        part = np.cos(phase) if "real" in key else -np.sin(phase)
        return (part * window[None, :])[:, None, :].astype(np.float32)
    if key.endswith("logmel_extractor.melW"):
        from transformers.audio_utils import mel_filter_bank

        rate, fmax = FRONT[version]
        return mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=shape[1], min_frequency=50,
                               max_frequency=fmax, sampling_rate=rate, norm="slaney", mel_scale="slaney").astype(np.float32)
    return None


def self_built(key: str) -> bool:
    """A buffer the module computes itself (not learned): kept as msclap builds it."""
    return any(key.endswith(s) for s in SELF_BUILT)


def random_tensor(key: str, shape: tuple, dtype: str, version: str, seed: int = SEED) -> np.ndarray:
    """The value of one tensor of msclap's state dict."""
    front = _front(key, shape, version)
    if front is not None:
        return front
    if not dtype.startswith("float") or self_built(key):
        return np.zeros(shape, dtype=dtype)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    n = rng.standard_normal(shape, dtype=np.float32)
    if key == "logit_scale":
        return np.asarray(np.log(1 / 0.07) + 0.05 * n, np.float32)  # near msclap's initial log(1/0.07)
    if key.endswith("running_var"):
        return (0.5 + rng.random(shape, dtype=np.float32)).astype(np.float32)
    if key.endswith("running_mean") or (len(shape) == 1 and key.endswith("bias")):
        return 0.02 * n
    if len(shape) == 1:  # norm weights
        return 1.0 + 0.1 * n
    if any(s in key for s in ("wte", "wpe", "embeddings", "relative_position_bias_table")):
        return 0.02 * n
    fan_in = int(np.prod(shape[1:])) if "caption_encoder.base.h." not in key else shape[0]  # GPT-2's Conv1D is (in, out)
    return (n * np.sqrt(1.0 / fan_in)).astype(np.float32)


def random_state_dict(spec: list[tuple[str, tuple, str]], version: str, seed: int = SEED) -> dict:
    """{key: torch tensor} for a list of (key, shape, dtype name) as msclap's model has them."""
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(random_tensor(k, tuple(s), d, version, seed))) for k, s, d in spec}


def spec_of(state_dict: dict) -> list[tuple[str, tuple, str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state_dict.items()]


# -- tokenizers -------------------------------------------------------------------------------------
def _bytes_to_unicode() -> list[str]:
    """GPT-2's byte → character table, in the order of its first 256 vocabulary ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizers(folder: str | Path) -> dict[str, Path]:
    """Write the stand-in gpt2 and bert-base-uncased tokenizers; return {text model: folder}."""
    folder = Path(folder)
    gpt, bert = folder / "gpt2", folder / "bert-base-uncased"
    gpt.mkdir(parents=True, exist_ok=True)
    bert.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(_bytes_to_unicode())}  # byte-level, no merges: one token per byte
    vocab["<|endoftext|>"] = 50256
    (gpt / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (gpt / "merges.txt").write_text("#version: 0.2\n")
    (gpt / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}))
    words = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    words += chars + ["##" + c for c in chars] + ["a", "the", "of", "dog", "rain", "piano", "sound", "man", "speaking",
                                                  "ocean", "waves", "flute", "tone", "high", "low", "noise"]
    (bert / "vocab.txt").write_text("\n".join(dict.fromkeys(words)) + "\n")
    (bert / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                                                            "model_max_length": 512}))
    return {"gpt2": gpt, "bert-base-uncased": bert}
