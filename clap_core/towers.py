"""The one forward pass through a checkpoint's towers, for every caller (the Embedder, the demo checkpoints'
held-out figures, their training): tower → pooled output → projection head → L2 normalisation.

It is transformers' ``ClapModel.get_audio_features`` / ``get_text_features`` written out (the same operations in
the same order, so the same numbers), with the pooled output kept as well: the Embedder caches it so that new
heads (fine-tuning) cost only the projection. MS-CLAP models (clap_core.msclap) have the same four members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``: the one batching of windows, features and texts."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def audio_forward(model: Any, input_features: Any, is_longer: Any) -> tuple[Any, Any]:
    """(pooled (B, H), unit embeddings (B, d)) for a batch of audio-tower inputs (torch tensors on the model's
    device and dtype; ``is_longer`` (B, 1) bool)."""
    import torch.nn.functional as F

    pooled = model.audio_model(input_features=input_features, is_longer=is_longer).pooler_output
    return pooled, F.normalize(model.audio_projection(pooled), dim=-1)


def text_forward(model: Any, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
    """(pooled (B, H), unit embeddings (B, d)) for a batch of token ids."""
    import torch.nn.functional as F

    pooled = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    return pooled, F.normalize(model.text_projection(pooled), dim=-1)
