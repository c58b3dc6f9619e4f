"""Embeddings: tower outputs and projected embeddings, each cached by content + checkpoint + settings.

Two caches, so that the cheap step can be redone without the expensive one:
  pooled     a clip's windows through the audio tower, or a caption through the text tower, before
             projection — keyed by content key + checkpoint fingerprint + precision + long-clip policy +
             feature backend (audio) or text + fingerprint + precision (captions);
  projected  the L2-normalised embedding after the projection head (for a clip: the normalised mean
             of its windows' embeddings) — the same key plus the projection heads' version, so new
             heads (fine-tuning) reuse every pooled output and recompute only the projection.

A clip's content key comes with it (:class:`clap_core.audio.DecodedClip`, computed once at decode
time); a raw waveform is hashed on the way in. Changing one caption embeds one caption; a clip seen
before is never embedded again. Cached arrays are read-only. The lock guards the caches only, never a
model run, so one session's long embedding does not hold up another's cache hits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .audio import DecodedClip, content_key
from .checkpoints import LoadedCheckpoint
from .features import DEFAULT_POLICY, FEATURE_BACKENDS, pick_feature_backend, split_windows, window_features
from .towers import audio_forward, batches, text_forward

TEXT_MAX_TOKENS = 77  # the tokenizer keeps a caption's first 77 tokens (CLAP's text context)


@dataclass
class CacheStats:
    """How many embeddings were computed (misses) and reused (hits), per modality."""

    audio_computed: int = 0
    audio_reused: int = 0
    text_computed: int = 0
    text_reused: int = 0


class _LRU:
    """A bounded, thread-safe map of read-only arrays (least recently used goes first)."""

    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            hit = self._d.get(key)
            if hit is not None:
                self._d.move_to_end(key)
            return hit

    def put(self, key: tuple, value: np.ndarray) -> np.ndarray:
        value = np.array(value, dtype=np.float32)
        value.setflags(write=False)
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._d)


@dataclass
class Embedder:
    """Embeds clips and captions with one checkpoint; remembers what it has embedded."""

    checkpoint: LoadedCheckpoint
    batch_size: int = 8
    max_cache: int = 4096
    # the feature backend (features.FEATURE_BACKENDS), or "auto": pick_feature_backend(checkpoint.device), torch
    # on CUDA and on CPU (measured faster there); __post_init__ resolves it to the name the cache key holds
    features: str = "auto"
    stats: CacheStats = field(default_factory=CacheStats)
    heads_version: int = 0  # bump when the projection heads change: projected embeddings are recomputed

    def __post_init__(self) -> None:
        if self.features == "auto":
            self.features = pick_feature_backend(self.checkpoint.device)
        if self.features not in FEATURE_BACKENDS:
            raise ValueError(f"unknown feature backend {self.features!r}; "
                             f"choose one of {', '.join(FEATURE_BACKENDS)} or auto")
        self._pooled = _LRU(self.max_cache)
        self._projected = _LRU(self.max_cache)
        self._towers = self.checkpoint.fingerprint  # whose tower outputs the keys name (see for_heads)
        self._stats_lock = threading.Lock()
        self._inflight: dict[tuple, threading.Event] = {}  # clips being embedded by some thread now

    def _count(self, name: str, k: int) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + k)

    # -- audio -------------------------------------------------------------------------------
    def embed_clips(self, clips: Sequence[DecodedClip], policy: str = DEFAULT_POLICY) -> np.ndarray:
        """(N, d) L2-normalised audio embeddings of decoded clips (at the checkpoint's rate)."""
        rate = self.checkpoint.sampling_rate
        return self._embed_audio([(c.key, lambda c=c: c.waveform(rate)) for c in clips], policy)

    def embed_audio(self, waveforms: Sequence[np.ndarray], policy: str = DEFAULT_POLICY) -> np.ndarray:
        """(N, d) L2-normalised audio embeddings of mono float32 waveforms already at the checkpoint's rate."""
        rate = self.checkpoint.sampling_rate
        return self._embed_audio([(content_key(w, rate), lambda w=w: w) for w in waveforms], policy)

    def _audio_key(self, key: str, policy: str) -> tuple:
        ck = self.checkpoint
        return ("audio", self._towers, ck.precision, policy, self.features, key)

    def _embed_audio(self, keyed: list[tuple[str, object]], policy: str) -> np.ndarray:
        ck = self.checkpoint
        keys = [self._audio_key(k, policy) for k, _ in keyed]
        head = (self.heads_version,)
        todo: dict[tuple, object] = {}
        for key, (_, wave) in zip(keys, keyed):
            if self._projected.get(key + head) is None and key not in todo:
                todo[key] = wave
        self._count("audio_reused", len(keys) - len(todo))
        if todo:
            self._compute_once(todo, policy)
        if not keys:
            return np.zeros((0, ck.embed_dim), np.float32)
        return np.stack([self._projected.get(k + head) for k in keys])

    def _compute_once(self, todo: dict[tuple, object], policy: str) -> None:
        """Compute the clips no other thread is computing; wait for the ones another thread is on
        (a warm-up and a session asking for the same clip run the model once)."""
        with self._stats_lock:
            mine = {k: w for k, w in todo.items() if k not in self._inflight}
            theirs = [self._inflight[k] for k in todo if k not in mine]
            self._inflight.update((k, threading.Event()) for k in mine)
        try:
            if mine:
                self._compute_audio(mine, policy)
                self._count("audio_computed", len(mine))
        finally:
            with self._stats_lock:
                for k in mine:
                    self._inflight.pop(k).set()
        for done in theirs:
            done.wait()
        head = (self.heads_version,)
        left = {k: w for k, w in todo.items() if k not in mine and self._projected.get(k + head) is None}
        if left:  # the other thread failed: do it here
            self._compute_audio(left, policy)
            self._count("audio_computed", len(left))

    def _compute_audio(self, todo: dict[tuple, object], policy: str) -> None:
        """Embed the clips in ``todo`` (key → waveform getter): pooled windows, then the projection."""
        ck = self.checkpoint
        window = int(round(ck.window_seconds * ck.sampling_rate))
        head = (self.heads_version,)
        owners, windows, pending = [], [], []
        for key, wave in todo.items():
            pooled = self._pooled.get(key)
            if pooled is not None:  # tower output known: only the projection is new
                self._projected.put(key + head, _mean_direction(self.project_audio(pooled)))
                continue
            w = wave()
            if len(w) == 0:
                raise ValueError("cannot embed an empty waveform")
            pending.append(key)
            for piece in split_windows(w, window, policy):
                owners.append(key)
                windows.append(piece)
        if not windows:
            return
        pooled, projected = self._run_audio(windows)  # (W, H), (W, d)
        owners_arr = np.array([pending.index(o) for o in owners])
        for n, key in enumerate(pending):
            rows = owners_arr == n
            self._pooled.put(key, pooled[rows])
            self._projected.put(key + head, _mean_direction(projected[rows]))

    def _run_audio(self, windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Windows through the audio tower and the projection: (W, H) pooled, (W, d) normalised float64.
        Batches of ``batch_size`` windows; a worker thread makes the next batch's features while the model
        runs on the current one (the same features and batches as in turn, so the same numbers)."""
        from concurrent.futures import ThreadPoolExecutor

        import torch

        ck = self.checkpoint
        fe = ck.processor.feature_extractor
        feature_device = ck.device if str(ck.device).startswith("cuda") else "cpu"  # torch backend: where to compute
        chunks = list(batches(windows, self.batch_size))

        def features(batch: list[np.ndarray]) -> dict:
            with torch.inference_mode():
                return window_features(fe, batch, ck.sampling_rate, backend=self.features, device=feature_device)

        pooled, projected = [], []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clap-features") as pool, torch.inference_mode():
            ahead = pool.submit(features, chunks[0])
            for k in range(len(chunks)):
                feats = ahead.result()
                if k + 1 < len(chunks):
                    ahead = pool.submit(features, chunks[k + 1])
                out, emb = audio_forward(ck.model,  # → (B, H) pooled, (B, d) unit
                                         torch.as_tensor(feats["input_features"]).to(ck.device, ck.dtype),  # (B, C, T, F)
                                         torch.as_tensor(feats["is_longer"]).to(ck.device))  # (B, 1)
                pooled.append(out.float().cpu().numpy())
                projected.append(emb.float().cpu().numpy())
        return np.concatenate(pooled), np.concatenate(projected).astype(np.float64)

    def project_audio(self, pooled: np.ndarray) -> np.ndarray:
        """(W, H) pooled audio-tower outputs → (W, d) L2-normalised embeddings (float64)."""
        return self._project(self.checkpoint.model.audio_projection, pooled).astype(np.float64)

    def _project(self, head, pooled: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            x = torch.from_numpy(np.array(pooled, dtype=np.float32)).to(self.checkpoint.device,  # a writable copy:
                                                                        self.checkpoint.dtype)  # cached rows are read-only
            return F.normalize(head(x), dim=-1).float().cpu().numpy()

    # -- text --------------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, d) L2-normalised text embeddings."""
        ck = self.checkpoint
        head = (self.heads_version,)
        keys = [self._text_key(t) for t in texts]
        got: dict[tuple, np.ndarray] = {}  # held here, not re-read from the cache: more texts than it holds work
        for k in dict.fromkeys(keys):
            hit = self._projected.get(k + head)
            if hit is not None:
                got[k] = hit
        todo = [k for k in dict.fromkeys(keys) if k not in got]
        self._count("text_reused", len(keys) - len(todo))
        if todo:
            pooled_known = {k: p for k in todo if (p := self._pooled.get(k)) is not None}
            known = list(pooled_known)
            if known:  # tower output known: only the projection is new
                emb = self._project(ck.model.text_projection, np.stack([pooled_known[k] for k in known]))
                for k, e in zip(known, emb):
                    got[k] = self._projected.put(k + head, e)
            new = [k for k in todo if k not in pooled_known]
            if new:
                pooled, emb = self._run_text([k[-1] for k in new])
                for k, p, e in zip(new, pooled, emb):
                    self._pooled.put(k, p)
                    got[k] = self._projected.put(k + head, e)
            self._count("text_computed", len(todo))
        if not keys:
            return np.zeros((0, ck.embed_dim), np.float32)
        return np.stack([got[k] for k in keys])

    def _text_key(self, text: str) -> tuple:
        return ("text", self._towers, self.checkpoint.precision, text)

    # -- tower outputs, for new heads ---------------------------------------------------------
    def pooled_clips(self, clips: Sequence[DecodedClip], policy: str = DEFAULT_POLICY) -> list[np.ndarray]:
        """Each clip's audio-tower outputs before projection, (W_i, H) for its W_i windows: from the cache,
        embedding the clips not seen yet (what fine-tuning starts from: a step then costs only the heads)."""
        self.embed_clips(clips, policy)
        rate = self.checkpoint.sampling_rate
        keys = {self._audio_key(c.key, policy): lambda c=c: c.waveform(rate) for c in clips}
        evicted = {k: w for k, w in keys.items() if self._pooled.get(k) is None}
        if evicted:  # dropped from the pooled cache while their projections stayed: run the tower again
            self._compute_audio(evicted, policy)
        return [self._pooled.get(self._audio_key(c.key, policy)) for c in clips]

    def pooled_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, H) text-tower outputs before projection, from the cache (embedding the captions not seen yet)."""
        self.embed_texts(texts)
        evicted = list(dict.fromkeys(t for t in texts if self._pooled.get(self._text_key(t)) is None))
        if evicted:
            for t, p in zip(evicted, self._run_text(evicted)[0]):
                self._pooled.put(self._text_key(t), p)
        H = self.checkpoint.model.config.text_config.hidden_size
        return np.stack([self._pooled.get(self._text_key(t)) for t in texts]) if len(texts) else np.zeros((0, H), np.float32)

    def for_heads(self, checkpoint: LoadedCheckpoint) -> Embedder:
        """An Embedder for ``checkpoint``, which has this one's towers and other projection heads (fine-tuning):
        it shares this one's tower outputs (pooled cache) and keeps its own projected embeddings."""
        new = Embedder(checkpoint, batch_size=self.batch_size, max_cache=self.max_cache, features=self.features)
        new._pooled, new._towers = self._pooled, self._towers
        return new

    def _run_text(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Captions through the text tower and the projection: (N, H) pooled, (N, d) normalised."""
        import torch

        ck = self.checkpoint
        tok = ck.processor.tokenizer
        pooled, projected = [], []
        with torch.inference_mode():
            for batch in batches(texts, self.batch_size):
                enc = tok(list(batch), padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt")
                out, emb = text_forward(ck.model, enc["input_ids"].to(ck.device),  # (B, L) → (B, H), (B, d)
                                        enc["attention_mask"].to(ck.device))
                pooled.append(out.float().cpu().numpy())
                projected.append(emb.float().cpu().numpy())
        return np.concatenate(pooled), np.concatenate(projected)

    def token_count(self, text: str) -> int:
        """How many tokens the tokenizer makes of ``text`` before truncation (special tokens included)."""
        return len(self.checkpoint.processor.tokenizer(text, truncation=False)["input_ids"])


def _mean_direction(rows: np.ndarray) -> np.ndarray:
    """The normalised mean of (W, d) unit vectors: one clip's embedding from its windows' embeddings."""
    mean = rows.mean(axis=0)
    return mean / np.linalg.norm(mean)
