"""The health check's cost: wall time and peak memory of ``python -m clap_core check`` for the bundled checkpoint
and for a full-size random-weight ClapModel (transformers' default ClapConfig), each in a fresh process.

    python -m benchmarks.health
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks.common import full_size_folder, heading, load_average, table

# python -m clap_core ARGS, then its own peak resident set (kB) as the last line on stderr
PEAK = ("import atexit, resource, runpy, sys; sys.argv = ['clap_core', *sys.argv[1:]]; "
        "atexit.register(lambda: print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
        "runpy.run_module('clap_core', run_name='__main__')")


def run(checkpoint: str, *extra: str) -> tuple[float, float, str]:
    """(seconds, peak RSS of the process in MB, the check's worst verdict) of one check in a fresh process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK, "check", "--checkpoint", checkpoint, "--json", *extra],
                          capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - start
    peak_kb = int(proc.stderr.strip().splitlines()[-1])  # the process's maximum resident set, kB
    return seconds, peak_kb / 1024, json.loads(proc.stdout)["worst"]


def main() -> None:
    heading(f"health check (load average {load_average()})")
    rows = [["bundled", *run("bundled")], ["bundled, no references", *run("bundled", "--no-references")]]
    with full_size_folder() as folder:
        rows.append(["full-size random-weight ClapConfig()", *run(str(folder))])
        rows.append(["full-size, no references (as a hosted app runs it)", *run(str(folder), "--no-references")])
    print(table(["checkpoint", "seconds", "peak RSS MB", "worst verdict"],
                [[n, f"{s:.0f}", f"{m:.0f}", w] for n, s, m, w in rows]))


if __name__ == "__main__":
    main()
