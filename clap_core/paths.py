"""Where the project's shipped files live (the bundled checkpoint, the example clips)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = ROOT / "assets"
BUNDLED_DIR = ASSETS_DIR / "clap-demo"
EXAMPLES_DIR = ASSETS_DIR / "examples"
