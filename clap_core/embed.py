"""Embeddings: batched audio and text embedding, cached by content hash + checkpoint + settings.

A clip's cache key is the SHA-256 of its decoded samples (float32, at the model's rate), the
checkpoint's fingerprint and the long-clip policy; a caption's key is its text and the checkpoint.
So changing one caption embeds one caption, and a clip seen before is never embedded again. Cached
arrays are read-only: callers get views they cannot modify in place.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .checkpoints import LoadedCheckpoint
from .features import DEFAULT_POLICY, split_windows, window_features


def _pooled(out):
    """transformers 5 returns a model output whose pooler_output is the normalised projection."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


def audio_key(waveform: np.ndarray) -> str:
    """Content hash of a decoded mono float32 waveform."""
    return hashlib.sha256(np.ascontiguousarray(waveform, dtype=np.float32).tobytes()).hexdigest()


@dataclass
class CacheStats:
    """How many embeddings were computed (misses) and reused (hits), per modality."""

    audio_computed: int = 0
    audio_reused: int = 0
    text_computed: int = 0
    text_reused: int = 0


@dataclass
class Embedder:
    """Embeds clips and captions with one checkpoint; remembers what it has embedded."""

    checkpoint: LoadedCheckpoint
    batch_size: int = 8
    max_cache: int = 4096
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()  # one Embedder may serve several app sessions (threads)

    # -- cache -------------------------------------------------------------------------------
    def _get(self, key: tuple) -> np.ndarray | None:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    def _put(self, key: tuple, value: np.ndarray) -> None:
        value = np.array(value, dtype=np.float32)
        value.setflags(write=False)
        self._cache[key] = value
        while len(self._cache) > self.max_cache:
            self._cache.popitem(last=False)

    # -- audio -------------------------------------------------------------------------------
    def embed_audio(self, waveforms: list[np.ndarray], policy: str = DEFAULT_POLICY) -> np.ndarray:
        """(N, d) L2-normalised audio embeddings of mono waveforms at the checkpoint's rate."""
        with self._lock:
            return self._embed_audio(waveforms, policy)

    def _embed_audio(self, waveforms: list[np.ndarray], policy: str) -> np.ndarray:
        ck = self.checkpoint
        keys = [("audio", ck.fingerprint, policy, audio_key(w)) for w in waveforms]
        todo = {}
        for key, w in zip(keys, waveforms):
            if self._get(key) is None and key not in todo:
                todo[key] = w
        self.stats.audio_reused += len(keys) - len(todo)
        if todo:
            window = int(round(ck.window_seconds * ck.sampling_rate))
            owners, windows = [], []
            for key, w in todo.items():
                if len(w) == 0:
                    raise ValueError("cannot embed an empty waveform")
                for piece in split_windows(w, window, policy):
                    owners.append(key)
                    windows.append(piece)
            win_emb = self._run_audio(windows)  # (W, d)
            for key in todo:
                rows = win_emb[[i for i, o in enumerate(owners) if o == key]]
                mean = rows.mean(axis=0)
                self._put(key, mean / np.linalg.norm(mean))
                self.stats.audio_computed += 1
        return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, ck.embed_dim), np.float32)

    def _run_audio(self, windows: list[np.ndarray]) -> np.ndarray:
        import torch

        ck = self.checkpoint
        fe = ck.processor.feature_extractor
        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                feats = window_features(fe, windows[i : i + self.batch_size])
                emb = _pooled(
                    ck.model.get_audio_features(
                        input_features=torch.from_numpy(feats["input_features"]).to(ck.device),
                        is_longer=torch.from_numpy(feats["is_longer"]).to(ck.device),
                    )
                )
                out.append(emb.float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    # -- text --------------------------------------------------------------------------------
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(N, d) L2-normalised text embeddings."""
        with self._lock:
            return self._embed_texts(texts)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        ck = self.checkpoint
        keys = [("text", ck.fingerprint, t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if self._get(k) is None))
        self.stats.text_reused += len(keys) - len(todo)
        if todo:
            emb = self._run_text([k[2] for k in todo])
            for k, e in zip(todo, emb):
                self._put(k, e)
                self.stats.text_computed += 1
        return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, ck.embed_dim), np.float32)

    def _run_text(self, texts: list[str]) -> np.ndarray:
        import torch

        ck = self.checkpoint
        tok = ck.processor.tokenizer
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                enc = tok(texts[i : i + self.batch_size], padding=True, truncation=True, max_length=77,
                          return_tensors="pt")
                emb = _pooled(
                    ck.model.get_text_features(
                        input_ids=enc["input_ids"].to(ck.device), attention_mask=enc["attention_mask"].to(ck.device)
                    )
                )
                out.append(emb.float().cpu().numpy())
        return np.concatenate(out)
