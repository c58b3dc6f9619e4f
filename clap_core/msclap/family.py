"""The MS-CLAP family (:class:`clap_core.family.Family`): which names are Microsoft's CLAP and how their weights load.

It claims a ``.pth``/``.pt`` file and a folder whose config.json says model_type "msclap"; the registry rows
``msclap-2022`` / ``msclap-2023`` (in :mod:`clap_core.checkpoints`, variant = the version) load the hub's file,
converted once into a cache folder. Every MsClapError becomes one CheckpointError line naming the checkpoint;
the ending (device, precision, τ) is the shared :func:`clap_core.family.finish`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..family import (
    CheckpointError,
    LoadedCheckpoint,
    Step,
    Target,
    Weights,
    fingerprint,
    finish,
    offline_mode,
    read_config,
)
from .loading import (
    MsClapError,
    MsClapFeatures,
    MsClapProcessor,
    check_tokenizer_fits,
    convert,
    hub_weights,
    load_tokenizer,
    read_folder,
    read_pth_model,
)
from .model import HUB_REPO, VERSIONS, MsClapVersion

PTH_SUFFIXES = (".pth", ".pt")


def offline_message(name: str, version: MsClapVersion) -> str:
    return (f"cannot download {name!r} ({HUB_REPO}/{version.hub_file} and the {version.text_model} tokenizer): the "
            "Hugging Face Hub is not reachable (offline, or HF_HUB_OFFLINE is set) and they are not in the local "
            "cache. Give a local .pth (with its tokenizer in the hub cache) or a folder made by `python -m clap_core "
            "convert --from msclap FILE --out DIR`")


def converted_dir(name: str) -> Path:
    """Where the converted (safetensors, no pickle) folder of a registry name is kept: CLAP_EXPLORER_CONVERTED
    or ~/.cache/clap-explorer/converted, then the name."""
    root = os.environ.get("CLAP_EXPLORER_CONVERTED") or Path.home() / ".cache" / "clap-explorer" / "converted"
    return Path(root) / name


def _registry_weights(name: str, version: MsClapVersion, step: Step) -> tuple[Path, dict | None]:
    """A registry name's weights, preferring a converted folder: the cached one (with its config.json, read once),
    else the hub's .pth converted into the cache once (read weights-only); the .pth itself when the folder cannot
    be written."""
    folder = converted_dir(name)
    cfg, kind, _problem = read_config(folder)
    if kind == "msclap":
        step(f"using the converted folder {folder}")
        return folder, cfg
    if offline_mode():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(HUB_REPO, version.hub_file), str):
            raise MsClapError(offline_message(name, version))
    step(f"loading the weights: {HUB_REPO}/{version.hub_file}")
    path = hub_weights(version, offline_message(name, version))
    step(f"converting them once to {folder} (safetensors: later loads read no pickle)")
    try:
        return convert(path, folder), None
    except OSError:  # a read-only cache: load the .pth weights-only this time
        return path, None


def error_line(target: Target, e: MsClapError) -> str:
    """The one line a CheckpointError says: the name then the reason, the file's name said once."""
    name, msg = target.name, str(e)
    own = Path(name).expanduser().name
    if target.entry is None and own and msg.startswith(own) and msg[len(own):][:1] in (":", " "):
        return f"{name!r}{msg[len(own):]}"  # "x.pth: empty file" → "'/path/x.pth': empty file"
    return f"{name!r}: {msg}"


class MsClapFamily:
    """Microsoft's CLAP 2022 and 2023: a .pth file, a converted folder, or a registry row (variant: the version)."""

    name = "msclap"

    def claims(self, target: Target) -> bool:
        path = target.path
        return path is not None and (target.model_type == "msclap" or (path.is_file() and path.suffix in PTH_SUFFIXES))

    def load(self, target: Target, step: Step, tokenizer: str | Path | None = None) -> Weights:
        """The weights; the tokenizer comes from a converted folder itself, else ``tokenizer`` (folder or hub id),
        else the version's hub id (gpt2 / bert-base-uncased) from the cache or the hub."""
        try:
            if target.entry is not None:
                path, cfg = _registry_weights(target.name, VERSIONS[target.entry.variant], step)
            else:
                path, cfg = target.path or Path(target.name).expanduser(), target.config
            step("reading the weights (weights only, no pickled objects)")
            if path.is_dir():
                version, model, front = read_folder(path, cfg)
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
            raise CheckpointError(error_line(target, e)) from None
        features = MsClapFeatures(version, front)
        source = str(path.resolve())
        return Weights(
            source=source, fingerprint=fingerprint(source), model=model, processor=MsClapProcessor(features, tok),
            sampling_rate=version.sampling_rate, window_seconds=float(version.duration), truncation=features.truncation,
            fusion=False, embed_dim=version.d_proj, family=f"msclap-{version.name}",
        )


FAMILY = MsClapFamily()


def load_msclap(path: str | Path, device: str | None = None, precision: str = "auto",
                on_step: Callable[[str], None] | None = None, tokenizer: str | Path | None = None) -> LoadedCheckpoint:
    """Load MS-CLAP from a .pth file or a converted folder with ``tokenizer`` (registry names go through
    :func:`clap_core.checkpoints.load_checkpoint`); eval mode, on ``device``, in ``precision``."""
    step = on_step or (lambda _msg: None)
    target = Target.read(str(path).strip())
    return finish(target.name, FAMILY.load(target, step, tokenizer=tokenizer), device, precision, step)
