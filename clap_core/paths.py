"""Where the project's shipped files live (the bundled checkpoints, the example clips)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = ROOT / "assets"
BUNDLED_DIR = ASSETS_DIR / "clap-demo"  # the default demo checkpoint (recipe hard-negatives)
BUNDLED_CLASSES_DIR = ASSETS_DIR / "clap-demo-classes"  # the class-only demo checkpoint (recipe classes)
BUNDLED_SIGMOID_DIR = ASSETS_DIR / "clap-demo-sigmoid"  # the hard-negatives recipe with the sigmoid loss (recipe sigmoid)
EXAMPLES_DIR = ASSETS_DIR / "examples"
REAL_DIR = ASSETS_DIR / "real"  # 23 real CC BY 4.0 recordings with captions.csv (ATTRIBUTION.md there)
