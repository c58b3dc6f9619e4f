"""The demo sound world: a seeded, labelled set of synthetic clips a person can tell apart by ear.

Twelve classes (steady tones, sweeps, noises, click trains, a chord, tremolo, hits, a siren), each
clip drawn with random attributes (pitch, speed, loudness, length) and given a caption that names
them in one of several phrasings. The same seed gives the same clips and captions, bit for bit.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
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
    """One generated clip: mono float32 samples at RATE, its class label and its caption."""

    waveform: np.ndarray
    label: str
    caption: str


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


def synthesise(label: str, rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, dict[str, str]]:
    """Samples of one clip of class ``label`` and the attribute words its caption may use."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    speed = "slow"
    if label == "low tone":
        x = _tone(rng.uniform(80, 220), n)
    elif label == "high tone":
        x = _tone(rng.uniform(1500, 3500), n, (1.0, 0.1))
    elif label in ("rising sweep", "falling sweep"):
        lo, hi = rng.uniform(150, 400), rng.uniform(2000, 5000)
        span = rng.uniform(0.5, 1.0) * seconds
        speed = "fast" if span < 0.75 * seconds else "slow"
        frac = np.clip(t / span, 0, 1)
        f = lo * (hi / lo) ** frac if label == "rising sweep" else hi * (lo / hi) ** frac
        x = _tone(f, n, (1.0, 0.2))
    elif label == "white noise":
        x = rng.standard_normal(n) * 0.5
    elif label == "low rumble":
        x = _lowpass(rng.standard_normal(n), rng.uniform(60, 180)) * 8
        x *= 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
    elif label == "slow clicks":
        x = _clicks(rng, n, rng.uniform(1.5, 4))
    elif label == "fast clicks":
        speed = "fast"
        x = _clicks(rng, n, rng.uniform(15, 40))
    elif label == "chord":
        root = rng.uniform(180, 400)
        x = sum(_tone(root * r, n, (1.0, 0.2)) for r in (1.0, 1.26, 1.5)) / 2
    elif label == "tremolo":
        lfo = rng.uniform(4, 12)
        speed = "fast" if lfo > 8 else "slow"
        x = _tone(rng.uniform(300, 900), n) * (0.55 + 0.45 * np.sin(2 * np.pi * lfo * t))
    elif label == "decaying hits":
        x = np.zeros(n)
        gap = rng.uniform(0.4, 1.2)
        speed = "fast" if gap < 0.7 else "slow"
        f0 = rng.uniform(300, 1500)
        for start in np.arange(rng.uniform(0, 0.2), seconds, gap):
            i = int(start * RATE)
            m = n - i
            tt = np.arange(m) / RATE
            x[i:] += np.sin(2 * np.pi * f0 * tt) * np.exp(-tt * rng.uniform(6, 14))
    elif label == "siren":
        rate_hz = rng.uniform(0.5, 2.5)
        speed = "fast" if rate_hz > 1.5 else "slow"
        centre, depth = rng.uniform(600, 1000), rng.uniform(150, 350)
        x = _tone(centre + depth * np.sin(2 * np.pi * rate_hz * t), n, (1.0, 0.3))
    else:
        raise ValueError(f"unknown demo class {label!r}")
    x = x / (np.max(np.abs(x)) + 1e-9)
    gain = rng.uniform(0.15, 0.9)
    loud = "loud" if gain > 0.55 else "quiet"
    x = x * gain + rng.standard_normal(n) * rng.uniform(0, 0.01)  # a little background noise
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


def write_world(seed: int, n: int, out: str | Path) -> Path:
    """Write ``n`` clips as 16-bit WAV files plus ``clips.csv`` (file,label,caption); return the CSV."""
    import soundfile as sf

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, clip in enumerate(generate(seed, n)):
        name = f"{i:04d}_{clip.label.replace(' ', '-')}.wav"
        sf.write(out / name, clip.waveform, RATE, subtype="PCM_16")
        rows.append({"file": name, "label": clip.label, "caption": clip.caption})
    csv_path = out / "clips.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        w.writeheader()
        w.writerows(rows)
    return csv_path
