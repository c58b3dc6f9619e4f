"""``python -m clap_core``: see clap_core.cli."""

import os
import sys

# Before torch is imported: OpenMP threads sleep instead of spinning while they wait (the user's setting wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numpy's products here are small (N ≤ 64): one BLAS thread; two stall ~24 ms when the other core is busy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .cli import main  # noqa: E402

sys.exit(main())
