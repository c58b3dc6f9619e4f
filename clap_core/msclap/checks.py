"""Checks on MS-CLAP files before anything is built or read from them, so a hostile or broken file ends in one
:class:`MsClapError` naming the file and what is wrong (never a traceback, never gigabytes allocated).

  .pth files         not empty, not larger than :data:`MAX_PTH_BYTES` (on disk, and unpacked for a zip archive)
  model.safetensors  the header checked here before safetensors reads it: its 8-byte little-endian length within
                     the file and under :data:`MAX_HEADER_BYTES`, JSON, each tensor's dtype known, its shape whole
                     numbers, its data offsets inside the data section, in order, without gaps or overlaps, and
                     exactly shape × dtype bytes long
  config.json        a JSON object under :data:`MAX_CONFIG_BYTES`; the text model gpt2 (2023) or bert (2022), each
                     setting of the right JSON type and range; the audio overrides only those a saved folder holds
  size               the model's size counted from the config's numbers (:func:`estimate_values`: parameters and
                     buffers, exact for every config these checks accept) and refused over :data:`MAX_PARAMETERS`
                     before any module is built

UI-free; nothing here builds a module or reads more of a file than its header or config.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

from ..family import MAX_CONFIG_BYTES  # a real config.json is ~2 KB; the one bound the registry reads with
from .model import MsClapVersion

# The larger real MS-CLAP (2022: CNN14 + BERT) has 193.6 M parameters on the embedding path; 1.5 × that, rounded
# up, leaves room for a fine-tuned or slightly wider variant and refuses anything that would need gigabytes.
LARGEST_REAL_M = 193.6
MAX_PARAMETERS = 300_000_000  # values (parameters and buffers): 1.2 GB in fp32
MAX_HEADER_BYTES = 100 * 2**20  # a real model.safetensors header is ~60 KB
MAX_PTH_BYTES = 3 * 2**29  # 1.5 GiB: about twice CLAP_weights_2022.pth (785 MB, classifier heads included)

SAFETENSORS_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                      "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class MsClapError(RuntimeError):
    """An MS-CLAP file or folder cannot be loaded; the message says why."""


def spaced(n: int) -> str:
    """1234567 → '1 234 567'."""
    return f"{n:,}".replace(",", " ")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as e:
        raise MsClapError(f"{path.name} cannot be read: {e.strerror or type(e).__name__}") from None


# -- .pth ---------------------------------------------------------------------------------------
def check_pth_file(path: Path) -> None:
    """A .pth is worth handing to torch.load: not empty, not too large on disk or (a zip archive, torch's format)
    unpacked."""
    size = _size(path)
    if size == 0:
        raise MsClapError(f"{path.name}: empty file (0 bytes)")
    if size > MAX_PTH_BYTES:
        raise MsClapError(f"{path.name}: {spaced(size)} bytes, more than the {spaced(MAX_PTH_BYTES)} an MS-CLAP "
                          "checkpoint may have (the real ones are 640 MB and 785 MB)")
    if not zipfile.is_zipfile(path):
        return  # torch's legacy format: a pickle stream, its tensors no larger than the file
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise MsClapError(f"{path.name}: a damaged zip archive ({first_line(e)})") from None
    if unpacked > MAX_PTH_BYTES:
        raise MsClapError(f"{path.name}: its archive unpacks to {spaced(unpacked)} bytes, more than the "
                          f"{spaced(MAX_PTH_BYTES)} an MS-CLAP checkpoint may have")


def first_line(e: BaseException | str, limit: int = 200) -> str:
    """The first non-empty line of an exception's message (or of a text), else the exception type's name."""
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return (lines[0] if lines else "" if isinstance(e, str) else type(e).__name__)[:limit]


# -- model.safetensors --------------------------------------------------------------------------
def read_safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{name: (dtype, shape)} of a safetensors file, its header checked as the module docstring says."""
    name = path.name
    size = _size(path)
    if size == 0:
        raise MsClapError(f"{name}: empty file (0 bytes)")
    if size < 8:
        raise MsClapError(f"{name}: {size} bytes, too short for a safetensors file (8 bytes of header length first)")
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                raise MsClapError(f"{name}: its header says {spaced(n)} bytes, the file has {spaced(size)}")
            if n > MAX_HEADER_BYTES:
                raise MsClapError(f"{name}: its header says {spaced(n)} bytes, more than the {spaced(MAX_HEADER_BYTES)} "
                                  "a safetensors header may have")
            if n < 2:
                raise MsClapError(f"{name}: its header says {n} byte{'' if n == 1 else 's'}, too few for a JSON header")
            raw = f.read(n)
    except OSError as e:
        raise MsClapError(f"{name} cannot be read: {e.strerror or type(e).__name__}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MsClapError(f"{name}: its header is not JSON ({first_line(e, 120)})") from None
    if not isinstance(header, dict):
        raise MsClapError(f"{name}: its header is a JSON {_json_type(header)}, not an object of tensors")
    data_len = size - 8 - n
    spans, out = [], {}
    for key, entry in header.items():
        if key == "__metadata__":
            if not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                raise MsClapError(f"{name}: its __metadata__ must map names to strings")
            continue
        where = f"{name}: tensor {key[:80]!r}"
        if not isinstance(entry, dict):
            raise MsClapError(f"{where} is a JSON {_json_type(entry)}, not {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in SAFETENSORS_DTYPES:
            raise MsClapError(f"{where} has dtype {str(dtype)[:40]!r}; known: {', '.join(SAFETENSORS_DTYPES)}")
        if not (isinstance(shape, list) and len(shape) <= 8 and all(_whole(d) and d >= 0 for d in shape)):
            raise MsClapError(f"{where} has shape {str(shape)[:60]}; a shape is a list of whole numbers ≥ 0")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_whole(o) for o in offsets)):
            raise MsClapError(f"{where} has data_offsets {str(offsets)[:60]}; they are two whole numbers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise MsClapError(f"{where} has data_offsets [{spaced(begin)}, {spaced(end)}] outside the data section "
                              f"(0 to {spaced(data_len)} bytes)")
        want = math.prod(shape) * SAFETENSORS_DTYPES[dtype]
        if end - begin != want:
            raise MsClapError(f"{where}: its data_offsets hold {spaced(end - begin)} bytes, its shape {shape} × "
                              f"{dtype} needs {spaced(want)}")
        spans.append((begin, end, key))
        out[key] = (dtype, tuple(shape))
    spans.sort()
    for (_, end_before, before), (begin, _, key) in zip(spans, spans[1:]):
        if begin < end_before:
            raise MsClapError(f"{name}: tensor {key[:80]!r} overlaps tensor {before[:80]!r} (bytes {spaced(begin)} "
                              f"to {spaced(end_before)})")
    at = 0
    for begin, end, key in spans:
        if begin > at:
            raise MsClapError(f"{name}: a gap in the data section before tensor {key[:80]!r} (bytes {spaced(at)} "
                              f"to {spaced(begin)} belong to no tensor)")
        at = end
    if at != data_len:
        raise MsClapError(f"{name}: {spaced(data_len - at)} bytes after the last tensor belong to no tensor")
    return out


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _json_type(x) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(x), type(x).__name__)


# -- config.json --------------------------------------------------------------------------------
def read_config(folder: Path) -> dict:
    """config.json of a converted folder: a JSON object of a sane size."""
    path = folder / "config.json"
    size = _size(path)
    if size > MAX_CONFIG_BYTES:
        raise MsClapError(f"config.json: {spaced(size)} bytes, more than the {spaced(MAX_CONFIG_BYTES)} an MS-CLAP "
                          "config may have (a real one is ~2 KB)")
    try:
        cfg = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise MsClapError(f"config.json cannot be read: {e.strerror or type(e).__name__}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise MsClapError(f"config.json is not JSON ({first_line(e, 120)})") from None
    if not isinstance(cfg, dict):
        raise MsClapError(f"config.json holds a JSON {_json_type(cfg)}, not an object")
    return cfg


def config_version(cfg: dict) -> MsClapVersion:
    from .model import VERSIONS

    v = cfg.get("msclap_version")
    if isinstance(v, bool) or str(v) not in VERSIONS:
        raise MsClapError(f"config.json: msclap_version is {_show(v)}; MS-CLAP folders are \"2022\" or \"2023\"")
    return VERSIONS[str(v)]


def _show(v) -> str:
    return json.dumps(v)[:60] if not isinstance(v, str) else repr(v[:60])


POSITIVE, OPTIONAL_POSITIVE, PROBABILITY, OPTIONAL_PROBABILITY, POSITIVE_FLOAT, FLAG, TOKEN_ID, ACTIVATION = range(8)
TEXT_SETTINGS: dict[str, dict[str, int]] = {  # the settings a folder's text_config may set; others are ignored
    "gpt2": {"vocab_size": POSITIVE, "n_positions": POSITIVE, "n_embd": POSITIVE, "n_layer": POSITIVE,
             "n_head": POSITIVE, "n_inner": OPTIONAL_POSITIVE, "activation_function": ACTIVATION,
             "resid_pdrop": PROBABILITY, "embd_pdrop": PROBABILITY, "attn_pdrop": PROBABILITY,
             "layer_norm_epsilon": POSITIVE_FLOAT, "initializer_range": POSITIVE_FLOAT, "scale_attn_weights": FLAG,
             "scale_attn_by_inverse_layer_idx": FLAG, "reorder_and_upcast_attn": FLAG, "bos_token_id": TOKEN_ID,
             "eos_token_id": TOKEN_ID, "pad_token_id": TOKEN_ID},
    "bert": {"vocab_size": POSITIVE, "hidden_size": POSITIVE, "num_hidden_layers": POSITIVE,
             "num_attention_heads": POSITIVE, "intermediate_size": POSITIVE, "max_position_embeddings": POSITIVE,
             "type_vocab_size": POSITIVE, "hidden_act": ACTIVATION, "hidden_dropout_prob": PROBABILITY,
             "attention_probs_dropout_prob": PROBABILITY, "classifier_dropout": OPTIONAL_PROBABILITY,
             "layer_norm_eps": POSITIVE_FLOAT, "initializer_range": POSITIVE_FLOAT, "pad_token_id": TOKEN_ID,
             "bos_token_id": TOKEN_ID, "eos_token_id": TOKEN_ID},
}
TEXT_DEFAULTS = {"gpt2": {"vocab_size": 50257, "bos_token_id": 50256, "eos_token_id": 50256},  # transformers'
                 "bert": {"vocab_size": 30522, "pad_token_id": 0}}  # GPT2Config / BertConfig defaults
GPT2_ALIASES = {"hidden_size": "n_embd", "max_position_embeddings": "n_positions", "num_attention_heads": "n_head",
                "num_hidden_layers": "n_layer"}
NOT_MSCLAP = ("add_cross_attention", "is_decoder", "is_encoder_decoder")  # must be false (or absent)


def text_settings(cfg: dict, version: MsClapVersion) -> tuple[str, dict[str, Any]]:
    """(model type, the checked settings) of config.json's text_config; anything else in it is ignored."""
    kind = "gpt2" if version.text_model == "gpt2" else "bert"
    tc = cfg.get("text_config")
    if tc is None:
        return kind, {}
    if not isinstance(tc, dict):
        raise MsClapError(f"config.json: text_config is a JSON {_json_type(tc)}, not an object")
    model_type = tc.get("model_type", kind)
    if model_type not in TEXT_SETTINGS:
        raise MsClapError(f"config.json: text_config.model_type is {_show(model_type)}; MS-CLAP folders hold gpt2 "
                          "(2023) or bert (2022)")
    if model_type != kind:
        raise MsClapError(f"config.json: text_config.model_type is {model_type!r} but msclap_version is "
                          f"{version.name}, whose text model is {kind}")
    tc = dict(tc)
    if kind == "gpt2":
        for alias, key in GPT2_ALIASES.items():
            if alias in tc:
                value = tc.pop(alias)
                if key in tc and tc[key] != value:
                    raise MsClapError(f"config.json: text_config sets {key} to {_show(tc[key])} and its alias "
                                      f"{alias} to {_show(value)}")
                tc[key] = value
    for key in NOT_MSCLAP:
        if tc.get(key) not in (None, False):
            raise MsClapError(f"config.json: text_config.{key} is {_show(tc[key])}; MS-CLAP's {kind} is a plain "
                              "encoder (false)")
    out = {}
    for key, kind_of in TEXT_SETTINGS[kind].items():
        if key in tc:
            out[key] = _setting(f"text_config.{key}", tc[key], kind_of)
    vocab = out.get("vocab_size", TEXT_DEFAULTS[kind]["vocab_size"])
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        token = out.get(key, TEXT_DEFAULTS[kind].get(key))
        if token is not None and token >= vocab:
            raise MsClapError(f"config.json: text_config.{key} {token} is outside the vocabulary (vocab_size {vocab})")
    return kind, out


def _setting(where: str, v, kind_of: int):
    bad = f"config.json: {where} must be "
    if kind_of in (POSITIVE, OPTIONAL_POSITIVE):
        if v is None and kind_of == OPTIONAL_POSITIVE:
            return v
        if not _whole(v):
            raise MsClapError(f"{bad}a whole number, got {_show(v)}")
        if v < 1:
            raise MsClapError(f"{bad}at least 1, got {v}")
        return v
    if kind_of in (PROBABILITY, OPTIONAL_PROBABILITY, POSITIVE_FLOAT):
        if v is None and kind_of == OPTIONAL_PROBABILITY:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(_float(v)):
            raise MsClapError(f"{bad}a number, got {_show(v)}")
        if kind_of == POSITIVE_FLOAT and v <= 0:
            raise MsClapError(f"{bad}above 0, got {v}")
        if kind_of != POSITIVE_FLOAT and not 0 <= v <= 1:
            raise MsClapError(f"{bad}between 0 and 1, got {v}")
        return float(v)
    if kind_of == FLAG:
        if not isinstance(v, bool):
            raise MsClapError(f"{bad}true or false, got {_show(v)}")
        return v
    if kind_of == TOKEN_ID:
        if v is not None and not (_whole(v) and v >= 0):
            raise MsClapError(f"{bad}a token id (a whole number ≥ 0) or null, got {_show(v)}")
        return v
    from transformers.activations import ACT2FN

    if not isinstance(v, str) or v not in ACT2FN:
        raise MsClapError(f"{bad}an activation transformers knows (e.g. gelu, gelu_new), got {_show(v)}")
    return v


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond float's range
        return math.inf


def check_text_shape(kind: str, config) -> None:
    """Relations between the text settings (read off the built config, its defaults filled in)."""
    if kind == "gpt2":
        width, heads, names = config.n_embd, config.n_head, ("n_embd", "n_head")
    else:
        width, heads, names = config.hidden_size, config.num_attention_heads, ("hidden_size", "num_attention_heads")
    if width % heads:
        raise MsClapError(f"config.json: text_config.{names[0]} ({width}) must be a multiple of "
                          f"text_config.{names[1]} ({heads})")


HTSAT_STAGES, CNN14_BLOCKS = 4, 6


def audio_overrides(cfg: dict, version: MsClapVersion) -> dict | None:
    """config.json's audio_overrides (smaller audio towers, as a saved test-sized folder holds), checked."""
    small = cfg.get("audio_overrides")
    if small in (None, {}):
        return None
    if not isinstance(small, dict):
        raise MsClapError(f"config.json: audio_overrides is a JSON {_json_type(small)}, not an object")
    _only(small, ("out_emb", "audio"), "audio_overrides")
    out: dict[str, Any] = {}
    if "out_emb" in small:
        out["out_emb"] = _setting("audio_overrides.out_emb", small["out_emb"], POSITIVE)
    audio = small.get("audio")
    if audio is None:
        audio = {}
    if not isinstance(audio, dict):
        raise MsClapError(f"config.json: audio_overrides.audio is a JSON {_json_type(audio)}, not an object")
    if version.audio == "cnn14":
        _only(audio, ("widths",), "audio_overrides.audio")
        if "widths" in audio:
            out["audio"] = {"widths": _counts("audio_overrides.audio.widths", audio["widths"], CNN14_BLOCKS)}
    else:
        _only(audio, ("patch_embeds_hidden_size", "depths", "num_attention_heads", "hidden_size"), "audio_overrides.audio")
        a: dict[str, Any] = {}
        for key in ("patch_embeds_hidden_size", "hidden_size"):
            if key in audio:
                a[key] = _setting(f"audio_overrides.audio.{key}", audio[key], POSITIVE)
        for key in ("depths", "num_attention_heads"):
            if key in audio:
                a[key] = _counts(f"audio_overrides.audio.{key}", audio[key], HTSAT_STAGES)
        c, heads = a.get("patch_embeds_hidden_size", 96), a.get("num_attention_heads", [4, 8, 16, 32])
        for i, h in enumerate(heads):
            if (c << i) % h:
                raise MsClapError(f"config.json: HTS-AT stage {i + 1} is {c << i} wide, not a multiple of its "
                                  f"{h} attention heads")
        out_emb = out.get("out_emb", version.out_emb)
        if out_emb != c << (HTSAT_STAGES - 1):
            raise MsClapError(f"config.json: audio_overrides.out_emb is {out_emb} but HTS-AT with "
                              f"patch_embeds_hidden_size {c} gives {c << (HTSAT_STAGES - 1)}")
        if a:
            out["audio"] = a
    return out or None


def _only(d: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise MsClapError(f"config.json: {where} has {', '.join(repr(k[:40]) for k in extra[:3])}; it may set only "
                          f"{', '.join(allowed)}")


def _counts(where: str, v, n: int) -> list[int]:
    if not (isinstance(v, list) and len(v) == n and all(_whole(x) and x >= 1 for x in v)):
        raise MsClapError(f"config.json: {where} must be a list of {n} whole numbers ≥ 1, got {_show(v)}")
    return list(v)


# -- size -----------------------------------------------------------------------------------------
def _projection(d_in: int, d_out: int) -> int:
    return d_in * d_out + d_out * d_out + 2 * d_out


def text_values(kind: str, config) -> int:
    """Parameters and buffers of the text tower (transformers' GPT2Model, or BertModel without its pooler)."""
    if kind == "gpt2":
        e, inner = config.n_embd, config.n_inner or 4 * config.n_embd
        layer = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + (e * inner + inner) + (inner * e + e)
        return config.vocab_size * e + config.n_positions * e + config.n_layer * layer + 2 * e
    h, inner, pos = config.hidden_size, config.intermediate_size, config.max_position_embeddings
    embeddings = (config.vocab_size + pos + config.type_vocab_size) * h + 2 * h + 2 * pos  # + position/type id buffers
    layer = 4 * (h * h + h) + 4 * h + (h * inner + inner) + (inner * h + h)
    return embeddings + config.num_hidden_layers * layer


def audio_values(version: MsClapVersion, out_emb: int, audio: dict | None) -> int:
    """Parameters and buffers of the audio tower (CNN14, or transformers' ClapAudioModel at HTS-AT-tiny)."""
    audio = audio or {}
    bn = lambda c: 4 * c + 1  # noqa: E731  weight, bias, running mean and var, count
    if version.audio == "cnn14":
        widths = audio.get("widths", [64, 128, 256, 512, 1024, 2048])
        chans, total = [1, *widths], bn(version.mel_bins)
        for c_in, c_out in zip(chans, chans[1:]):
            total += 9 * c_in * c_out + 9 * c_out * c_out + 2 * bn(c_out)
        return total + widths[-1] * out_emb + out_emb
    c = audio.get("patch_embeds_hidden_size", 96)
    depths, heads = audio.get("depths", [2, 2, 6, 2]), audio.get("num_attention_heads", [4, 8, 16, 32])
    window, patch = 8, 4
    total = patch * patch * c + c + 2 * c  # patch embedding conv and its LayerNorm
    for i, (depth, h) in enumerate(zip(depths, heads)):
        d = c << i
        block = 4 * d + (2 * window - 1) ** 2 * h + window**4 + 4 * (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
        total += depth * block
        if i < len(depths) - 1:
            total += 4 * d * 2 * d + 8 * d  # patch merging
    return total + bn(version.mel_bins) + 2 * (c << (len(depths) - 1))


def estimate_values(version: MsClapVersion, kind: str, text_config, small: dict | None) -> int:
    """The model's parameters and buffers from its config alone (the front end, fixed in size, not counted)."""
    small = small or {}
    out_emb = small.get("out_emb", version.out_emb)
    width = text_config.n_embd if kind == "gpt2" else text_config.hidden_size
    return (audio_values(version, out_emb, small.get("audio")) + text_values(kind, text_config)
            + _projection(out_emb, version.d_proj) + _projection(width, version.d_proj) + 2)


def check_size(version: MsClapVersion, kind: str, text_config, small: dict | None) -> int:
    """Refuse a config whose model would exceed :data:`MAX_PARAMETERS`; return the estimate."""
    n = estimate_values(version, kind, text_config, small)
    if n > MAX_PARAMETERS:
        if kind == "gpt2":
            shape = f"n_layer {text_config.n_layer} × n_embd {text_config.n_embd}"
        else:
            shape = f"num_hidden_layers {text_config.num_hidden_layers} × hidden_size {text_config.hidden_size}"
        raise MsClapError(f"config.json describes a model of {_millions(n)} parameters (text_config: {shape}, "
                          f"vocab_size {text_config.vocab_size}); MS-CLAP folders are refused over "
                          f"{_millions(MAX_PARAMETERS)} (1.5 × the larger real MS-CLAP, {LARGEST_REAL_M} M), "
                          "before anything is built")
    return n


def _millions(n: int) -> str:
    if n >= 10**7:  # integer arithmetic: a hostile config's count may be beyond float's range
        return f"{spaced((n + 500_000) // 10**6)} M"
    return f"{n / 1e6:.1f} M"
