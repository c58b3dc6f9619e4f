"""A random-weight model of a checkpoint's own configuration: what training changed, measured on a batch.

The Embedding map compares the trained checkpoint's modality gap with this model's. Memory: the random
model is as large as the checkpoint (the bundled one ~2 MB; a LAION clap-htsat-* 615 MB in fp32, half in
bf16) and lives only while the batch is embedded; building it takes well under a second for the bundled
config and a few seconds on CPU for a full-size one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .audio import DecodedClip
from .checkpoints import LoadedCheckpoint
from .family import Rebuildable
from .features import DEFAULT_POLICY
from .geometry import modality_gap

RANDOM_SEED = 0


def random_twin(ck: LoadedCheckpoint, seed: int = RANDOM_SEED) -> LoadedCheckpoint:
    """A ClapModel of ``ck``'s config with freshly initialised weights (torch seed ``seed``, the global RNG
    left as it was), on ``ck``'s device in its precision, with its processor. The same seed gives the
    same weights."""
    import torch
    from transformers import ClapModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # a family with its own modules (clap_core.msclap) builds its twin; transformers' ClapModel is built here
        model = ck.model.fresh() if isinstance(ck.model, Rebuildable) else ClapModel(ck.model.config)
    model = model.to(ck.device, dtype=ck.dtype).eval()
    tau = float(torch.exp(model.logit_scale_a.detach().float()).item())
    return dataclasses.replace(ck, name=f"{ck.name} with random weights (seed {seed})",
                               fingerprint=f"random-{seed}-{ck.fingerprint}", model=model, tau=tau,
                               tau_text=float(torch.exp(model.logit_scale_t.detach().float()).item()))


def random_model_gap(ck: LoadedCheckpoint, clips: Sequence[DecodedClip], captions: Sequence[str],
                     policy: str = DEFAULT_POLICY, seed: int = RANDOM_SEED) -> float:
    """The modality gap ‖mean(Ê_t) − mean(Ê_a)‖ of the batch under :func:`random_twin` of ``ck``; the
    random model is dropped when this returns."""
    from .embed import Embedder

    emb = Embedder(random_twin(ck, seed))
    return modality_gap(emb.embed_texts(list(captions)), emb.embed_clips(list(clips), policy=policy))
