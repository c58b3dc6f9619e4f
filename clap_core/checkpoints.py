"""Checkpoints: the one registry of known CLAP checkpoints, the families that load them, and the one loader.

A checkpoint is named by a registry row (``bundled``, the demo model shipped in ``assets/``, and
``bundled-classes``, its class-only predecessor; LAION's hub ids; ``msclap-2022`` / ``msclap-2023``), a Hugging
Face hub id, a local folder saved with ``save_pretrained`` (or converted from MS-CLAP), or an MS-CLAP ``.pth``.
Each row names its family; any other name is read once (:meth:`~clap_core.family.Target.read`: the path, its
config.json) and claimed by one of :data:`FAMILIES`. :func:`load_checkpoint` has that family load the weights
and runs the shared ending (:func:`clap_core.family.finish`); :func:`check` says what is wrong with a name
before loading it. The families are :mod:`clap_core.clap_family` (transformers' ClapModel) and
:mod:`clap_core.msclap`; adding one is a module plus its rows here (see :class:`clap_core.family.Family`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from . import clap_family, msclap
from .clap_family import BUNDLED, BUNDLED_CLASSES, BUNDLED_SIGMOID, SHIPPED, hub_reachable
from .family import (
    BF16_MIN_PARAMS,
    PRECISIONS,
    CheckpointError,
    Family,
    KnownCheckpoint,
    LoadedCheckpoint,
    Target,
    cpu_has_fast_bf16,
    finish,
    offline_mode,
    pick_device,
    resolve_precision,
)
from .paths import BUNDLED_DIR

__all__ = ["BF16_MIN_PARAMS", "BUNDLED", "BUNDLED_CLASSES", "BUNDLED_SIGMOID", "FAMILIES", "KNOWN_CHECKPOINTS", "PRECISIONS", "SHIPPED",
           "CheckpointError", "KnownCheckpoint", "LoadedCheckpoint", "check", "count_parameters", "cpu_has_fast_bf16",
           "family_for", "hub_reachable", "known", "load_checkpoint", "offline_mode", "params_millions", "pick_device",
           "resolve_precision"]

FAMILIES: tuple[Family, ...] = (clap_family.FAMILY, msclap.FAMILY)


# MS-CLAP, measured with random weights of the real shapes (tests/reference/msclap_random.py): parameters of the
# embedding path (classifier heads not built), and CPU throughput, fp32, batch 8, 2 cores shared with other jobs
# (load average 4.5), by benchmarks/msclap.py; download sizes: the files' tensors (160 M / 196 M values) in fp32
MSCLAP_PARAMS_M = {"2023": 155.6, "2022": 193.6}
MSCLAP_SPEED = {
    "2023": "623 MB in fp32 in memory; CPU, 2 shared cores: ≈ 4 clips/s (7 s windows), ≈ 2.6 captions/s.",
    "2022": "774 MB in fp32 in memory; CPU, 2 shared cores: ≈ 1.6 clips/s (5 s windows), ≈ 4.3 captions/s.",
}

KNOWN_CHECKPOINTS: tuple[KnownCheckpoint, ...] = (
    KnownCheckpoint(
        BUNDLED, "clap", None, 0, "rand_trunc",
        "Small demo CLAP trained by this project on its synthetic sound world (tones, sweeps, noise, "
        "clicks, chords…) with hard negatives, so it knows the classes and the captions' loudness, speed "
        "and pitch words; works offline. It knows only that world's vocabulary.",
    ),
    KnownCheckpoint(
        BUNDLED_CLASSES, "clap", None, 0, "rand_trunc",
        "The earlier demo CLAP, trained on batches of distinct classes only (recipe 'classes'): it knows "
        "the classes but not the attribute words (≈ chance on loud vs quiet). Compare it with 'bundled' "
        "to see what hard negatives bought.",
    ),
    KnownCheckpoint(
        BUNDLED_SIGMOID, "clap", None, 0, "rand_trunc",
        "The bundled demo CLAP's recipe (hard negatives, the same world, size and steps) trained with the sigmoid "
        "(SigLIP) loss instead of the softmax: t and b learned from SigLIP's initialisation. Compare it with "
        "'bundled' to see what the loss alone changed; its σ(t·cos + b) is a calibrated match probability.",
    ),
    KnownCheckpoint(
        "laion/clap-htsat-unfused", "clap", 153.5, 615, "rand_trunc",
        "LAION-CLAP, HTSAT audio tower + RoBERTa text tower, trained on LAION-Audio-630K.",
    ),
    KnownCheckpoint(
        "laion/clap-htsat-fused", "clap", 153.5, 614, "fusion",
        "As unfused, with feature fusion for long clips (this app keeps is_longer off for determinism).",
    ),
    KnownCheckpoint(
        "laion/larger_clap_general", "clap", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained on general audio (AudioSet, LAION-Audio-630K and more); ≈90 % on ESC-50.",
    ),
    KnownCheckpoint(
        "laion/larger_clap_music", "clap", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained with music data; best for music captions.",
    ),
    KnownCheckpoint(
        "laion/larger_clap_music_and_speech", "clap", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained with music and speech data.",
    ),
    # Microsoft's CLAP, the paper's own models (clap_core.msclap): microsoft/msclap's .pth files, read weights-only
    KnownCheckpoint(
        "msclap-2023", "msclap", MSCLAP_PARAMS_M["2023"], 640, "rand_crop",
        "MS-CLAP 2023 (Microsoft): HTS-AT audio tower + GPT-2 text tower, 44.1 kHz, 7 s window; 93.9 % zero-shot on "
        "ESC-50 as published. microsoft/msclap CLAP_weights_2023.pth + the gpt2 tokenizer. " + MSCLAP_SPEED["2023"],
        variant="2023",
    ),
    KnownCheckpoint(
        "msclap-2022", "msclap", MSCLAP_PARAMS_M["2022"], 785, "rand_crop",
        "MS-CLAP 2022 (Microsoft), the CLAP paper's model: CNN14 audio tower + BERT text tower, 44.1 kHz, 5 s "
        "window. microsoft/msclap CLAP_weights_2022.pth + the bert-base-uncased tokenizer. " + MSCLAP_SPEED["2022"],
        variant="2022",
    ),
)


def known(name: str) -> KnownCheckpoint | None:
    """The registry entry for ``name``, or None."""
    return next((k for k in KNOWN_CHECKPOINTS if k.name == name), None)


_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # saved beside the weights, not parameters


def count_parameters(folder: Path) -> int:
    """Trainable parameters in a folder's ``model.safetensors``, read from its header (no weights loaded):
    floating-point tensors, without integer index buffers and batch-norm statistics."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="np") as f:
        return int(sum(math.prod(sl.get_shape()) for k in f.keys()
                       if (sl := f.get_slice(k)).get_dtype().startswith(("F", "BF")) and not k.endswith(_BUFFERS)))


def params_millions(entry: KnownCheckpoint) -> float:
    """A registry entry's parameter count in millions: typed for hub models, counted for the bundled one."""
    if entry.params_m is not None:
        return entry.params_m
    return round(count_parameters(SHIPPED.get(entry.name, (BUNDLED_DIR, ""))[0]) / 1e6, 2)


def family_for(target: Target) -> Family:
    """The family that loads ``target``: its registry row's, else the one that claims it; CheckpointError (one line)
    saying why none does."""
    if target.entry is not None:
        return {f.name: f for f in FAMILIES}[target.entry.family]
    claimed = next((f for f in FAMILIES if f.claims(target)), None)
    if claimed is not None:
        return claimed
    name, path = target.name, target.path
    if path is None:
        raise CheckpointError(f"{name!r} is neither 'bundled', an existing folder, nor a hub id of the form owner/name")
    if not path.is_dir():
        raise CheckpointError(f"{name} is a file; give the folder that holds config.json and the weights (or an MS-CLAP .pth)")
    if target.problem == "no config.json":
        raise CheckpointError(f"{name} has no config.json: not a saved transformers checkpoint")
    if target.problem:
        raise CheckpointError(f"{path.resolve()}/config.json cannot be read: {target.problem}")
    raise CheckpointError(
        f"{path.resolve()} holds a {target.model_type or 'unknown'!r} model, not a CLAP checkpoint (model_type 'clap')"
    )


def _target(name: str | None) -> Target:
    name = (name or "").strip() or BUNDLED
    return Target.read(name, known(name))


def check(name: str) -> str | None:
    """What is wrong with ``name`` as a checkpoint, in one line, before loading it; None when a family takes it (a
    hub id is only checked by loading it)."""
    try:
        family_for(_target(name))
    except CheckpointError as e:
        return str(e)
    return None


def load_checkpoint(name: str = BUNDLED, device: str | None = None, precision: str = "auto",
                    on_step: Callable[[str], None] | None = None) -> LoadedCheckpoint:
    """Load a checkpoint by registry name, hub id, folder or MS-CLAP .pth; eval mode, on CUDA when present, in
    ``precision`` (auto, fp32 or bf16; see resolve_precision).

    ``on_step`` is told each stage as it starts (for a progress display)."""
    if precision not in PRECISIONS:
        raise CheckpointError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    step = on_step or (lambda _msg: None)
    target = _target(name)
    weights = family_for(target).load(target, step)
    return finish(target.name, weights, device, precision, step)
