"""Microsoft's CLAP checkpoints (MS-CLAP 2022: CNN14 + BERT; 2023: HTS-AT + GPT-2) as checkpoints of this project.

:func:`load_msclap` returns the same :class:`~clap_core.checkpoints.LoadedCheckpoint` as a transformers CLAP
checkpoint, so the Embedder, its caches, the long-clip policies, precision and fine-tuning work unchanged (the
seam is described in :mod:`clap_core.family`). UI-free.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .loading import (
    MsClapError,
    MsClapFeatures,
    MsClapProcessor,
    check_tokenizer_fits,
    convert,
    fingerprint,
    hub_weights,
    is_msclap_folder,
    load_tokenizer,
    n_parameters,
    read_folder,
    read_pth_model,
)
from .model import HUB_REPO, VERSIONS, MsClapModel, MsClapVersion

REGISTRY_NAMES = {"msclap-2023": "2023", "msclap-2022": "2022"}

__all__ = ["HUB_REPO", "REGISTRY_NAMES", "VERSIONS", "MsClapError", "MsClapModel", "MsClapVersion", "convert",
           "is_msclap", "load_msclap"]


def is_msclap(name: str) -> bool:
    """Whether ``name`` is an MS-CLAP registry name, a .pth/.pt file or a converted MS-CLAP folder."""
    name = (name or "").strip()
    if name in REGISTRY_NAMES:
        return True
    path = Path(name).expanduser()
    return (path.is_file() and path.suffix in (".pth", ".pt")) or (path.is_dir() and is_msclap_folder(path))


def offline_message(name: str, version) -> str:
    return (f"cannot download {name!r} ({HUB_REPO}/{version.hub_file} and the {version.text_model} tokenizer): the "
            "Hugging Face Hub is not reachable (offline, or HF_HUB_OFFLINE is set) and they are not in the local "
            "cache. Give a local .pth (with its tokenizer in the hub cache) or a folder made by `python -m clap_core "
            "convert --from msclap FILE --out DIR`")


def converted_dir(name: str) -> Path:
    """Where the converted (safetensors, no pickle) folder of a registry name is kept: CLAP_EXPLORER_CONVERTED
    or ~/.cache/clap-explorer/converted, then the name."""
    import os

    root = os.environ.get("CLAP_EXPLORER_CONVERTED") or Path.home() / ".cache" / "clap-explorer" / "converted"
    return Path(root) / name


def _registry_weights(name: str, version, step) -> Path:
    """A registry name's weights, preferring a converted folder: the cached one, else the hub's .pth converted
    into the cache once (read weights-only); the .pth itself when the folder cannot be written."""
    folder = converted_dir(name)
    if is_msclap_folder(folder):
        step(f"using the converted folder {folder}")
        return folder
    from ..checkpoints import offline_mode

    if offline_mode():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(HUB_REPO, version.hub_file), str):
            raise MsClapError(offline_message(name, version))
    step(f"loading the weights: {HUB_REPO}/{version.hub_file}")
    path = hub_weights(version, offline_message(name, version))
    step(f"converting them once to {folder} (safetensors: later loads read no pickle)")
    try:
        return convert(path, folder)
    except OSError:  # a read-only cache: load the .pth weights-only this time
        return path


def error_line(name: str, e: MsClapError) -> str:
    """The one line a CheckpointError says: ``name`` then the reason, the file's name said once."""
    msg = str(e)
    own = Path(name).expanduser().name
    if name not in REGISTRY_NAMES and own and msg.startswith(own) and msg[len(own):][:1] in (":", " "):
        return f"{name!r}{msg[len(own):]}"  # "x.pth: empty file" → "'/path/x.pth': empty file"
    return f"{name!r}: {msg}"


def load_msclap(name: str, device: str | None = None, precision: str = "auto",
                on_step: Callable[[str], None] | None = None, tokenizer: str | Path | None = None):
    """Load MS-CLAP by registry name, .pth file or converted folder; eval mode, on ``device``, in ``precision``.
    The tokenizer comes from a converted folder itself, else ``tokenizer`` (folder or hub id), else the version's
    hub id (gpt2 / bert-base-uncased) from the cache or the hub."""
    import torch

    from ..checkpoints import CheckpointError, LoadedCheckpoint, offline_mode, pick_device, resolve_precision

    step = on_step or (lambda _msg: None)
    name = (name or "").strip()
    try:
        if name in REGISTRY_NAMES:
            path = _registry_weights(name, VERSIONS[REGISTRY_NAMES[name]], step)
        else:
            path = Path(name).expanduser()
        step("reading the weights (weights only, no pickled objects)")
        if path.is_dir():
            version, model, front = read_folder(path)
            tok_source, local = (tokenizer or path), True
        else:
            version, model, front = read_pth_model(path)
            tok_source = tokenizer or version.text_model
            local = Path(str(tok_source)).exists() or offline_mode()
        step(f"loading the {version.text_model} tokenizer")
        text_config = model.config.text_config
        tok = load_tokenizer(tok_source, version, local_only=local, max_positions=text_config.max_position_embeddings)
        check_tokenizer_fits(tok, text_config)
    except MsClapError as e:
        raise CheckpointError(error_line(name, e)) from None
    dev = pick_device(device)
    n_params = n_parameters(model)
    prec = resolve_precision(precision, dev, n_params)
    tau = float(torch.exp(model.logit_scale_a.detach().float()).item())
    step(f"moving the model to {dev}" + (" in bf16" if prec == "bf16" else ""))
    model = model.to(dev, dtype=torch.bfloat16 if prec == "bf16" else torch.float32).eval()
    features = MsClapFeatures(version, front)
    return LoadedCheckpoint(
        name=name, source=str(path.resolve()), fingerprint=fingerprint(path), model=model,
        processor=MsClapProcessor(features, tok), device=dev, sampling_rate=version.sampling_rate,
        window_seconds=float(version.duration), truncation=features.truncation, fusion=False, tau=tau, tau_text=tau,
        n_params=n_params, embed_dim=version.d_proj, precision=prec, family=f"msclap-{version.name}",
    )
