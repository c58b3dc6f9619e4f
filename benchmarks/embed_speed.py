"""Prints embedding throughput and the cost of a caption edit (figures, not assertions).

    python -m benchmarks.embed_speed [--checkpoint bundled] [--n 64]
"""

import argparse
import time

import numpy as np

from clap_core import demo_world
from clap_core.checkpoints import BUNDLED, load_checkpoint
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=BUNDLED)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    t = time.perf_counter()
    ck = load_checkpoint(args.checkpoint, device=args.device)
    print(f"load {args.checkpoint} on {ck.device}: {time.perf_counter() - t:.2f} s, {ck.n_params / 1e6:.2f} M params")
    clips = demo_world.generate(7, args.n)
    waves, texts = [c.waveform for c in clips], [c.caption for c in clips]
    emb = Embedder(ck, batch_size=16)
    t = time.perf_counter()
    E_a = emb.embed_audio(waves)
    dt = time.perf_counter() - t
    print(f"audio: {args.n} clips ({np.mean([len(w) for w in waves]) / 48000:.1f} s avg) in {dt:.2f} s = {args.n / dt:.1f} clips/s")
    t = time.perf_counter()
    E_t = emb.embed_texts(texts)
    dt = time.perf_counter() - t
    print(f"text: {args.n} captions in {dt:.3f} s = {args.n / dt:.0f} captions/s")
    t = time.perf_counter()
    emb.embed_audio(waves), emb.embed_texts(texts)
    print(f"rerun with nothing changed (all cache hits): {1000 * (time.perf_counter() - t):.1f} ms")
    texts[0] = "a freshly edited caption"
    t = time.perf_counter()
    E_t = emb.embed_texts(texts)
    res = contrastive(E_t, E_a, ck.tau)
    print(f"one caption edited → re-embed + all loss terms (N={args.n}): {1000 * (time.perf_counter() - t):.1f} ms; "
          f"L = {res.loss:.4f}")


if __name__ == "__main__":
    main()
