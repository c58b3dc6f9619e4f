"""Hostile MS-CLAP files (issue 17, point 7): each ends in one clear line naming the file and what is wrong, from
the library (MsClapError / CheckpointError) and from the CLI (exit 2, one line on stderr, no traceback), and none
allocates gigabytes: a config's model is sized from its numbers and refused before anything is built.

Every hostile file is made here, in tmp_path, from a tiny random MS-CLAP folder or a few bytes."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from clap_core.checkpoints import CheckpointError, load_checkpoint
from clap_core.msclap import VERSIONS, MsClapError, MsClapModel
from clap_core.msclap import loading as msclap_loading
from clap_core.msclap.checks import MAX_PARAMETERS, estimate_values, read_safetensors_header
from clap_core.msclap.loading import convert, read_folder, read_pth, save_folder
from clap_core.msclap.model import LogMel

ROOT = Path(__file__).resolve().parent.parent
TINY_GPT2 = {"n_layer": 1, "n_embd": 32, "n_head": 2}
TINY_AUDIO = {"out_emb": 64, "audio": {"patch_embeds_hidden_size": 8, "depths": [1, 1, 1, 1],
                                       "num_attention_heads": [1, 1, 1, 1], "hidden_size": 64}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A well-formed tiny MS-CLAP 2023 folder (config.json + model.safetensors, no tokenizer): the base the
    hostile folders are made from, and the control that the checks pass a good one."""
    from transformers import GPT2Config

    torch.manual_seed(0)
    model = MsClapModel(VERSIONS["2023"], GPT2Config(**TINY_GPT2), TINY_AUDIO).eval()
    front = LogMel(1024, 320, 64)
    return save_folder(model, front, None, tmp_path_factory.mktemp("tiny") / "tiny-2023")


def _copy(tiny: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in tiny.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return dest


def _with_config(tiny: Path, dest: Path, change) -> Path:
    folder = _copy(tiny, dest)
    cfg = json.loads((folder / "config.json").read_text())
    change(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _split(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _with_header(tiny: Path, dest: Path, change) -> Path:
    """The tiny folder with its model.safetensors header rewritten by ``change`` (the data left as it is)."""
    folder = _copy(tiny, dest)
    header, data = _split(folder / "model.safetensors")
    change(header)
    text = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + data)
    return folder


def _with_bytes(tiny: Path, dest: Path, raw: bytes) -> Path:
    folder = _copy(tiny, dest)
    (folder / "model.safetensors").write_bytes(raw)
    return folder


def _lying_offsets(h):  # a tensor's data said to lie past the end of the file
    h["logit_scale_a"]["data_offsets"][1] += 10**9


def _overlapping(h):  # two tensors of one size said to share their bytes
    a, b = "text_projection.linear2.weight", "audio_projection.linear2.weight"
    h[b]["data_offsets"] = list(h[a]["data_offsets"])


def _wrong_size(h):  # a shape that needs more bytes than its offsets hold
    h["logit_scale_a"]["shape"] = [1000]


def _unknown_dtype(h):
    h["logit_scale_a"]["dtype"] = "F33"


# (id, how the folder is made, the one line's expected text)
FOLDERS = [
    ("lying-offsets", lambda t, d: _with_header(t, d, _lying_offsets),
     "model.safetensors: tensor 'logit_scale_a' has data_offsets [", "outside the data section"),
    ("overlapping", lambda t, d: _with_header(t, d, _overlapping),
     "model.safetensors: tensor 'text_projection.linear2.weight' overlaps tensor 'audio_projection.linear2.weight'",
     None),
    ("shape-vs-offsets", lambda t, d: _with_header(t, d, _wrong_size),
     "model.safetensors: tensor 'logit_scale_a': its data_offsets hold 4 bytes, its shape [1000] × F32 needs 4 000",
     None),
    ("unknown-dtype", lambda t, d: _with_header(t, d, _unknown_dtype),
     "model.safetensors: tensor 'logit_scale_a' has dtype 'F33'", None),
    ("header-too-large", lambda t, d: _with_bytes(t, d, struct.pack("<Q", 2**63 - 1) + b"{}"),
     "model.safetensors: its header says 9 223 372 036 854 775 807 bytes, the file has 10", None),
    ("header-too-small", lambda t, d: _with_bytes(t, d, struct.pack("<Q", 1) + b"{}      "),
     "model.safetensors: its header says 1 byte, too few for a JSON header", None),
    ("header-not-json", lambda t, d: _with_bytes(t, d, struct.pack("<Q", 6) + b"\xff{{{{{"),
     "model.safetensors: its header is not JSON", None),
    ("too-short", lambda t, d: _with_bytes(t, d, b"\x01\x02"),
     "model.safetensors: 2 bytes, too short for a safetensors file", None),
    ("llama", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(model_type="llama")),
     "config.json: text_config.model_type is 'llama'; MS-CLAP folders hold gpt2 (2023) or bert (2022)", None),
    ("n_layer-string", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(n_layer="12")),
     "config.json: text_config.n_layer must be a whole number, got '12'", None),
    ("n_embd-float", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(n_embd=32.0)),
     "config.json: text_config.n_embd must be a whole number, got 32.0", None),
    ("text_config-list", lambda t, d: _with_config(t, d, lambda c: c.update(text_config=[1, 2])),
     "config.json: text_config is a JSON array, not an object", None),
    ("bert-in-2023", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(model_type="bert")),
     "config.json: text_config.model_type is 'bert' but msclap_version is 2023, whose text model is gpt2", None),
    ("version", lambda t, d: _with_config(t, d, lambda c: c.update(msclap_version=[2023])),
     "config.json: msclap_version is [2023]; MS-CLAP folders are \"2022\" or \"2023\"", None),
    ("heads", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(n_head=3)),
     "config.json: text_config.n_embd (32) must be a multiple of text_config.n_head (3)", None),
    ("activation", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(activation_function=7)),
     "config.json: text_config.activation_function must be an activation transformers knows", None),
    ("audio-window", lambda t, d: _with_config(t, d, lambda c: c["audio_overrides"]["audio"].update(window_size=4000)),
     "config.json: audio_overrides.audio has 'window_size'; it may set only", None),
    ("audio-depths", lambda t, d: _with_config(t, d, lambda c: c["audio_overrides"]["audio"].update(depths="2,2")),
     "config.json: audio_overrides.audio.depths must be a list of 4 whole numbers ≥ 1, got '2,2'", None),
    ("huge", lambda t, d: _with_config(t, d, lambda c: c["text_config"].update(n_embd=16384, n_layer=48, n_head=16)),
     "config.json describes a model of 155 488 M parameters (text_config: n_layer 48 × n_embd 16384",
     "refused over 300 M (1.5 × the larger real MS-CLAP, 193.6 M), before anything is built"),
]


def _expect(message: str, start: str, also: str | None) -> None:
    assert "\n" not in message
    assert start in message, message
    assert also is None or also in message, message


def test_the_tiny_folder_passes_the_checks(tiny):
    version, model, _front = read_folder(tiny)
    assert version.name == "2023" and model.config.text_config.n_layer == 1


@pytest.mark.parametrize("case", FOLDERS, ids=[c[0] for c in FOLDERS])
def test_a_hostile_folder_is_one_msclap_error(case, tiny, tmp_path):
    name, make, start, also = case
    folder = make(tiny, tmp_path / name)
    with pytest.raises(MsClapError) as e:
        read_folder(folder)
    _expect(str(e.value), start, also)
    with pytest.raises(CheckpointError) as e:  # as the app's sidebar and the CLI meet it
        load_checkpoint(str(folder), device="cpu")
    assert str(e.value).startswith(f"{str(folder)!r}: ")
    _expect(str(e.value), start, also)


def _pth_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "CLAP_weights_2023.pth"
    empty.write_bytes(b"")
    good = tmp / "good.pth"
    torch.save({"model": {"logit_scale": torch.zeros(())}}, good)
    truncated = tmp / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    qkv = tmp / "qkv.pth"
    torch.save({"model": {"audio_encoder.base.htsat.layers.0.blocks.0.attn.qkv.weight": torch.zeros(())}}, qkv)
    int_keys = tmp / "int-keys.pth"
    torch.save({"model": {1: torch.zeros(2)}}, int_keys)
    garbage = tmp / "garbage.pth"
    garbage.write_bytes(b"not a torch file at all")
    return {
        "empty": (empty, "CLAP_weights_2023.pth: empty file (0 bytes)"),
        "truncated": (truncated, "truncated.pth cannot be read as a torch file: "),
        "qkv-scalar": (qkv, "attn.qkv.weight has shape [], not three stacked blocks"),
        "int-keys": (int_keys, "int-keys.pth is not an msclap checkpoint"),
        "garbage": (garbage, "garbage.pth was refused: it needs more than tensors and plain containers to load "
                             "(Unsupported operand"),
    }


@pytest.mark.parametrize("case", ["empty", "truncated", "qkv-scalar", "int-keys", "garbage"])
def test_a_hostile_pth_is_one_msclap_error(case, tmp_path):
    path, expected = _pth_cases(tmp_path)[case]
    with pytest.raises(MsClapError) as e:
        msclap_loading.read_pth_model(path)
    _expect(str(e.value), expected, None)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(str(path), device="cpu")
    message = str(e.value)
    assert "\n" not in message and message.startswith(repr(str(path)))
    assert message.count(path.name) == 1, message  # the file named once, by its full path
    with pytest.raises(MsClapError, match="empty file" if case == "empty" else "."):
        convert(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_empty_pth_message_reads_as_the_issue_asks(tmp_path):
    path = tmp_path / "CLAP_weights_2023.pth"
    path.write_bytes(b"")
    with pytest.raises(MsClapError, match=r"^CLAP_weights_2023\.pth: empty file \(0 bytes\)$"):
        read_pth(path)


def test_an_oversized_header_is_refused_before_it_is_read(tiny, tmp_path, monkeypatch):
    """A header within the file but over the bound (100 MB in use; 1 KB here, to keep the file small)."""
    from clap_core.msclap import checks

    monkeypatch.setattr(checks, "MAX_HEADER_BYTES", 1024)
    with pytest.raises(MsClapError, match=r"model\.safetensors: its header says [\d ]+ bytes, more than the 1 024"):
        read_safetensors_header(tiny / "model.safetensors")


def test_an_oversized_or_astronomical_config_is_one_line(tiny, tmp_path):
    """config.json over 1 MB is refused unread (model_type first, as save_folder writes it); numbers beyond
    float's range are counted exactly, not overflowed."""
    big = _copy(tiny, tmp_path / "big")
    cfg = json.loads((big / "config.json").read_text())
    (big / "config.json").write_text(json.dumps({"model_type": "msclap", **cfg, "padding": "x" * 2**20}))
    with pytest.raises(CheckpointError, match=r"config\.json: 1 0\d\d \d\d\d bytes, more than the 1 048 576"):
        load_checkpoint(str(big), device="cpu")
    astro = _with_config(tiny, tmp_path / "astro", lambda c: c["text_config"].update(n_layer=10**400, n_embd=32))
    with pytest.raises(MsClapError, match=r"config\.json describes a model of [\d ]+ M parameters"):
        read_folder(astro)
    eps = _with_config(tiny, tmp_path / "eps", lambda c: c["text_config"].update(layer_norm_epsilon=10**400))
    with pytest.raises(MsClapError, match="text_config.layer_norm_epsilon must be a number, got 1000"):
        read_folder(eps)


def test_a_gap_and_trailing_bytes_in_the_data_section_are_refused(tiny, tmp_path):
    header, data = _split(tiny / "model.safetensors")
    text = json.dumps(header).encode()
    trailing = tmp_path / "trailing.safetensors"
    trailing.write_bytes(struct.pack("<Q", len(text)) + text + data + b"\0" * 16)
    with pytest.raises(MsClapError, match="16 bytes after the last tensor belong to no tensor"):
        read_safetensors_header(trailing)
    first = min(header, key=lambda k: header[k]["data_offsets"][0] if k != "__metadata__" else 10**18)
    del header[first]
    text = json.dumps(header).encode()
    gap = tmp_path / "gap.safetensors"
    gap.write_bytes(struct.pack("<Q", len(text)) + text + data)
    with pytest.raises(MsClapError, match="a gap in the data section before tensor"):
        read_safetensors_header(gap)


def test_tensors_of_the_wrong_shape_are_refused_before_they_are_read(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(tiny, tmp_path / "shape")
    sd = load_file(str(folder / "model.safetensors"))
    sd["text_projection.linear1.weight"] = torch.zeros(3, 3)
    save_file(sd, str(folder / "model.safetensors"))
    with pytest.raises(MsClapError, match=r"tensor text_projection\.linear1\.weight is \[3, 3\], the model of "
                                          r"config\.json needs \[1024, 32\]"):
        read_folder(folder)
    sd["text_projection.linear1.weight"] = torch.zeros(1024, 32, dtype=torch.int8)
    save_file(sd, str(folder / "model.safetensors"))
    with pytest.raises(MsClapError, match="is I8; MS-CLAP weights are floating point"):
        read_folder(folder)


def test_the_size_estimate_is_exact_and_the_real_configs_fit():
    """The estimate counts what building would allocate (here built on the meta device: nothing allocated)."""
    from transformers import BertConfig, GPT2Config

    from clap_core.checkpoints import MSCLAP_PARAMS_M

    for version, text in (("2023", GPT2Config()), ("2022", BertConfig()),
                          ("2023", GPT2Config(**TINY_GPT2))):
        small = TINY_AUDIO if text.model_type == "gpt2" and text.n_layer == 1 else None
        with torch.device("meta"):
            model = MsClapModel(VERSIONS[version], text, small)
        exact = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
        assert estimate_values(VERSIONS[version], text.model_type, text, small) == exact
        if small is None:
            params = sum(p.numel() for p in model.parameters())
            assert round(params / 1e6, 1) == MSCLAP_PARAMS_M[version] and exact < MAX_PARAMETERS


def test_a_huge_config_is_refused_before_any_module_is_built(tiny, tmp_path, monkeypatch):
    folder = _with_config(tiny, tmp_path / "huge", lambda c: c["text_config"].update(n_embd=16384, n_layer=48, n_head=16))
    built = []
    monkeypatch.setattr(msclap_loading, "MsClapModel", lambda *a, **k: built.append(a))
    with pytest.raises(MsClapError, match="155 488 M parameters"):
        read_folder(folder)
    assert built == []


def test_a_huge_config_allocates_nothing_in_a_fresh_process(tiny, tmp_path):
    """Peak RSS across the refused load grows by less than 150 MB (the model would need 620 GB; the red team's
    first tensor alone was 4 GB). Address space is capped too, so a regression fails instead of swapping."""
    folder = _with_config(tiny, tmp_path / "huge", lambda c: c["text_config"].update(n_embd=16384, n_layer=48, n_head=16))
    code = f"""
import resource, time
import torch, transformers
from transformers import BertConfig, BertModel, ClapAudioModel, GPT2Config, GPT2Model
from clap_core.checkpoints import CheckpointError, load_checkpoint
import clap_core.msclap.loading
try:
    pages = int(open("/proc/self/statm").read().split()[0])
    resource.setrlimit(resource.RLIMIT_AS, (pages * resource.getpagesize() + 3 * 2**30, resource.RLIM_INFINITY))
except (OSError, ValueError):
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    load_checkpoint({str(folder)!r}, device="cpu")
    print("loaded")
except CheckpointError as e:
    print(round(time.perf_counter() - t, 2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, e)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seconds, grown_kb, message = proc.stdout.strip().split(" ", 2)
    assert "155 488 M parameters" in message
    assert int(grown_kb) < 150_000, f"peak RSS grew by {int(grown_kb) // 1024} MB"
    assert float(seconds) < 5


CLI_CASES = ["empty-pth", "lying-offsets", "header-too-large", "header-too-small", "llama", "n_layer-string", "huge"]


def _cli_target(case: str, tiny: Path, tmp: Path) -> tuple[Path, str]:
    if case == "empty-pth":
        path, expected = _pth_cases(tmp)["empty"]
        return path, expected.split(": ", 1)[1]
    _name, make, start, _also = next(c for c in FOLDERS if c[0] == case)
    return make(tiny, tmp / case), start


@pytest.mark.parametrize("case", CLI_CASES)
def test_the_cli_says_one_line_and_exits_2(case, tiny, tmp_path):
    path, expected = _cli_target(case, tiny, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "clap_core", "batch", "--checkpoint", str(path), "--audio",
                           "assets/examples/demo-siren.flac", "--text", "a siren"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


def test_cli_convert_of_an_empty_pth_is_one_line(tmp_path):
    path, _ = _pth_cases(tmp_path)["empty"]
    proc = subprocess.run([sys.executable, "-m", "clap_core", "convert", "--from", "msclap", str(path), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: CLAP_weights_2023.pth: empty file (0 bytes)"], proc.stderr  # the name said once
