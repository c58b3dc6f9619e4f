"""``python -m clap_core``: see clap_core.cli."""

import sys

from .cli import main

sys.exit(main())
