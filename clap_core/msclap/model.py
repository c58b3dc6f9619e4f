"""Microsoft's CLAP (MS-CLAP 2022 and 2023) as torch modules written in this project.

The parts, and where they come from:
  front end   the log-mel of msclap's torchlibrosa layers, computed from the checkpoint's own weights: a
              conv1d STFT (``conv_real``/``conv_imag``, periodic Hann × DFT), power, the stored mel matrix
              ``melW``, 10·log10(max(·, 1e-10)); no top_db. (:class:`LogMel`)
  2022 audio  CNN14 (PANNs), written here: bn0 over mel bins, six conv blocks, mean over frequency,
              max + mean over time, fc1 + ReLU → 2048. (:class:`Cnn14`)
  2023 audio  HTS-AT: transformers' ``ClapAudioModel`` with HTS-AT-tiny's config (msclap's HTS-AT and
              LAION's are the same Swin code; the weights map onto it as transformers' own LAION conversion
              maps them: qkv split into query/key/value, norm1/norm2/mlp/bn0 renamed) → latent output, 768.
  text        transformers' ``BertModel`` (2022: the CLS token's last hidden state, not BERT's tanh pooler)
              or ``GPT2Model`` (2023: the hidden state at index (number of token ids ≠ 0) − 1, msclap's rule:
              with '!' (id 0) as the pad token that is the appended <|endoftext|>).
  heads       msclap's ``Projection``: linear1 → GELU → linear2, residual, LayerNorm → 1024.
  τ           exp(logit_scale), one scale for both directions (held as logit_scale_a and logit_scale_t).

``MsClapModel`` shows the surface of transformers' ``ClapModel`` that this project uses
(see :mod:`clap_core.family`): ``audio_model(input_features=…)`` and ``text_model(input_ids=…,
attention_mask=…)`` return ``pooler_output``; ``audio_projection``, ``text_projection``, ``logit_scale_a``,
``logit_scale_t`` and ``config.projection_dim``, ``config.text_config.hidden_size``; it owns its front end
(``front_end``, fp32 always) and saves itself (:func:`save_model`); ``fresh()`` builds its random-weight twin.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MsClapVersion:
    """One published MS-CLAP model: its towers and its front end (msclap's config_<version>.yml)."""

    name: str  # "2022" | "2023"
    audio: str  # "cnn14" | "htsat"
    text_model: str  # the text encoder's hub id, whose tokenizer it uses
    text_len: int  # msclap pads captions to this many tokens
    duration: int  # seconds: the audio tower's window
    fmax: int  # the yml's; the 2023 HTS-AT builds its mel matrix from its own config (32 kHz, 14 kHz)
    out_emb: int  # audio tower output size
    hub_file: str
    sampling_rate: int = 44100
    n_fft: int = 1024
    hop: int = 320
    mel_bins: int = 64
    fmin: int = 50
    d_proj: int = 1024
    text_hidden: int = 768

    @property
    def window_samples(self) -> int:
        return self.duration * self.sampling_rate


VERSIONS: dict[str, MsClapVersion] = {
    "2022": MsClapVersion("2022", "cnn14", "bert-base-uncased", 100, 5, 14000, 2048, "CLAP_weights_2022.pth"),
    "2023": MsClapVersion("2023", "htsat", "gpt2", 77, 7, 8000, 768, "CLAP_weights_2023.pth"),
}
HUB_REPO = "microsoft/msclap"
SELF_BUILT = re.compile(r"relative_position_index$")  # computed by the module from its window size: never saved


class Projection(nn.Module):
    """msclap's projection head: LayerNorm(linear1(x) + linear2(GELU(linear1(x)))) (dropout off in eval)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out, bias=False)
        self.linear2 = nn.Linear(d_out, d_out, bias=False)
        self.layer_norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.linear1(x)
        return self.layer_norm(e1 + self.linear2(F.gelu(e1)))


class LogMel(nn.Module):
    """(B, L) waveforms → (B, 1, T, mel) log-mel, with the checkpoint's STFT and mel weights (torchlibrosa's)."""

    def __init__(self, n_fft: int, hop: int, mel_bins: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        k = n_fft // 2 + 1
        self.register_buffer("conv_real", torch.zeros(k, 1, n_fft))  # (K, 1, n_fft)
        self.register_buffer("conv_imag", torch.zeros(k, 1, n_fft))
        self.register_buffer("melW", torch.zeros(k, mel_bins))  # (K, mel)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = F.pad(wave[:, None, :].float(), (self.n_fft // 2, self.n_fft // 2), mode="reflect")  # (B, 1, L + n_fft)
        real = F.conv1d(x, self.conv_real.float(), stride=self.hop)[:, None].transpose(2, 3)  # (B, 1, T, K)
        imag = F.conv1d(x, self.conv_imag.float(), stride=self.hop)[:, None].transpose(2, 3)
        mel = torch.matmul(real**2 + imag**2, self.melW.float())  # (B, 1, T, mel)
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))  # ref 1: nothing subtracted; no top_db


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, kernel_size=pool)


def _bn_over_mels(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """PANNs' bn0: (B, 1, T, mel) normalised per mel bin."""
    return bn(x.transpose(1, 3)).transpose(1, 3)


class Cnn14(nn.Module):
    """PANNs' CNN14 after the front end: (B, 1, T, mel) log-mel → (B, out_emb)."""

    def __init__(self, mel_bins: int = 64, out_emb: int = 2048, widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(mel_bins)
        chans = (1, *widths)
        for i in range(len(widths)):
            setattr(self, f"conv_block{i + 1}", _ConvBlock(chans[i], chans[i + 1]))
        self.n_blocks = len(widths)
        self.fc1 = nn.Linear(widths[-1], out_emb)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = _bn_over_mels(self.bn0, logmel)
        for i in range(self.n_blocks):
            x = getattr(self, f"conv_block{i + 1}")(x, pool=2 if i < self.n_blocks - 1 else 1)
        x = x.mean(dim=3)  # (B, C, T')
        x = x.max(dim=2).values + x.mean(dim=2)  # (B, C)
        return F.relu(self.fc1(x))


def htsat_config(**overrides):
    """transformers' ClapAudioConfig of msclap's HTS-AT (HTS-AT-tiny, no fusion)."""
    from transformers import ClapAudioConfig

    return ClapAudioConfig(**{"enable_fusion": False, "spec_size": 256, "num_mel_bins": 64, "window_size": 8,
                              "patch_embeds_hidden_size": 96, "depths": [2, 2, 6, 2],
                              "num_attention_heads": [4, 8, 16, 32], "hidden_size": 768, **overrides})


class AudioTower(nn.Module):
    """(B, 1, T, mel) log-mel → pooler_output (B, out_emb): CNN14 or HTS-AT."""

    def __init__(self, kind: str, out_emb: int, mel_bins: int = 64, small: dict | None = None):
        super().__init__()
        self.kind = kind
        if kind == "cnn14":
            self.cnn14 = Cnn14(mel_bins, out_emb, **(small or {}))
        else:
            from transformers import ClapAudioModel

            self.htsat = ClapAudioModel(htsat_config(**(small or {})))

    def forward(self, input_features: torch.Tensor, is_longer=None, **_) -> SimpleNamespace:
        if self.kind == "cnn14":
            return SimpleNamespace(pooler_output=self.cnn14(input_features))
        is_longer = torch.zeros(len(input_features), 1, dtype=torch.bool, device=input_features.device)
        return SimpleNamespace(pooler_output=self.htsat(input_features=input_features, is_longer=is_longer).pooler_output)


class TextTower(nn.Module):
    """Token ids → pooler_output (B, 768): BERT's CLS hidden state or GPT-2's at msclap's last-token index."""

    def __init__(self, text_config):
        super().__init__()
        from transformers import BertModel, GPT2Model

        self.kind = text_config.model_type  # "bert" | "gpt2"
        self.base = (GPT2Model(text_config) if self.kind == "gpt2"
                     else BertModel(text_config, add_pooling_layer=False))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_) -> SimpleNamespace:
        hidden = self.base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, L, H)
        if self.kind == "gpt2":  # msclap: the count of ids ≠ 0 ('!' is GPT-2's id 0 and msclap's pad) minus one
            last = torch.ne(input_ids, 0).sum(-1) - 1
            return SimpleNamespace(pooler_output=hidden[torch.arange(len(hidden), device=hidden.device), last])
        return SimpleNamespace(pooler_output=hidden[:, 0])


class MsClapModel(nn.Module):
    """An MS-CLAP model with the ClapModel surface the project uses (see the module docstring)."""

    front_end: LogMel  # the checkpoint's STFT and mel weights; held, not a submodule (see __init__)

    def __init__(self, version: MsClapVersion, text_config=None, small: dict | None = None,
                 front_end: LogMel | None = None):
        super().__init__()
        # The front end belongs to the model but is kept out of its module tree: ``.to(bf16)``, ``.float()``, the
        # state dict, parameters() and buffers() never see it, so it stays fp32 on the CPU as msclap computes it
        # (MsClapFeatures copies it to a GPU itself) and the weights' counts stay the towers' and heads'.
        # object.__setattr__: nn.Module's own would register it as a submodule. Zeros until the loader fills it.
        object.__setattr__(self, "front_end", front_end if front_end is not None
                           else LogMel(version.n_fft, version.hop, version.mel_bins).eval())
        self.version = version
        self.small = small = small or {}  # smaller audio towers, for tests (kept in a saved folder's config)
        text_config = text_config or default_text_config(version)
        out_emb = int(small.get("out_emb", version.out_emb))
        self.audio_model = AudioTower(version.audio, out_emb, version.mel_bins, small.get("audio"))
        self.text_model = TextTower(text_config)
        self.audio_projection = Projection(out_emb, version.d_proj)
        self.text_projection = Projection(text_config.hidden_size, version.d_proj)
        # msclap keeps one scale, logit_scale, for both directions: ClapModel's two names hold copies of it (two
        # parameters, not aliases, so fine-tuning can replace them as it replaces ClapModel's)
        self.logit_scale_a = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # msclap's initial value
        self.logit_scale_t = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.config = SimpleNamespace(projection_dim=version.d_proj, text_config=text_config, model_type="msclap",
                                      msclap_version=version.name)

    def fresh(self) -> MsClapModel:
        """A model of the same configuration with freshly initialised weights (torch's global RNG), sharing this
        one's front end (which is not learned). :class:`clap_core.family.Rebuildable`."""
        return MsClapModel(self.version, self.config.text_config, self.small, front_end=self.front_end).eval()

    def save_pretrained(self, folder) -> None:
        """A folder that loads without pickle (config.json, model.safetensors with the front end); the processor
        adds the tokenizer."""
        save_model(self, self.front_end, folder)


def save_model(model: MsClapModel, front: LogMel, folder: str | Path) -> Path:
    """Write ``model`` with the front end ``front`` as config.json and model.safetensors (model_type first, then
    the version, the text config and the test-sized audio overrides); the loader's read_folder reads it back."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items() if not SELF_BUILT.search(k)}
    tensors.update({f"front_end.{k}": v.detach().float().contiguous().cpu() for k, v in front.state_dict().items()})
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt", "msclap_version": model.version.name})
    cfg = {"model_type": "msclap", "msclap_version": model.version.name,
           "text_config": model.config.text_config.to_dict(), "audio_overrides": model.small}
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, default=str))
    return folder


def default_text_config(version: MsClapVersion):
    """The text encoder's config at its real size (bert-base-uncased / gpt2), built here: no download."""
    from transformers import BertConfig, GPT2Config

    if version.text_model == "gpt2":
        return GPT2Config()  # 12 layers, 768 wide, 50257 tokens, 1024 positions: gpt2's own config
    return BertConfig()  # bert-base-uncased: 12 layers, 768 wide, 30522 tokens, 512 positions
