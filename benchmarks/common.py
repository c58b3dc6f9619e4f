"""Shared pieces of the benchmarks: the machine line, timing, tables, demo-world batches and a full-size model.

Nothing here asserts: the benchmarks print figures.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from clap_core.batch import Batch

ROOT = Path(__file__).resolve().parent.parent
RATE = 48_000  # the demo world's rate and the checkpoints' rate


# -- the machine ---------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name as lscpu prints it (else platform.processor())."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    """Total memory, GiB (MemTotal of /proc/meminfo)."""
    with open("/proc/meminfo") as f:
        kb = int(next(ln for ln in f if ln.startswith("MemTotal:")).split()[1])
    return kb / 2**20


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as one string."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def code_version() -> str:
    """The commit the working tree is at, and how many files differ from it (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}" + (f" + {len(dirty)} changed or new files" if dirty else "")


def machine_lines() -> list[str]:
    """What this machine is: CPU, cores, RAM, torch and its CPU capability, bf16 support, load, the code."""
    import torch

    from clap_core.checkpoints import cpu_has_fast_bf16

    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; code: {code_version()}",
        f"cpu: {cpu_model()}, {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM",
        f"torch {torch.__version__}: cpu capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{torch.get_num_threads()} threads, cpu_has_fast_bf16() = {cpu_has_fast_bf16()}, "
        f"cuda available = {torch.cuda.is_available()}",
        f"OMP_WAIT_POLICY = {os.environ.get('OMP_WAIT_POLICY', '(unset)')}; load average now: {load_average()}",
    ]


# -- timing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """Repeated wall-clock timings of one operation, in ms (and the process's CPU time for each, when known)."""

    runs: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        """The median, ms."""
        return statistics.median(self.runs)

    @property
    def n(self) -> int:
        """How many runs the median is of."""
        return len(self.runs)

    @property
    def cpu_median(self) -> float:
        """The median process CPU time (all threads), ms."""
        return statistics.median(self.cpu)

    def cell(self) -> str:
        """'median (min–max, n)' for a table."""
        if self.n == 1:
            return f"{fmt_ms(self.median)} (n=1)"
        return f"{fmt_ms(self.median)} ({fmt_ms(min(self.runs))}–{fmt_ms(max(self.runs))}, n={self.n})"


def fmt_ms(ms: float) -> str:
    """Milliseconds with sensible digits."""
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms:.3f} ms"


def measure(fn: Callable[[int], object], repeat: int = 5, budget_s: float | None = None) -> Timing:
    """Time ``fn(k)`` for k = 0, 1, …: ``repeat`` runs, or fewer once ``budget_s`` seconds are spent (at least one)."""
    runs: list[float] = []
    cpu: list[float] = []
    spent = 0.0
    for k in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn(k)
        dt = time.perf_counter() - t
        cpu.append((time.process_time() - c) * 1000)
        runs.append(dt * 1000)
        spent += dt
        if budget_s is not None and spent >= budget_s:
            break
    return Timing(tuple(runs), tuple(cpu))


# -- output --------------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown pipe table with padded columns (readable in a terminal and in RESULTS.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def heading(text: str) -> None:
    """Print a section heading (Markdown level 2) with the load average at its start."""
    print(f"\n## {text}\n\n(load average at start: {load_average()})\n", flush=True)


# -- demo-world batches ---------------------------------------------------------------------------
def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """Float samples as 16-bit PCM WAV bytes (what an upload brings)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@dataclass(frozen=True)
class DemoFiles:
    """Demo-world clips as uploaded files: (name, WAV bytes), with their captions and labels."""

    files: list[tuple[str, bytes]]
    captions: list[str]
    labels: list[str]


def demo_files(seed: int, n: int, rate: int = RATE) -> DemoFiles:
    """``n`` generated demo-world clips (48 kHz; resampled to ``rate`` if it differs) encoded as WAV."""
    from clap_core import demo_world
    from clap_core.audio import resample

    clips = demo_world.generate(seed, n)
    files = []
    for i, c in enumerate(clips):
        wave = c.waveform if rate == RATE else resample(c.waveform, RATE, rate)
        files.append((f"{i:04d}_{c.label.replace(' ', '-')}.wav", wav_bytes(wave, rate)))
    return DemoFiles(files, [c.caption for c in clips], [c.label for c in clips])


def demo_batch(files: DemoFiles, start: int = 0, stop: int | None = None) -> Batch:
    """A clap_core Batch of the files[start:stop] (decoded through Batch.add_files, as the app does)."""
    from clap_core.batch import Batch

    sl = slice(start, stop)
    batch, outcomes = Batch().add_files(files.files[sl], captions=files.captions[sl], labels=files.labels[sl])
    bad = [o.message for o in outcomes if not o.added]
    if bad:
        raise RuntimeError("; ".join(bad))
    return batch


# -- a full-size model ----------------------------------------------------------------------------
def save_full_size(folder: Path) -> Path:
    """Save a full-size random-weight CLAP (transformers' default ClapConfig, seed 0) with the project's
    processor (1024-token BPE) into ``folder``; return it."""
    import torch
    import transformers
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    from clap_core import training

    hf_logging.disable_progress_bar()  # no "Writing model shards" bars in the output
    disable_progress_bars()
    torch.manual_seed(0)
    model = transformers.ClapModel(transformers.ClapConfig())
    model.save_pretrained(folder)
    training.build_processor(training.build_tokenizer(1024)).save_pretrained(folder)
    del model
    return folder


@contextlib.contextmanager
def full_size_folder() -> Iterator[Path]:
    """A temporary folder holding a full-size random-weight checkpoint (built here, removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="clap-full-size-") as tmp:
        yield save_full_size(Path(tmp))


def streamlit_command(port: int) -> list[str]:
    """`streamlit run app.py` headless on ``port``, no file watcher, no usage stats (servers of benchmarks and tests)."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]


def wait_healthy(url: str, tries: int = 240) -> bool:
    """Poll Streamlit's health endpoint every 0.5 s until it answers ok; False if it never does."""
    for _ in range(tries):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.5)
    return False


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MB (10⁶ bytes)."""
    with open(f"/proc/{pid}/status") as f:
        kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in f if ln.startswith(("VmRSS:", "VmHWM:"))}
    return kb["VmRSS"] * 1024 / 1e6, kb["VmHWM"] * 1024 / 1e6
