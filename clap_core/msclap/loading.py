"""Loading MS-CLAP checkpoints safely, and converting them to a folder that loads without pickle.

Three sources:
  a .pth file   msclap's own layout, ``{"model": state_dict}``, read with ``torch.load(weights_only=True)``:
                torch's restricted unpickler, which builds tensors and plain containers and nothing else. A file
                that needs any other object is refused (never unpickled); so is one whose tensors are not an
                MS-CLAP model's.
  a folder      written by :func:`convert` (or by saving a fine-tuned MS-CLAP): ``config.json`` (model_type
                "msclap"), ``model.safetensors`` and the tokenizer's files; no pickle anywhere.
  the hub       ``microsoft/msclap``'s CLAP_weights_<version>.pth and the text model's tokenizer (gpt2,
                bert-base-uncased), through huggingface_hub's cache; offline, a clear error.

Whatever is wrong with a file or folder ends in one :class:`MsClapError` naming the file and the fault; what
can be checked before torch or safetensors read a file is (:mod:`.checks`), and a folder's model is sized from
its config.json and refused over a bound before anything is built.

Only what the embeddings need is built: the classifier heads in the files (CNN14's fc_audioset, HTS-AT's
tscam_conv and head, BERT's tanh pooler) are ignored, as are buffers the modules rebuild themselves (HTS-AT's
relative_position_index and attn_mask, position ids, GPT-2's causal mask).
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .checks import (
    MsClapError,
    audio_overrides,
    check_pth_file,
    check_size,
    check_text_shape,
    config_version,
    first_line,
    read_config,
    read_safetensors_header,
    text_settings,
)
from .model import HUB_REPO, SELF_BUILT, VERSIONS, LogMel, MsClapModel, MsClapVersion, save_model

EOT = " <|endoftext|>"  # msclap appends this to every GPT-2 caption
FRONT_END_KEYS = {"spectrogram_extractor.stft.conv_real.weight": "conv_real",
                  "spectrogram_extractor.stft.conv_imag.weight": "conv_imag",
                  "logmel_extractor.melW": "melW"}
IGNORED = re.compile(r"(^audio_encoder\.base\.(fc_audioset|htsat\.(tscam_conv|head))\.|"
                     r"^caption_encoder\.base\.pooler\.|position_ids$|relative_position_index$|attn_mask$|"
                     r"\.attn\.(bias|masked_bias)$)")
HTSAT_RENAMES = ((".attn.proj.", ".attention.output.dense."),
                 (".attn.relative_position_bias_table", ".attention.self.relative_position_bias_table"),
                 (".norm1.", ".layernorm_before."), (".norm2.", ".layernorm_after."),
                 (".mlp.fc1.", ".intermediate.dense."), (".mlp.fc2.", ".output.dense."))
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


# -- reading ------------------------------------------------------------------------------------
def read_pth(path: str | Path) -> dict:
    """msclap's ``{"model": state_dict}`` from a .pth, by torch's weights-only unpickler (tensors and plain
    containers only); anything else is refused before any object of it is built. An empty or oversized file is
    refused before torch reads it (:func:`~clap_core.msclap.checks.check_pth_file`)."""
    import torch

    path = Path(path)
    check_pth_file(path)
    try:
        with warnings.catch_warnings():  # torch's note on pickle protocols: noise for a refused or accepted file
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        detail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
        first = first_line(detail) or "it holds objects other than tensors"
        raise MsClapError(f"{path.name} was refused: it needs more than tensors and plain containers to load "
                          f"({first}); only weights-only files are read, never arbitrary pickles") from None
    except MemoryError:
        raise MsClapError(f"{path.name}: not enough memory to read it") from None
    except Exception as e:  # torch's readers raise many types for a truncated or damaged file
        raise MsClapError(f"{path.name} cannot be read as a torch file: {first_line(e)}") from None
    sd = obj.get("model", obj) if isinstance(obj, dict) else None
    if (not isinstance(sd, dict) or not sd or not all(isinstance(k, str) for k in sd)
            or not all(isinstance(v, torch.Tensor) for v in sd.values())):
        raise MsClapError(f"{path.name} is not an msclap checkpoint: expected {{'model': state_dict}} of tensors")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def detect_version(keys) -> MsClapVersion:
    """2023 (HTS-AT) or 2022 (CNN14) from the audio tower's keys."""
    keys = list(keys)
    if any(k.startswith("audio_encoder.base.htsat.") for k in keys):
        return VERSIONS["2023"]
    if any(k.startswith("audio_encoder.base.conv_block1.") for k in keys):
        return VERSIONS["2022"]
    raise MsClapError("these weights are neither MS-CLAP 2022 (CNN14) nor 2023 (HTS-AT): no audio_encoder.base "
                      "conv_block1 or htsat tensors")


def map_msclap_keys(sd: dict, version: MsClapVersion) -> tuple[dict, dict]:
    """msclap's state dict → (this project's model state dict, front-end tensors)."""
    model, front = {}, {}
    audio_base = "audio_encoder.base." + ("htsat." if version.audio == "htsat" else "")
    for k, v in sd.items():
        if IGNORED.search(k):
            continue
        if k.startswith(audio_base) and k[len(audio_base):] in FRONT_END_KEYS:
            front[FRONT_END_KEYS[k[len(audio_base):]]] = v
        elif k.startswith(audio_base):
            rest = k[len(audio_base):]
            if version.audio == "cnn14":
                model["audio_model.cnn14." + rest] = v
            elif ".attn.qkv." in rest:  # (3C, ·) → query, key, value, as transformers' LAION conversion splits it
                if v.dim() == 0 or v.shape[0] % 3:
                    raise MsClapError(f"the weights do not fit MS-CLAP {version.name}: {k} has shape "
                                      f"{list(v.shape)}, not three stacked blocks (query, key, value)")
                for name, part in zip(("query", "key", "value"), v.chunk(3, dim=0)):
                    model["audio_model.htsat.audio_encoder." + rest.replace("attn.qkv", f"attention.self.{name}")] = part
            else:
                rest = "batch_norm." + rest[4:] if rest.startswith("bn0.") else rest
                for old, new in HTSAT_RENAMES:
                    rest = rest.replace(old, new)
                model["audio_model.htsat.audio_encoder." + rest] = v
        elif k.startswith("audio_encoder.projection."):
            model["audio_projection." + k.removeprefix("audio_encoder.projection.")] = v
        elif k.startswith("caption_encoder.base."):
            model["text_model.base." + k.removeprefix("caption_encoder.base.")] = v
        elif k.startswith("caption_encoder.projection."):
            model["text_projection." + k.removeprefix("caption_encoder.projection.")] = v
        elif k == "logit_scale":  # one scale in msclap; ClapModel's two names here
            model["logit_scale_a"], model["logit_scale_t"] = v, v.clone()
        else:
            model[k] = v  # unknown: reported by the strict load below
    return model, front


def construct(version: MsClapVersion, text_config=None, small: dict | None = None) -> MsClapModel:
    """An MS-CLAP model of this configuration (checked and sized by the caller); a failure is one MsClapError."""
    try:
        return MsClapModel(version, text_config, small)
    except MemoryError:
        raise MsClapError(f"not enough memory to build MS-CLAP {version.name} of this configuration") from None
    except Exception as e:  # transformers and torch raise several types for a configuration they cannot build
        raise MsClapError(f"config.json: no MS-CLAP {version.name} model can be built from it: {first_line(e)}") from None


def build(version: MsClapVersion, model_sd: dict, front_sd: dict, text_config=None,
          small: dict | None = None, model: MsClapModel | None = None) -> tuple[MsClapModel, LogMel]:
    """The model (``model``, else one built of this configuration) with these weights, and its front end (the
    model's own, filled with ``front_sd``); every weight the model needs must be there, and no other."""
    model = model if model is not None else construct(version, text_config, small)
    model_sd = {k: v for k, v in model_sd.items() if not SELF_BUILT.search(k)}
    need = {k for k in model.state_dict() if not SELF_BUILT.search(k)}
    missing, unexpected = sorted(need - set(model_sd)), sorted(set(model_sd) - need)
    if missing or unexpected:
        raise MsClapError(f"the weights do not fit MS-CLAP {version.name}: "
                          + (f"{len(missing)} missing (e.g. {', '.join(missing[:3])})" if missing else "")
                          + ("; " if missing and unexpected else "")
                          + (f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})" if unexpected else ""))
    try:
        model.load_state_dict(model_sd, strict=False, assign=True)
    except (RuntimeError, TypeError, ValueError) as e:
        raise MsClapError(f"the weights do not fit MS-CLAP {version.name}: {str(e).splitlines()[-1].strip()[:300]}") from None
    missing_front = sorted({"conv_real", "conv_imag", "melW"} - set(front_sd))
    if missing_front:
        raise MsClapError(f"the checkpoint lacks its log-mel front end ({', '.join(missing_front)}): MS-CLAP's STFT and "
                          "mel weights are read from the file, never recomputed")
    front = model.front_end
    try:
        front.load_state_dict({k: v.float() for k, v in front_sd.items()}, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        raise MsClapError(f"the log-mel front end does not fit: {str(e).splitlines()[-1].strip()[:200]}") from None
    return model.float().eval(), front.eval()


# -- features and tokens --------------------------------------------------------------------------
class MsClapFeatures:
    """MS-CLAP's audio front end as a feature extractor: a window shorter than the model's is repeated as msclap
    repeats it (tiled, then cut to the window; no zero padding), then the stored log-mel. fp32 always, as msclap."""

    truncation = "rand_crop"  # msclap crops longer clips at random; this project cuts them by its long-clip policy

    def __init__(self, version: MsClapVersion, front: LogMel):
        self.version = version
        self.sampling_rate = version.sampling_rate
        self.nb_max_samples = version.window_samples
        self.front = front
        self._on: dict[str, LogMel] = {"cpu": front}

    def repeat(self, w: np.ndarray) -> np.ndarray:
        """msclap's load_audio_into_tensor for a clip not longer than the window."""
        n, L = len(w), self.nb_max_samples
        if n > L:
            raise ValueError("window longer than the model's")
        return np.tile(np.asarray(w, np.float32), int(np.ceil(L / n)))[:L]

    def window_features(self, windows, sampling_rate: int, device: str | None = None) -> dict:
        import torch

        if sampling_rate != self.sampling_rate:
            raise ValueError(f"MS-CLAP expects {self.sampling_rate} Hz audio, got {sampling_rate} Hz")
        for w in windows:
            if len(w) == 0:
                raise ValueError("empty window")
        dev = str(device or "cpu")
        if dev not in self._on:
            self._on[dev] = LogMel(self.version.n_fft, self.version.hop, self.version.mel_bins).to(dev)
            self._on[dev].load_state_dict(self.front.state_dict())
        wave = torch.from_numpy(np.stack([self.repeat(w) for w in windows])).to(dev)  # (W, L)
        with torch.inference_mode():
            feats = self._on[dev](wave)  # (W, 1, T, mel) float32
        return {"input_features": feats, "is_longer": torch.zeros(len(windows), 1, dtype=torch.bool, device=dev)}

    def save_pretrained(self, folder) -> None:  # the front end travels in model.safetensors (see save_folder)
        pass


class MsClapTokenizer:
    """msclap's text preprocessing around a transformers tokenizer: GPT-2 captions get ' <|endoftext|>' appended
    and '!' (id 0) as padding; BERT's get [CLS] … [SEP]. Captions are not cut at 77 tokens (msclap cuts none):
    only at the text model's positions (512 for BERT, 1024 for GPT-2)."""

    def __init__(self, tok, kind: str, max_positions: int):
        self.tok, self.kind, self.max_positions = tok, kind, max_positions
        if kind == "gpt2":
            tok.add_special_tokens({"pad_token": "!"})
        self.pad_id = int(tok.pad_token_id)

    def _ids(self, text: str, cut: bool) -> list[int]:
        text = text + EOT if self.kind == "gpt2" else text
        ids = self.tok(text, add_special_tokens=True)["input_ids"]
        return ids[: self.max_positions] if cut else ids

    def __call__(self, text, truncation: bool = False, padding=False, return_tensors=None, **_) -> dict:
        single = isinstance(text, str)
        ids = [self._ids(t, truncation) for t in ([text] if single else list(text))]
        if not padding and return_tensors is None:
            return {"input_ids": ids[0] if single else ids}
        width = max(len(i) for i in ids)
        input_ids = [i + [self.pad_id] * (width - len(i)) for i in ids]
        mask = [[1] * len(i) + [0] * (width - len(i)) for i in ids]
        if return_tensors == "pt":
            import torch

            return {"input_ids": torch.tensor(input_ids), "attention_mask": torch.tensor(mask)}
        return {"input_ids": input_ids, "attention_mask": mask}

    def save_pretrained(self, folder) -> None:
        self.tok.save_pretrained(folder)


class MsClapProcessor:
    """The ClapProcessor surface: a feature extractor and a tokenizer."""

    def __init__(self, feature_extractor: MsClapFeatures, tokenizer: MsClapTokenizer):
        self.feature_extractor, self.tokenizer = feature_extractor, tokenizer

    def save_pretrained(self, folder) -> None:
        self.tokenizer.save_pretrained(folder)


def load_tokenizer(source: str | Path, version: MsClapVersion, local_only: bool,
                   max_positions: int | None = None) -> MsClapTokenizer:
    """The version's tokenizer from ``source``; captions are cut at ``max_positions`` (default: the real text
    model's positions) when the caller asks for truncation."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(source), local_files_only=local_only)
    except Exception as e:  # transformers raises several types for a missing or broken tokenizer
        raise MsClapError(f"the {version.text_model} tokenizer cannot be loaded from {source}: "
                          f"{(str(e).strip().splitlines() or [type(e).__name__])[0][:200]}") from None
    positions = min(1024 if version.text_model == "gpt2" else 512, max_positions or 1024)
    return MsClapTokenizer(tok, "gpt2" if version.text_model == "gpt2" else "bert", positions)


def check_tokenizer_fits(tok: MsClapTokenizer, text_config) -> None:
    """Every id the tokenizer makes is inside the text model's vocabulary (else embedding would fail later)."""
    try:
        top = max(tok.tok.get_vocab().values(), default=0)
    except Exception:  # a tokenizer without get_vocab: nothing to compare
        return
    if top >= text_config.vocab_size:
        raise MsClapError(f"config.json: text_config.vocab_size is {text_config.vocab_size} but the tokenizer has ids "
                          f"up to {top}")


# -- folders ------------------------------------------------------------------------------------
def save_folder(model: MsClapModel, front: LogMel, tokenizer: MsClapTokenizer | None, folder: str | Path) -> Path:
    """Write a folder that :func:`read_folder` loads without pickle: config.json, model.safetensors, tokenizer."""
    folder = save_model(model, front, folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def read_folder(folder: Path, cfg: dict | None = None) -> tuple[MsClapVersion, MsClapModel, LogMel]:
    """A converted folder's model: config.json (``cfg`` when the caller has read it already, within the same size
    bound) checked and the model's size bounded from it before anything is built, model.safetensors' header
    checked before any tensor is read, then only the tensors the model needs (their names, shapes and dtypes
    matched against it first) read."""
    cfg = read_config(folder) if cfg is None else cfg
    version = config_version(cfg)
    kind, settings = text_settings(cfg, version)
    small = audio_overrides(cfg, version)
    text_config = make_text_config(kind, settings)
    check_text_shape(kind, text_config)
    check_size(version, kind, text_config, small)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise MsClapError(f"{folder.name} has no model.safetensors")
    header = read_safetensors_header(weights)
    model = construct(version, text_config, small)
    wanted = check_tensors(header, model)
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            sd = {k: f.get_tensor(k) for k in wanted}
    except MemoryError:
        raise MsClapError("model.safetensors: not enough memory to read its tensors") from None
    except Exception as e:  # safetensors' own error types, OSError
        raise MsClapError(f"model.safetensors cannot be read: {first_line(e)}") from None
    front = {k.removeprefix("front_end."): v for k, v in sd.items() if k.startswith("front_end.")}
    model_sd = {k: v for k, v in sd.items() if not k.startswith("front_end.")}
    return (version, *build(version, model_sd, front, model=model))


def make_text_config(kind: str, settings: dict):
    """transformers' GPT2Config / BertConfig of the checked settings (the rest of the real model's defaults)."""
    from transformers import BertConfig, GPT2Config

    try:
        return (GPT2Config if kind == "gpt2" else BertConfig)(**settings)
    except Exception as e:  # transformers' strict config validation raises several types
        raise MsClapError(f"config.json: text_config is not a valid {kind} config: {first_line(e)}") from None


def check_tensors(header: dict, model: MsClapModel) -> list[str]:
    """The names in model.safetensors' header that the model and its front end need, after checking that each
    is there, of the model's shape and floating point, and that nothing else is (self-built buffers aside)."""
    v = model.version
    k = v.n_fft // 2 + 1
    need = {name: tuple(t.shape) for name, t in model.state_dict().items() if not SELF_BUILT.search(name)}
    need.update({"front_end.conv_real": (k, 1, v.n_fft), "front_end.conv_imag": (k, 1, v.n_fft),
                 "front_end.melW": (k, v.mel_bins)})
    have = {name for name in header if not SELF_BUILT.search(name)}
    missing, unexpected = sorted(set(need) - have), sorted(have - set(need))
    if missing or unexpected:
        raise MsClapError("model.safetensors does not fit MS-CLAP " + v.name + " of config.json: "
                          + (f"{len(missing)} tensors missing (e.g. {', '.join(missing[:3])})" if missing else "")
                          + ("; " if missing and unexpected else "")
                          + (f"{len(unexpected)} unexpected (e.g. {', '.join(u[:80] for u in unexpected[:3])})"
                             if unexpected else ""))
    for name, shape in need.items():
        dtype, got = header[name]
        if got != shape:
            raise MsClapError(f"model.safetensors: tensor {name} is {list(got)}, the model of config.json needs "
                              f"{list(shape)}")
        if dtype not in FLOAT_DTYPES:
            raise MsClapError(f"model.safetensors: tensor {name} is {dtype}; MS-CLAP weights are floating point "
                              f"({', '.join(FLOAT_DTYPES)})")
    return sorted(need)


def read_pth_model(path: Path) -> tuple[MsClapVersion, MsClapModel, LogMel]:
    sd = read_pth(path)
    version = detect_version(sd)
    model_sd, front = map_msclap_keys(sd, version)
    return (version, *build(version, model_sd, front))


def hub_weights(version: MsClapVersion, offline_message: str) -> Path:
    """The version's .pth from the hub cache, downloading it when the hub is reachable."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(HUB_REPO, version.hub_file)
    if isinstance(cached, str):
        return Path(cached)
    try:
        return Path(hf_hub_download(HUB_REPO, version.hub_file))
    except Exception:  # offline, DNS, HTTP: the same advice
        raise MsClapError(offline_message) from None


def convert(src: str | Path, out: str | Path, tokenizer: str | Path | None = None) -> Path:
    """An msclap .pth → a safetensors folder (config.json, model.safetensors, the tokenizer's files). The
    tokenizer comes from ``tokenizer`` (a folder or hub id; default the version's, from the hub cache)."""
    src = Path(src)
    if not src.is_file():
        raise MsClapError("no such file")
    version, model, front = read_pth_model(src)
    tok = load_tokenizer(tokenizer or version.text_model, version, local_only=tokenizer is None or Path(str(tokenizer)).exists())
    return save_folder(model, front, tok, out)


def describe(version: MsClapVersion) -> dict[str, Any]:
    return {"family": "msclap", "msclap_version": version.name, "audio": version.audio, "text": version.text_model}
