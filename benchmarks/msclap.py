"""MS-CLAP size and CPU throughput with random weights of the real shapes (tests/reference/msclap_random.py).

    .venv/bin/python benchmarks/msclap.py [2023 2022]

Prints parameters (the embedding path: the files' classifier heads are not built), fp32 bytes of weights and
buffers in memory, and clips/s and captions/s through the Embedder (fp32, batch 8, one clip = one window:
7 s / 5 s of real audio tiled) with the load average, since the 2 cores are shared.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reference")]

from msclap_random import random_state_dict, write_tokenizers  # noqa: E402

from clap_core.embed import Embedder  # noqa: E402
from clap_core.msclap import VERSIONS, load_msclap  # noqa: E402


def measure(version: str, reps: int = 2) -> dict:
    ref = np.load(ROOT / "tests" / "reference" / f"msclap-{version}.npz")
    with tempfile.TemporaryDirectory() as tmp:
        pth = Path(tmp) / "w.pth"
        torch.save({"model": random_state_dict(json.loads(str(ref["spec"])), version)}, pth)
        toks = write_tokenizers(Path(tmp) / "tok")
        ck = load_msclap(str(pth), device="cpu", precision="fp32", tokenizer=toks[VERSIONS[version].text_model])
    m = ck.model
    nbytes = sum(t.numel() * t.element_size() for t in [*m.parameters(), *m.buffers()])
    rng = np.random.default_rng(0)
    L = VERSIONS[version].window_samples
    out = {"version": version, "params_m": round(ck.n_params / 1e6, 1), "fp32_mb": round(nbytes / 1e6)}
    emb = Embedder(ck, batch_size=8)
    emb.embed_audio([rng.standard_normal(L).astype(np.float32) * 0.1 for _ in range(8)])  # warm-up
    t, load0 = time.perf_counter(), os.getloadavg()[0]
    for _ in range(reps):
        emb.embed_audio([rng.standard_normal(L).astype(np.float32) * 0.1 for _ in range(8)])
    out["clips_per_s"] = round(8 * reps / (time.perf_counter() - t), 2)
    caps = [f"a sound number {i} with some words about it, take {r}" for r in range(reps + 1) for i in range(8)]
    emb.embed_texts(caps[:8])
    t = time.perf_counter()
    emb.embed_texts(caps[8:])
    out["captions_per_s"] = round(8 * reps / (time.perf_counter() - t), 1)
    out["load_avg"] = round((load0 + os.getloadavg()[0]) / 2, 1)
    return out


if __name__ == "__main__":
    torch.set_num_threads(2)
    for v in sys.argv[1:] or ["2023", "2022"]:
        print(json.dumps(measure(v)), flush=True)
