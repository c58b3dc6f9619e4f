"""A checkpoint's health check: is it broken, and what does it know? Each figure with what it means and a plain
verdict, never one opaque score, each beside two reference points — the bundled demo checkpoint and a random-weight
model of the checkpoint's own configuration.

Data the repository ships: 100 probe captions (assets/probes/captions.txt), the 23 real recordings with their
captions and labels (assets/real), the twelve demo-world example clips (assets/examples). The figures:

    spread        mean cosine between different captions (and between different clips): near 1, the tower gives
                  one vector for everything (a collapsed tower; a published LAION music checkpoint measured 0.9993)
    gap           ‖mean(Ê_t) − mean(Ê_a)‖ over the real recordings and their captions (Liang et al. 2022)
    uniformity    log E[exp(−2‖x − y‖²)] over pairs of one tower's embeddings (Wang & Isola 2020): 0 when
                  collapsed, about −4 when spread over a high-dimensional sphere
    alignment     E‖ê_t − ê_a‖² over true (caption, clip) pairs: 0 when each caption sits on its clip, 2 when
                  they are orthogonal
    τ             exp(logit_scale_a), and whether it sits at LAION's clamp (100) or at 1
    determinism   the same input twice gives bitwise the same embeddings
    independence  a clip embedded alone and inside a batch
    bf16          fp32 against bf16 embeddings, where a bf16 copy is cheap (small models, or CUDA)
    input         the rate, window and long-clip handling the checkpoint expects, and what the app does
    real audio    R@1 both ways and zero-shot accuracy on the 23 real recordings, against chance
    demo world    zero-shot accuracy on the twelve demo-world clips, against chance
    prompts       zero-shot accuracy on the shipped labelled clips under 8 templates and their ensemble

Cost: one pass over 35 clips and ~400 texts with the checkpoint, and a smaller one with its random twin (which
exists only during the check: as large as the checkpoint, 615 MB for a full-size LAION model in fp32).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .contrastive import cosine_matrix, l2_normalise
from .examples import load_examples
from .features import DEFAULT_POLICY
from .paths import ASSETS_DIR, REAL_DIR
from .retrieval import retrieval_metrics

PROBES = ASSETS_DIR / "probes" / "captions.txt"
TEMPLATES = ("This is a sound of {}.", "{}", "a sound of {}", "the sound of {}", "a recording of {}.",
             "a recording of a {}.", "this is the sound of a {}", "audio of {}")
COLLAPSED, NARROW = 0.95, 0.8  # mean cosine between different items: a collapsed tower, a narrow one
SMALL_FOR_BF16 = 20_000_000  # parameters: a bf16 copy of a model this small costs nothing worth counting
TWIN_SKIP_PARAMS = 20_000_000  # a hosted app builds the random-weight reference only below this (a second copy)
VERDICTS = ("ok", "info", "warn", "fail")


@dataclass(frozen=True)
class Line:
    """One figure of the check: its value, what it means, a verdict and the reference points."""

    key: str
    title: str
    value: float | bool | str | None
    shown: str  # the value in words, with its unit or chance level
    meaning: str  # what the figure measures, in a sentence
    verdict: str  # ok, info, warn or fail
    says: str  # the plain verdict, in a sentence
    references: dict[str, str] = field(default_factory=dict)  # reference point → its value, shown


@dataclass(frozen=True)
class HealthReport:
    """Every line of the check of one checkpoint, and how long it took."""

    checkpoint: str
    lines: tuple[Line, ...]
    seconds: float

    def line(self, key: str) -> Line:
        return next(x for x in self.lines if x.key == key)

    @property
    def worst(self) -> str:
        return max((x.verdict for x in self.lines), key=VERDICTS.index)

    def to_dict(self) -> dict:
        return {"checkpoint": self.checkpoint, "seconds": round(self.seconds, 1), "worst": self.worst,
                "lines": [asdict(x) for x in self.lines]}

    def text(self) -> str:
        out = [f"health check of {self.checkpoint} ({self.seconds:.0f} s)"]
        for x in self.lines:
            refs = "; ".join(f"{k}: {v}" for k, v in x.references.items())
            out.append(f"[{x.verdict:4}] {x.title}: {x.shown}" + (f"  ({refs})" if refs else ""))
            out.append(f"       {x.says}")
        return "\n".join(out)


# -- the shipped probe data ------------------------------------------------------------------------------
def probe_captions() -> list[str]:
    """The 100 probe captions, in file order."""
    return [x.strip() for x in PROBES.read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")]


@dataclass(frozen=True)
class Probes:
    """The shipped clips the check embeds: the real recordings (clips, captions, labels) and the demo examples."""

    real_clips: list
    real_captions: list[str]
    real_labels: list[str]
    demo_clips: list
    demo_labels: list[str]


def load_probes() -> Probes:
    from .audio import decode

    with (REAL_DIR / "captions.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    demo = [ex for ex in load_examples() if ex.source == "demo-world"]
    return Probes([decode(REAL_DIR / r["file"]) for r in rows], [r["caption"] for r in rows], [r["label"] for r in rows],
                  [decode(ex.path) for ex in demo], [ex.label for ex in demo])


# -- the figures -----------------------------------------------------------------------------------------
def mean_offdiagonal_cosine(E: np.ndarray) -> float:
    """Mean cosine between different rows of E."""
    S = cosine_matrix(E, E)
    n = len(S)
    return float((S.sum() - np.trace(S)) / (n * (n - 1)))


def uniformity(E: np.ndarray, t: float = 2.0) -> float:
    """log E[exp(−t‖x − y‖²)] over pairs of different unit rows (Wang & Isola 2020)."""
    X = l2_normalise(E)
    d2 = np.maximum(2.0 - 2.0 * (X @ X.T), 0.0)
    iu = np.triu_indices(len(X), 1)
    return float(np.log(np.mean(np.exp(-t * d2[iu]))))


def alignment(E_t: np.ndarray, E_a: np.ndarray) -> float:
    """E‖ê_t − ê_a‖² over true pairs (row i with row i)."""
    return float(np.mean(np.sum((l2_normalise(E_t) - l2_normalise(E_a)) ** 2, axis=1)))


def zero_shot_accuracy(emb, E_a: np.ndarray, labels: list[str], templates: list[str]) -> float:
    """Top-1 accuracy of zero-shot classification of clips (E_a) among their distinct labels."""
    from .zeroshot import zero_shot

    classes = sorted(set(labels))
    return float(zero_shot(emb, E_a, classes, list(templates), true_labels=list(labels)).accuracy)


def measure(ck, probes: Probes, policy: str = DEFAULT_POLICY, prompts: bool = True) -> dict:
    """Every figure of one checkpoint, as numbers (the lines are built from these and the references')."""
    from .embed import Embedder

    emb = Embedder(ck)
    E_probe = emb.embed_texts(probe_captions())
    E_real_a = emb.embed_clips(probes.real_clips, policy=policy)
    E_real_t = emb.embed_texts(probes.real_captions)
    E_demo = emb.embed_clips(probes.demo_clips, policy=policy)
    E_clips = np.concatenate([E_real_a, E_demo])
    r = retrieval_metrics(cosine_matrix(E_real_t, E_real_a))
    out = {
        "text_spread": mean_offdiagonal_cosine(E_probe), "audio_spread": mean_offdiagonal_cosine(E_clips),
        "gap": float(np.linalg.norm(l2_normalise(E_real_t).mean(0) - l2_normalise(E_real_a).mean(0))),
        "uniformity_text": uniformity(E_probe), "uniformity_audio": uniformity(E_clips),
        "alignment": alignment(E_real_t, E_real_a), "tau": float(ck.tau),
        "real_r1_t2a": r["text_to_audio_R@1"], "real_r1_a2t": r["audio_to_text_R@1"],
        "real_zero_shot": zero_shot_accuracy(emb, E_real_a, probes.real_labels, [TEMPLATES[0]]),
        "demo_zero_shot": zero_shot_accuracy(emb, E_demo, probes.demo_labels, [TEMPLATES[0]]),
    }
    if prompts:
        labels = probes.real_labels + probes.demo_labels
        out["prompts"] = {t: zero_shot_accuracy(emb, E_clips, labels, [t]) for t in TEMPLATES}
        out["prompts_ensemble"] = zero_shot_accuracy(emb, E_clips, labels, list(TEMPLATES))
    return out


def determinism(ck, probes: Probes, policy: str = DEFAULT_POLICY) -> tuple[bool, float]:
    """(the same clips and captions twice give bitwise the same embeddings, the largest |difference| between a clip
    embedded alone and inside a batch of all), each with a fresh Embedder (no cache between the runs)."""
    from .embed import Embedder

    clips, texts = probes.real_clips[:6], probes.real_captions[:6]
    a = [Embedder(ck).embed_clips(clips, policy=policy), Embedder(ck).embed_texts(texts)]
    b = [Embedder(ck).embed_clips(clips, policy=policy), Embedder(ck).embed_texts(texts)]
    same = all(np.array_equal(x, y) for x, y in zip(a, b))
    alone = Embedder(ck).embed_clips(clips[:1], policy=policy)[0]
    return same, float(np.max(np.abs(alone - a[0][0])))


def bf16_agreement(ck, probes: Probes, policy: str = DEFAULT_POLICY) -> float | None:
    """The smallest cosine between fp32 and bf16 embeddings of the real recordings and their captions; None where
    a bf16 copy is not cheap (a full-size model on CPU would hold a second copy of its weights)."""
    import dataclasses

    import torch

    from .embed import Embedder

    if ck.precision != "fp32" or (ck.n_params >= SMALL_FOR_BF16 and not str(ck.device).startswith("cuda")):
        return None
    import copy

    half = dataclasses.replace(ck, model=copy.deepcopy(ck.model).to(dtype=torch.bfloat16), precision="bf16",
                               fingerprint=ck.fingerprint + "-bf16-check")
    worst = 1.0
    for fn in (lambda e: e.embed_clips(probes.real_clips, policy=policy), lambda e: e.embed_texts(probes.real_captions)):
        x, y = fn(Embedder(ck)), fn(Embedder(half))
        worst = min(worst, float(np.min(np.sum(l2_normalise(x) * l2_normalise(y), axis=1))))
    return worst


# -- the check -------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _refs(key: str, refs: dict[str, dict], fmt: Callable[[float], str]) -> dict[str, str]:
    return {name: fmt(m[key]) for name, m in refs.items() if m.get(key) is not None}


def lines_of(ck, m: dict, refs: dict[str, dict], det: tuple[bool, float], bf16: float | None,
             n_real: int, n_real_labels: int, n_demo: int) -> list[Line]:
    """The check's lines from the checkpoint's figures ``m`` and the reference points' ``refs``."""
    lines = []
    for key, what, items in (("text_spread", "text tower", "the 100 probe captions"),
                             ("audio_spread", "audio tower", f"the {n_real + n_demo} shipped clips")):
        v = m[key]
        verdict = "fail" if v > COLLAPSED else "warn" if v > NARROW else "ok"
        says = {"fail": f"collapsed: the {what} gives nearly one vector for everything — the checkpoint is broken "
                        "or was loaded wrong",
                "warn": f"narrow: the {what}'s outputs crowd into one direction; retrieval will be fragile",
                "ok": f"the {what} tells different inputs apart"}[verdict]
        lines.append(Line(key, f"Spread of the {what}", v, f"mean cosine {v:.4f} between {items}",
                          f"How alike the {what} makes different inputs: near 1 means it ignores its input.", verdict,
                          says, _refs(key, refs, lambda x: f"{x:.4f}")))
    lines.append(Line("gap", "Modality gap", m["gap"], f"‖mean(Ê_t) − mean(Ê_a)‖ = {m['gap']:.3f}",
                      "How far apart the caption and clip clouds sit; trained CLAP models keep a gap.", "info",
                      "for reading beside the reference points, not a fault in itself",
                      _refs("gap", refs, lambda x: f"{x:.3f}")))
    for key, what in (("uniformity_text", "captions"), ("uniformity_audio", "clips")):
        v = m[key]
        verdict = "warn" if v > -0.5 else "ok"
        lines.append(Line(key, f"Uniformity of the {what}", v, f"{v:.3f} (0: collapsed; about −4: spread out)",
                          "log E exp(−2‖x − y‖²) over pairs (Wang & Isola 2020): how evenly the embeddings cover the "
                          "sphere.", verdict, "crowded into a small cap of the sphere" if verdict == "warn" else
                          "spread over the sphere", _refs(key, refs, lambda x: f"{x:.3f}")))
    v = m["alignment"]
    lines.append(Line("alignment", "Alignment of true pairs", v, f"{v:.3f} (0: each caption on its clip; 2: orthogonal)",
                      "E‖ê_t − ê_a‖² over the real recordings and their captions (Wang & Isola 2020).", "info",
                      "lower than the random model's means training brought pairs together",
                      _refs("alignment", refs, lambda x: f"{x:.3f}")))
    tau = m["tau"]
    at_clamp = tau >= 99.5 or tau <= 1.01
    lines.append(Line("tau", "Temperature τ", tau, f"τ = exp(logit_scale_a) = {tau:.2f}",
                      "The multiplier of the cosines in C; LAION clamps it to at most 100.", "warn" if at_clamp else "ok",
                      ("at a clamp: training pushed it to its " + ("ceiling (100)" if tau > 50 else "floor (1)")
                       + "; the sharpness of the softmax is then an artefact of the clamp") if at_clamp else
                      "inside the range training allows", _refs("tau", refs, lambda x: f"{x:.2f}")))
    same, diff = det
    lines.append(Line("determinism", "Determinism", same, "bitwise equal" if same else "differs between two runs",
                      "The same clips and captions twice, through fresh caches.", "ok" if same else "fail",
                      "the same input gives the same numbers" if same else
                      "two runs on the same input differ: a random path is on (e.g. random crops or fusion)"))
    lines.append(Line("independence", "Batch independence", diff, f"max |difference| {diff:.2e}",
                      "A clip embedded alone against the same clip inside a batch.", "ok" if diff < 1e-4 else "warn",
                      "a clip's embedding does not depend on its batch mates" if diff < 1e-4 else
                      "a clip's embedding depends on the other clips of its batch (batch-dependent layers?)"))
    if bf16 is None:
        lines.append(Line("bf16", "fp32 against bf16", None, "not run", "The smallest cosine between fp32 and bf16 "
                          "embeddings.", "info", "a bf16 copy of a model this size on CPU would hold its weights twice; "
                          "run it where bf16 is native (CUDA)"))
    else:
        lines.append(Line("bf16", "fp32 against bf16", bf16, f"smallest cosine {bf16:.4f}",
                          "The smallest cosine between fp32 and bf16 embeddings of the real recordings and captions.",
                          "ok" if bf16 > 0.99 else "warn", "bf16 gives the same directions" if bf16 > 0.99 else
                          "bf16 moves some embeddings noticeably: keep fp32 for exact figures"))
    lines.append(Line("input", "What it expects, and what the app does", None,
                      f"{ck.sampling_rate} Hz mono, {ck.window_seconds:g} s windows, "
                      + ("fusion on (the app keeps is_longer off)" if ck.fusion else f"its own default '{ck.truncation}'"),
                      "The preprocessing the checkpoint was trained with.", "info",
                      f"the app decodes any rate and channel count, mixes to mono, resamples to {ck.sampling_rate} Hz, "
                      "repeats a short clip to fill the window and applies the long-clip policy (no random crop)"))
    chance_r1, chance_zs = 1 / n_real, 1 / n_real_labels
    r1 = (m["real_r1_t2a"] + m["real_r1_a2t"]) / 2
    knows_real = r1 > 3 * chance_r1 or m["real_zero_shot"] > 3 * chance_zs
    knows_demo = m["demo_zero_shot"] > 0.5
    lines.append(Line("real_audio", "Real recordings", r1,
                      f"R@1 {m['real_r1_t2a']:.2f} (text → audio), {m['real_r1_a2t']:.2f} (audio → text), chance "
                      f"{chance_r1:.2f}; zero-shot {_pct(m['real_zero_shot'])} of {n_real}, chance {_pct(chance_zs)}",
                      f"The {n_real} shipped real recordings (instruments, voices, rain, ocean) with their captions "
                      "and labels.", "ok" if knows_real else "warn",
                      "it finds real recordings from their captions" if knows_real else
                      ("it knows only its demo world: on real audio it is at chance" if knows_demo else
                       "near chance on real audio"), _refs("real_r1_t2a", refs, lambda x: f"R@1 {x:.2f}")))
    lines.append(Line("demo_world", "Demo world", m["demo_zero_shot"],
                      f"zero-shot {_pct(m['demo_zero_shot'])} of the {n_demo} demo-world clips, chance {_pct(1 / n_demo)}",
                      "The twelve synthetic demo-world classes the bundled checkpoints were trained on.", "info",
                      "knows the demo world" if knows_demo else "does not know the synthetic demo world (expected of "
                      "a model trained on real audio)", _refs("demo_zero_shot", refs, _pct)))
    if "prompts" in m:
        accs = m["prompts"]
        spread = max(accs.values()) - min(accs.values())
        best = max(accs, key=accs.get)
        lines.append(Line("prompts", "Prompt sensitivity", spread,
                          f"zero-shot {_pct(min(accs.values()))} … {_pct(max(accs.values()))} over {len(accs)} templates "
                          f"(best “{best}”), {_pct(m['prompts_ensemble'])} with all of them ensembled",
                          "Zero-shot accuracy on the shipped labelled clips under each template.",
                          "warn" if spread > 0.2 else "ok",
                          f"the template alone moves accuracy by {_pct(spread)}: report the template with any figure"
                          if spread > 0.2 else "the template matters little here",
                          _refs("prompts_ensemble", refs, lambda x: f"ensemble {_pct(x)}")))
    return lines


def health_check(ck, policy: str = DEFAULT_POLICY, references: bool = True, twin: bool = True,
                 on_step: Callable[[str], None] | None = None) -> HealthReport:
    """Check ``ck`` (a LoadedCheckpoint) on the shipped data; with ``references``, beside the bundled checkpoint and
    (with ``twin``) a random-weight model of ``ck``'s configuration, built for the check and dropped after — as large
    as ``ck``, so a server short of memory leaves it out for a full-size model."""
    from .baseline import random_twin
    from .checkpoints import BUNDLED, load_checkpoint

    step = on_step or (lambda _m: None)
    start = time.perf_counter()
    step("reading the shipped probes")
    probes = load_probes()
    step(f"embedding them with {ck.name}")
    m = measure(ck, probes, policy)
    step("determinism and batch independence")
    det = determinism(ck, probes, policy)
    step("fp32 against bf16")
    bf16 = bf16_agreement(ck, probes, policy)
    refs: dict[str, dict] = {}
    if references:
        if ck.name != BUNDLED:
            step("the bundled checkpoint, for reference")
            refs["bundled"] = measure(load_checkpoint(BUNDLED, device="cpu"), probes, policy)
    if references and twin:
        import gc

        step("a random-weight model of the same configuration, for reference")
        model = random_twin(ck)
        refs["random weights"] = measure(model, probes, policy, prompts=False)
        del model
        gc.collect()
    lines = lines_of(ck, m, refs, det, bf16, len(probes.real_clips), len(set(probes.real_labels)),
                     len(probes.demo_clips))
    return HealthReport(ck.name, tuple(lines), time.perf_counter() - start)
