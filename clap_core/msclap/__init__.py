"""Microsoft's CLAP checkpoints (MS-CLAP 2022: CNN14 + BERT; 2023: HTS-AT + GPT-2) as checkpoints of this project.

The face of the package; UI-free. The parts: :mod:`.model` (the torch modules, the front end they own, saving),
:mod:`.checks` (hostile files refused before anything is built), :mod:`.loading` (reading weights-only,
converting), :mod:`.family` (the checkpoint family: which names it claims, how they load). A loaded MS-CLAP is
the same :class:`~clap_core.family.LoadedCheckpoint` as a transformers CLAP checkpoint, so the Embedder, its
caches, the long-clip policies, precision and fine-tuning work unchanged (the seam: :mod:`clap_core.family`).
"""

from __future__ import annotations

from .checks import MsClapError
from .family import FAMILY, MsClapFamily, converted_dir, load_msclap
from .loading import convert
from .model import HUB_REPO, VERSIONS, MsClapModel, MsClapVersion

__all__ = ["FAMILY", "HUB_REPO", "VERSIONS", "MsClapError", "MsClapFamily", "MsClapModel", "MsClapVersion", "convert",
           "converted_dir", "load_msclap"]
