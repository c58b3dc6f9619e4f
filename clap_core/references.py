"""Published figures of the known checkpoints, with their source and protocol, and the comparison an evaluation on
a standard dataset (clap_core.datasets) prints next to what it measured.

The references attach to the names of :data:`clap_core.checkpoints.KNOWN_CHECKPOINTS` through :data:`REFERENCES`
(name → references); that registry is not edited. Only figures whose source says them are here:

* msclap-2022 / msclap-2023, ESC-50: microsoft/CLAP's README and its ``src/zero_shot_classification.py``.
* laion/larger_clap_*, ESC-50: LAION-CLAP's README (the 2023-04-07 release) gives each larger checkpoint's zero-shot
  ESC-50 accuracy under its file name; the hub models are taken to be those files converted (LAION-CLAP's
  maintainer did not upload them and could not confirm it: LAION-AI/CLAP issue #172), so each carries that caveat.
* laion/clap-htsat-unfused and -fused: left out. LAION-CLAP's README gives ESC-50 figures for the pip package's
  default checkpoints on the first fold only, and which of its checkpoints the hub models were converted from is
  not stated; no figure is attached rather than a guessed one.

A gap of more than :data:`GAP_POINTS` points between a reference and a measurement carries the protocol
differences that usually explain such gaps, aspect by aspect (templates, labels, folds, sample rate, truncation
vs fusion, the clips).
"""

from __future__ import annotations

from dataclasses import dataclass

from .datasets import LABEL_CLEANING, Protocol

GAP_POINTS = 3.0  # a gap above this many percentage points is explained by the protocol differences

MSCLAP_README = "microsoft/CLAP README and src/zero_shot_classification.py"
LAION_README = "LAION-AI/CLAP README, 'Update 2023.4.7' (the larger CLAP checkpoints)"
LAION_CAVEAT = ("the hub model is taken to be {file} converted to transformers; LAION-CLAP's maintainer did not "
                "upload it and could not confirm which checkpoint it is (LAION-AI/CLAP issue #172)")


@dataclass(frozen=True)
class Reference:
    """A published figure: checkpoint, dataset, metric, value (percent), source, and the protocol behind it as far
    as the source states it (None: not stated)."""

    checkpoint: str
    dataset: str  # as clap_core.datasets.Standard.dataset
    metric: str  # "zero_shot_accuracy"
    value: float  # percent
    source: str
    templates: tuple[str, ...] | None = None
    labels: str | None = None  # "cleaned": the class names with '_' → ' '
    clips: int | None = None  # clips evaluated: all folds together when it is the whole set
    seconds: float | None = None  # the clips' length
    rate: int | None = None  # the rate the audio was fed to the model at
    fusion: bool | None = None  # whether feature fusion was used
    caveat: str = ""

    def protocol(self) -> dict[str, str]:
        """The reference's protocol in words, aspect by aspect (Protocol.ASPECTS)."""
        unknown = "not stated by the source"
        return {
            "templates": " + ".join(map(repr, self.templates)) if self.templates else unknown,
            "labels": LABEL_CLEANING if self.labels == "cleaned" else unknown,
            "folds": f"all {self.clips} clips at once (every fold)" if self.clips else unknown,
            "sample_rate": f"fed at {self.rate} Hz" if self.rate else unknown,
            "truncation": unknown if self.fusion is None else ("fusion on" if self.fusion else "no fusion"),
            "clips": f"{self.seconds:g} s each" if self.seconds else unknown,
        }


def _msclap(name: str, value: float, template: str) -> Reference:
    return Reference(name, "ESC-50", "zero_shot_accuracy", value, f"{MSCLAP_README} ('ESC50 Accuracy: {value}%')",
                     templates=(template,), labels="cleaned", clips=2000, seconds=5.0, rate=44_100, fusion=False)


def _larger(name: str, file: str, value: float) -> Reference:
    return Reference(name, "ESC-50", "zero_shot_accuracy", value, f"{LAION_README}: {file}, zero-shot ESC-50 {value}%",
                     rate=48_000, fusion=False, caveat=LAION_CAVEAT.format(file=file))


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "msclap-2022": (_msclap("msclap-2022", 82.6, "this is a sound of {}"),),
    "msclap-2023": (_msclap("msclap-2023", 93.9, "this is the sound of {}"),),
    "laion/larger_clap_general": (_larger("laion/larger_clap_general", "music_speech_audioset_epoch_15_esc_89.98.pt",
                                          89.98),),
    "laion/larger_clap_music": (_larger("laion/larger_clap_music", "music_audioset_epoch_15_esc_90.14.pt", 90.14),),
    "laion/larger_clap_music_and_speech": (_larger("laion/larger_clap_music_and_speech",
                                                   "music_speech_epoch_15_esc_89.25.pt", 89.25),),
}

ASPECT_NOTES = {  # why each aspect moves a zero-shot figure
    "templates": "the prompt wording alone moves zero-shot accuracy by several points",
    "labels": "label wording (underscores, synonyms) changes the text embedding of every class",
    "folds": "a subset of folds or clips is another, smaller sample: its accuracy varies around the whole set's",
    "sample_rate": "another rate, or another resampler, shifts the log-mel features",
    "truncation": "crop, repeat-pad, windows or fusion each show the model a different part of a long clip",
    "clips": "other lengths, partial downloads or re-encoded files are another test set",
}


def lookup(checkpoint: str, dataset: str, metric: str = "zero_shot_accuracy") -> Reference | None:
    """The published reference of ``checkpoint`` (a registry name) on ``dataset``, or None."""
    return next((r for r in REFERENCES.get(checkpoint, ()) if r.dataset == dataset and r.metric == metric), None)


def _differs(ref: Reference, facts: dict) -> dict[str, bool | None]:
    """Per aspect: whether this run differs from the reference (None: the source does not say)."""
    seconds = facts.get("seconds")
    return {
        "templates": None if ref.templates is None else tuple(facts["templates"]) != ref.templates,
        "labels": None if ref.labels is None else facts["labels"] != ref.labels,
        "folds": None if ref.clips is None else (facts["evaluated"] != ref.clips or facts["listed"] != ref.clips),
        "sample_rate": None if ref.rate is None else facts["rate"] != ref.rate,
        "truncation": None if ref.fusion is None else facts["fusion"] != ref.fusion,
        "clips": None if ref.seconds is None or seconds is None
        else max(abs(seconds[0] - ref.seconds), abs(seconds[1] - ref.seconds)) > 0.05,
    }


def differences(ref: Reference, ours: Protocol) -> list[dict]:
    """Aspect by aspect: here, the reference, whether they differ (None: its source does not say) and why that
    aspect matters."""
    mine, theirs, differs = ours.to_dict(), ref.protocol(), _differs(ref, ours.facts)
    return [{"aspect": a, "here": mine[a], "reference": theirs[a], "differs": differs[a], "why": ASPECT_NOTES[a]}
            for a in Protocol.ASPECTS]


def compare(checkpoint: str, dataset: str, measured: float | None, ours: Protocol,
            metric: str = "zero_shot_accuracy") -> dict | None:
    """The reference next to the measured figure (a share in 0…1), the gap in points, and — for a gap over
    GAP_POINTS — the aspects of the protocol that differ from the reference's or that its source does not state
    (those that usually explain such a gap); None without a reference or a figure."""
    ref = lookup(checkpoint, dataset, metric)
    if ref is None or measured is None:
        return None
    here = 100 * measured
    gap = here - ref.value
    out = {"checkpoint": checkpoint, "dataset": dataset, "metric": metric, "published": ref.value,
           "measured": here, "gap_points": gap, "source": ref.source, "caveat": ref.caveat,
           "reference_protocol": ref.protocol()}
    if abs(gap) > GAP_POINTS:
        out["differences"] = [d for d in differences(ref, ours) if d["differs"] is not False]
    return out


def lines(comparison: dict) -> list[str]:
    """The comparison as text lines (the CLI's)."""
    c = comparison
    side = "above" if c["gap_points"] >= 0 else "below"
    out = [f"reference: {c['checkpoint']} on {c['dataset']}: {c['published']:.2f} % published ({c['source']}); "
           f"measured {c['measured']:.2f} %, {abs(c['gap_points']):.2f} points {side}"]
    if c["caveat"]:
        out.append(f"  caveat: {c['caveat']}")
    if "differences" in c:
        out.append(f"  a gap over {GAP_POINTS:g} points; the protocol differences that usually explain it:")
        for d in c["differences"]:
            state = "differs" if d["differs"] else "unknown"
            out.append(f"   - {d['aspect'].replace('_', ' ')} ({state}): here {d['here']}; reference {d['reference']} "
                       f"— {d['why']}")
    return out


__all__ = ["GAP_POINTS", "REFERENCES", "Reference", "compare", "differences", "lines", "lookup"]
