"""Prints resample() wall time and peak memory growth per source rate → 48 kHz, and plain torchaudio's where safe.

    python -m benchmarks.resample

Each case runs in its own process (so its peak RSS is its own), after importing numpy, torch, torchaudio and soxr;
the figures are one call each, not assertions.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from clap_core.audio import TORCHAUDIO_MAX_KERNEL, resample, torchaudio_kernel_size

ROOT = Path(__file__).resolve().parent.parent
RATES = [47999, 44101, 11127, 22254, 5000, 96001, 44100]
SECONDS = [0.2, 30.0]
TARGET = 48000
OLD_MAX_KERNEL_BYTES = 1 << 30  # plain torchaudio is run only where its float32 kernel fits in ~1 GB


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(ln for ln in f if ln.startswith(field + ":")).split()[1])


def _reset_peak() -> None:
    """Set VmHWM to the current RSS (Linux ≥ 4.0), so earlier transient peaks do not hide growth."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _case(rate: int, seconds: float, old: bool) -> dict:
    """One resample in this process: wall time, growth of peak RSS over the post-import baseline, output length."""
    import resource

    import soxr  # noqa: F401  (imported before the baseline, like torch)
    import torch
    import torchaudio.functional as AF

    # address space capped 4 GiB over what the imports mapped: a runaway kernel raises instead of taking the host down
    resource.setrlimit(resource.RLIMIT_AS, (_status_kb("VmSize") * 1024 + (4 << 30), resource.RLIM_INFINITY))
    x = np.random.default_rng(0).standard_normal(int(seconds * rate), dtype=np.float32)
    _reset_peak()
    base = _status_kb("VmHWM")  # this process image's peak; ru_maxrss would start at the parent's
    t = time.perf_counter()
    y = AF.resample(torch.from_numpy(x), rate, TARGET).numpy() if old else resample(x, rate, TARGET)
    dt = time.perf_counter() - t
    return dict(seconds=dt, growth_mb=(_status_kb("VmHWM") - base) / 1024, n=int(y.shape[0]))


def _run(rate: int, seconds: float, old: bool) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.resample", "--case", str(rate), str(seconds), "old" if old else "new"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return dict(error=(done.stderr.strip().splitlines() or ["failed"])[-1][:60])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(r: dict) -> str:
    return r["error"] if "error" in r else f"{r['seconds'] * 1000:9.1f} ms {r['growth_mb']:+8.1f} MB"


def main() -> None:
    """Measure and print (or, with --case, measure one case and print it as JSON)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=3, metavar=("RATE", "SECONDS", "new|old"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        rate, seconds, which = args.case
        print(json.dumps(_case(int(rate), float(seconds), which == "old")))
        return
    rule = f"torchaudio iff its kernel has ≤ {TORCHAUDIO_MAX_KERNEL} elements, else soxr"
    print(f"resample → {TARGET} Hz; rule: {rule}; growth = peak RSS over the post-import baseline")
    print(f"{'source':>9} {'clip':>6} {'kernel':>9}  {'path':<10} {'now: time, peak growth':>26}   "
          f"{'old (plain torchaudio): time, peak growth':>42}")
    for rate in RATES:
        elements = torchaudio_kernel_size(rate, TARGET)
        path = "torchaudio" if elements <= TORCHAUDIO_MAX_KERNEL else "soxr"
        kernel = f"{elements * 4 / 1e9:.2f} GB" if elements * 4 >= 1e7 else f"{elements * 4 / 1e3:.0f} kB"
        for seconds in SECONDS:
            new = _fmt(_run(rate, seconds, old=False))
            if elements * 4 > OLD_MAX_KERNEL_BYTES:
                old = f"skipped: kernel alone {elements * 4 / 1e9:.1f} GB"
            else:
                old = _fmt(_run(rate, seconds, old=True))
            print(f"{rate:>6} Hz {seconds:>5g}s {kernel:>9}  {path:<10} {new:>26}   {old:>42}", flush=True)


if __name__ == "__main__":
    main()
