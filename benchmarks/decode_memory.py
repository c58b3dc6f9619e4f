"""Prints the peak memory growth of decoding each hostile file (many channels, very high rates) in a fresh process.

    python -m benchmarks.decode_memory [--folder DIR]

The files are written at run time with libsndfile (30 s of silence each; up to ~15 s to encode, tens of KB on disk)
and decoded as an upload is: from bytes, with decode()'s default max_seconds. Growth is the peak RSS over the
baseline taken after the imports and after the file's bytes are read; the figures are one call each, not assertions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.resample import _reset_peak, _status_kb  # the same peak-RSS measurement

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 30.0
# name: (rate, channels, libsndfile format, subtype) — the red-team's files, rebuilt
HOSTILE = {
    "vorbis-255ch-48k.ogg": (48_000, 255, "OGG", "VORBIS"),
    "vorbis-32ch-192k.ogg": (192_000, 32, "OGG", "VORBIS"),
    "flac-8ch-655k.flac": (655_350, 8, "FLAC", "PCM_16"),
    "flac-1ch-655k.flac": (655_350, 1, "FLAC", "PCM_16"),
}
AS_HEADROOM = 8 << 30  # the child's address space is capped this far over its baseline: a runaway raises instead


def write_silence(path: Path, rate: int, channels: int, seconds: float, fmt: str, subtype: str) -> Path:
    """``seconds`` of silence at ``rate`` × ``channels``, written in blocks of about 4 MB (never held whole)."""
    import soundfile as sf

    block = max(1, (4 << 20) // (4 * channels))
    zeros = np.zeros((block, channels), np.float32)
    n = int(round(rate * seconds))
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype) as f:
        for start in range(0, n, block):
            f.write(zeros[: min(block, n - start)])
    return path


def hostile_files(folder: Path) -> dict[str, Path]:
    """The hostile files in ``folder``, written there unless already present."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (rate, channels, fmt, subtype) in HOSTILE.items():
        path = folder / name
        out[name] = path if path.is_file() else write_silence(path, rate, channels, SECONDS, fmt, subtype)
    return out


def _case(path: str) -> dict:
    """Decode one file in this process: peak RSS growth, and what decode kept or the one line it refused with."""
    import resource

    import av  # noqa: F401  (both decoders are imported before the baseline)
    import soundfile  # noqa: F401

    from clap_core.audio import AudioError, decode

    data = Path(path).read_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (_status_kb("VmSize") * 1024 + AS_HEADROOM, resource.RLIM_INFINITY))
    _reset_peak()
    base = _status_kb("VmHWM")
    try:
        clip = decode(data, name=Path(path).name)
        result = dict(accepted=True, kept_bytes=int(clip.samples.nbytes), rate=clip.info.source_rate,
                      warnings=list(clip.info.warnings))
    except AudioError as e:
        result = dict(accepted=False, message=str(e))
    except MemoryError:
        result = dict(accepted=False, message=f"MemoryError (over {AS_HEADROOM >> 30} GiB)")
    result["growth_mb"] = (_status_kb("VmHWM") - base) / 1024
    return result


def measure(path: Path) -> dict:
    """Decode ``path`` in a fresh process; its result (growth_mb, accepted, …) or {'error': …} when it failed."""
    cmd = [sys.executable, "-m", "benchmarks.decode_memory", "--case", str(path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return dict(error=(done.stderr.strip().splitlines() or ["failed"])[-1][:120])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Write the files, measure each and print a line per file (or, with --case, measure one and print JSON)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help="where to write the files (default: a temporary folder)")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(_case(args.case)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        files = hostile_files(args.folder or Path(tmp))
        print(f"decode() of {SECONDS:g} s of silence from bytes; growth = peak RSS over the post-import baseline")
        for name, path in files.items():
            r = measure(path)
            if "error" in r:
                verdict = f"failed: {r['error']}"
            elif r["accepted"]:
                verdict = f"accepted, kept {r['kept_bytes'] / 1e6:.1f} MB at {r['rate']} Hz"
            else:
                verdict = f"refused: {r['message']}"
            growth = f"{r['growth_mb']:+8.1f} MB" if "growth_mb" in r else " " * 11
            print(f"{name:<22} {path.stat().st_size / 1e3:7.1f} kB  {growth}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
