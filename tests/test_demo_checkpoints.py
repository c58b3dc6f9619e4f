"""The two shipped demo checkpoints: the attribute world's words are true of its audio, each checkpoint's
held-out figures are the ones its train_report.json states, and training rebuilds bit for bit."""

import hashlib
import json
import re

import numpy as np
import pytest

from clap_core import demo_world
from clap_core.attributes import evaluate_held_out
from clap_core.checkpoints import (
    BUNDLED,
    BUNDLED_CLASSES,
    BUNDLED_SIGMOID,
    SHIPPED,
    known,
    load_checkpoint,
    params_millions,
)
from clap_core.training import RECIPES, TrainConfig, recipe_config, train_demo

RATE = demo_world.RATE
CLASSES_WEIGHTS_SHA256 = "0267bbaa4eabe1c46d6e26b1f19bbb41a05ea9d93beab0b898a2cb06f148260c"  # the original bytes


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- measures of the audio, one per attribute (higher means the second word: loud, fast, high) -------------
def _frames(x: np.ndarray, seconds: float) -> np.ndarray:
    h = int(seconds * RATE)
    return x[: len(x) // h * h].astype(np.float64).reshape(-1, h)


def _level_db(x: np.ndarray) -> float:
    """The loudest 20 ms of the clip, dB RMS (steady sounds: their level; clicks and hits: their peaks)."""
    return float(20 * np.log10(np.sqrt((_frames(x, 0.02) ** 2).mean(1)).max()))


def _median_frequency(x: np.ndarray) -> float:
    """The frequency below which half the clip's power lies."""
    power = np.cumsum(np.abs(np.fft.rfft(x.astype(np.float64))) ** 2)
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.searchsorted(power, power[-1] / 2)])


def _pitch_track(x: np.ndarray) -> np.ndarray:
    """Frequency per 10 ms frame from zero crossings (the demo tones' fundamentals dominate)."""
    crossings = np.abs(np.diff(np.signbit(_frames(x, 0.01)).astype(np.int8), axis=1)).sum(1)
    return crossings / 2 / 0.01


def _sweep_speed(x: np.ndarray) -> float:
    """Minus the time the sweep takes to cover half its log-frequency range."""
    track = np.log(np.maximum(_pitch_track(x), 1))[5:-5]  # without the fades
    start, end = np.median(track[:3]), np.median(track[-10:])
    return -float(np.flatnonzero((track - (start + end) / 2) * np.sign(end - start) > 0)[0] * 0.01)


def _tremolo_speed(x: np.ndarray) -> float:
    """The strongest frequency (1–20 Hz) of the amplitude envelope."""
    env = np.sqrt((_frames(x, 0.005) ** 2).mean(1))[10:-10]
    spectrum = np.abs(np.fft.rfft((env - env.mean()) * np.hanning(len(env)), 1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 0.005)
    band = (freqs > 1) & (freqs < 20)
    return float(freqs[band][np.argmax(spectrum[band])])


def _hits_speed(x: np.ndarray) -> float:
    """Minus the median time between hits (onsets: a 5 ms frame 6 dB over the one before)."""
    db = 20 * np.log10(np.sqrt((_frames(x, 0.005) ** 2).mean(1)) + 1e-9)
    onsets = np.flatnonzero(np.diff(db) > 6) + 1
    onsets = onsets[np.insert(np.diff(onsets) > 20, 0, True)]  # one onset per 100 ms
    return -float(np.median(np.diff(onsets)) * 0.005)


def _siren_speed(x: np.ndarray) -> float:
    """The rate (Hz) of the sinusoid that best fits the pitch track."""
    track = _pitch_track(x)[3:-3]
    t = np.arange(len(track)) * 0.01
    residuals = [np.linalg.lstsq(np.stack([np.sin(2 * np.pi * r * t), np.cos(2 * np.pi * r * t), np.ones_like(t)], 1),
                                 track, rcond=None)[1][0] for r in np.arange(0.2, 4.0, 0.02)]
    return float(np.arange(0.2, 4.0, 0.02)[int(np.argmin(residuals))])


SPEED = {"rising sweep": _sweep_speed, "falling sweep": _sweep_speed, "tremolo": _tremolo_speed,
         "decaying hits": _hits_speed, "siren": _siren_speed}


def _measure(label: str, attribute: str):
    return {"loud": _level_db, "pitch": _median_frequency}.get(attribute) or SPEED[label]


def test_attribute_world_names_every_attribute_with_a_slot():
    for label in demo_world.LABELS:
        assert "loud" in demo_world.CLASS_ATTRIBUTES[label]
        for a in demo_world.CLASS_ATTRIBUTES[label]:
            assert demo_world.phrasings_naming(label, a), (label, a)


def _words(caption: str) -> list[str]:
    return re.findall(r"[\w-]+", caption)


def test_captions_name_only_the_clip_s_words():
    """A caption names an attribute only with the clip's word for it, and never one the clip leaves unnamed."""
    for c in demo_world.generate_attributed(8, 4 * len(demo_world.LABELS)):
        for a in demo_world.CLASS_ATTRIBUTES[c.label]:
            said = {w for w in demo_world.ATTRIBUTE_WORDS[a] if w in _words(c.caption)}
            shared = {w for p in demo_world.ATTRIBUTE_PHRASINGS[c.label] if a not in demo_world.slots(p)
                      for w in _words(p)}  # words a phrasing has anyway ("a slow ticking like a clock")
            assert said - shared <= {c.words.get(a)}, (c.caption, c.words)
    with pytest.raises(ValueError, match="unnamed"):
        demo_world.make_attribute_clip("chord", np.random.default_rng(0), {"loud": "loud"}, "a {loud} {pitch} chord")


def test_attribute_words_agree_with_the_audio():
    """Within a class, every clip whose caption says loud (fast, high) measures above every clip that says
    quiet (slow, low): the words are true of the audio, not on average but clip by clip."""
    clips = demo_world.generate_attributed(5, 24 * len(demo_world.LABELS))
    checked = 0
    for label in demo_world.LABELS:
        mine = [c for c in clips if c.label == label]
        for a in demo_world.CLASS_ATTRIBUTES[label]:
            low_word, high_word = demo_world.ATTRIBUTE_WORDS[a]
            measure = _measure(label, a)
            low = [measure(c.waveform) for c in mine if c.words.get(a) == low_word]
            high = [measure(c.waveform) for c in mine if c.words.get(a) == high_word]
            assert low and high, (label, a)
            assert min(high) > max(low), (label, a, low, high)
            checked += 1
    assert checked == sum(len(v) for v in demo_world.CLASS_ATTRIBUTES.values()) == 21


def test_held_out_pairs_differ_in_the_named_attribute_only():
    for pair in demo_world.attribute_pairs(11, 1):
        a, b = pair.clips
        low_word, high_word = demo_world.ATTRIBUTE_WORDS[pair.attribute]
        assert (a.words[pair.attribute], b.words[pair.attribute]) == (low_word, high_word)
        assert {k: v for k, v in a.words.items() if k != pair.attribute} == \
               {k: v for k, v in b.words.items() if k != pair.attribute}
        differ = [(x, y) for x, y in zip(_words(a.caption), _words(b.caption)) if x != y]
        assert len(_words(a.caption)) == len(_words(b.caption)) and differ == [(low_word, high_word)], differ
        measure = _measure(pair.label, pair.attribute)
        assert measure(b.waveform) > measure(a.waveform), (pair.label, pair.attribute)


def test_registry_names_both_shipped_checkpoints():
    for name, (folder, recipe) in SHIPPED.items():
        entry = known(name)
        assert entry is not None and entry.download_mb == 0 and recipe in RECIPES
        assert (folder / "config.json").is_file() and (folder / "model.safetensors").stat().st_size < 25e6
        assert params_millions(entry) > 0
    assert "hard negatives" in known(BUNDLED_CLASSES).notes
    # the class-only checkpoint is the original, unchanged
    assert _sha256(SHIPPED[BUNDLED_CLASSES][0] / "model.safetensors") == CLASSES_WEIGHTS_SHA256
    assert load_checkpoint(BUNDLED_CLASSES, device="cpu").source == str(SHIPPED[BUNDLED_CLASSES][0])


@pytest.fixture(scope="module")
def held_out():
    names = [BUNDLED, BUNDLED_CLASSES, BUNDLED_SIGMOID]
    return dict(zip(names, evaluate_held_out([load_checkpoint(n, device="cpu") for n in names])))


@pytest.mark.parametrize("name", [BUNDLED, BUNDLED_CLASSES, BUNDLED_SIGMOID])
def test_shipped_figures_reproduce_the_train_report(held_out, name):
    report = json.loads((SHIPPED[name][0] / "train_report.json").read_text())
    got = held_out[name]
    for key in ("eval_seed", "eval_clips", "attribute_pairs_seed", "attribute_pairs", "batch_size"):
        assert got[key] == report[key], key
    rows = 2 * got["attribute_pairs"]
    for key, tol in (("zero_shot_accuracy", 1 / got["eval_clips"]), ("attribute_accuracy_rows", 1 / rows),
                     ("attribute_accuracy_columns", 1 / rows), ("mean_batch_loss", 1e-3), ("tau", 1e-4)):
        assert got[key] == pytest.approx(report[key], abs=tol), key
    for a, figures in got["attribute_accuracy_by_attribute"].items():
        assert figures["pairs"] == report["attribute_accuracy_by_attribute"][a]["pairs"]


def test_hard_negatives_bought_the_attributes(held_out):
    new, old = held_out[BUNDLED], held_out[BUNDLED_CLASSES]
    assert new["zero_shot_accuracy"] >= 0.97
    assert new["attribute_accuracy_rows"] >= 0.90 and new["attribute_accuracy_columns"] >= 0.90
    assert old["attribute_accuracy_rows"] < 0.75 and old["attribute_accuracy_columns"] < 0.75


def test_recipes():
    assert recipe_config("classes") == TrainConfig()  # the class-only recipe is the original defaults
    hard = recipe_config("hard-negatives", seed=7, steps=5)
    assert (hard.seed, hard.steps, hard.world) == (7, 5, "attributes") and hard.hard_negative_share > 0
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_config("nope")


@pytest.mark.parametrize("recipe", ["hard-negatives", "sigmoid"])
def test_rebuild_is_deterministic(tmp_path, recipe):
    """Two short trainings of a recipe from scratch give the same weights, bit for bit (and, for the sigmoid, the
    same learned bias in config.json)."""
    cfg = recipe_config(recipe, clips_per_class=3, steps=8)
    hashes = []
    for run in ("a", "b"):
        train_demo(tmp_path / run, cfg, log=lambda _m: None, evaluate=False)
        hashes.append(_sha256(tmp_path / run / "model.safetensors"))
    assert hashes[0] == hashes[1]
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()
    assert (tmp_path / "a" / "config.json").read_bytes() == (tmp_path / "b" / "config.json").read_bytes()
    if recipe == "sigmoid":
        assert "logit_bias" in json.loads((tmp_path / "a" / "config.json").read_text())


def test_the_sigmoid_checkpoint_carries_its_own_t_and_b():
    from clap_core.sigmoid import resolve_tb

    ck = load_checkpoint(BUNDLED_SIGMOID, device="cpu")
    t, b, source = resolve_tb(ck.model)
    saved = json.loads((SHIPPED[BUNDLED_SIGMOID][0] / "config.json").read_text())["logit_bias"]
    assert b == pytest.approx(saved) and t == pytest.approx(ck.tau) and "checkpoint" in source
