"""The checkpoint family seam: what the rest of the code needs from a checkpoint, whatever made it.

A loaded checkpoint (:class:`clap_core.checkpoints.LoadedCheckpoint`) carries the facts — sampling rate, window,
τ, fingerprint, model card (``card()``), ``family`` — and two objects of the shapes below. transformers'
``ClapModel``/``ClapProcessor`` (LAION and this project's own checkpoints) have them natively;
:mod:`clap_core.msclap` implements them for Microsoft's CLAP 2022 and 2023. The Embedder, its two caches, the
long-clip policies, precision and fine-tuning use only these, so pages and the CLI never ask which family a
checkpoint is.
"""

from __future__ import annotations

from typing import Any, Protocol


class FeatureExtractor(Protocol):
    """Waveform windows → the audio tower's input. ``features.window_features`` calls ``window_features`` when a
    family has its own front end (MS-CLAP: repeat as msclap, then the checkpoint's stored log-mel); transformers'
    ``ClapFeatureExtractor`` has none and goes through this project's deterministic copy of its maths."""

    sampling_rate: int
    nb_max_samples: int  # the window, in samples
    truncation: str  # what the family does with longer clips by itself (never used: the long-clip policy cuts)


class Tokenizer(Protocol):
    def __call__(self, text: Any, truncation: bool = ..., padding: Any = ..., return_tensors: Any = ...,
                 **kw: Any) -> dict:
        """{"input_ids", "attention_mask"} for captions (a list with padding and return_tensors="pt")."""


class Processor(Protocol):
    feature_extractor: FeatureExtractor
    tokenizer: Tokenizer

    def save_pretrained(self, folder: Any) -> None: ...


class TowerOutput(Protocol):
    pooler_output: Any  # (B, H) torch tensor: what the pooled cache keeps


class Model(Protocol):
    """audio tower → pooled → projection; text tower → pooled → projection; τ = exp(logit_scale_a)."""

    config: Any  # .projection_dim, .text_config.hidden_size
    audio_projection: Any  # torch module (B, H_audio) → (B, d); fine-tuning trains a copy
    text_projection: Any  # torch module (B, H_text) → (B, d)
    logit_scale_a: Any  # parameter, log τ
    logit_scale_t: Any  # parameter (the same one for MS-CLAP)

    def audio_model(self, input_features: Any, is_longer: Any = None) -> TowerOutput: ...

    def text_model(self, input_ids: Any, attention_mask: Any = None) -> TowerOutput: ...

    def save_pretrained(self, folder: Any) -> None: ...


def family_of(checkpoint) -> str:
    """'clap' (transformers) or 'msclap-2022' / 'msclap-2023'."""
    return getattr(checkpoint, "family", "clap")
