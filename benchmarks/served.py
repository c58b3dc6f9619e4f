"""A served app in a real browser (Debian's Chromium, Playwright): first visit, deep links, a view switch,
and the server process's memory (figures, not assertions).

    python -m benchmarks.served [--full-size FOLDER] [--repeat 5]

Each server is a fresh `streamlit run app.py` (HF_HUB_OFFLINE=1, its own temporary batch store). Every visit
is a fresh browser context (a new session, no cache shared with the one before) on the same server; a visit
is timed from `goto` until the page's key element is there and the app's script is not running
(`[data-testid="stApp"][data-test-script-state="notRunning"]`, as tests/test_browser.py waits).
Memory is the server process's VmRSS (now) and VmHWM (its peak so far) from /proc/<pid>/status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .common import ROOT, Timing, fmt_ms, heading, memory_mb, proc_cpu_seconds, streamlit_command, table, wait_healthy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
DEEP_LINKS = (  # path, what to wait for
    ("/similarity", "[data-testid=stPlotlyChart] .main-svg"),
    ("/loss", "text=chance level log N"),
    ("/zero_shot", "text=Top-1 accuracy"),
)
DEEP_LINK_TARGET_S, PEAK_TARGET_GB = 1.5, 1.4
SWITCHES = ("P_text", "P_audio", "grad", "cosine", "centred", "C")  # one round of view switches, from C
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


IMPORTS = ("numpy", "torch", "transformers", "streamlit", "plotly.graph_objects", "pandas")
_RSS_SNIPPET = ("import importlib, sys\nrss = lambda: int(next(l for l in open('/proc/self/status') "
                "if l.startswith('VmRSS')).split()[1]) * 1024 / 1e6\nfor m in sys.argv[1:]:\n"
                "    importlib.import_module(m)\n    print(m, round(rss()))\n")


def import_rss() -> list[tuple[str, int]]:
    """RSS (MB) of a bare Python process after importing each of IMPORTS in turn (what a server holds before
    any model)."""
    done = subprocess.run([sys.executable, "-c", _RSS_SNIPPET, *IMPORTS], capture_output=True, text=True, timeout=300)
    return [(ln.split()[0], int(ln.split()[1])) for ln in done.stdout.splitlines() if len(ln.split()) == 2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(checkpoint: str = "") -> Iterator[tuple[str, int]]:
    """A fresh `streamlit run app.py` on a free port, opening new sessions on ``checkpoint`` (default bundled);
    yields (url, pid)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="clap-bench-store-") as store:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLAP_EXPLORER_HOSTED": "", "CLAP_EXPLORER_STORE": store,
               "CLAP_EXPLORER_CHECKPOINT": checkpoint}
        env.pop("OMP_WAIT_POLICY", None)  # the app sets its own default, as on a deployment
        log = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_healthy(url):
                log.seek(0)
                raise RuntimeError("streamlit did not start: " + log.read()[-2000:])
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            out = log.read()
            log.close()
            if "Traceback" in out:
                print("\n(server log had a traceback:)\n" + out[-3000:])


class _PeakSampler:
    """Samples a process's VmRSS every 50 ms in a thread; remembers the highest."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak = max(self.peak, memory_mb(self.pid)[0])
            self._stop.wait(0.05)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def browser_cpu_seconds() -> float:
    """CPU seconds used so far by this process's Chromium descendants (the browser Playwright started)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/{entry}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                parents[int(entry)] = int(tail.split()[1])
                names[int(entry)] = head.split("(", 1)[1]
    mine, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        kids = [c for c, p in parents.items() if p == pid]
        mine.update(kids)
        todo.extend(kids)
    total = 0.0
    for pid in mine:
        if "chrom" in names.get(pid, ""):
            with contextlib.suppress(OSError):
                total += proc_cpu_seconds(pid)
    return total


FIRST_TEXT = "12 pairs"  # the Batch page's heading for the default scenario (own world, 12 pairs)


def _visit(browser, url: str, pid: int, selector: str, first_text: str | None = None,
           context=None) -> tuple[float, float, float]:
    """(seconds from goto until ``selector`` (and ``first_text``) is shown and the script is not running, server
    CPU seconds and browser CPU seconds meanwhile), in a new browser context (or a new tab of ``context``: a new
    session with the browser's cache warm)."""
    ctx = context or browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    try:
        pg.set_default_timeout(180_000)
        cpu, bcpu, t = proc_cpu_seconds(pid), browser_cpu_seconds(), time.perf_counter()
        pg.goto(url)
        if first_text:
            pg.get_by_text(first_text, exact=True).first.wait_for()
        pg.locator(selector).first.wait_for()
        pg.locator(IDLE).wait_for()
        return time.perf_counter() - t, proc_cpu_seconds(pid) - cpu, browser_cpu_seconds() - bcpu
    finally:
        pg.close()
        if context is None:
            ctx.close()


def _visits(browser, url: str, pid: int, selector: str, repeat: int, context=None) -> tuple[Timing, Timing, Timing]:
    """``repeat`` visits: (wall ms, server CPU ms, browser CPU ms)."""
    runs = [_visit(browser, url, pid, selector, context=context) for _ in range(repeat)]
    return tuple(Timing(tuple(r[i] * 1000 for r in runs)) for i in range(3))


def _view_switches(browser, url: str, pid: int) -> tuple[Timing, Timing, Timing, list[str]]:
    """Open /similarity, then switch the heatmap through every view once; each switch timed from the click
    until the new figure's title is drawn and the script is not running: (wall ms, server CPU ms, browser CPU ms,
    views)."""
    from ui.views import view

    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    runs, cpus, bcpus, names = [], [], [], []
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(120_000)
        pg.goto(url + "/similarity")
        pg.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()
        pg.locator(IDLE).wait_for()
        radio = pg.locator("[data-testid=stRadio]").first
        for key in SWITCHES:
            v = view(key)
            cpu, bcpu, t = proc_cpu_seconds(pid), browser_cpu_seconds(), time.perf_counter()
            radio.get_by_text(v.label, exact=True).click()
            pg.locator(".gtitle", has_text=v.title).first.wait_for()
            pg.locator(IDLE).wait_for()
            runs.append((time.perf_counter() - t) * 1000)
            cpus.append((proc_cpu_seconds(pid) - cpu) * 1000)
            bcpus.append((browser_cpu_seconds() - bcpu) * 1000)
            names.append(key)
    finally:
        ctx.close()
    return Timing(tuple(runs)), Timing(tuple(cpus)), Timing(tuple(bcpus)), names


def _concurrent(browser, url: str, pid: int) -> tuple[float, float, float]:
    """Three sessions at once (deep links to /similarity, /loss, /zero_shot): (seconds until all three are ready,
    server and browser CPU seconds meanwhile)."""
    ctxs = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in DEEP_LINKS]
    try:
        pages = [c.new_page() for c in ctxs]
        cpu, bcpu, t = proc_cpu_seconds(pid), browser_cpu_seconds(), time.perf_counter()
        for pg, (path, _) in zip(pages, DEEP_LINKS):
            pg.set_default_timeout(300_000)
            pg.goto(url + path, wait_until="commit")
        for pg, (_, selector) in zip(pages, DEEP_LINKS):
            pg.locator(selector).first.wait_for()
            pg.locator(IDLE).wait_for()
        return time.perf_counter() - t, proc_cpu_seconds(pid) - cpu, browser_cpu_seconds() - bcpu
    finally:
        for c in ctxs:
            c.close()


def _wait_quiet(pid: int, timeout: float = 120.0) -> float:
    """Wait until the server uses under 0.15 cores over a second (its warm-up thread has embedded the example
    batch); return the seconds waited."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        cpu = proc_cpu_seconds(pid)
        time.sleep(1.0)
        if proc_cpu_seconds(pid) - cpu < 0.15:
            break
    return time.perf_counter() - t


def _one_server(browser, label: str, checkpoint: str, repeat: int, switches: bool, concurrent: bool,
                cached: bool = False) -> dict:
    """Everything measured on one fresh server."""
    out: dict = {"label": label}
    with server(checkpoint) as (url, pid):
        time.sleep(1.0)
        out["idle"] = memory_mb(pid)
        out["first"] = _visit(browser, url, pid, IDLE, first_text=FIRST_TEXT)
        out["after_first"] = memory_mb(pid)
        out["settle"] = _wait_quiet(pid)
        out["warm"] = memory_mb(pid)
        out["deep"] = {path: _visits(browser, url + path, pid, sel, repeat) for path, sel in DEEP_LINKS}
        if cached:  # a returning visitor: the browser's cache holds the app's scripts
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                _visit(browser, url, pid, IDLE, first_text=FIRST_TEXT, context=ctx)
                out["cached"] = {path: _visits(browser, url + path, pid, sel, repeat, context=ctx)
                                 for path, sel in DEEP_LINKS}
            finally:
                ctx.close()
        if switches:
            out["switch"] = _view_switches(browser, url, pid)
        if concurrent:
            with _PeakSampler(pid) as sampler:
                out["concurrent"] = _concurrent(browser, url, pid)
            out["sampled_peak"] = sampler.peak
        out["end"] = memory_mb(pid)
    return out


def run(full_size: Path | None, repeat: int = 5, cached: bool = False) -> None:
    """Section 4: the bundled checkpoint's server (and, with ``full_size``, a full-size one), in Chromium."""
    heading("4. A served app in Chromium (streamlit run app.py)")
    if not os.path.exists(CHROMIUM):
        print(f"skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    print("Times: from goto until the key element is shown and the script is not running; each visit a fresh "
          "browser context (a new session, an empty browser cache) on the same server, once its warm-up is done. "
          "Key elements: / 'N pairs', /similarity the Plotly chart drawn, /loss 'chance level log N', /zero_shot "
          "'Top-1 accuracy'. Chromium runs on the same 2 cores as the server (software rendering). With --cached: "
          "also new tabs (new sessions) of a context that has loaded the app once (the browser's cache warm).\n")
    servers = [("bundled", "")] + ([("full-size", str(full_size))] if full_size else [])
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for label, ck in servers:
                reps = repeat if label == "bundled" else max(1, (repeat + 1) // 2)
                results.append(_one_server(browser, label, ck, reps, switches=label == "bundled",
                                           concurrent=label == "full-size" or full_size is None,
                                           cached=cached and label == "bundled"))
                print(f"  server {label} done", file=sys.stderr, flush=True)
        finally:
            browser.close()
    rows, per = [], ""
    for r in results:
        wall, cpu, bcpu = r["first"]
        rows.append([r["label"], "first visit (/, cold server)", f"{wall:.2f} s (n=1)", f"{cpu:.2f} s",
                     f"{bcpu:.2f} s"])
        rows.append([r["label"], "then: until the warm-up thread is done (server idle)", f"{r['settle']:.1f} s", "",
                     ""])
        for path, (wall_t, cpu_t, bcpu_t) in r["deep"].items():
            rows.append([r["label"], f"deep link {path}", wall_t.cell(), cpu_t.cell(), bcpu_t.cell()])
        for path, (wall_t, cpu_t, bcpu_t) in r.get("cached", {}).items():
            rows.append([r["label"], f"deep link {path}, browser cache warm (new tab)", wall_t.cell(), cpu_t.cell(),
                         bcpu_t.cell()])
        if "switch" in r:
            wall_t, cpu_t, bcpu_t, names = r["switch"]
            rows.append([r["label"], "view switch on /similarity (N=8)", wall_t.cell(), cpu_t.cell(), bcpu_t.cell()])
            per = ", ".join(f"{k} {fmt_ms(ms)}" for k, ms in zip(names, wall_t.runs))
        if "concurrent" in r:
            wall, cpu, bcpu = r["concurrent"]
            rows.append([r["label"], "3 sessions at once (the three deep links)", f"{wall:.2f} s (n=1)",
                         f"{cpu:.2f} s", f"{bcpu:.2f} s"])
    print(table(["server", "what", "time (browser, wall)", "server CPU meanwhile", "Chromium CPU meanwhile"], rows))
    if per:
        print(f"\nView switches one by one (from C): {per}")
    mem_rows = [[r["label"], f"{r['idle'][0]:.0f}", f"{r['after_first'][0]:.0f}", f"{r['warm'][0]:.0f}",
                 f"{r['end'][0]:.0f}", f"{r['sampled_peak']:.0f}" if "sampled_peak" in r else "–",
                 f"{r['end'][1]:.0f}"] for r in results]
    print("\nServer memory (MB; 'at the end': after the deep links" + (", the view switches" if per else "")
          + " and, on the full-size server, 3 concurrent sessions):\n")
    print(table(["server", "RSS idle", "RSS after first visit", "RSS once warm", "RSS at the end",
                 "highest RSS sampled during the 3 sessions", "VmHWM (peak, whole life)"], mem_rows))
    steps = import_rss()
    print("\nA bare Python process's RSS after importing, in turn: "
          + ", ".join(f"{m} {mb} MB" for m, mb in steps) + ".")
    print("\nTargets:")
    for r in results:
        worst = max(wall_t.median for wall_t, _, _ in r["deep"].values()) / 1000
        print(f"- deep link on a warm {r['label']} server: slowest page's median {worst:.2f} s "
              f"(≤ {DEEP_LINK_TARGET_S} s: {'met' if worst <= DEEP_LINK_TARGET_S else 'NOT met'})")
        if r["label"] == "full-size":
            peak = r["end"][1] / 1000
            print(f"- peak memory, full-size model, 3 sessions: {peak:.2f} GB "
                  f"(≤ {PEAK_TARGET_GB} GB: {'met' if peak <= PEAK_TARGET_GB else 'NOT met'})")


def main() -> None:
    """Run section 4 alone."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-size", metavar="FOLDER", help="also serve this full-size checkpoint folder")
    ap.add_argument("--build-full-size", action="store_true", help="build a full-size random-weight one for it")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cached", action="store_true", help="also time deep links in new tabs of a warm browser")
    ap.add_argument("--malloc-arena-max", type=int, help="set MALLOC_ARENA_MAX for the servers (glibc arenas)")
    args = ap.parse_args()
    if args.malloc_arena_max:
        os.environ["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        print(f"(servers run with MALLOC_ARENA_MAX={args.malloc_arena_max})")
    if args.build_full_size:
        from .common import full_size_folder

        with full_size_folder() as folder:
            run(folder, args.repeat, args.cached)
    else:
        run(Path(args.full_size) if args.full_size else None, args.repeat, args.cached)


if __name__ == "__main__":
    main()
