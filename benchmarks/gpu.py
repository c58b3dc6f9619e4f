"""End-to-end audio embedding throughput on a GPU (figures, not assertions): decode → resample → features → model.

    python -m benchmarks.gpu                      # CUDA: a full-size model, batch 64 and 256, 256 clips
    python -m benchmarks.gpu --device cpu --n 16  # a smoke run on CPU

Clips: demo-world clips (2–4 s) stored as 44.1 kHz 16-bit WAV bytes, so that the resample stage to the model's
48 kHz is real. The path is the app's: ``clap_core.batch.read_clips`` decodes the bytes, then a fresh
``Embedder(checkpoint, batch_size=B)`` (its default feature backend) embeds the clips. The stage shares come from
timing wrappers around ``clap_core.audio.resample`` (called by ``DecodedClip.waveform``) and
``clap_core.embed.window_features``; 'model' is the rest of ``embed_clips``: the audio tower and the projection on
the device, the transfers and the cache bookkeeping. The model is full-size with random weights (transformers'
default ClapConfig, seed 0), loaded with precision "auto" (bf16 on CUDA). Without CUDA (and without --device cpu)
it prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .common import DemoFiles, demo_files, full_size_folder, machine_lines, table

if TYPE_CHECKING:
    from clap_core.checkpoints import LoadedCheckpoint


@contextlib.contextmanager
def stage_timers() -> Iterator[dict[str, float]]:
    """Accumulate the seconds spent in resample() and window_features() while the block runs."""
    import clap_core.audio as audio
    import clap_core.embed as embed

    spent = {"resample": 0.0, "features": 0.0}
    originals = audio.resample, embed.window_features

    def timed(name, fn):
        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
        return run

    audio.resample = timed("resample", originals[0])
    embed.window_features = timed("features", originals[1])
    try:
        yield spent
    finally:
        audio.resample, embed.window_features = originals


def end_to_end(ck: LoadedCheckpoint, files: DemoFiles, batch: int) -> dict:
    """Decode ``files`` and embed them with a fresh Embedder(batch_size=batch): seconds per stage and in all."""
    import torch

    from clap_core.batch import read_clips
    from clap_core.embed import Embedder

    cuda = ck.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    clips, outcomes = read_clips(files.files)
    decode = time.perf_counter() - t0
    if not all(o.added for o in outcomes):
        raise RuntimeError("; ".join(o.message for o in outcomes if not o.added))
    emb = Embedder(ck, batch_size=batch)
    with stage_timers() as spent:
        t1 = time.perf_counter()
        emb.embed_clips(clips)
        if cuda:
            torch.cuda.synchronize()
        embed = time.perf_counter() - t1
    total = decode + embed
    return {"decode": decode, "resample": spent["resample"], "features": spent["features"],
            "model": embed - spent["resample"] - spent["features"], "total": total, "backend": emb.features,
            "peak_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None}


def main() -> None:
    """Measure and print (or say that there is no CUDA device)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    ap.add_argument("--n", type=int, default=256, help="clips per measurement")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256], help="Embedder batch sizes")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    ap.add_argument("--source-rate", type=int, default=44_100, help="the WAV files' rate (48000: no resampling)")
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if device is None or (device.startswith("cuda") and not torch.cuda.is_available()):
        print("benchmarks.gpu: no CUDA device on this machine; nothing measured (--device cpu --n 16 runs a CPU smoke "
              "run)")
        return
    from clap_core.checkpoints import load_checkpoint

    print("# End-to-end audio embedding throughput (decode → resample → features → model)\n")
    print("\n".join(f"- {line}" for line in machine_lines()))
    if device.startswith("cuda"):
        print(f"- device: {torch.cuda.get_device_name(device)}")
    files = demo_files(41, args.n, rate=args.source_rate)
    with full_size_folder() as folder:
        ck = load_checkpoint(str(folder), device=device, precision=args.precision)
    print(f"- full-size random-weight model: {ck.n_params / 1e6:.1f} M parameters on {ck.device}, precision "
          f"{args.precision!r} → {ck.precision}; {args.n} clips of 2–4 s at {args.source_rate} Hz\n")
    warm = demo_files(42, min(args.batch) if device.startswith("cuda") else 1, rate=args.source_rate)
    rows = []
    for batch in args.batch:
        b = min(batch, args.n)
        end_to_end(ck, warm, b)  # first calls at this shape (kernels, allocator): not the steady state
        r = end_to_end(ck, files, b)
        share = {k: f"{100 * r[k] / r['total']:.0f} %" for k in ("decode", "resample", "features", "model")}
        rows.append([b if b == batch else f"{b} (asked {batch})", f"{args.n / r['total']:.1f}",
                     f"{r['total']:.2f}", share["decode"], share["resample"], f"{share['features']} ({r['backend']})",
                     share["model"], f"{1000 * r['total'] / args.n:.1f}",
                     f"{r['peak_gb']:.1f}" if r["peak_gb"] is not None else "–"])
    print(table(["batch", "clips/s", "seconds", "decode", "resample", "features (backend)", "model", "ms/clip",
                 "peak GPU GB"], rows))


if __name__ == "__main__":
    main()
