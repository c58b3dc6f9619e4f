"""Fine-tuning on one batch: a copy of a checkpoint's projection heads (and, if asked, τ) trained with the
symmetric loss L, starting from the tower outputs the Embedder caches.

    pooled tower outputs (cached, fixed)  →  copied heads (trained)  →  E_t, E_a  →  L = ½(ℓ_text + ℓ_audio)

The towers never run during training, so a step costs only the two small heads (and the N×N loss). The
loaded checkpoint is never changed: the heads are deep copies, trained in float32, and a fine-tuned
checkpoint (:meth:`FineTuner.checkpoint`) is a new :class:`LoadedCheckpoint` whose model shares the base's
tower modules and holds frozen copies of the heads, with a fingerprint of its own so no cache mixes the two.

Nothing here is random: the heads start as copies, Adam has no noise, and the seed only picks which pairs
are held out. The same batch, settings and seed give bit-identical losses and weights.

Held-out pairs take no part in the training loss (it is L on the training pairs alone); their loss is
reported on the whole batch, as the other pages show it: each held-out caption must find its clip among
all N clips and each held-out clip its caption among all N captions, ½(ℓ_text,i + ℓ_audio,i), averaged
over the held-out pairs (chance: log N).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import DecodedClip
from .checkpoints import LoadedCheckpoint
from .contrastive import ContrastiveResult, contrastive, symmetric_loss_torch
from .embed import Embedder
from .features import DEFAULT_POLICY

MAX_STEPS = 2000  # steps in one run (the CLI's bound; the app's too)
TRAIN_CHOICES = ("heads", "heads+tau")
LOG_TAU_RANGE = (0.0, math.log(100.0))  # log τ is clamped here after each step, as LAION trains (τ in [1, 100])
LOG_T_RANGE = (0.0, math.log(1000.0))  # with the sigmoid loss, log t (SigLIP does not clamp; this keeps t in TAU_RANGE)
LOSSES = ("softmax", "sigmoid")


@dataclass(frozen=True)
class FinetuneSettings:
    """How to fine-tune: Adam's learning rate, what to train, the seed that picks the held-out pairs, how many."""

    lr: float = 1e-3
    train: str = "heads"  # "heads": the two projection heads; "heads+tau": and log τ
    seed: int = 0
    holdout: int = 0  # pairs kept out of training (their loss is reported at each step)
    loss: str = "softmax"  # softmax: CLAP's symmetric loss; sigmoid: SigLIP's, with t (as τ) and the bias b trained

    def check(self, n: int) -> None:
        """Raise ValueError, with a message naming the setting, if these settings cannot train a batch of ``n``."""
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose {' or '.join(LOSSES)}")
        if self.train not in TRAIN_CHOICES:
            raise ValueError(f"unknown choice of what to train {self.train!r}; choose {' or '.join(TRAIN_CHOICES)}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 1):
            raise ValueError(f"the learning rate must be in (0, 1], got {self.lr}")
        if n - self.holdout < 2 or self.holdout < 0:
            raise ValueError(f"training needs at least 2 pairs left after holding some out: the batch has {n} pairs, "
                             f"holding out {self.holdout} leaves {n - self.holdout}")


def holdout_split(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices), both sorted: ``k`` of ``n`` pairs held out, chosen by ``seed``."""
    held = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)) if k else np.zeros(0, int)
    return np.setdiff1d(np.arange(n), held), held


def heads_bytes(ck: LoadedCheckpoint) -> int:
    """Bytes of a checkpoint's projection heads and its two logit scales: what a fine-tuned copy adds."""
    m = ck.model
    tensors = [*m.audio_projection.parameters(), *m.text_projection.parameters(), m.logit_scale_a, m.logit_scale_t]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def fine_tuned_name(root: str, steps: int) -> str:
    """The name a fine-tuned checkpoint goes by: 'bundled (fine-tuned, 50 steps)'."""
    return f"{root} (fine-tuned, {steps} step{'s' * (steps != 1)})"


def with_heads(base: LoadedCheckpoint, audio_head, text_head, logit_scale_a: float, logit_scale_t: float,
               name: str, logit_bias: float | None = None) -> LoadedCheckpoint:
    """A checkpoint with ``base``'s towers (the same modules, not copied) and copies of the given heads and
    scales, in ``base``'s dtype and device; ``base`` itself is unchanged. Its fingerprint is made from the
    base's and the new weights, so its embeddings are never taken for the base's."""
    import torch

    model = copy.copy(base.model)  # a shallow copy: shares the towers; its own registries of children follow
    model._modules, model._parameters, model._buffers = dict(model._modules), dict(model._parameters), dict(model._buffers)
    model.audio_projection = copy.deepcopy(audio_head).to(base.device, base.dtype).eval().requires_grad_(False)
    model.text_projection = copy.deepcopy(text_head).to(base.device, base.dtype).eval().requires_grad_(False)
    scales = {"logit_scale_a": logit_scale_a, "logit_scale_t": logit_scale_t}
    for attr, value in scales.items():
        setattr(model, attr, torch.nn.Parameter(torch.tensor(value, dtype=base.dtype, device=base.device),
                                                requires_grad=False))
    if logit_bias is not None:  # trained with the sigmoid: b goes with it (in a config of its own, not the base's)
        model.config = copy.deepcopy(model.config)
        model.config.logit_bias = float(logit_bias)
    h = hashlib.sha256(f"{base.fingerprint}:heads:{logit_scale_a!r}:{logit_scale_t!r}:{logit_bias!r}".encode())
    for head in (model.audio_projection, model.text_projection):
        for key, t in head.state_dict().items():
            h.update(key.encode())
            h.update(t.detach().float().cpu().numpy().tobytes())
    return dataclasses.replace(
        base, name=name, source=f"{base.source} with projection heads fine-tuned in this process",
        fingerprint=h.hexdigest()[:16], model=model,
        tau=_exp32(logit_scale_a), tau_text=_exp32(logit_scale_t),
    )


def _exp32(log_value: float) -> float:
    """exp of a logit scale in float32, as load_checkpoint computes τ from the stored weights."""
    import torch

    return float(torch.exp(torch.tensor(log_value, dtype=torch.float32)))


def save_pretrained(ck: LoadedCheckpoint, folder: str | Path) -> Path:
    """Write ``ck`` (model and processor) as a transformers folder that ``load_checkpoint`` reads back."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ck.model.save_pretrained(folder)
    ck.processor.save_pretrained(folder)
    return folder


def folder_name(name: str) -> str:
    """A file-system-safe folder name for a checkpoint name: 'bundled (fine-tuned, 50 steps)' → 'bundled-fine-tuned-50-steps'."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", Path(name).name if "/" in name else name).strip("-.") or "checkpoint"


def zip_pretrained(ck: LoadedCheckpoint) -> bytes:
    """``ck`` as a zip of its save_pretrained folder (one top folder, named after it): unzipped, the folder loads
    with ``load_checkpoint``. The weights are stored, not compressed (they barely compress)."""
    import tempfile

    top = folder_name(ck.name)
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="clap-finetuned-") as tmp, zipfile.ZipFile(buf, "w") as zf:
        folder = save_pretrained(ck, Path(tmp) / top)
        for f in sorted(folder.iterdir()):
            packed = zipfile.ZIP_STORED if f.suffix in (".safetensors", ".bin") else zipfile.ZIP_DEFLATED
            zf.write(f, f"{top}/{f.name}", compress_type=packed)
    return buf.getvalue()


class FineTuner:
    """One fine-tuning run on one batch: copied heads, their optimiser, and the loss after every step.

    Make it from the base checkpoint's Embedder (its cached tower outputs are reused), then call
    :meth:`step`; :meth:`checkpoint` gives the heads as they are now as a checkpoint of their own."""

    def __init__(self, embedder: Embedder, clips: Sequence[DecodedClip], captions: Sequence[str],
                 policy: str = DEFAULT_POLICY, settings: FinetuneSettings = FinetuneSettings(),
                 tau: float | None = None, root: str | None = None, steps_before: int = 0):
        """``tau``: the τ to start from (default: the checkpoint's); ``root`` and ``steps_before``: the name of the
        checkpoint the base was fine-tuned from and its steps, when the base is itself fine-tuned."""
        import torch

        if len(clips) != len(captions):
            raise ValueError(f"need one caption per clip: got {len(clips)} clips and {len(captions)} captions")
        settings.check(len(captions))
        base = embedder.checkpoint
        self.base, self.embedder, self.settings, self.policy = base, embedder, settings, policy
        self.clips, self.captions = list(clips), list(captions)
        self.root, self.steps_before = root or base.name, steps_before
        self.n = n = len(captions)
        self.train_idx, self.held_idx = holdout_split(n, settings.holdout, settings.seed)
        dev = base.device
        pooled = embedder.pooled_clips(self.clips, policy)  # one (W_i, H) per clip: its windows
        self._windows = torch.tensor(np.concatenate(pooled), dtype=torch.float32, device=dev)  # (W, H)
        owner = np.repeat(np.arange(n), [len(p) for p in pooled])  # (W,) which clip each window belongs to
        self._gather = torch.tensor(owner[None, :] == np.arange(n)[:, None], dtype=torch.float32, device=dev)  # (N, W)
        self._text = torch.tensor(embedder.pooled_texts(self.captions), dtype=torch.float32, device=dev)  # (N, H)
        self.audio_head = copy.deepcopy(base.model.audio_projection).float().train().requires_grad_(True)
        self.text_head = copy.deepcopy(base.model.text_projection).float().train().requires_grad_(True)
        self.sigmoid = settings.loss == "sigmoid"
        if self.sigmoid:  # t and b: the checkpoint's own, else SigLIP's initialisation (t = 10, b = −10)
            from .sigmoid import resolve_tb

            t0, b0, _ = resolve_tb(base.model, t=tau)
            start = math.log(t0)
            self.bias = torch.tensor(b0, dtype=torch.float32, device=dev, requires_grad=True)
        else:
            start = float(base.model.logit_scale_a.detach().float()) if tau is None else math.log(tau)  # log τ
            self.bias = None
        self.log_tau = torch.tensor(start, dtype=torch.float32, device=dev,
                                    requires_grad=settings.train == "heads+tau")
        params = [*self.audio_head.parameters(), *self.text_head.parameters()]
        if self.log_tau.requires_grad:
            params.append(self.log_tau)
        if self.bias is not None:
            params.append(self.bias)
        self._opt = torch.optim.Adam(params, lr=settings.lr)
        self.steps = 0
        self.loss: list[float] = []  # L on the training pairs after each step
        self.heldout: list[float] = []  # the held-out pairs' loss after each step (empty without held-out pairs)
        self._current = self._forward()  # the loss of the heads as they are, with its graph for the next step
        self.loss0, self.heldout0 = self.loss.pop(), (self.heldout.pop() if self.heldout else None)

    # -- training ---------------------------------------------------------------------------------
    def _embed(self):
        """(E_t, E_a), each (N, d), L2-normalised, through the current heads (differentiable)."""
        import torch.nn.functional as F

        windows = F.normalize(self.audio_head(self._windows), dim=-1)  # (W, d): each window's embedding
        E_a = F.normalize(self._gather @ windows, dim=-1)  # (N, d): the normalised mean of a clip's windows
        E_t = F.normalize(self.text_head(self._text), dim=-1)  # (N, d)
        return E_t, E_a

    def _forward(self):
        """The training loss now (graph kept for the next step); records it and the held-out loss."""
        import torch

        E_t, E_a = self._embed()
        idx = torch.as_tensor(self.train_idx, device=E_t.device)
        if self.sigmoid:
            from .sigmoid import sigmoid, sigmoid_loss_torch

            loss = sigmoid_loss_torch(E_t[idx], E_a[idx], self.log_tau, self.bias)
            self.loss.append(float(loss.detach()))
            if len(self.held_idx):  # each held-out caption's row: its pair and its negatives, each asked alone
                sg = sigmoid(E_t.detach().cpu().numpy(), E_a.detach().cpu().numpy(), self.tau, self.b)
                self.heldout.append(float(sg.terms[self.held_idx].sum(axis=1).mean()))
            return loss
        loss = symmetric_loss_torch(E_t[idx], E_a[idx], self.log_tau)
        self.loss.append(float(loss.detach()))
        if len(self.held_idx):
            res = contrastive(E_t.detach().cpu().numpy(), E_a.detach().cpu().numpy(), float(self.log_tau.detach().exp()))
            self.heldout.append(float((res.per_item_text + res.per_item_audio)[self.held_idx].mean() / 2))
        return loss

    def step(self, k: int = 1) -> None:
        """Take ``k`` optimiser steps; the loss after each is appended to :attr:`loss` (and :attr:`heldout`)."""
        import torch

        for _ in range(k):
            self._opt.zero_grad(set_to_none=True)
            self._current.backward()
            self._opt.step()
            if self.log_tau.requires_grad:
                with torch.no_grad():
                    self.log_tau.clamp_(*(LOG_T_RANGE if self.sigmoid else LOG_TAU_RANGE))
            self.steps += 1
            self._current = self._forward()

    @property
    def tau(self) -> float:
        """The τ the heads are trained with now (with the sigmoid: t)."""
        return float(self.log_tau.detach().exp())

    @property
    def b(self) -> float | None:
        """The sigmoid's bias now (None with the softmax)."""
        return None if self.bias is None else float(self.bias.detach())

    @property
    def loss_now(self) -> float:
        """L on the training pairs after the last step (before the first: at the checkpoint)."""
        return self.loss[-1] if self.loss else self.loss0

    @property
    def heldout_now(self) -> float | None:
        """The held-out pairs' loss after the last step (None without held-out pairs)."""
        return self.heldout[-1] if self.heldout else self.heldout0

    @property
    def total_steps(self) -> int:
        """Steps since the root checkpoint: this run's and those of the base, if it was fine-tuned."""
        return self.steps_before + self.steps

    # -- results ----------------------------------------------------------------------------------
    def checkpoint(self, name: str | None = None) -> LoadedCheckpoint:
        """The heads (and τ) as they are now, frozen, as a checkpoint of their own (the base's towers, shared).

        Training τ sets both logit scales to it (one shared temperature, as the project trains); training only
        the heads keeps the base's scales, with the τ the run started from as logit_scale_a."""
        log_tau = float(self.log_tau.detach())
        scale_t = log_tau if self.log_tau.requires_grad else float(self.base.model.logit_scale_t.detach().float())
        return with_heads(self.base, self.audio_head, self.text_head, log_tau, scale_t,
                          name or fine_tuned_name(self.root, self.total_steps), logit_bias=self.b)

    def result(self, ck: LoadedCheckpoint | None = None) -> ContrastiveResult:
        """Every loss term of the whole batch under the fine-tuned heads (default: as they are now), computed as
        for any checkpoint: through an Embedder that shares the base's tower outputs."""
        ck = ck or self.checkpoint()
        emb = self.embedder.for_heads(ck)
        return contrastive(emb.embed_texts(self.captions), emb.embed_clips(self.clips, self.policy), ck.tau)

    def memory_bytes(self) -> int:
        """What this run holds besides the shared model: heads and τ in float32 with their gradients and Adam's
        two moments (4 copies), and the batch's tower outputs."""
        params = sum(p.numel() for p in [*self.audio_head.parameters(), *self.text_head.parameters()]) + 1
        return int(4 * 4 * params + 4 * (self._windows.numel() + self._text.numel() + self._gather.numel()))
