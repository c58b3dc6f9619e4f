"""Train the bundled demo CLAP from scratch on the demo sound world (``python -m clap_core train-demo``).

A small transformers ``ClapConfig`` (HTSAT audio tower, RoBERTa-style text tower, byte-level BPE
tokenizer trained here on the world's captions), trained with this project's own symmetric loss
(``contrastive.symmetric_loss_torch``): AdamW, gradient clipping at 1.0, one shared temperature with
``logit_scale`` clamped to [0, ln 100] as LAION does. Features are computed once, with the same
``ClapFeatureExtractor`` the app uses at inference.

Two recipes (``RECIPES``), differing in the world they train on and in which negatives share a batch:
  hard-negatives  (the default, ``bundled``) the attribute world, whose attribute words are true of the
                  audio; half of each batch's 12 pairs are same-class twins whose captions differ in one
                  attribute word (loudness; speed and pitch where the class has them), the rest one pair
                  per distinct class. The loss can only tell a twin from its partner by the attribute.
  classes         (``bundled-classes``) the original world, batches of 12 distinct classes: it learns the
                  classes and nothing of the attribute words, since no negative ever differs from its
                  positive by an attribute alone. ``TrainConfig()``'s defaults are this recipe, unchanged.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import demo_world
from .attributes import evaluate_held_out
from .contrastive import symmetric_loss_torch
from .embed import TEXT_MAX_TOKENS
from .towers import audio_forward, batches, text_forward

TRAIN_SEED = 1234  # clips for training; evaluation uses other seeds (attributes.EVAL_SEED, PAIRS_SEED)
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
    """Everything that decides a demo checkpoint; stored beside it, in train_report.json's "config"."""

    seed: int = TRAIN_SEED
    clips_per_class: int = 160
    steps: int = 1500
    batch_classes: int = 12  # pairs per batch (classes recipe: one clip per class, all pairs distinct)
    lr: float = 5e-4
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    template_prob: float = 0.35  # share of captions replaced by a templated label
    vocab_size: int = 1024
    text_hidden: int = 64
    audio_patch_hidden: int = 16
    projection_dim: int = 64
    # Added with the hard-negatives recipe; these defaults give the classes recipe's batches exactly.
    world: str = "classes"  # classes: demo_world.generate; attributes: demo_world.generate_attributed
    hard_negative_share: float = 0.0  # share of a batch's pairs that are same-class twins differing in one attribute
    features: str = "numpy"  # feature backend (features.FEATURE_BACKENDS) for the training clips
    threads: int = 0  # torch CPU threads while training (0: torch's default); fixed, the weights do not depend on the cores
    loss: str = "softmax"  # softmax: CLAP's symmetric loss; sigmoid: SigLIP's pairwise loss (clap_core.sigmoid), t and b learned


WORLDS = ("classes", "attributes")
RECIPES: dict[str, TrainConfig] = {
    "hard-negatives": TrainConfig(world="attributes", hard_negative_share=5 / 6, steps=5000, features="torch", threads=1),
    "classes": TrainConfig(),
    # the hard-negatives recipe with SigLIP's loss: t (in logit_scale_a) and b (saved as config.logit_bias) learned,
    # from SigLIP's initialisation t = 10, b = −10
    "sigmoid": TrainConfig(world="attributes", hard_negative_share=5 / 6, steps=5000, features="torch", threads=1,
                           loss="sigmoid"),
}
DEFAULT_RECIPE = "hard-negatives"


def recipe_config(recipe: str = DEFAULT_RECIPE, **overrides) -> TrainConfig:
    """The TrainConfig of a named recipe (``RECIPES``), with ``overrides`` (seed, steps, …) applied."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    return replace(RECIPES[recipe], **overrides)


def _tokenizer_corpus(world: str = "classes") -> list[str]:
    if world == "attributes":  # every phrasing with every combination of words, once each
        captions = dict.fromkeys(
            p.format(loud=loud, speed=speed, pitch=pitch)
            for phrasings in demo_world.ATTRIBUTE_PHRASINGS.values() for p in phrasings
            for loud in ("quiet", "loud") for speed in ("slow", "fast") for pitch in ("low", "high")
        )
        return list(captions) + [t.format(lab) for lab in demo_world.LABELS for t in TEMPLATES] + [EXTRA_WORDS]
    lines = []
    for label, phrasings in demo_world.CLASSES.items():
        for p in phrasings:
            for loud in ("quiet", "loud"):
                for speed in ("slow", "fast"):
                    lines.append(p.format(loud=loud, speed=speed))
        lines += [t.format(label) for t in TEMPLATES]
    lines.append(EXTRA_WORDS)
    return lines


def build_tokenizer(vocab_size: int, world: str = "classes"):
    """A RoBERTa tokenizer (byte-level BPE, so any text tokenizes) trained on the world's captions."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _tokenizer_corpus(world), vocab_size=vocab_size, min_frequency=1,
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


def _features(fe, clips, backend: str = "numpy") -> np.ndarray:
    from .features import window_features

    if backend == "numpy":
        return np.concatenate([window_features(fe, [c.waveform], demo_world.RATE)["input_features"] for c in clips])  # (N, 1, T, F)
    return np.concatenate([window_features(fe, [c.waveform for c in batch], demo_world.RATE, backend=backend)
                           ["input_features"].numpy() for batch in batches(clips, 32)])


def _twins(clips, by_class: list[np.ndarray]) -> list[dict[str, list[tuple[int, int]]]]:
    """Per class, per attribute: the ordered pairs (i, j) of its clips whose captions may differ in that
    attribute's word only (both name the same attributes, with the same words but for that one)."""
    out = []
    for members in by_class:
        words = {int(i): clips[i].words for i in members}
        per_attribute = {}
        for a in demo_world.CLASS_ATTRIBUTES[clips[members[0]].label] if len(members) else ():
            pairs = [(i, j) for i, wi in words.items() if a in wi for j, wj in words.items()
                     if wj.keys() == wi.keys() and wi[a] != wj[a] and all(wi[b] == wj[b] for b in wi if b != a)]
            if pairs:
                per_attribute[a] = pairs
        out.append(per_attribute)
    return out


def train_demo(out: str | Path, cfg: TrainConfig = TrainConfig(), log=print, evaluate: bool = True) -> dict:
    """Train, save to ``out`` in transformers' format, evaluate on held-out seeds (unless not
    ``evaluate``); write and return the report."""
    import torch

    if cfg.world not in WORLDS:
        raise ValueError(f"unknown world {cfg.world!r}; choose one of {', '.join(WORLDS)}")
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(out, cfg, log, evaluate)
    finally:
        torch.set_num_threads(threads)


class BatchSampler:
    """Draws the training batches: (clip indices, token ids, attention mask) per step, from one numpy RNG seeded with
    the recipe's seed, so that a rebuild is bit-identical. Without twins (the classes recipe) a batch is one pair per
    class of ``batch_classes`` distinct classes; with twins (hard negatives) some classes give a twin pair whose
    captions differ in one attribute word."""

    def __init__(self, cfg: TrainConfig, clips: list, tokenizer, enc: dict):
        self.cfg, self.clips, self.tokenizer, self.enc = cfg, clips, tokenizer, enc
        self.labels = demo_world.LABELS
        self.by_class = [np.flatnonzero([c.label == lab for c in clips]) for lab in self.labels]
        self.n_twins = round(cfg.hard_negative_share * cfg.batch_classes / 2)  # twin pairs per batch
        self.twins = _twins(clips, self.by_class) if self.n_twins else []
        # Twin classes are drawn in proportion to their attributes, so every (class, attribute) gets about as
        # many twin pairs (21 of them: loudness in all 12 classes, speed in 5, pitch in 4).
        self.weights = np.array([len(t) for t in self.twins], dtype=float)
        self.rng = np.random.default_rng(cfg.seed)

    def next(self):
        """The next batch: (indices (B,), input_ids (B, L), attention_mask (B, L))."""
        return self._twin_batch() if self.n_twins else self._class_batch()

    def _class_batch(self):
        """One pair per class, batch_classes distinct classes (the classes recipe)."""
        cfg, rng, n_clips = self.cfg, self.rng, len(self.clips)
        classes = rng.choice(len(self.labels), size=cfg.batch_classes, replace=False)
        idx = np.array([rng.choice(self.by_class[c]) for c in classes])
        text_idx = np.array([
            n_clips + c * len(TEMPLATES) + rng.integers(len(TEMPLATES)) if rng.random() < cfg.template_prob else i
            for c, i in zip(classes, idx)
        ])
        return idx, self.enc["input_ids"][text_idx], self.enc["attention_mask"][text_idx]

    def _twin_batch(self):
        """n_twins classes give a twin pair each, other distinct classes one pair: batch_classes pairs in all."""
        cfg, rng, labels, clips, twins = self.cfg, self.rng, self.labels, self.clips, self.twins
        n = min(self.n_twins, int(np.count_nonzero(self.weights)))
        doubled = rng.choice(len(labels), size=n, replace=False, p=self.weights / self.weights.sum()) if n else []
        single = rng.permutation(np.setdiff1d(np.arange(len(labels)), doubled))[: cfg.batch_classes - 2 * n]
        idx, captions = [], []
        for k, c in enumerate([*doubled, *single]):
            if k < n:
                attrs = sorted(twins[c])
                a = attrs[int(rng.integers(len(attrs)))]
                i, j = twins[c][a][int(rng.integers(len(twins[c][a])))]
                options = demo_world.phrasings_for(labels[c], clips[i].words, naming=a)
                phrasing = options[int(rng.integers(len(options)))]
                idx += [i, j]
                captions += [phrasing.format(**clips[i].words), phrasing.format(**clips[j].words)]
                continue
            i = int(rng.choice(self.by_class[c]))
            idx.append(i)
            templated = rng.random() < cfg.template_prob
            captions.append(TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(labels[c]) if templated
                            else clips[i].caption)
        e = self.tokenizer(captions, padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt")
        return np.array(idx), e["input_ids"], e["attention_mask"]


def _train(out: str | Path, cfg: TrainConfig, log, evaluate: bool) -> dict:
    """Build the tokenizer, processor and model; generate the world and its features; train with the sampler's
    batches; save; evaluate on the held-out seeds; write the report."""
    import torch

    torch.manual_seed(cfg.seed)
    t0 = time.time()
    out = Path(out)
    tokenizer = build_tokenizer(cfg.vocab_size, cfg.world)
    processor = build_processor(tokenizer)
    model = build_model(cfg, len(tokenizer))
    generate = demo_world.generate_attributed if cfg.world == "attributes" else demo_world.generate
    clips = generate(cfg.seed, cfg.clips_per_class * len(demo_world.LABELS))
    log(f"generated {len(clips)} clips in {time.time() - t0:.0f} s; computing features")
    feats = torch.from_numpy(_features(processor.feature_extractor, clips, cfg.features))  # (N, 1, 1001, 64)
    log(f"features {tuple(feats.shape)} ready at {time.time() - t0:.0f} s")

    # Every text a batch can use: each clip's caption and each class's templated labels.
    texts = [c.caption for c in clips] + [t.format(lab) for lab in demo_world.LABELS for t in TEMPLATES]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt")
    sampler = BatchSampler(cfg, clips, tokenizer, enc)

    sigmoid = cfg.loss == "sigmoid"
    if sigmoid:  # SigLIP's initialisation: log t = ln 10 (in logit_scale_a), b = −10; both are trained
        from .sigmoid import sigmoid_loss_torch

        with torch.no_grad():
            model.logit_scale_a.fill_(math.log(10.0))
        bias = torch.nn.Parameter(torch.tensor(-10.0))
    trained = [*model.parameters(), bias] if sigmoid else model.parameters()
    opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps))
    )
    model.train()
    history = []
    for step in range(cfg.steps):
        idx, input_ids, attention_mask = sampler.next()
        _, audio = audio_forward(model, feats[idx], torch.zeros(len(idx), 1, dtype=torch.bool))
        _, text = text_forward(model, input_ids, attention_mask)
        # One shared temperature (logit_scale_a), as LAION trains; with the sigmoid loss it is log t, beside b.
        if sigmoid:
            loss = sigmoid_loss_torch(text, audio, model.logit_scale_a, bias)
        else:
            loss = symmetric_loss_torch(text, audio, model.logit_scale_a)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*model.parameters(), bias] if sigmoid else model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale_a.clamp_(0, math.log(1000 if sigmoid else 100))
        history.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{cfg.steps}  loss {np.mean(history[-100:]):.3f}  "
                f"{'t' if sigmoid else 'tau'} {model.logit_scale_a.exp().item():.1f}  "
                + (f"b {bias.item():.2f}  " if sigmoid else "") + f"{time.time() - t0:.0f} s")
    with torch.no_grad():
        model.logit_scale_t.copy_(model.logit_scale_a)  # the second scale transformers keeps, made equal
    if sigmoid:
        model.config.logit_bias = float(bias.detach())  # saved in config.json; clap_core.sigmoid reads it back
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
    if evaluate:
        report.update(evaluate_held_out([out])[0])
    report["config"] = asdict(cfg)
    (out / "train_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(json.dumps({k: v for k, v in report.items() if k != "config"}))
    return report
