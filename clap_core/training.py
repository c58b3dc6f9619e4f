"""Train the bundled demo CLAP from scratch on the demo sound world (``python -m clap_core train-demo``).

A small transformers ``ClapConfig`` (HTSAT audio tower, RoBERTa-style text tower, byte-level BPE
tokenizer trained here on the world's captions), trained with this project's own symmetric loss
(``contrastive.symmetric_loss_torch``) on batches of distinct classes: AdamW, gradient clipping at
1.0, one shared temperature with ``logit_scale`` clamped to [0, ln 100] as LAION does. Features are
computed once, with the same ``ClapFeatureExtractor`` the app uses at inference.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import demo_world
from .contrastive import symmetric_loss_torch
from .embed import TEXT_MAX_TOKENS

TRAIN_SEED = 1234  # clips for training; evaluation uses other seeds (EVAL_SEED)
EVAL_SEED = 987_654
TEMPLATES = ("This is a sound of {}.", "the sound of {}", "{}", "a recording of {}", "a sound of {}")

# Words a user may type that the demo world does not contain, so the tokenizer has pieces for them
# (ESC-50's classes among them; label_sets.ESC50 is the preset list). Kept verbatim: any change here
# changes the tokenizer and so the rebuilt checkpoint, which must stay bit-identical to assets/.
EXTRA_WORDS = (
    "dog rooster pig cow frog cat hen insects sheep crow rain sea waves crackling fire crickets "
    "chirping birds water drops wind pouring water toilet flush thunderstorm crying baby sneezing "
    "clapping breathing coughing footsteps laughing brushing teeth snoring drinking sipping door "
    "wood knock mouse click keyboard typing door wood creaks can opening washing machine vacuum "
    "cleaner clock alarm tick glass breaking helicopter chainsaw siren car horn engine train church "
    "bells airplane fireworks hand saw music speech voice singing piano guitar drum violin cello "
    "flute trumpet organ saxophone orchestra ocean a an the of with and is this that sound noise"
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the bundled checkpoint; stored beside it as train_config.json."""

    seed: int = TRAIN_SEED
    clips_per_class: int = 160
    steps: int = 1500
    batch_classes: int = 12  # one clip per class per batch: all pairs distinct
    lr: float = 5e-4
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    template_prob: float = 0.35  # share of captions replaced by a templated label
    vocab_size: int = 1024
    text_hidden: int = 64
    audio_patch_hidden: int = 16
    projection_dim: int = 64


def _tokenizer_corpus() -> list[str]:
    lines = []
    for label, phrasings in demo_world.CLASSES.items():
        for p in phrasings:
            for loud in ("quiet", "loud"):
                for speed in ("slow", "fast"):
                    lines.append(p.format(loud=loud, speed=speed))
        lines += [t.format(label) for t in TEMPLATES]
    lines.append(EXTRA_WORDS)
    return lines


def build_tokenizer(vocab_size: int):
    """A RoBERTa tokenizer (byte-level BPE, so any text tokenizes) trained on the world's captions."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _tokenizer_corpus(), vocab_size=vocab_size, min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False,
    )
    vocab = bpe.get_vocab()
    model = json.loads(bpe._tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return RobertaTokenizer(vocab=vocab, merges=merges)


def build_model(cfg: TrainConfig, vocab_size: int):
    """A small ClapModel: HTSAT with 16-wide patches and one block per stage, a 2-layer text tower."""
    import torch
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(cfg.seed)
    h = cfg.audio_patch_hidden
    config = ClapConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=cfg.text_hidden, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=cfg.text_hidden * 2, max_position_embeddings=80, projection_dim=cfg.projection_dim,
        ),
        audio_config=dict(
            patch_embeds_hidden_size=h, depths=[1, 1, 1, 1], num_attention_heads=[1, 2, 4, 8],
            hidden_size=h * 8, projection_dim=cfg.projection_dim, enable_fusion=False,
        ),
        projection_dim=cfg.projection_dim,
    )
    return ClapModel(config)


def build_processor(tokenizer):
    """ClapProcessor with LAION's feature settings (48 kHz, 10 s, 64 mels, 50 Hz–14 kHz, repeatpad)."""
    from transformers import ClapFeatureExtractor, ClapProcessor

    fe = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48_000, hop_length=480, max_length_s=10, fft_window_size=1024,
        padding_value=0.0, frequency_min=50, frequency_max=14_000, truncation="rand_trunc", padding="repeatpad",
    )
    return ClapProcessor(feature_extractor=fe, tokenizer=tokenizer)


def _features(fe, clips) -> np.ndarray:
    from .features import window_features

    return np.concatenate([window_features(fe, [c.waveform], demo_world.RATE)["input_features"] for c in clips])  # (N, 1, T, F)


def train_demo(out: str | Path, cfg: TrainConfig = TrainConfig(), log=print) -> dict:
    """Train, save to ``out`` in transformers' format, evaluate on held-out seeds; return the report."""
    import torch

    torch.manual_seed(cfg.seed)
    t0 = time.time()
    out = Path(out)
    tokenizer = build_tokenizer(cfg.vocab_size)
    processor = build_processor(tokenizer)
    model = build_model(cfg, len(tokenizer))
    labels = demo_world.LABELS
    clips = demo_world.generate(cfg.seed, cfg.clips_per_class * len(labels))
    log(f"generated {len(clips)} clips in {time.time() - t0:.0f} s; computing features")
    feats = torch.from_numpy(_features(processor.feature_extractor, clips))  # (N, 1, 1001, 64)
    log(f"features {tuple(feats.shape)} ready at {time.time() - t0:.0f} s")

    # Every text a batch can use: each clip's caption and each class's templated labels.
    texts = [c.caption for c in clips] + [t.format(lab) for lab in labels for t in TEMPLATES]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt")
    n_clips = len(clips)
    by_class = [np.flatnonzero([c.label == lab for c in clips]) for lab in labels]

    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps))
    )
    model.train()
    history = []
    for step in range(cfg.steps):
        classes = rng.choice(len(labels), size=cfg.batch_classes, replace=False)
        idx = np.array([rng.choice(by_class[c]) for c in classes])
        text_idx = np.array([
            n_clips + c * len(TEMPLATES) + rng.integers(len(TEMPLATES)) if rng.random() < cfg.template_prob else i
            for c, i in zip(classes, idx)
        ])
        audio = model.get_audio_features(input_features=feats[idx], is_longer=torch.zeros(len(idx), 1, dtype=torch.bool))
        text = model.get_text_features(input_ids=enc["input_ids"][text_idx], attention_mask=enc["attention_mask"][text_idx])
        # One shared temperature (logit_scale_a), as LAION trains.
        loss = symmetric_loss_torch(text.pooler_output, audio.pooler_output, model.logit_scale_a)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale_a.clamp_(0, math.log(100))
        history.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{cfg.steps}  loss {np.mean(history[-100:]):.3f}  "
                f"tau {model.logit_scale_a.exp().item():.1f}  {time.time() - t0:.0f} s")
    with torch.no_grad():
        model.logit_scale_t.copy_(model.logit_scale_a)  # the second scale transformers keeps, made equal
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    # Tokenizer calls above left truncation/padding state in the fast tokenizer; saved, it would come
    # back as tokenizer defaults (max_length=77) that ClapProcessor also hands to the audio side.
    tokenizer.backend_tokenizer.no_truncation()
    tokenizer.backend_tokenizer.no_padding()
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    train_seconds = time.time() - t0
    report = {"train_seconds": round(train_seconds, 1), "final_loss_100": float(np.mean(history[-100:]))}
    report.update(evaluate_demo(out))
    report["config"] = asdict(cfg)
    (out / "train_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(json.dumps({k: v for k, v in report.items() if k != "config"}))
    return report


def evaluate_demo(checkpoint: str | Path, seed: int = EVAL_SEED, per_class: int = 20) -> dict:
    """Held-out quality: zero-shot top-1 with the default template, and the mean symmetric loss on
    batches of one clip per class (caption pairs), on clips from a seed never used in training."""
    from .checkpoints import load_checkpoint
    from .contrastive import contrastive
    from .embed import Embedder
    from .zeroshot import zero_shot

    ck = load_checkpoint(str(checkpoint), device="cpu")
    emb = Embedder(ck, batch_size=32)
    clips = demo_world.generate(seed, per_class * len(demo_world.LABELS))
    E_a = emb.embed_audio([c.waveform for c in clips])
    E_t = emb.embed_texts([c.caption for c in clips])
    zs = zero_shot(emb, E_a, list(demo_world.LABELS), [demo_world.DEFAULT_TEMPLATE],
                   true_labels=[c.label for c in clips])
    k = len(demo_world.LABELS)  # clips cycle through the classes: each block of k is one per class
    losses = [contrastive(E_t[i : i + k], E_a[i : i + k], ck.tau).loss for i in range(0, len(clips), k)]
    return {
        "eval_seed": seed,
        "eval_clips": len(clips),
        "zero_shot_accuracy": zs.accuracy,
        "mean_batch_loss": float(np.mean(losses)),
        "batch_size": k,
        "chance_loss": math.log(k),
        "tau": ck.tau,
    }
