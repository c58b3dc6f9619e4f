"""``python -m clap_core``: see clap_core.cli."""

import os
import sys

# Before torch is imported: OpenMP threads sleep instead of spinning while they wait (the user's setting wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cli import main  # noqa: E402

sys.exit(main())
