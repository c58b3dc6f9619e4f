"""The demo sound world: a seeded, labelled set of synthetic clips a person can tell apart by ear.

Twelve classes (steady tones, sweeps, noises, click trains, a chord, tremolo, hits, a siren), each
clip drawn with random attributes (pitch, speed, loudness, length) and given a caption that names
them in one of several phrasings. The same seed gives the same clips and captions, bit for bit.
"""

from __future__ import annotations

import csv
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 48_000
DEFAULT_TEMPLATE = "This is a sound of {}."

# class label → caption phrasings; {loud} is an adjective of loudness, {speed}/{pitch} where relevant.
CLASSES: dict[str, tuple[str, ...]] = {
    "low tone": (
        "a {loud} low steady tone", "a deep {loud} hum", "a {loud} low pitched drone",
        "a steady bass note, {loud}", "a low humming tone that does not change",
    ),
    "high tone": (
        "a {loud} high pitched steady tone", "a {loud} shrill whistle-like tone", "a steady high beep",
        "a high sine tone held, {loud}", "a piercing high note that does not change",
    ),
    "rising sweep": (
        "a {loud} tone sweeping upwards", "a rising {speed} sweep", "a pitch that glides up",
        "an upward sweep from low to high", "a {loud} rising whistle",
    ),
    "falling sweep": (
        "a {loud} tone sweeping downwards", "a falling {speed} sweep", "a pitch that glides down",
        "a downward sweep from high to low", "a {loud} falling whistle",
    ),
    "white noise": (
        "{loud} white noise", "a {loud} hiss", "static hiss like a detuned radio",
        "broadband hissing noise", "a steady {loud} shhh of noise",
    ),
    "low rumble": (
        "a {loud} low rumble", "deep rumbling noise", "a distant {loud} rumble like thunder",
        "muffled low frequency noise", "a dark rumbling roar",
    ),
    "slow clicks": (
        "slow {loud} clicks", "a slow ticking like a clock", "a few clicks, spaced far apart",
        "{loud} clicks at a slow steady pace", "slow tapping clicks",
    ),
    "fast clicks": (
        "fast {loud} clicks", "a rapid clicking rattle", "a quick train of clicks like a motor",
        "{loud} clicks in fast succession", "rapid buzzing clicks",
    ),
    "chord": (
        "a {loud} major chord", "three notes played together as a chord", "a sustained {loud} chord",
        "a harmonious chord held steady", "several tones sounding together in harmony",
    ),
    "tremolo": (
        "a {loud} tone with tremolo", "a tone pulsing in loudness", "a wobbling, throbbing {speed} tremolo",
        "a note whose volume beats quickly", "a {loud} pulsating tone",
    ),
    "decaying hits": (
        "{loud} struck hits that ring and fade", "a plucked note decaying", "repeated hits fading out like a bell",
        "{speed} percussive hits that die away", "a {loud} ping that decays",
    ),
    "siren": (
        "a {loud} wailing siren", "a siren going up and down", "a warbling {speed} siren",
        "an alarm siren wailing", "a pitch that wavers up and down like a siren",
    ),
}
LABELS: tuple[str, ...] = tuple(CLASSES)


@dataclass(frozen=True)
class DemoClip:
    """One generated clip: mono float32 samples at RATE, its class label, its caption (and attribute words)."""

    waveform: np.ndarray
    label: str
    caption: str
    words: dict[str, str] = field(default_factory=dict)  # attribute → word (attribute world only)


def _tone(f0: np.ndarray | float, n: int, harmonics=(1.0, 0.3, 0.1)) -> np.ndarray:
    f = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return sum(a * np.sin(k * phase) for k, a in enumerate(harmonics, start=1))


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    spec[freqs > cutoff] = 0
    return np.fft.irfft(spec, len(x))


def _clicks(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    x = np.zeros(n)
    click = np.exp(-np.arange(240) / 30.0) * rng.standard_normal(240)
    period = int(RATE / rate_hz)
    for start in range(int(rng.integers(0, period)), n - 240, period):
        x[start : start + 240] += click
    return x


def synthesise(label: str, rng: np.random.Generator, seconds: float,
               fixed: dict[str, float] | None = None) -> tuple[np.ndarray, dict[str, str]]:
    """Samples of one clip of class ``label`` and the attribute words its caption may use.

    ``fixed`` gives some of the clip's parameters (gain, noise, f0, lfo, gap, rate, centre, root, lo, hi,
    span as a fraction of the clip) instead of drawing them; without it, every draw is as it always was."""
    fixed = fixed or {}

    def draw(name: str, lo: float, hi: float) -> float:
        return fixed[name] if name in fixed else rng.uniform(lo, hi)

    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    speed = "slow"
    if label == "low tone":
        x = _tone(draw("f0", 80, 220), n)
    elif label == "high tone":
        x = _tone(draw("f0", 1500, 3500), n, (1.0, 0.1))
    elif label in ("rising sweep", "falling sweep"):
        lo, hi = draw("lo", 150, 400), draw("hi", 2000, 5000)
        span = draw("span", 0.5, 1.0) * seconds
        speed = "fast" if span < 0.75 * seconds else "slow"
        frac = np.clip(t / span, 0, 1)
        f = lo * (hi / lo) ** frac if label == "rising sweep" else hi * (lo / hi) ** frac
        x = _tone(f, n, (1.0, 0.2))
    elif label == "white noise":
        x = rng.standard_normal(n) * 0.5
    elif label == "low rumble":
        x = _lowpass(rng.standard_normal(n), draw("cutoff", 60, 180)) * 8
        x *= 1 + 0.3 * np.sin(2 * np.pi * draw("wobble", 0.2, 1.0) * t)
    elif label == "slow clicks":
        x = _clicks(rng, n, draw("rate", 1.5, 4))
    elif label == "fast clicks":
        speed = "fast"
        x = _clicks(rng, n, draw("rate", 15, 40))
    elif label == "chord":
        root = draw("root", 180, 400)
        x = sum(_tone(root * r, n, (1.0, 0.2)) for r in (1.0, 1.26, 1.5)) / 2
    elif label == "tremolo":
        lfo = draw("lfo", 4, 12)
        speed = "fast" if lfo > 8 else "slow"
        x = _tone(draw("f0", 300, 900), n) * (0.55 + 0.45 * np.sin(2 * np.pi * lfo * t))
    elif label == "decaying hits":
        x = np.zeros(n)
        gap = draw("gap", 0.4, 1.2)
        speed = "fast" if gap < 0.7 else "slow"
        f0 = draw("f0", 300, 1500)
        for start in np.arange(rng.uniform(0, 0.2), seconds, gap):
            i = int(start * RATE)
            m = n - i
            tt = np.arange(m) / RATE
            x[i:] += np.sin(2 * np.pi * f0 * tt) * np.exp(-tt * rng.uniform(6, 14))
    elif label == "siren":
        rate_hz = draw("rate", 0.5, 2.5)
        speed = "fast" if rate_hz > 1.5 else "slow"
        centre, depth = draw("centre", 600, 1000), draw("depth", 150, 350)
        x = _tone(centre + depth * np.sin(2 * np.pi * rate_hz * t), n, (1.0, 0.3))
    else:
        raise ValueError(f"unknown demo class {label!r}")
    x = x / (np.max(np.abs(x)) + 1e-9)
    gain = draw("gain", 0.15, 0.9)
    loud = "loud" if gain > 0.55 else "quiet"
    x = x * gain + rng.standard_normal(n) * draw("noise", 0, 0.01)  # a little background noise
    fade = min(n // 2, int(0.01 * RATE))
    ramp = np.linspace(0, 1, fade)
    x[:fade] *= ramp
    x[n - fade :] *= ramp[::-1]
    return x.astype(np.float32), {"loud": loud, "speed": speed}


def make_clip(label: str, rng: np.random.Generator, min_s: float = 2.0, max_s: float = 4.0) -> DemoClip:
    """One clip of ``label`` with a caption in a randomly chosen phrasing."""
    seconds = float(rng.uniform(min_s, max_s))
    wave, words = synthesise(label, rng, seconds)
    phrasing = CLASSES[label][int(rng.integers(len(CLASSES[label])))]
    return DemoClip(wave, label, phrasing.format(**words))


def generate(seed: int, n: int, labels: tuple[str, ...] = LABELS) -> list[DemoClip]:
    """``n`` clips cycling through ``labels`` in order, all drawn from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [make_clip(labels[i % len(labels)], rng) for i in range(n)]


WORLDS = ("classes", "attributes", "pairs")


def world_clips(seed: int, n: int, world: str = "classes") -> list[DemoClip]:
    """A world's clips: ``classes`` (generate: n clips), ``attributes`` (generate_attributed: n clips) or
    ``pairs`` (attribute_pairs(seed, n): n twin pairs per class and attribute, 42·n clips, each pair's two
    clips consecutive — caption 2k and 2k+1 differ in one attribute word)."""
    if world == "classes":
        return generate(seed, n)
    if world == "attributes":
        return generate_attributed(seed, n)
    if world == "pairs":
        return [c for p in attribute_pairs(seed, n) for c in p.clips]
    raise ValueError(f"unknown demo world {world!r}; choose one of {', '.join(WORLDS)}")


def write_world(seed: int, n: int, out: str | Path, world: str = "classes") -> Path:
    """Write a world's clips (``world_clips``) as 16-bit WAV files plus ``clips.csv`` (file,label,caption);
    return the CSV."""
    import soundfile as sf

    out = Path(out)
    clips = world_clips(seed, n, world)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, clip in enumerate(clips):
        name = f"{i:04d}_{clip.label.replace(' ', '-')}.wav"
        sf.write(out / name, clip.waveform, RATE, subtype="PCM_16")
        rows.append({"file": name, "label": clip.label, "caption": clip.caption})
    csv_path = out / "clips.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        w.writeheader()
        w.writerows(rows)
    return csv_path


# -- The attribute world ----------------------------------------------------------------------------
# The same twelve classes, drawn so that every attribute word a caption names is true of the audio next
# to any other clip of its class: a named attribute's two words take its parameter from two bands with a
# gap between them, inside generate's ranges (but for fast sweeps). A "loud" clip has at least twice a
# "quiet" one's peak gain, so it is ≥ 5.8 dB louder, and its background noise scales with the gain; a
# "fast" sweep glides in under 0.8 s, a "slow" one in over 1.5 s; and so on. Each attribute of a clip goes
# unnamed with probability UNNAMED_SHARE: its parameter is then drawn as ``generate`` draws it (the whole
# range, gaps included) and the caption's phrasing has no slot for it, so the world still holds every
# sound of ``generate``'s. The default bundled checkpoint is trained on it (recipe ``hard-negatives``);
# the class-only one on ``generate``'s world, whose loudness and speed words are thresholds without a
# gap (for sweeps, relative to the clip's length).

ATTRIBUTE_WORDS: dict[str, tuple[str, str]] = {
    "loud": ("quiet", "loud"), "speed": ("slow", "fast"), "pitch": ("low", "high"),
}

# (class, attribute) → {word: (low, high) of the parameter that carries it}; the parameter names are synthesise's.
ATTRIBUTE_BANDS: dict[tuple[str, str], tuple[str, dict[str, tuple[float, float]]]] = {
    **{(label, "loud"): ("gain", {"quiet": (0.15, 0.28), "loud": (0.55, 0.9)}) for label in CLASSES},
    ("rising sweep", "speed"): ("glide", {"slow": (1.5, 2.0), "fast": (0.4, 0.8)}),  # seconds from start to end
    ("falling sweep", "speed"): ("glide", {"slow": (1.5, 2.0), "fast": (0.4, 0.8)}),
    ("tremolo", "speed"): ("lfo", {"slow": (4.0, 5.5), "fast": (9.0, 12.0)}),  # Hz
    ("decaying hits", "speed"): ("gap", {"slow": (0.9, 1.2), "fast": (0.4, 0.55)}),  # seconds between hits
    ("siren", "speed"): ("rate", {"slow": (0.5, 0.8), "fast": (1.8, 2.5)}),  # Hz
    ("chord", "pitch"): ("root", {"low": (180.0, 230.0), "high": (330.0, 400.0)}),  # Hz
    ("tremolo", "pitch"): ("f0", {"low": (300.0, 420.0), "high": (700.0, 900.0)}),
    ("decaying hits", "pitch"): ("f0", {"low": (300.0, 500.0), "high": (1000.0, 1500.0)}),
    ("siren", "pitch"): ("centre", {"low": (600.0, 700.0), "high": (880.0, 1000.0)}),
}
CLASS_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    label: tuple(a for (lab, a) in ATTRIBUTE_BANDS if lab == label) for label in CLASSES
}
UNNAMED_SHARE = 1 / 3  # chance that a random clip's caption leaves one of its attributes unnamed

# The attribute world's phrasings: CLASSES' (less one that names a speed without a slot) and more that
# name attributes, so that whichever attributes a clip names, each has a phrasing naming it and no other
# attribute the clip leaves unnamed.
ATTRIBUTE_PHRASINGS: dict[str, tuple[str, ...]] = {
    label: tuple(p for p in CLASSES[label] if p != "a note whose volume beats quickly") + extra
    for label, extra in {
        "low tone": ("a {loud} deep tone", "a low tone, {loud}"),
        "high tone": ("a {loud} high beep", "a high tone, {loud}"),
        "rising sweep": ("a {loud} {speed} rising sweep", "a {speed} glide upwards"),
        "falling sweep": ("a {loud} {speed} falling sweep", "a {speed} glide downwards"),
        "white noise": ("a {loud} noise like static", "white noise, {loud}"),
        "low rumble": ("a {loud} deep rumble", "a low rumble, {loud}"),
        "slow clicks": ("{loud} slow ticking", "slow clicks, {loud}"),
        "fast clicks": ("{loud} rapid clicking", "fast clicks, {loud}"),
        "chord": ("a {loud} {pitch} chord", "a chord in a {pitch} register", "a {pitch} pitched chord, {loud}"),
        "tremolo": ("a {loud} {pitch} tone with {speed} tremolo", "a {pitch} pitched tremolo",
                    "a {speed} tremolo, {loud}"),
        "decaying hits": ("{loud} {pitch} pitched hits that fade", "{speed} {pitch} hits decaying",
                          "{loud} hits, {speed}, ringing out", "{pitch} pitched hits fading away"),
        "siren": ("a {loud} {pitch} pitched siren", "a {speed} {pitch} siren wailing", "a {speed} siren, {loud}",
                  "a siren wailing at a {pitch} pitch"),
    }.items()
}


def slots(phrasing: str) -> set[str]:
    """The attribute slots of a phrasing: {"loud", "speed"} for "a {loud} {speed} rising sweep"."""
    return {name for _, name, _, _ in string.Formatter().parse(phrasing) if name}


def phrasings_for(label: str, named, naming: str | None = None) -> tuple[str, ...]:
    """The attribute world's phrasings of ``label`` that name only attributes in ``named`` (and ``naming``)."""
    return tuple(p for p in ATTRIBUTE_PHRASINGS[label]
                 if slots(p) <= set(named) and (naming is None or naming in slots(p)))


def phrasings_naming(label: str, attribute: str) -> tuple[str, ...]:
    """The attribute world's phrasings of ``label`` that name ``attribute`` (have its slot)."""
    return phrasings_for(label, CLASS_ATTRIBUTES[label], attribute)


def make_attribute_clip(label: str, rng: np.random.Generator, words: dict[str, str] | None = None,
                        phrasing: str | None = None, min_s: float = 2.0, max_s: float = 4.0) -> DemoClip:
    """One attribute-world clip of ``label`` and its caption, in ``phrasing`` (else drawn among those that
    fit). ``words`` (attribute → word) are the attributes its caption names; without it, each attribute of
    the class is named with a random word, or left unnamed with probability UNNAMED_SHARE. A named
    attribute's parameter is drawn from its word's band; an unnamed one's as ``generate`` draws it."""
    if words is None:
        words = {a: ATTRIBUTE_WORDS[a][int(rng.integers(2))] for a in CLASS_ATTRIBUTES[label]
                 if rng.random() >= UNNAMED_SHARE}
    seconds = float(rng.uniform(min_s, max_s))
    fixed = {}
    for a, word in words.items():
        name, bands = ATTRIBUTE_BANDS[label, a]
        fixed[name] = float(rng.uniform(*bands[word]))
    if "glide" in fixed:  # synthesise takes a sweep's span as a fraction of the clip
        fixed["span"] = fixed.pop("glide") / seconds
        fixed["lo"], fixed["hi"] = float(rng.uniform(200, 300)), float(rng.uniform(2400, 3600))  # 3–4.2 octaves
    if label == "siren" and "pitch" in words:
        fixed["depth"] = float(rng.uniform(150, 300))
    if "gain" in fixed:
        fixed["noise"] = fixed["gain"] * float(rng.uniform(0, 0.01))  # background noise follows the gain
    wave, _ = synthesise(label, rng, seconds, fixed)
    if phrasing is None:
        options = phrasings_for(label, words)
        phrasing = options[int(rng.integers(len(options)))]
    elif not slots(phrasing) <= set(words):
        raise ValueError(f"{phrasing!r} names an attribute the clip leaves unnamed ({sorted(words)})")
    return DemoClip(wave, label, phrasing.format(**words), dict(words))


def generate_attributed(seed: int, n: int, labels: tuple[str, ...] = LABELS) -> list[DemoClip]:
    """``n`` attribute-world clips cycling through ``labels`` in order, from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [make_attribute_clip(labels[i % len(labels)], rng) for i in range(n)]


@dataclass(frozen=True)
class AttributePair:
    """Two clips of one class whose captions differ in one attribute word only (the other words shared)."""

    label: str
    attribute: str
    clips: tuple[DemoClip, DemoClip]


def attribute_pairs(seed: int, per_attribute: int) -> list[AttributePair]:
    """``per_attribute`` pairs for every (class, attribute) of the attribute world, each two independent
    clips with opposite words for the attribute, the same other words and one phrasing naming it."""
    rng = np.random.default_rng(seed)
    pairs = []
    for label in LABELS:
        for a in CLASS_ATTRIBUTES[label]:
            for _ in range(per_attribute):
                shared = {b: ATTRIBUTE_WORDS[b][int(rng.integers(2))] for b in CLASS_ATTRIBUTES[label] if b != a}
                options = phrasings_naming(label, a)
                phrasing = options[int(rng.integers(len(options)))]
                clips = tuple(make_attribute_clip(label, rng, {**shared, a: w}, phrasing) for w in ATTRIBUTE_WORDS[a])
                pairs.append(AttributePair(label, a, clips))
    return pairs
