"""clap_core: a UI-free, deterministic CLAP engine (audio in, embeddings, the contrastive loss terms,
zero-shot classification, retrieval metrics). Never imports streamlit."""

from .audio import AudioError, AudioInfo, DecodedClip, decode
from .checkpoints import KNOWN_CHECKPOINTS, CheckpointError, LoadedCheckpoint, load_checkpoint
from .contrastive import ContrastiveResult, contrastive, contrastive_from_cosine
from .embed import Embedder
from .features import LONG_CLIP_POLICIES
from .retrieval import retrieval_metrics
from .zeroshot import ZeroShotResult, zero_shot

__all__ = [
    "AudioError", "AudioInfo", "DecodedClip", "decode",
    "KNOWN_CHECKPOINTS", "CheckpointError", "LoadedCheckpoint", "load_checkpoint",
    "ContrastiveResult", "contrastive", "contrastive_from_cosine",
    "Embedder", "LONG_CLIP_POLICIES", "retrieval_metrics", "ZeroShotResult", "zero_shot",
]
