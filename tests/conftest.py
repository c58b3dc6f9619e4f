import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app and the CLI: set before torch is imported
# The app's batch store (ui/store.py) of this test run, not the user's ~/.cache (servers started by tests inherit it)
os.environ.setdefault("CLAP_EXPLORER_STORE", tempfile.mkdtemp(prefix="clap-explorer-store-"))


@pytest.fixture(scope="session")
def bundled():
    from clap_core.checkpoints import load_checkpoint

    return load_checkpoint("bundled", device="cpu")


@pytest.fixture(scope="session")
def formats():
    from media import all_formats

    return all_formats()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random-weight tiny ClapConfig + processor saved to a temp folder (fusion on, to cover it)."""
    import torch
    from tiny import tiny_config
    from transformers import ClapModel

    from clap_core.training import build_processor, build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer(300)
    cfg = tiny_config(vocab_size=len(tok), fusion=True)
    folder = tmp_path_factory.mktemp("tiny-clap")
    ClapModel(cfg).eval().save_pretrained(folder)
    proc = build_processor(tok)
    proc.feature_extractor.truncation = "fusion"
    proc.save_pretrained(folder)
    return folder
