"""Scenarios: shipped batches that each teach one thing about the loss.

Each scenario is a CSV under ``assets/scenarios/`` (``file,caption,label``; files relative to the CSV's own folder,
as everywhere a CSV names files, so ``evaluate --data assets/scenarios/<name>.csv`` reads it as it is):
demo-world clips from ``assets/examples`` and ``assets/scenarios/clips`` (generated with a seed) and the
shipped real recordings. ``python -m clap_core scenarios`` rebuilds the folder bit for bit; each
scenario's point is checked by a test (tests/test_scenarios.py) on the bundled checkpoint.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

from .batch import LIMITS, Batch, Limits
from .paths import ASSETS_DIR

SCENARIOS_DIR = ASSETS_DIR / "scenarios"
CLIPS_SEED = 2024  # the examples' seed: generate(CLIPS_SEED, 32)[:12] are the examples' demo clips
PAIRS_SEED = 31_337  # hard-negative twins (attribute world); no training or evaluation seed
BIG_N, SMALL_N = 32, 8


@dataclass(frozen=True)
class Scenario:
    """A shipped batch and what to look at in it."""

    name: str  # the CSV's stem
    title: str
    look_at: str  # one or two sentences for the page

    @property
    def csv(self) -> Path:
        """The scenario's file."""
        return SCENARIOS_DIR / f"{self.name}.csv"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("own-world", "Trained model, its own world",
             "Twelve demo-world clips, one per class, with their captions: the bundled model was trained on "
             "this world, so C has a clean diagonal and L sits far below chance (log N)."),
    Scenario("out-of-domain", "Out of domain",
             "Six demo clips next to two real recordings (rain, piano) the demo model never heard: look at "
             "their rows and columns in C and at their share of L on the Loss page — nearly all of it."),
    Scenario("hard-negatives", "Hard negatives",
             "Four pairs of twins: clips of one class whose captions differ in one word (quiet/loud, slow/fast, "
             "low/high). The softmax has to tell each caption from its twin; switch the sidebar to "
             "'bundled-classes' (trained without such negatives) and it cannot."),
    Scenario("shuffled", "Shuffled captions",
             "The own-world clips, but every clip has another clip's caption: the diagonal is wrong everywhere, "
             "so L is far above chance (log N)."),
    Scenario("duplicates", "Duplicates",
             "Seven clips, one of them (the chord) twice with two different true captions. Its two columns are "
             "identical, so no model can tell them apart: a false negative the loss cannot remove. With one "
             "clip twice in N pairs, L ≥ (2/N)·log 2 (each of the two rows and two columns puts at most half "
             "its softmax on its partner)."),
    Scenario("batch-8", "Smaller batch (8 pairs)",
             "Eight pairs of the demo world: compare with 'Bigger batch (32 pairs)' — chance level log N and L "
             "both move with N, because every pair gets more negatives."),
    Scenario("batch-32", "Bigger batch (32 pairs)",
             "Thirty-two pairs of the same world (the first eight are 'Smaller batch'): chance is log 32 = 3.47 "
             "instead of log 8 = 2.08, and L grows as more, and more similar, negatives compete."),
)
DEFAULT_SCENARIO = "own-world"


def duplicates_floor(n: int, duplicated: int = 1) -> float:
    """The least L a batch of ``n`` pairs can reach when ``duplicated`` clips appear twice (with different
    captions): each such clip's two rows and two columns give at most ½ to their partner, so
    ℓ_text, ℓ_audio ≥ 2·duplicated·log 2 / n, and L (their mean) too."""
    return 2 * duplicated * math.log(2) / n


def get(name: str) -> Scenario:
    """The scenario called ``name``; ValueError naming the choices otherwise."""
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(s.name for s in SCENARIOS)}")


def rows(name: str) -> list[dict[str, str]]:
    """The scenario's (file, caption, label) rows, in batch order."""
    with get(name).csv.open(newline="") as f:
        return list(csv.DictReader(f))


def names() -> tuple[str, ...]:
    """The scenarios' names, in the Batch page's order."""
    return tuple(s.name for s in SCENARIOS)


def listing() -> str:
    """One line per scenario: name, N and title (the CLI's ``scenarios --list``)."""
    return "\n".join(f"{s.name:15} {len(rows(s.name)):3d} pairs  {s.title}" for s in SCENARIOS)


def load(name: str = DEFAULT_SCENARIO, limits: Limits = LIMITS) -> Batch:
    """The scenario as a Batch (clips decoded within ``limits``); RuntimeError if a shipped file is damaged."""
    table = rows(name)
    folder = get(name).csv.parent
    batch, outcomes = Batch(limits=limits).add_files(
        [(Path(r["file"]).name, (folder / r["file"]).read_bytes()) for r in table], "example",
        captions=[r["caption"] for r in table], labels=[r["label"] for r in table])
    failed = [o.message for o in outcomes if not o.added]
    if failed:
        raise RuntimeError(f"the shipped scenario {name!r} is damaged: " + "; ".join(failed))
    return batch


@functools.lru_cache(maxsize=1)
def demo_world_keys() -> frozenset[str]:
    """The content keys of every shipped demo-world clip (the examples' and the scenarios' generated ones): what the
    demo checkpoints were trained on the like of. A clip whose key is not here is not a demo-world clip."""
    from .audio import decode
    from .examples import load_examples

    files = [ex.path for ex in load_examples() if ex.source == "demo-world"] + sorted((SCENARIOS_DIR / "clips").glob("*.flac"))
    return frozenset(decode(f).key for f in files)


def default_batch(limits: Limits = LIMITS) -> Batch:
    """The batch a new session opens with: the default scenario (twelve demo-world clips, one per class)."""
    return load(DEFAULT_SCENARIO, limits)


# -- Building the files -------------------------------------------------------------------------------
def _hard_negative_pairs() -> list:
    """Four twin pairs, one per kind of word: loudness (chord), speed (siren), pitch (tremolo) and loudness
    again (white noise) — the first pair of each from ``demo_world.attribute_pairs(PAIRS_SEED, 1)``."""
    from . import demo_world

    wanted = [("chord", "loud"), ("siren", "speed"), ("tremolo", "pitch"), ("white noise", "loud")]
    by_key = {(p.label, p.attribute): p for p in demo_world.attribute_pairs(PAIRS_SEED, 1)}
    return [by_key[k] for k in wanted]


def build(out: Path = SCENARIOS_DIR) -> list[Path]:
    """Write every scenario's CSV (and the generated clips they need) under ``out``; return the CSV paths."""
    import numpy as np
    import soundfile as sf

    from . import demo_world
    from .examples import load_examples

    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    examples = load_examples()
    rel = {ex.name: f"../{ex.path.parent.name}/{ex.name}" for ex in examples}  # relative to the CSVs' folder
    demo = [ex for ex in examples if ex.source == "demo-world"]  # one per class, generate(CLIPS_SEED, 12)
    row = {ex.name: {"file": rel[ex.name], "caption": ex.caption, "label": ex.label} for ex in examples}

    def write(name: str, clip) -> dict[str, str]:
        path = clips_dir / name
        sf.write(path, clip.waveform, demo_world.RATE, format="FLAC", subtype="PCM_16")
        return {"file": f"clips/{name}", "caption": clip.caption, "label": clip.label}

    more = demo_world.generate(CLIPS_SEED, BIG_N)[len(demo):]  # the world's next 20 clips after the examples'
    big = [row[ex.name] for ex in demo] + [write(f"world-{i + len(demo):02d}-{c.label.replace(' ', '-')}.flac", c)
                                          for i, c in enumerate(more)]
    twins = [write(f"twin-{p.label.replace(' ', '-')}-{w}.flac", c)
             for p in _hard_negative_pairs() for c, w in zip(p.clips, demo_world.ATTRIBUTE_WORDS[p.attribute])]
    own = [row[ex.name] for ex in demo]
    rng = np.random.default_rng(CLIPS_SEED)
    while True:  # a derangement: no clip keeps its caption
        perm = rng.permutation(len(own))
        if not np.any(perm == np.arange(len(own))):
            break
    shuffled = [{**r, "caption": own[int(k)]["caption"]} for r, k in zip(own, perm)]
    chord = row["demo-chord.flac"]
    dup = [own[i] for i in (0, 2, 4, 6, 9, 11)] + [chord, {**chord, "caption": "a chord of three notes held steadily"}]
    tables = {
        "own-world": own,
        "out-of-domain": [row[n] for n in ("demo-low-tone.flac", "demo-rising-sweep.flac", "demo-falling-sweep.flac",
                                            "demo-white-noise.flac", "demo-fast-clicks.flac", "demo-siren.flac",
                                            "rain.wav", "piano.wav")],
        "hard-negatives": twins,
        "shuffled": shuffled,
        "duplicates": dup,
        "batch-8": big[:SMALL_N],
        "batch-32": big,
    }
    paths = []
    for s in SCENARIOS:
        path = out / f"{s.name}.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["file", "caption", "label"], lineterminator="\n")
            w.writeheader()
            w.writerows(tables[s.name])
        paths.append(path)
    return paths
