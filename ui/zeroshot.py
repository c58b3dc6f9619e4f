"""The Zero-shot page's inputs and result: label presets, the text boxes parsed, the classification."""

from __future__ import annotations

from clap_core.checkpoints import BUNDLED
from clap_core.label_sets import PRESETS
from clap_core.zeroshot import ZeroShotResult, zero_shot

from . import state

BATCH_PRESET = "Labels of this batch"
DEFAULT_TEMPLATE = "This is a sound of {}."


def preset_names() -> list[str]:
    """The label presets, then the batch's own labels."""
    return list(PRESETS) + [BATCH_PRESET]


def default_preset_index() -> int:
    """The demo world for the bundled checkpoint, ESC-50 for any other."""
    return 0 if state.shared_checkpoint_name() == BUNDLED else 1  # a fine-tuned bundled one too


def preset_labels(preset: str) -> list[str]:
    """A preset's labels; for the batch preset, the batch's distinct true labels in order."""
    if preset in PRESETS:
        return list(PRESETS[preset])
    return list(dict.fromkeys(lab for lab in state.batch().labels if lab))


def box_height(n_lines: int) -> int:
    """Pixels for a text box that shows up to 12 lines whole (more scroll)."""
    return 40 + 24 * max(3, min(n_lines, 12))


def lines(text: str) -> list[str]:
    """The non-blank lines of a text box, stripped."""
    return [x.strip() for x in text.splitlines() if x.strip()]


def classify(labels: list[str], templates: list[str]) -> ZeroShotResult:
    """Zero-shot over the batch's clips at the τ in use; raises ValueError on bad labels or templates."""
    items = state.batch()
    _, E_a = state.embeddings(items)
    true = items.labels
    return zero_shot(state.embedder(), E_a, labels, templates, tau=state.tau(),
                     true_labels=true if any(true) else None)
