"""The transformers CLAP family: this project's shipped checkpoints (``bundled``, ``bundled-classes``), LAION's on the
Hugging Face Hub, and any folder saved with ``save_pretrained`` whose config.json says model_type "clap".

Loading goes through transformers' ``ClapModel`` and ``ClapProcessor`` only: never ``trust_remote_code``; weights
load from safetensors (or, for old ``.bin`` files, through torch's ``weights_only`` unpickler, transformers'
default). The shared ending (device, precision, τ) is :func:`clap_core.family.finish`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .family import CheckpointError, Step, Target, Weights, fingerprint, offline_mode
from .paths import BUNDLED_CLASSES_DIR, BUNDLED_DIR, BUNDLED_SIGMOID_DIR

BUNDLED = "bundled"
BUNDLED_CLASSES = "bundled-classes"
BUNDLED_SIGMOID = "bundled-sigmoid"
SHIPPED: dict[str, tuple[Path, str]] = {  # name → (folder, the train-demo recipe that rebuilds it)
    BUNDLED: (BUNDLED_DIR, "hard-negatives"),
    BUNDLED_CLASSES: (BUNDLED_CLASSES_DIR, "classes"),
    BUNDLED_SIGMOID: (BUNDLED_SIGMOID_DIR, "sigmoid"),
}


def looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


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


def _source(target: Target) -> tuple[str, bool]:
    """(folder or hub id, is_local) of a name this family loads."""
    if target.name in SHIPPED:
        folder, recipe = SHIPPED[target.name]
        if not (folder / "config.json").is_file():
            raise CheckpointError(
                f"the {target.name} checkpoint is missing from {folder}; rebuild it with `python -m clap_core "
                f"train-demo --recipe {recipe} --out assets/{folder.name}` (it overwrites that folder)"
            )
        return str(folder), True
    if target.path is not None and target.model_type == "clap":  # a saved folder (also a registry hub id's name)
        return str(target.path.resolve()), True
    return target.name, False


class ClapFamily:
    """transformers' ClapModel: a saved folder of model_type "clap", a hub id, or a registry row of it."""

    name = "clap"

    def claims(self, target: Target) -> bool:
        return target.model_type == "clap" if target.path is not None else looks_like_hub_id(target.name)

    def load(self, target: Target, step: Step) -> Weights:
        name = target.name
        source, is_local = _source(target)
        from transformers import AutoConfig, ClapModel, ClapProcessor

        _quiet_progress_bars()  # the stages go to step; tqdm bars would only fill a server's log
        kwargs: dict[str, Any] = {"trust_remote_code": False}
        if is_local:
            kwargs["local_files_only"] = True
        elif not _in_hub_cache(source) and (offline_mode() or not hub_reachable()):
            raise CheckpointError(_offline_message(name))  # fail fast instead of minutes of retries
        try:
            step("reading the configuration" + ("" if is_local else " from the Hugging Face Hub"))
            config = AutoConfig.from_pretrained(source, **kwargs)
            if config.model_type != "clap":
                raise CheckpointError(f"{name!r} is a {config.model_type!r} model, not a CLAP checkpoint")
            step("loading the tokenizer and feature extractor")
            processor = ClapProcessor.from_pretrained(source, **kwargs)
            downloading = not is_local and not _in_hub_cache(source, weights=True)
            mb = target.entry.download_mb if target.entry else 0
            step("loading the weights" + (f": downloading{f' ({mb} MB)' if mb else ''}" if downloading else ""))
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
        fe = processor.feature_extractor
        return Weights(
            source=source, fingerprint=fingerprint(source, is_local), model=model, processor=processor,
            sampling_rate=int(fe.sampling_rate), window_seconds=float(fe.nb_max_samples) / float(fe.sampling_rate),
            truncation=str(fe.truncation), fusion=bool(model.config.audio_config.enable_fusion),
            embed_dim=int(model.config.projection_dim), family=self.name,
        )


FAMILY = ClapFamily()
