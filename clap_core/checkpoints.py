"""Checkpoints: the registry of known CLAP checkpoints and the one loader for all of them.

A checkpoint is named by the word ``bundled`` (the demo model shipped in ``assets/``; ``bundled-classes``
for its class-only predecessor), a Hugging Face
hub id, or a local folder saved with ``save_pretrained``. Loading goes through transformers'
``ClapModel`` and ``ClapProcessor`` only: never ``trust_remote_code``; weights load from safetensors
(or, for old ``.bin`` files, through torch's ``weights_only`` unpickler, transformers' default).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import BUNDLED_CLASSES_DIR, BUNDLED_DIR

BUNDLED = "bundled"
BUNDLED_CLASSES = "bundled-classes"
SHIPPED: dict[str, tuple[Path, str]] = {  # name → (folder, the train-demo recipe that rebuilds it)
    BUNDLED: (BUNDLED_DIR, "hard-negatives"),
    BUNDLED_CLASSES: (BUNDLED_CLASSES_DIR, "classes"),
}


# MS-CLAP, measured with random weights of the real shapes (tests/reference/msclap_random.py): parameters of the
# embedding path (classifier heads not built), and CPU throughput, fp32, batch 8, 2 cores shared with other jobs
# (load average 4.5), by benchmarks/msclap.py; download sizes: the files' tensors (160 M / 196 M values) in fp32
MSCLAP_PARAMS_M = {"2023": 155.6, "2022": 193.6}
MSCLAP_SPEED = {
    "2023": "623 MB in fp32 in memory; CPU, 2 shared cores: ≈ 4 clips/s (7 s windows), ≈ 2.6 captions/s.",
    "2022": "774 MB in fp32 in memory; CPU, 2 shared cores: ≈ 1.6 clips/s (5 s windows), ≈ 4.3 captions/s.",
}


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class KnownCheckpoint:
    """An entry of the registry shown in the checkpoint picker."""

    name: str  # what to pass as --checkpoint
    params_m: float | None  # parameters, millions (None: counted from the shipped weights, see params_millions)
    download_mb: int  # weights on disk, MB (0: shipped with the project)
    truncation: str  # the feature extractor's default for clips over 10 s
    notes: str


KNOWN_CHECKPOINTS: tuple[KnownCheckpoint, ...] = (
    KnownCheckpoint(
        BUNDLED, None, 0, "rand_trunc",
        "Small demo CLAP trained by this project on its synthetic sound world (tones, sweeps, noise, "
        "clicks, chords…) with hard negatives, so it knows the classes and the captions' loudness, speed "
        "and pitch words; works offline. It knows only that world's vocabulary.",
    ),
    KnownCheckpoint(
        BUNDLED_CLASSES, None, 0, "rand_trunc",
        "The earlier demo CLAP, trained on batches of distinct classes only (recipe 'classes'): it knows "
        "the classes but not the attribute words (≈ chance on loud vs quiet). Compare it with 'bundled' "
        "to see what hard negatives bought.",
    ),
    KnownCheckpoint(
        "laion/clap-htsat-unfused", 153.5, 615, "rand_trunc",
        "LAION-CLAP, HTSAT audio tower + RoBERTa text tower, trained on LAION-Audio-630K.",
    ),
    KnownCheckpoint(
        "laion/clap-htsat-fused", 153.5, 614, "fusion",
        "As unfused, with feature fusion for long clips (this app keeps is_longer off for determinism).",
    ),
    KnownCheckpoint(
        "laion/larger_clap_general", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained on general audio (AudioSet, LAION-Audio-630K and more); ≈90 % on ESC-50.",
    ),
    KnownCheckpoint(
        "laion/larger_clap_music", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained with music data; best for music captions.",
    ),
    KnownCheckpoint(
        "laion/larger_clap_music_and_speech", 193.9, 776, "rand_trunc",
        "Larger HTSAT, trained with music and speech data.",
    ),
    # Microsoft's CLAP, the paper's own models (clap_core.msclap): microsoft/msclap's .pth files, read weights-only
    KnownCheckpoint(
        "msclap-2023", MSCLAP_PARAMS_M["2023"], 640, "rand_crop",
        "MS-CLAP 2023 (Microsoft): HTS-AT audio tower + GPT-2 text tower, 44.1 kHz, 7 s window; 93.9 % zero-shot on "
        "ESC-50 as published. microsoft/msclap CLAP_weights_2023.pth + the gpt2 tokenizer. " + MSCLAP_SPEED["2023"],
    ),
    KnownCheckpoint(
        "msclap-2022", MSCLAP_PARAMS_M["2022"], 785, "rand_crop",
        "MS-CLAP 2022 (Microsoft), the CLAP paper's model: CNN14 audio tower + BERT text tower, 44.1 kHz, 5 s "
        "window. microsoft/msclap CLAP_weights_2022.pth + the bert-base-uncased tokenizer. " + MSCLAP_SPEED["2022"],
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


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A loaded CLAP model with its processor and the facts the UI shows about it."""

    name: str  # as asked: bundled, a hub id or a folder
    source: str  # the resolved folder or hub id
    fingerprint: str  # identifies the weights for caching embeddings
    model: Any  # transformers.ClapModel, eval mode, on ``device``
    processor: Any  # transformers.ClapProcessor
    device: str
    sampling_rate: int
    window_seconds: float  # the audio tower's input length
    truncation: str  # the feature extractor's default (we never use its random paths)
    fusion: bool
    tau: float  # exp(logit_scale_a): the τ this project uses for C
    tau_text: float  # exp(logit_scale_t): the second scale transformers keeps
    n_params: int
    embed_dim: int
    precision: str = "fp32"  # the weights' dtype: fp32 or bf16 (resolved from "auto", see resolve_precision)
    family: str = "clap"  # transformers ClapModel, or msclap-2022 / msclap-2023 (clap_core.msclap); see clap_core.family

    @property
    def dtype(self):
        """The torch dtype of the weights (inputs are cast to it)."""
        import torch

        return torch.bfloat16 if self.precision == "bf16" else torch.float32

    def card(self) -> dict:
        """A short, JSON-ready model card."""
        return {
            "checkpoint": self.name,
            "source": self.source,
            "device": self.device,
            "parameters": self.n_params,
            "sampling_rate": self.sampling_rate,
            "window_seconds": self.window_seconds,
            "truncation": self.truncation,
            "fusion": self.fusion,
            "tau": self.tau,
            "tau_text": self.tau_text,
            "embed_dim": self.embed_dim,
            "precision": self.precision,
            "family": self.family,
        }


def pick_device(device: str | None = None) -> str:
    """The device to run on: the one asked for, else CUDA when present, else CPU."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


PRECISIONS = ("auto", "fp32", "bf16")
BF16_MIN_PARAMS = 20_000_000  # below this, bf16 gains nothing (measured on the bundled model): auto keeps fp32


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products in hardware (AMX tiles or AVX512-BF16)."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # an older torch without the probes: assume not
        return False


def resolve_precision(precision: str, device: str, n_params: int) -> str:
    """fp32 or bf16 for ``precision`` (auto: bf16 on CUDA and on CPUs with fast bf16, for models large
    enough to gain from it; fp32 otherwise, which keeps small models' figures exact)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if n_params < BF16_MIN_PARAMS:
        return "fp32"
    return "bf16" if device.startswith("cuda") or (device == "cpu" and cpu_has_fast_bf16()) else "fp32"


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve(name: str) -> tuple[str, bool]:
    """Map a checkpoint name to (folder or hub id, is_local); raise CheckpointError if impossible."""
    name = (name or BUNDLED).strip()
    if name in SHIPPED:
        folder, recipe = SHIPPED[name]
        if not (folder / "config.json").is_file():
            raise CheckpointError(
                f"the {name} checkpoint is missing from {folder}; rebuild it with `python -m clap_core "
                f"train-demo --recipe {recipe} --out assets/{folder.name}` (it overwrites that folder)"
            )
        return str(folder), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{name} is a file; give the folder that holds config.json and the weights (or an MS-CLAP .pth)")
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{name} has no config.json: not a saved transformers checkpoint")
        return str(path.resolve()), True
    if _looks_like_hub_id(name):
        return name, False
    raise CheckpointError(
        f"{name!r} is neither 'bundled', an existing folder, nor a hub id of the form owner/name"
    )


def _fingerprint(source: str, is_local: bool) -> str:
    h = hashlib.sha256(source.encode())
    if is_local:
        for f in sorted(Path(source).glob("*")):
            if f.suffix in (".json", ".safetensors", ".bin", ".txt"):
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _check_is_clap(source: str, is_local: bool) -> None:
    if not is_local:
        return
    try:
        cfg = json.loads((Path(source) / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{source}/config.json cannot be read: {e}") from None
    if cfg.get("model_type") != "clap":
        raise CheckpointError(
            f"{source} holds a {cfg.get('model_type', 'unknown')!r} model, not a CLAP checkpoint (model_type 'clap')"
        )


def _offline_message(name: str) -> str:
    return (
        f"cannot download {name!r}: the Hugging Face Hub is not reachable (offline, or "
        "HF_HUB_OFFLINE is set) and it is not in the local cache. Use the bundled checkpoint ('bundled'), "
        "or a local folder holding a checkpoint saved with save_pretrained"
    )


def _in_hub_cache(repo_id: str, weights: bool = False) -> bool:
    """Whether the hub cache holds the repo's config (or, with ``weights``, its weights file)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        files = ("model.safetensors", "pytorch_model.bin") if weights else ("config.json",)
        return any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in files)
    except Exception:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to huggingface.co:443 opens within ``timeout`` seconds."""
    import socket

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def _quiet_progress_bars() -> None:
    """Turn off transformers' and huggingface_hub's tqdm bars ("Loading weights …")."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    disable_progress_bars()


def offline_mode() -> bool:
    """Whether the hub is switched off by the environment (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def load_checkpoint(name: str = BUNDLED, device: str | None = None, precision: str = "auto",
                    on_step: Callable[[str], None] | None = None) -> LoadedCheckpoint:
    """Load a CLAP checkpoint by ``bundled``, hub id or folder; eval mode, on CUDA when present, in
    ``precision`` (auto, fp32 or bf16; see resolve_precision).

    ``on_step`` is told each stage as it starts (for a progress display)."""
    if precision not in PRECISIONS:
        raise CheckpointError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    from .msclap import is_msclap, load_msclap

    if is_msclap(name):  # a Microsoft CLAP checkpoint: registry name, .pth file or converted folder
        return load_msclap(name, device=device, precision=precision, on_step=on_step)
    step = on_step or (lambda _msg: None)
    source, is_local = resolve(name)
    _check_is_clap(source, is_local)
    import torch
    from transformers import AutoConfig, ClapModel, ClapProcessor

    _quiet_progress_bars()  # the stages go to on_step; tqdm bars would only fill a server's log

    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if is_local:
        kwargs["local_files_only"] = True
    elif not _in_hub_cache(source) and (offline_mode() or not hub_reachable()):
        raise CheckpointError(_offline_message(name))  # fail fast instead of minutes of retries
    entry = known(name)
    try:
        step("reading the configuration" + ("" if is_local else " from the Hugging Face Hub"))
        config = AutoConfig.from_pretrained(source, **kwargs)
        if config.model_type != "clap":
            raise CheckpointError(f"{name!r} is a {config.model_type!r} model, not a CLAP checkpoint")
        step("loading the tokenizer and feature extractor")
        processor = ClapProcessor.from_pretrained(source, **kwargs)
        downloading = not is_local and not _in_hub_cache(source, weights=True)
        size = f" ({entry.download_mb} MB)" if downloading and entry and entry.download_mb else ""
        step("loading the weights" + (f": downloading{size}" if downloading else ""))
        model = ClapModel.from_pretrained(source, **kwargs)
    except CheckpointError:
        raise
    except Exception as e:  # hub and file errors come in many types; name the cause plainly
        if not is_local and not _in_hub_cache(source) and (offline_mode() or not hub_reachable()):
            raise CheckpointError(_offline_message(name)) from None
        if not is_local and type(e).__name__ in ("RepositoryNotFoundError", "GatedRepoError"):
            raise CheckpointError(f"{name!r} is not a public model on the Hugging Face Hub (check the id)") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{name!r} could not be loaded as a CLAP checkpoint: {first}") from None
    dev = pick_device(device)
    n_params = int(sum(p.numel() for p in model.parameters()))
    prec = resolve_precision(precision, dev, n_params)
    tau = float(torch.exp(model.logit_scale_a.detach()).item())  # from the stored fp32 weights
    tau_text = float(torch.exp(model.logit_scale_t.detach()).item())
    step(f"moving the model to {dev}" + (" in bf16" if prec == "bf16" else ""))
    model = model.to(dev, dtype=torch.bfloat16 if prec == "bf16" else torch.float32).eval()
    fe = processor.feature_extractor
    return LoadedCheckpoint(
        name=name,
        source=source,
        fingerprint=_fingerprint(source, is_local),
        model=model,
        processor=processor,
        device=dev,
        sampling_rate=int(fe.sampling_rate),
        window_seconds=float(fe.nb_max_samples) / float(fe.sampling_rate),
        truncation=str(fe.truncation),
        fusion=bool(model.config.audio_config.enable_fusion),
        tau=tau,
        tau_text=tau_text,
        n_params=n_params,
        embed_dim=int(model.config.projection_dim),
        precision=prec,
    )
