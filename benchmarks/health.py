"""The health check's cost: wall time and peak memory of ``python -m clap_core check`` for the bundled checkpoint
and for a full-size random-weight ClapModel (transformers' default ClapConfig), each in a fresh process.

    python -m benchmarks.health
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

from benchmarks.common import full_size_folder, heading, load_average, table


def run(checkpoint: str) -> tuple[float, float, str]:
    """(seconds, peak RSS of the child in MB, the check's worst verdict) of one check in a fresh process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "clap_core", "check", "--checkpoint", checkpoint, "--json"],
                          capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, in kB
    import json

    worst = json.loads(proc.stdout)["worst"]
    return seconds, max(peak, before) / 1024, worst


def main() -> None:
    heading(f"health check (load average {load_average()})")
    rows = [["bundled", *run("bundled")]]
    with full_size_folder() as folder:
        rows.append(["full-size random-weight ClapConfig()", *run(str(folder))])
    print(table(["checkpoint", "seconds", "peak RSS MB", "worst verdict"],
                [[n, f"{s:.0f}", f"{m:.0f}", w] for n, s, m, w in rows]))


if __name__ == "__main__":
    main()
