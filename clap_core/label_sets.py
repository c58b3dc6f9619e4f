"""Label presets for zero-shot classification."""

from .demo_world import LABELS as DEMO_WORLD

# The 50 classes of ESC-50 (Piczak 2015), with underscores written as spaces.
ESC50 = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea waves", "crackling fire", "crickets", "chirping birds", "water drops", "wind", "pouring water",
    "toilet flush", "thunderstorm",
    "crying baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing teeth",
    "snoring", "drinking sipping",
    "mouse click", "keyboard typing", "door wood knock", "can opening", "washing machine", "vacuum cleaner",
    "clock alarm", "clock tick", "glass breaking", "door wood creaks",
    "helicopter", "chainsaw", "siren", "car horn", "engine", "train", "church bells", "airplane", "fireworks",
    "hand saw",
)

PRESETS: dict[str, tuple[str, ...]] = {
    "Demo world (12 classes)": DEMO_WORLD,
    "ESC-50 (50 classes)": ESC50,
}
