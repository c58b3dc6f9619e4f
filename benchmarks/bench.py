"""The figures the performance issue asks for, in one run (figures, not assertions).

    python -m benchmarks.bench            # everything (about 12 minutes on 2 shared cores)
    python -m benchmarks.bench --quick    # the bundled checkpoint only: skips every full-size part
    python -m benchmarks.bench --sections 1,3

Sections:
  1  what a change costs server-side: recompute from scratch, one caption edit, τ only, one clip added,
     at N = 8/32/64, on the bundled checkpoint and on a full-size random-weight one; 1b: where a caption edit
     and a τ change spend their time, and contrastive() with numpy's BLAS threads vs one thread
  2  audio and text throughput of the full-size model, fp32 vs bf16 (CPU, batch 8)
  3  heatmap build time and figure payload per view, N = 8 and 64 (benchmarks.served has the browser side)
  4  a served app in Chromium: first visit, deep links, a view switch, the server's memory (benchmarks.served)
  5  one full-size caption embed on a loaded box, OMP_WAIT_POLICY PASSIVE vs ACTIVE vs unset (subprocesses)

The process sets OMP_WAIT_POLICY=PASSIVE unless it is set, as app.py does, so sections 1–3 see what the
server sees. The full-size model is built on the fly (transformers' default ClapConfig, seed 0) into a
temporary folder that the served app (section 4) and the subprocesses (section 5) load too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    ROOT,
    Timing,
    demo_batch,
    demo_files,
    fmt_ms,
    full_size_folder,
    heading,
    machine_lines,
    measure,
    proc_cpu_seconds,
    table,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from clap_core.checkpoints import LoadedCheckpoint

NS = (8, 32, 64)
SCRATCH_BUDGET_S = 20.0  # a from-scratch timing is repeated until this is spent (at least once, at most --repeat)
THROUGHPUT_BUDGET_S = 30.0
EDIT_TARGET_MS, EDIT_SPEEDUP_TARGET, TAU_TARGET_MS = 60.0, 50.0, 10.0
BUILD_TARGET_MS, PAYLOAD_TARGET_MB = 20.0, 0.3
LOADER = ("import time\nimport numpy as np\na = np.random.default_rng(0).standard_normal((1024, 1024))\n"
          "end = time.time() + 300\nwhile time.time() < end:\n    a @ a\n")  # stops by itself after 5 minutes


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


# -- 1: what a change costs ---------------------------------------------------------------------
def _warm_up(ck: LoadedCheckpoint) -> None:
    """One clip and one caption through a throwaway embedder: the first torch call's one-time costs
    (thread pool, oneDNN primitives) are not a server's steady state."""
    from clap_core.embed import Embedder

    files = demo_files(999, 1)
    Embedder(ck).embed_clips(demo_batch(files).clips)
    Embedder(ck).embed_texts(["a warm-up caption"])


def incremental(checkpoints: list[tuple[str, LoadedCheckpoint]], repeat: int) -> None:
    """Section 1: recompute from scratch vs one caption edit vs τ only vs one clip added, N = 8/32/64."""
    from clap_core.batch import Batch
    from clap_core.contrastive import contrastive
    from clap_core.embed import Embedder

    heading("1. What a change costs server-side (ms; median (min–max, n runs))")
    files = demo_files(11, max(NS))
    full = demo_batch(files)
    extra = demo_files(12, repeat)  # the clips that "one clip added" adds, one per run
    print("Clips: demo-world, 2–4 s at 48 kHz, as 16-bit WAV bytes through Batch.add_files. Definitions:\n"
          "- from scratch: a fresh Embedder (batch 8) embeds all N clips and N captions, then contrastive();\n"
          "- caption edit: caption 1 changed to a new text on the warm embedder: embed_clips (all hits) + "
          "embed_texts (one miss) + contrastive();\n"
          "- τ only: embed_clips + embed_texts, all cache hits, + contrastive() at another τ (what a τ change "
          "costs server-side);\n"
          "- clip added: N−1 → N pairs: decode the new WAV (Batch.add_files) + embed_clips (one miss) + "
          "embed_texts (its new caption: one miss) + contrastive().\n"
          f"From scratch is repeated until {SCRATCH_BUDGET_S:.0f} s are spent (n says how often); "
          "the others run n times.\n")
    print("Feature backend (Embedder's default): "
          + ", ".join(f"{label} {Embedder(ck).features}" for label, ck in checkpoints) + "\n")
    rows, by = [], {}
    counts: dict[str, set] = {"edit": set(), "tau": set(), "added": set()}
    for label, ck in checkpoints:
        _warm_up(ck)
        for n in NS:
            clips, caps = full.clips[:n], full.captions[:n]
            holder: dict = {}

            def scratch(_k: int, clips=clips, caps=caps, holder=holder, ck=ck) -> None:
                emb = Embedder(ck)
                E_a = emb.embed_clips(clips)
                E_t = emb.embed_texts(caps)
                contrastive(E_t, E_a, ck.tau)
                holder["emb"] = emb

            t_scratch = measure(scratch, repeat, SCRATCH_BUDGET_S)
            emb = holder["emb"]

            def delta(fn, key, emb=emb):
                def run(k: int) -> None:
                    before = (emb.stats.audio_computed, emb.stats.text_computed)
                    fn(k)
                    counts[key].add((emb.stats.audio_computed - before[0], emb.stats.text_computed - before[1]))
                return run

            def edit(k: int, clips=clips, caps=caps, emb=emb, ck=ck, n=n) -> None:
                edited = list(caps)
                edited[0] = f"a loud rising sweep, edited caption number {k} of {n}"
                E_a = emb.embed_clips(clips)
                E_t = emb.embed_texts(edited)
                contrastive(E_t, E_a, ck.tau)

            def tau_only(k: int, clips=clips, caps=caps, emb=emb, ck=ck) -> None:
                E_a = emb.embed_clips(clips)
                E_t = emb.embed_texts(caps)
                contrastive(E_t, E_a, ck.tau * (0.5 + 0.1 * k))

            def added(k: int, clips=clips, caps=caps, emb=emb, ck=ck) -> None:
                b, _ = Batch().add_files([extra.files[k]], captions=[f"{extra.captions[k]} (added {k})"])
                E_a = emb.embed_clips(clips[:-1] + [b[0].clip])
                E_t = emb.embed_texts(caps[:-1] + [b[0].caption])
                contrastive(E_t, E_a, ck.tau)

            t_edit = measure(delta(edit, "edit"), repeat)
            t_tau = measure(delta(tau_only, "tau"), repeat)
            t_added = measure(delta(added, "added"), repeat)
            by[label, n] = (t_scratch, t_edit, t_tau, t_added)
            rows.append([label, n, t_scratch.cell(), t_edit.cell(), t_tau.cell(), t_added.cell(),
                         f"{t_scratch.median / t_edit.median:.0f}×"])
            print(f"  {label} N={n} done", file=sys.stderr, flush=True)
    print(table(["checkpoint", "N", "from scratch", "caption edit", "τ only", "one clip added",
                 "scratch ÷ edit"], rows))
    print("\nThe same operations in process CPU time (ms, median; all threads): what they cost without other work "
          "competing for the cores.\n")
    print(table(["checkpoint", "N", "from scratch", "caption edit", "τ only", "one clip added"],
                [[lab, n] + [fmt_ms(t.cpu_median) for t in by[lab, n]] for lab, n in by]))
    what = {"edit": "caption edit", "tau": "τ only", "added": "one clip added"}
    print("\nEmbedded per operation (clips, captions), from the embedder's stats: "
          + "; ".join(f"{what[k]}: {sorted(v)}" for k, v in counts.items()))
    labels = [lab for lab, _ in checkpoints]
    if len(labels) == 2:
        ratio_rows = [[n] + [f"{by[labels[1], n][i].median / by[labels[0], n][i].median:.1f}×" for i in range(4)]
                      for n in NS]
        print(f"\nRatio {labels[1]} ÷ {labels[0]} (medians):\n")
        print(table(["N", "from scratch", "caption edit", "τ only", "one clip added"], ratio_rows))
    print("\nTargets:")
    for label in labels:
        if (label, 32) in by and label.startswith("full"):
            s, e = by[label, 32][0].median, by[label, 32][1].median
            print(f"- caption edit at N=32, {label}: {fmt_ms(e)} wall, {fmt_ms(by[label, 32][1].cpu_median)} CPU "
                  f"(target ≤ {EDIT_TARGET_MS:.0f} ms on a quiet box: {_ok(e <= EDIT_TARGET_MS)} here); "
                  f"{s / e:.0f}× faster than from scratch "
                  f"(target ≥ {EDIT_SPEEDUP_TARGET:.0f}×: {_ok(s / e >= EDIT_SPEEDUP_TARGET)})")
    for label in labels:
        t = by[label, 64][2].median
        print(f"- τ change at N=64, {label}: {fmt_ms(t)} (target ≤ {TAU_TARGET_MS:.0f} ms: {_ok(t <= TAU_TARGET_MS)})")


def _contrastive_runs(n: int, d: int, repeat: int) -> Timing:
    """contrastive() alone on random (n, d) unit vectors, in this process."""
    import numpy as np

    from clap_core.contrastive import contrastive

    rng = np.random.default_rng(0)
    E_t, E_a = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in rng.standard_normal((2, n, d)))
    E_t, E_a = E_t.astype(np.float32), E_a.astype(np.float32)
    contrastive(E_t, E_a, 30.0)
    return measure(lambda k: contrastive(E_t, E_a, 30.0 + k), max(repeat, 7))


def breakdown(label: str, ck: LoadedCheckpoint, repeat: int) -> None:
    """Section 1b: where a caption edit (N=32) and a τ change (N=64) spend their time, piece by piece."""
    import torch

    from clap_core.contrastive import contrastive
    from clap_core.embed import TEXT_MAX_TOKENS, Embedder

    print(f"\n### 1b. Where the time goes ({label}; ms, median (min–max, n); CPU = process CPU time)\n")
    files = demo_files(11, 64)
    full = demo_batch(files)
    emb = Embedder(ck)
    E_a = emb.embed_clips(full.clips)
    E_t = emb.embed_texts(full.captions)
    tok, model = ck.processor.tokenizer, ck.model
    texts = [f"a loud rising sweep, edited caption number {k} of 32" for k in range(repeat)]
    encs = [tok([t], padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt") for t in texts]
    pooled: list = []

    def tower(k: int) -> None:
        with torch.inference_mode():
            pooled.append(model.text_model(input_ids=encs[k]["input_ids"].to(ck.device),
                                           attention_mask=encs[k]["attention_mask"].to(ck.device)).pooler_output)

    def projection(k: int) -> None:
        with torch.inference_mode():
            torch.nn.functional.normalize(model.text_projection(pooled[k]), dim=-1).float().cpu().numpy()

    parts = [
        ("caption edit: tokenizer (1 caption)",
         measure(lambda k: tok([texts[k]], padding=True, truncation=True, max_length=TEXT_MAX_TOKENS,
                               return_tensors="pt"), repeat)),
        (f"caption edit: text tower ({int(encs[0]['input_ids'].shape[1])} tokens, "
         f"{torch.get_num_threads()} threads)", measure(tower, repeat)),
        ("caption edit: text projection + normalise", measure(projection, repeat)),
        ("caption edit / τ: embed_clips, 32 cache hits", measure(lambda k: emb.embed_clips(full.clips[:32]), repeat)),
        ("caption edit / τ: embed_texts, 32 cache hits", measure(lambda k: emb.embed_texts(full.captions[:32]),
                                                                repeat)),
        ("τ: contrastive(), N=32", measure(lambda k: contrastive(E_t[:32], E_a[:32], 10.0 + k), repeat)),
        ("τ: contrastive(), N=64", measure(lambda k: contrastive(E_t, E_a, 10.0 + k), repeat)),
    ]
    print(table(["piece", "wall", "CPU"], [[name, t.cell(), fmt_ms(t.cpu_median)] for name, t in parts]))
    d = E_t.shape[1]
    rows = []
    for n in (8, 32, 64):
        here = _contrastive_runs(n, d, repeat)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "benchmarks.bench", "--contrastive-case", str(n), str(d), "--repeat", str(repeat)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        one = Timing(tuple(json.loads(done.stdout.strip().splitlines()[-1]))) if done.returncode == 0 else None
        rows.append([n, here.cell(), fmt_ms(here.cpu_median), one.cell() if one else "failed",
                     f"{here.median / one.median:.1f}×" if one else ""])
    print(f"\ncontrastive() alone on random unit vectors (d = {d}; it works in float64): numpy's OpenBLAS as it "
          "comes (threads: one per core) vs OPENBLAS_NUM_THREADS=1 (a subprocess):\n")
    print(table(["N", "default threads: wall", "CPU", "OPENBLAS_NUM_THREADS=1: wall", "default ÷ one thread"], rows))


# -- 2: fp32 vs bf16 --------------------------------------------------------------------------------
def throughput(folder: Path, repeat: int) -> None:
    """Section 2: clips/s and captions/s of the full-size model in fp32 and bf16 (CPU, batch 8)."""
    import numpy as np
    import torch

    from clap_core import demo_world
    from clap_core.checkpoints import cpu_has_fast_bf16, load_checkpoint, resolve_precision
    from clap_core.embed import Embedder

    heading("2. Full-size throughput on CPU, fp32 vs bf16 (batch 8)")
    print(f"cpu_has_fast_bf16() = {cpu_has_fast_bf16()}; torch.backends.cpu.get_cpu_capability() = "
          f"{torch.backends.cpu.get_cpu_capability()!r}; precision 'auto' resolves to "
          f"{resolve_precision('auto', 'cpu', 153_000_000)!r} for a full-size model on this CPU; a fresh Embedder per "
          "run (the Embedder's default feature backend), after a warm-up\n")
    clips = demo_batch(demo_files(21, 8)).clips
    caps = list(dict.fromkeys(c.caption for c in demo_world.generate(22, 400)))[:32]
    res: dict[str, tuple[Timing, Timing, np.ndarray]] = {}
    for prec in ("fp32", "bf16"):
        ck = load_checkpoint(str(folder), device="cpu", precision=prec)
        _warm_up(ck)
        out: dict = {}

        def audio(_k: int, ck=ck, out=out) -> None:
            out["E_a"] = Embedder(ck, batch_size=8).embed_clips(clips)

        def text(_k: int, ck=ck) -> None:
            Embedder(ck, batch_size=8).embed_texts(caps)

        res[prec] = (measure(audio, repeat, THROUGHPUT_BUDGET_S), measure(text, repeat, THROUGHPUT_BUDGET_S),
                     out["E_a"])
        del ck
        print(f"  {prec} done", file=sys.stderr, flush=True)
    rows = []
    for prec, (ta, tt, _) in res.items():
        rows.append([prec, f"{len(clips) / (ta.median / 1000):.2f}", ta.cell(), f"{len(caps) / (tt.median / 1000):.1f}",
                     tt.cell()])
    (fa, ft, ea32), (ba, bt, ea16) = res["fp32"], res["bf16"]
    rows.append(["bf16 ÷ fp32 (throughput)", f"{fa.median / ba.median:.2f}×", "", f"{ft.median / bt.median:.2f}×", ""])
    print(table(["precision", "clips/s", f"{len(clips)} clips (ms)", "captions/s", f"{len(caps)} captions (ms)"], rows))
    gap = float(np.max(1.0 - np.sum(ea32 * ea16, axis=1)))
    print(f"\nAgreement of the two precisions (random weights): largest 1 − cos between a clip's fp32 and bf16 "
          f"embedding = {gap:.1e}")


# -- 3: heatmaps ------------------------------------------------------------------------------------
def st_spec(fig: go.Figure) -> str:
    """The JSON st.plotly_chart puts on the wire for ``fig`` (as streamlit/elements/plotly_chart.py makes it)."""
    import plotly.io
    import plotly.tools

    return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def heatmaps(repeat: int) -> None:
    """Section 3: heatmap build time and payload, fig.to_json() and Streamlit's own serialisation."""
    import numpy as np
    import plotly.io

    from clap_core.contrastive import contrastive
    from ui.figures import heatmap
    from ui.views import VIEWS

    heading("3. Heatmap build time and payload per view")
    print("Streamlit's st.plotly_chart (streamlit/elements/plotly_chart.py) sends "
          "`plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), "
          f"validate=False)`; that is 'st serialise' below (JSON engine: {plotly.io.json.config.default_engine}). "
          "Embeddings: random unit vectors (d = 512), τ = 30; captions and names from the demo world.\n")
    rows = []
    worst: dict[int, tuple[float, float]] = {}
    for n in (8, 64):
        rng = np.random.default_rng(n)
        E_t, E_a = (rng.standard_normal((n, 512)) for _ in range(2))
        E_t /= np.linalg.norm(E_t, axis=1, keepdims=True)
        E_a /= np.linalg.norm(E_a, axis=1, keepdims=True)
        res = contrastive(E_t, E_a, 30.0)
        files = demo_files(31, n)
        names, caps = [name for name, _ in files.files], files.captions
        for v in VIEWS:
            fig = heatmap(res, v, caps, names)
            build = measure(lambda _k, args=(res, v, caps, names): heatmap(*args), repeat)
            serialise = measure(lambda _k, fig=fig: st_spec(fig), repeat)
            spec = st_spec(fig)
            to_json = len(fig.to_json().encode())
            st_bytes = len(spec.encode())
            b, m = worst.get(n, (0.0, 0.0))
            worst[n] = (max(b, build.median), max(m, st_bytes / 1e6))
            rows.append([v.key, n, build.cell(), f"{to_json:,}", serialise.cell(), f"{st_bytes:,}",
                         fmt_ms(build.median + serialise.median)])
    print(table(["view", "N", "build (heatmap())", "fig.to_json() bytes", "st serialise", "st spec bytes",
                 "build + st serialise"], rows))
    b, m = worst[64]
    print(f"\nTargets at N=64 (worst view): build {fmt_ms(b)} (≤ {BUILD_TARGET_MS:.0f} ms: {_ok(b <= BUILD_TARGET_MS)}), "
          f"payload {m:.3f} MB (≤ {PAYLOAD_TARGET_MB} MB: {_ok(m <= PAYLOAD_TARGET_MB)})")


# -- 5: a caption embed on a loaded box -------------------------------------------------------------
def omp_case(folder: str, repeat: int) -> dict:
    """In this process (OMP_WAIT_POLICY already set by the parent): one full-size caption embed with 2 torch
    threads, without and with a numpy matmul subprocess keeps both cores busy."""
    import torch

    from clap_core.checkpoints import load_checkpoint
    from clap_core.embed import Embedder

    torch.set_num_threads(2)
    ck = load_checkpoint(folder, device="cpu", precision="fp32")
    emb = Embedder(ck)
    emb.embed_texts(["a warm-up caption", "another warm-up caption, a little longer than the first"])
    quiet = measure(lambda k: emb.embed_texts([f"a loud rising sweep, quiet run {k:02d}"]), repeat)
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    loader = subprocess.Popen([sys.executable, "-c", LOADER], env=env)
    try:
        time.sleep(1.5)
        cpu0, t0 = proc_cpu_seconds(loader.pid), time.perf_counter()
        loaded = measure(lambda k: emb.embed_texts([f"a loud rising sweep, loaded run {k:02d}"]), repeat)
        loader_cores = (proc_cpu_seconds(loader.pid) - cpu0) / (time.perf_counter() - t0)
    finally:
        loader.kill()
        loader.wait()
    return {"quiet": list(quiet.runs), "loaded": list(loaded.runs), "loader_cores": loader_cores,
            "threads": torch.get_num_threads()}


def loaded_box(folder: Path, repeat: int) -> None:
    """Section 5: the omp_case in a fresh subprocess per OMP_WAIT_POLICY (it must be set before torch loads)."""
    heading("5. One full-size caption embed on a loaded box (2 torch threads), by OMP_WAIT_POLICY")
    print("Each policy in a fresh subprocess; 'loaded': a numpy 1024×1024 matmul loop (OpenBLAS, 2 threads) runs "
          "in another process meanwhile; 'loader cores' is the CPU it got while the embeds ran. "
          "app.py sets PASSIVE unless the variable is set.\n")
    rows, medians = [], {}
    for policy in ("PASSIVE", "ACTIVE", None):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, "-m", "benchmarks.bench", "--omp-case", str(folder), "--repeat", str(repeat)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        name = policy or "unset (libgomp default)"
        if done.returncode != 0:
            rows.append([name, "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:80], "", "", ""])
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        quiet, loaded = Timing(tuple(r["quiet"])), Timing(tuple(r["loaded"]))
        medians[name] = loaded.median
        rows.append([name, quiet.cell(), loaded.cell(), f"{loaded.median / quiet.median:.1f}×",
                     f"{r['loader_cores']:.2f}"])
    print(table(["OMP_WAIT_POLICY", "no loader", "with loader", "with ÷ without", "loader cores"], rows))
    if "PASSIVE" in medians and "ACTIVE" in medians:
        print(f"\nLoaded, ACTIVE ÷ PASSIVE (medians): {medians['ACTIVE'] / medians['PASSIVE']:.2f}×")


# -- main -------------------------------------------------------------------------------------------
def main() -> None:
    """Run the chosen sections and print their tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip every full-size part (bundled checkpoint only)")
    ap.add_argument("--sections", default="1,2,3,4,5", help="comma-separated section numbers (default: all)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timing (the median is reported)")
    ap.add_argument("--omp-case", metavar="FOLDER", help=argparse.SUPPRESS)
    ap.add_argument("--contrastive-case", nargs=2, type=int, metavar=("N", "D"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.omp_case:
        print(json.dumps(omp_case(args.omp_case, args.repeat)))
        return
    if args.contrastive_case:
        print(json.dumps(list(_contrastive_runs(*args.contrastive_case, args.repeat).runs)))
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py: before torch is imported
    sections = {int(s) for s in args.sections.split(",") if s.strip()}
    print("# CLAP Explorer benchmarks\n")
    print("\n".join(f"- {line}" for line in machine_lines()))
    print(f"- full-size parts: {'skipped (--quick)' if args.quick else 'on'}; sections {sorted(sections)}; "
          f"repeat {args.repeat}")
    started = time.perf_counter()
    needs_full = not args.quick and bool(sections & {1, 2, 4, 5})
    with full_size_folder() if needs_full else nullcontext() as folder:
        if folder is not None:
            print(f"- full-size random-weight checkpoint built in {time.perf_counter() - started:.0f} s", flush=True)
        if 1 in sections:
            from clap_core.checkpoints import load_checkpoint

            cks = [("bundled", load_checkpoint("bundled"))]
            if folder is not None:
                cks.append(("full-size", load_checkpoint(str(folder))))
            incremental(cks, args.repeat)
            breakdown(*cks[-1], args.repeat)
            del cks
        if 2 in sections:
            if folder is not None:
                throughput(folder, args.repeat)
            else:
                print("\n## 2. Full-size throughput: skipped (--quick)")
        if 3 in sections:
            heatmaps(args.repeat)
        if 4 in sections:
            from . import served

            served.run(folder, args.repeat)
        if 5 in sections:
            if folder is not None:
                loaded_box(folder, args.repeat)
            else:
                print("\n## 5. A caption embed on a loaded box: skipped (--quick)")
    print(f"\n(total {time.perf_counter() - started:.0f} s; load average at the end: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
