"""Memory with two checkpoints loaded (bundled + a full-size random-weight one) and evaluation speed of each
(figures, not assertions).

    python -m benchmarks.two_checkpoints [--n 48]

One process, as the app holds them: load the bundled checkpoint, embed the default scenario; load the full-size
one, embed the same batch; evaluate a demo-world set (the held-out seed) with each through
clap_core.evaluate (the Evaluate page's and the CLI's code). Prints RSS after each step and the peak (VmHWM).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .common import full_size_folder, machine_lines, memory_mb  # noqa: E402


def _status(field: str) -> float:
    rss, peak = memory_mb(os.getpid())
    return rss if field == "VmRSS" else peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48, help="demo-world clips to evaluate with each checkpoint")
    args = ap.parse_args()
    from clap_core.checkpoints import BUNDLED, load_checkpoint
    from clap_core.embed import Embedder
    from clap_core.evaluate import demo_world_set, evaluate
    from clap_core.scenarios import default_batch


    print("\n".join(machine_lines()))
    print(f"after imports: RSS {_status('VmRSS'):.0f} MB")
    batch = default_batch()
    with full_size_folder() as folder:
        rows = []
        for name in (BUNDLED, str(folder)):
            ck = load_checkpoint(name, device="cpu")
            emb = Embedder(ck)
            emb.embed_texts(batch.captions)
            emb.embed_clips(batch.clips)
            label = "bundled" if name == BUNDLED else "full-size"
            print(f"{label} loaded and the default scenario embedded: RSS {_status('VmRSS'):.0f} MB, "
                  f"peak {_status('VmHWM'):.0f} MB ({ck.n_params / 1e6:.1f} M parameters)")
            rows.append((label, emb))
        for label, emb in rows:
            res = evaluate(demo_world_set(987_654, args.n), emb)
            speed = res.clips_per_second
            print(f"evaluate {args.n} demo-world clips with {label}: {speed:.1f} clips/s; "
                  f"RSS {_status('VmRSS'):.0f} MB, peak {_status('VmHWM'):.0f} MB")
    print(f"two checkpoints loaded, peak RSS (VmHWM) {_status('VmHWM'):.0f} MB; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
