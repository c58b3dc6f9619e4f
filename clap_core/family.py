"""The checkpoint family seam: what a family of checkpoints is, what the rest of the code needs from one, and the
ending every family's load shares.

A *family* (:class:`Family`) is one module that says which names it claims and loads the weights for one of
them: :mod:`clap_core.clap_family` (transformers' ``ClapModel``: LAION's checkpoints and this project's own) and
:mod:`clap_core.msclap` (Microsoft's CLAP 2022 and 2023). :mod:`clap_core.checkpoints` holds the registry (each row
names its family) and ``FAMILIES``; it reads a name once (:meth:`Target.read`), asks the families, and runs
:func:`finish` — device, precision, τ, the move, the :class:`LoadedCheckpoint` — the same for all of them.

A loaded checkpoint carries the facts (sampling rate, window, τ, fingerprint, ``card()``, ``family``) and two
objects of the shapes below (:class:`Model`, :class:`Processor`). The Embedder, its two caches, the long-clip
policies, precision and fine-tuning use only these, so pages and the CLI never ask which family a checkpoint is.
Two members are optional, and declared here as their own protocols: a feature extractor's own front end
(:class:`OwnFrontEnd`) and a model's fresh twin (:class:`Rebuildable`).

Nothing here imports a family or the registry: the families and the registry import this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

Step = Callable[[str], None]  # told each stage of a load as it starts (a progress display)


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded; the message says why and what to do."""


# -- what a checkpoint's two objects offer ----------------------------------------------------------------------
class FeatureExtractor(Protocol):
    """Waveform windows → the audio tower's input. transformers' ``ClapFeatureExtractor`` goes through this
    project's deterministic copy of its maths (:func:`clap_core.features.window_features`); a family with a front
    end of its own also offers :class:`OwnFrontEnd` (optional)."""

    sampling_rate: int
    nb_max_samples: int  # the window, in samples
    truncation: str  # what the family does with longer clips by itself (never used: the long-clip policy cuts)


@runtime_checkable
class OwnFrontEnd(Protocol):
    """Optional member of a :class:`FeatureExtractor`: a front end of its own (MS-CLAP: repeat as msclap, then the
    checkpoint's stored log-mel). ``features.window_features`` hands the windows to it when present."""

    def window_features(self, windows: list, sampling_rate: int, device: str | None = None) -> dict:
        """{"input_features", "is_longer"} torch tensors on ``device`` for windows of at most the window's length."""
        ...


class Tokenizer(Protocol):
    def __call__(self, text: Any, truncation: bool = ..., padding: Any = ..., return_tensors: Any = ...,
                 **kw: Any) -> dict:
        """{"input_ids", "attention_mask"} for captions (a list with padding and return_tensors="pt")."""
        ...


class Processor(Protocol):
    feature_extractor: FeatureExtractor
    tokenizer: Tokenizer

    def save_pretrained(self, folder: Any) -> None: ...


class TowerOutput(Protocol):
    pooler_output: Any  # (B, H) torch tensor: what the pooled cache keeps


class Model(Protocol):
    """A torch module: audio tower → pooled → projection; text tower → pooled → projection; τ = exp(logit_scale_a).
    A family that builds its own modules also offers :class:`Rebuildable` (optional)."""

    config: Any  # .projection_dim, .text_config.hidden_size
    audio_projection: Any  # torch module (B, H_audio) → (B, d); fine-tuning trains a copy
    text_projection: Any  # torch module (B, H_text) → (B, d)
    logit_scale_a: Any  # parameter, log τ
    logit_scale_t: Any  # parameter (the same value for MS-CLAP, which keeps one scale)

    def audio_model(self, input_features: Any, is_longer: Any = None) -> TowerOutput: ...

    def text_model(self, input_ids: Any, attention_mask: Any = None) -> TowerOutput: ...

    def save_pretrained(self, folder: Any) -> None: ...

    def parameters(self) -> Iterator[Any]: ...  # torch.nn.Module's

    def to(self, *args: Any, **kwargs: Any) -> Model: ...  # torch.nn.Module's

    def eval(self) -> Model: ...  # torch.nn.Module's


@runtime_checkable
class Rebuildable(Protocol):
    """Optional member of a :class:`Model`: a model of the same configuration with freshly initialised weights
    (torch's global RNG). Without it, ``baseline.random_twin`` builds transformers' ``ClapModel`` of the config."""

    def fresh(self) -> Model: ...


# -- the loaded checkpoint ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedCheckpoint:
    """A loaded CLAP model with its processor and the facts the UI shows about it."""

    name: str  # as asked: bundled, a hub id or a folder
    source: str  # the resolved folder or hub id
    fingerprint: str  # identifies the weights for caching embeddings
    model: Model  # eval mode, on ``device``
    processor: Processor
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
    family: str = "clap"  # transformers ClapModel, or msclap-2022 / msclap-2023 (clap_core.msclap)

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


# -- device, precision, the hub switch, fingerprints --------------------------------------------------------------
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


def offline_mode() -> bool:
    """Whether the hub is switched off by the environment (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


WEIGHT_FILES = (".json", ".safetensors", ".bin", ".txt", ".pth", ".pt")  # what a fingerprint looks at


def fingerprint(source: str, local: bool = True) -> str:
    """Identifies the weights for caching embeddings: the source (a resolved path or a hub id) and, for a local
    folder or file, the name, size and modification time of its config, weights and tokenizer files."""
    h = hashlib.sha256(source.encode())
    if local:
        path = Path(source)
        for f in sorted(path.glob("*")) if path.is_dir() else [path]:
            if f.suffix in WEIGHT_FILES and f.is_file():
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# -- what a family is ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownCheckpoint:
    """A row of the registry (:data:`clap_core.checkpoints.KNOWN_CHECKPOINTS`), shown in the checkpoint picker."""

    name: str  # what to pass as --checkpoint
    family: str  # the family that loads it (its Family.name)
    params_m: float | None  # parameters, millions (None: counted from the shipped weights, see params_millions)
    download_mb: int  # weights on disk, MB (0: shipped with the project)
    truncation: str  # the feature extractor's default for clips over 10 s
    notes: str
    variant: str = ""  # which of its family's models the name means (MS-CLAP: "2022" or "2023"); "" for none


MAX_CONFIG_BYTES = 2**20  # a real config.json is ~2 KB; a larger one is not parsed (its model_type is read from its start)
_MODEL_TYPE = re.compile(rb'"model_type"\s*:\s*"([^"\\]{1,64})"')


def read_config(folder: Path) -> tuple[dict | None, str | None, str]:
    """A folder's config.json, read once: (the JSON object or None, its model_type or None, why it could not be
    read or ""). Over :data:`MAX_CONFIG_BYTES` it is not parsed: its model_type is taken from its first 4 KB, so
    the family it names refuses it with its own message."""
    path = folder / "config.json"
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            with open(path, "rb") as f:
                found = _MODEL_TYPE.search(f.read(4096))
            return None, found.group(1).decode("utf-8", "replace") if found else None, ""
        cfg = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None, None, "no config.json"
    except (OSError, ValueError) as e:
        return None, None, str(e)
    kind = cfg.get("model_type") if isinstance(cfg, dict) else None
    return (cfg if isinstance(cfg, dict) else None), (kind if isinstance(kind, str) else None), ""


@dataclass(frozen=True)
class Target:
    """A checkpoint name as read once, for the families' claims and loaders: its registry row, the file or folder
    it names when one exists, and that folder's config.json."""

    name: str  # as asked, stripped
    entry: KnownCheckpoint | None = None  # its registry row
    path: Path | None = None  # an existing file or folder of that name
    config: dict | None = None  # the folder's config.json (None: a file, none, too large, or unreadable)
    model_type: str | None = None  # config.json's model_type
    problem: str = ""  # why the folder's config.json could not be read ("no config.json" when it has none)

    @classmethod
    def read(cls, name: str, entry: KnownCheckpoint | None = None) -> Target:
        path = Path(name).expanduser()
        if not name or not path.exists():
            return cls(name, entry)
        if not path.is_dir():
            return cls(name, entry, path)
        return cls(name, entry, path, *read_config(path))


class Family(Protocol):
    """A kind of checkpoint, in a module of its own; registering it is one entry in ``checkpoints.FAMILIES`` (and
    a registry row per name it wants in the picker)."""

    name: str  # what registry rows call it (KnownCheckpoint.family)

    def claims(self, target: Target) -> bool:
        """Whether ``target`` (a name that is no registry row, or an existing file or folder) is this family's."""
        ...

    def load(self, target: Target, step: Step) -> Weights:
        """The weights for a name it claims or a registry row of it, in fp32 on the CPU; CheckpointError (one line)
        when they cannot be loaded."""
        ...


@dataclass(frozen=True)
class Weights:
    """What a family's load hands to :func:`finish`: the model (fp32, on the CPU) and processor, and the facts only
    the family knows."""

    source: str  # the resolved folder or file, or the hub id
    fingerprint: str
    model: Model
    processor: Processor
    sampling_rate: int
    window_seconds: float
    truncation: str
    fusion: bool
    embed_dim: int
    family: str  # LoadedCheckpoint.family


def finish(name: str, weights: Weights, device: str | None, precision: str, step: Step) -> LoadedCheckpoint:
    """The ending every family's load shares: the device, the precision from the parameter count, τ from the fp32
    logit scales, the model moved (eval mode), the LoadedCheckpoint."""
    import torch

    model = weights.model
    dev = pick_device(device)
    n_params = int(sum(p.numel() for p in model.parameters()))
    prec = resolve_precision(precision, dev, n_params)
    tau = float(torch.exp(model.logit_scale_a.detach().float()).item())  # from the stored fp32 weights
    tau_text = float(torch.exp(model.logit_scale_t.detach().float()).item())
    step(f"moving the model to {dev}" + (" in bf16" if prec == "bf16" else ""))
    model = model.to(dev, dtype=torch.bfloat16 if prec == "bf16" else torch.float32).eval()
    return LoadedCheckpoint(
        name=name, source=weights.source, fingerprint=weights.fingerprint, model=model, processor=weights.processor,
        device=dev, sampling_rate=weights.sampling_rate, window_seconds=weights.window_seconds,
        truncation=weights.truncation, fusion=weights.fusion, tau=tau, tau_text=tau_text, n_params=n_params,
        embed_dim=weights.embed_dim, precision=prec, family=weights.family,
    )
