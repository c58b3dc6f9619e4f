"""Command line: ``python -m clap_core {batch,sweep,finetune,zero-shot,retrieval,evaluate,demo-world,train-demo,scenarios,
checkpoints,convert}``.

Unreadable input ends with exit code 2 and one line on stderr naming the file and the reason; with
``--skip-bad`` the rest is processed and the bad files are listed under ``skipped``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from .audio import AudioError
from .batch import LIMITS, Batch, FileOutcome, Limits, read_clips
from .batchfile import BatchFileError, read_batch_zip
from .checkpoints import (
    BUNDLED,
    KNOWN_CHECKPOINTS,
    PRECISIONS,
    SHIPPED,
    CheckpointError,
    load_checkpoint,
    params_millions,
)
from .contrastive import TAU_RANGE, check_tau
from .demo_world import DEFAULT_TEMPLATE
from .features import DEFAULT_POLICY, LONG_CLIP_POLICIES, describe_windowing
from .finetune import MAX_STEPS as FINETUNE_MAX_STEPS
from .finetune import TRAIN_CHOICES as FINETUNE_CHOICES


class UsageError(Exception):
    """Bad arguments or input the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage block) and exit code 2, and no abbreviated flags
    (with both --b and --batch, "--b" must not guess)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def _positive(what: str):
    """An argparse type: a positive, finite float (``what`` names it in the message)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a positive, finite {what}, got {text!r}")
        return value

    return parse


def _whole(lo: int, hi: int | None = None):
    """An argparse type: a whole number from ``lo`` (to ``hi``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}" if hi is None
                                             else f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


_positive_int = _whole(1)


def _tau(text: str) -> float:
    """An argparse type: a τ inside the one valid range (clap_core.contrastive.TAU_RANGE)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (τ), got {text!r}") from None
    try:
        return check_tau(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _quiet_libraries() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _load(args):
    return load_checkpoint(args.checkpoint, device=args.device, precision=args.precision)


def _limits(args) -> Limits:
    return Limits(max_seconds=args.max_seconds, max_clips=LIMITS.max_clips, max_file_mb=LIMITS.max_file_mb)


def _skipped(outcomes: list[FileOutcome], args) -> list[dict]:
    """The files not added; the first one ends the command unless --skip-bad."""
    bad = [o for o in outcomes if not o.added]
    if bad and not args.skip_bad:
        raise AudioError(bad[0].name, bad[0].reason)
    return [{"file": o.name, "reason": o.reason} for o in bad]


def _read(paths: list[str], args) -> tuple[list, list[dict]]:
    """(clip or None per path, skipped records) for commands that are not a batch of pairs."""
    clips, outcomes = read_clips([(p, p) for p in paths], _limits(args))
    return clips, _skipped(outcomes, args)


def _from_batch_file(args, instead: tuple[str, ...]) -> tuple[Batch, list[FileOutcome], dict | None] | None:
    """The batch of --batch or --scenario, read: (batch, one outcome per clip, the file's settings or None); None
    when neither is given. A UsageError when more than one source is given (``instead`` names the flags a batch
    replaces), or none."""
    flags = " and ".join(f"--{name}" for name in instead)
    given = [f for f, v in (("--batch", args.batch), ("--scenario", args.scenario)) if v is not None]
    if not given:
        if not all(getattr(args, name) for name in instead):
            raise UsageError(f"give {flags}, or --batch, or --scenario")
        return None
    if len(given) > 1:
        raise UsageError("--batch and --scenario are both sources of clips: give one")
    if any(getattr(args, name) for name in instead):
        raise UsageError(f"{given[0]} replaces {flags}: give one or the other")
    if args.scenario is not None:
        from . import scenarios

        return scenarios.load(args.scenario, _limits(args)), [], None
    try:
        return read_batch_zip(args.batch, _limits(args))
    except BatchFileError as e:
        raise UsageError(f"{args.batch}: {e}") from None


def _writable_file(path: str) -> None:
    """Before any work: ``path`` can be written as a file (its folder exists, it is not a folder, not a system file
    the process may not write); a UsageError in one line otherwise. A file this creates to try is removed again."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")
    existed = target.exists()
    try:
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as e:
        raise UsageError(f"{path}: cannot be written ({e.strerror or e})") from None
    if not existed:
        target.unlink(missing_ok=True)


def _writable_folder(path: str) -> None:
    """Before any work: ``path`` is a new or empty folder that can be written (a save never overwrites a folder's
    files); a UsageError in one line otherwise."""
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{path}: is a file, not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise UsageError(f"{path}: the folder is not empty; give a new or empty folder (nothing is overwritten)")
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{path}: cannot be written ({e.strerror or e})") from None


def _clip_record(clip, ck, policy: str) -> dict:
    info = clip.info
    window = int(round(ck.window_seconds * ck.sampling_rate))
    n = len(clip.waveform(ck.sampling_rate))
    return {
        "file": info.name, "container": info.container, "source_rate": info.source_rate, "file_rate": info.file_rate,
        "channels": info.channels, "seconds": round(info.seconds, 4),
        "resampled": info.source_rate != ck.sampling_rate, "truncated": info.truncated,
        "windowing": describe_windowing(n, ck.sampling_rate, window, policy),
        "warnings": list(clip.warnings_for(ck.window_seconds)),
    }


def _emit(args, payload: dict, text: str) -> None:
    print(json.dumps(payload) if args.json else text)


def _read_pairs(args):
    """The pairs of --audio/--text (or --batch), read as ``batch`` does, and the checkpoint:
    (checkpoint, batch, skipped records, the batch file's settings or None)."""
    from_file = _from_batch_file(args, ("audio", "text"))
    if from_file is None and len(args.audio) != len(args.text):
        raise UsageError(f"need one caption per clip: got {len(args.audio)} clips and {len(args.text)} captions")
    ck = _load(args)
    if from_file is None:
        batch, outcomes = Batch(limits=_limits(args)).add_files([(p, p) for p in args.audio], "file", captions=args.text)
    else:
        batch, outcomes, _ = from_file
    skipped = _skipped(outcomes, args)
    if not len(batch):
        raise UsageError("no readable clips left")
    return ck, batch, skipped, (from_file[2] if from_file else None)


def _embedded_pairs(args):
    """The pairs of --audio/--text (or --batch), read and embedded as ``batch`` does:
    (checkpoint, batch, E_t (N, d), E_a (N, d), skipped records, the batch file's settings or None)."""
    from .embed import Embedder

    ck, batch, skipped, settings = _read_pairs(args)
    emb = Embedder(ck)
    E_a = emb.embed_clips(batch.clips, policy=args.policy)
    E_t = emb.embed_texts(batch.captions)
    return ck, batch, E_t, E_a, skipped, settings


def _batch_report(ck, batch: Batch, E_t: np.ndarray, E_a: np.ndarray, policy: str, tau: float):
    """``batch``'s result for embedded pairs, its JSON payload (without ``skipped``) and its text lines;
    finetune reports with it too."""
    from .contrastive import contrastive

    texts, kept_clips = batch.captions, batch.clips
    res = contrastive(E_t, E_a, tau)
    payload = {"checkpoint": ck.name, "precision": ck.precision, "policy": policy, "texts": texts,
               "clips": [_clip_record(c, ck, policy) for c in kept_clips],
               **res.to_dict(), "tau_checkpoint": ck.tau, "C_is_symmetric": res.is_symmetric(), "note": res.note}
    lines = [f"checkpoint {ck.name}  τ={tau:.4f}  N={res.n}  chance log N={res.chance:.4f}",
             f"loss_text {res.loss_text:.4f}  loss_audio {res.loss_audio:.4f}  loss {res.loss:.4f}"]
    for i, t in enumerate(texts):
        lines.append(f"  [{i}] {t!r:40.40} ↔ {kept_clips[i].info.name}:  ℓ_text_i {res.per_item_text[i]:.4f}  "
                     f"ℓ_audio_i {res.per_item_audio[i]:.4f}")
    if res.note:
        lines.append(res.note)
    return res, payload, lines


def cmd_batch(args) -> int:
    from .sigmoid import check_tb, resolve_tb, sigmoid_from_cosine

    if args.loss != "sigmoid" and (args.t is not None or args.b is not None):
        raise UsageError("--t and --b are the sigmoid loss's scale and bias: add --loss sigmoid")
    if args.loss == "sigmoid":
        check_tb(0.0 if args.t is None else args.t, 0.0 if args.b is None else args.b)  # before any work
    if args.save_embeddings:
        _writable_file(args.save_embeddings)
    ck, batch, E_t, E_a, skipped, settings = _embedded_pairs(args)
    tau = ck.tau if args.tau is None else args.tau
    res, payload, lines = _batch_report(ck, batch, E_t, E_a, args.policy, tau)
    if args.save_embeddings:
        np.savez(args.save_embeddings, E_a=E_a.astype(np.float32), E_t=E_t.astype(np.float32),
                 tau=np.float64(tau), texts=np.array(batch.captions), files=np.array(batch.names))
    payload.update(skipped=skipped, **({"batch_settings": settings} if settings is not None else {}))
    if args.loss == "sigmoid":  # the softmax keys above stay as they are; SigLIP's terms on the same cosines beside them
        t, b, source = resolve_tb(ck.model, args.t, args.b)
        sig = sigmoid_from_cosine(res.cosine, t, b)
        payload["sigmoid"] = {**sig.to_dict(), "tb_source": source}
        lines += [*sig.report_lines(batch.captions, [c.info.name for c in batch.clips]), f"t and b: {source}"]
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_sweep(args) -> int:
    from .contrastive import cosine_matrix
    from .sigmoid import sweep_tb, tb_grid
    from .sweep import sweep_tau

    if args.loss == "sigmoid":
        if args.taus is not None:
            raise UsageError("--taus is the softmax sweep's grid: with --loss sigmoid give --ts and --bs")
        tb_grid(args.ts, args.bs)  # a bad grid stops here, before any work
    elif args.ts is not None or args.bs is not None:
        raise UsageError("--ts and --bs are the sigmoid loss's grid: add --loss sigmoid")
    ck, batch, E_t, E_a, skipped, _ = _embedded_pairs(args)
    if args.loss == "sigmoid":
        tb = sweep_tb(cosine_matrix(E_t, E_a), args.ts, args.bs)
        payload = {"checkpoint": ck.name, "n": len(batch), "loss_kind": "sigmoid", **tb.to_dict(), "skipped": skipped}
        lines = [f"checkpoint {ck.name}  N={len(batch)}  sigmoid loss over t × b", *tb.report_lines()]
        lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
        _emit(args, payload, "\n".join(lines))
        return 0
    sw = sweep_tau(cosine_matrix(E_t, E_a), args.taus)
    payload = {"checkpoint": ck.name, "n": len(batch), "tau_checkpoint": ck.tau, **sw.to_dict(), "skipped": skipped}
    lines = [f"checkpoint {ck.name}  N={len(batch)}  chance log N={sw.chance:.4f}  τ of the checkpoint {ck.tau:.4f}",
             f"best τ {sw.best_tau:.4f}  L {_loss_text(sw.best_loss)}" + _where(sw)]
    lines += [f"  τ {t:10.4f}  loss_text {lt:.4f}  loss_audio {la:.4f}  loss {lo:.4f}"
              for t, lt, la, lo in zip(sw.tau, sw.loss_text, sw.loss_audio, sw.loss)]
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def _loss_text(value: float) -> str:
    """A loss to 4 decimals, or in scientific notation when it is positive but would print as 0.0000."""
    return f"{value:.4f}" if value == 0 or value >= 5e-5 else f"{value:.3g}"


def _where(sw) -> str:
    """Where τ* sits in the range searched, in words (nothing for an inner minimum)."""
    if len(sw.tau) == 1:
        return "  (the only τ given)"
    if sw.at_upper_bound:
        return "  (the top of the range)"
    if sw.at_lower_bound:
        return "  (the bottom of the range)"
    return ""


def cmd_retrieval(args) -> int:
    from .contrastive import cosine_matrix
    from .retrieval import TIE_RULE, partner_ranks, retrieval_metrics
    from .twins import summary, twin_scores

    ck, batch, E_t, E_a, skipped, _ = _embedded_pairs(args)
    cos = cosine_matrix(E_t, E_a)
    metrics = retrieval_metrics(cos)
    rows, cols = partner_ranks(cos)
    twins = twin_scores(E_t, E_a, batch.captions, batch.labels, names=batch.names)
    payload = {"checkpoint": ck.name, "tau": ck.tau, "captions": batch.captions, "clips": batch.names, **metrics,
               "rank_of_clip_text_to_audio": rows.tolist(), "rank_of_caption_audio_to_text": cols.tolist(),
               "tie_rule": TIE_RULE, "twins": twins, "skipped": skipped}
    lines = [f"checkpoint {ck.name}  N={len(batch)}"]
    for d, words in (("text_to_audio", "text → audio (a caption finds its clip)"),
                     ("audio_to_text", "audio → text (a clip finds its caption)")):
        lines.append(f"{words}:  " + "  ".join(f"{m} {metrics[f'{d}_{m}']:.3f}" for m in ("R@1", "R@5", "R@10", "mAP")))
    lines += [f"  [{i}] {c!r:40.40} ↔ {n}:  rank of its clip {r}, rank of its caption {k}"
              for i, (c, n, r, k) in enumerate(zip(batch.captions, batch.names, rows, cols))]
    lines += [summary(twins)] if twins else []
    lines += [f"tie rule: {TIE_RULE}"] + [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_finetune(args) -> int:
    from .embed import Embedder
    from .finetune import FineTuner, FinetuneSettings, save_pretrained

    if args.save:
        _writable_folder(args.save)
    ck, batch, skipped, _ = _read_pairs(args)
    emb = Embedder(ck)
    settings = FinetuneSettings(lr=args.lr, train=args.train, seed=args.seed, holdout=args.holdout, loss=args.loss)
    ft = FineTuner(emb, batch.clips, batch.captions, args.policy, settings)  # checks the settings, then embeds
    _, initial, before = _batch_report(ck, batch, emb.embed_texts(batch.captions),
                                       emb.embed_clips(batch.clips, args.policy), args.policy, ck.tau)
    ft.step(args.steps)
    tuned = ft.checkpoint()
    tuned_emb = emb.for_heads(tuned)
    _, final, after = _batch_report(tuned, batch, tuned_emb.embed_texts(batch.captions),
                                    tuned_emb.embed_clips(batch.clips, args.policy), args.policy, tuned.tau)
    if args.save:
        save_pretrained(tuned, args.save)
    held = {"heldout": ft.heldout, "heldout_pairs": ft.held_idx.tolist()} if len(ft.held_idx) else {}
    payload = {"steps": ft.steps, "lr": args.lr, "train": args.train, "seed": args.seed, "loss": ft.loss, **held,
               "initial": initial, "final": final, "saved": args.save, "skipped": skipped}
    lines = ["before:", *before, f"{ft.steps} steps ({args.train}, lr {args.lr:g}): L on the training pairs "
             f"{ft.loss0:.4f} → {ft.loss[-1]:.4f}" + (f", held-out {ft.heldout0:.4f} → {ft.heldout[-1]:.4f}" if held else ""),
             "after:", *after] + ([f"saved to {args.save}"] if args.save else [])
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_zero_shot(args) -> int:
    from .embed import Embedder
    from .zeroshot import check_labels, check_templates, zero_shot

    templates = check_templates(args.template or [DEFAULT_TEMPLATE])
    from_file = _from_batch_file(args, ("audio",))
    own = sorted({lab for lab in from_file[0].labels if lab}) if from_file else []
    if not args.labels and not own:
        raise UsageError("give --labels (a batch with true labels, from --batch or --scenario, uses its own)")
    labels = check_labels(args.labels or own)
    ck = _load(args)
    if from_file is None:
        clips, skipped = _read(args.audio, args)
    else:
        clips, skipped = from_file[0].clips, _skipped(from_file[1], args)
    kept = [c for c in clips if c is not None]
    if not kept:
        raise UsageError("no readable clips left")
    emb = Embedder(ck)
    E_a = emb.embed_clips(kept, policy=args.policy)
    zs = zero_shot(emb, E_a, labels, templates, tau=args.tau)
    results = []
    for i, c in enumerate(kept):
        results.append({"file": c.info.name, "top_label": zs.top1[i],
                        "probabilities": {lab: float(p) for lab, p in zip(zs.labels, zs.probs[i])},
                        "top_k": [{"label": lab, "probability": p} for lab, p in zs.top_k(args.top_k)[i]]})
    payload = {"checkpoint": ck.name, "tau": zs.tau, "labels": list(zs.labels), "templates": list(zs.templates),
               "results": results, "skipped": skipped}
    lines = [f"{r['file']}: " + ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top_k"]) for r in results]
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_evaluate(args) -> int:
    from .embed import Embedder
    from .evaluate import Evaluation, path_set

    if args.csv_out:
        _writable_file(args.csv_out)
    from .references import lines as reference_lines
    from .twins import NO_TWINS, summary

    data = path_set(args.data)
    if args.twins and data.standard is not None:
        raise UsageError(f"{args.data}: --twins: {data.standard.dataset} holds no twin pairs; {NO_TWINS}")
    ck = _load(args)
    run = Evaluation(data, Embedder(ck), labels=args.labels, templates=args.template, policy=args.policy,
                     limits=_limits(args), strict=not args.skip_bad).run()
    res = run.result()
    if args.attributes and res.attributes is None:
        raise UsageError(f"{args.data}: --attributes needs same-label clips whose captions differ in one attribute word "
                         "(quiet/loud, slow/fast, low/high) only; none found (demo-world --world pairs writes such a set)")
    if args.twins and res.twins is None:
        raise UsageError(f"{args.data}: --twins: {NO_TWINS}")
    if args.csv_out:
        Path(args.csv_out).write_text(res.rows_csv(), encoding="utf-8")
    if res.zs is None:
        head = f"{res.clips} clips; no zero-shot (a caption set: give --labels to classify its clips too)"
    else:
        acc = f"{res.accuracy:.3f}" if res.accuracy is not None else "n/a (no clip's label is among the labels)"
        head = f"{res.clips} clips, {len(res.labels)} labels, zero-shot accuracy {acc}"
    lines = [f"protocol: {res.protocol.text()}", head]
    if res.folds:
        lines += ["  fold  clips  accuracy"] + [f"  {f['fold']:>4}  {f['clips']:>5}  {f['accuracy']:.3f}"
                                               for f in res.folds["folds"]]
        lines += [f"  mean of {len(res.folds['folds'])} folds  {res.folds['mean_accuracy']:.3f}"]
    lines += [f"retrieval on {res.retrieval_on}:"] + [f"  {k} {v:.3f}" for k, v in res.retrieval.items()]
    if res.attributes:
        a = res.attributes
        lines += [f"attribute accuracy over {a['pairs']} caption twins: caption → clip {a['rows']:.3f}, "
                  f"clip → caption {a['columns']:.3f} (chance 0.5)"]
        lines += [f"  {k} ({v['pairs']} pairs): {v['rows']:.3f} / {v['columns']:.3f}" for k, v in a["by_attribute"].items()]
    if res.twins:
        lines += [summary(res.twins)]
        lines += [f"  {k} ({v['pairs']} pairs): text {v['text']:.3f}, audio {v['audio']:.3f}, group {v['group']:.3f}"
                  for k, v in res.twins.get("by_kind", {}).items()]
    if res.reference:
        lines += reference_lines(res.reference)
    lines += [f"warning {w['file']}: {text}" for w in res.warnings for text in w["warnings"]]
    lines += [f"skipped {s.name}: {s.reason}" for s in res.skipped]
    lines += [f"{res.read} files in {res.seconds:.1f} s ({res.clips_per_second or 0:.1f} clips/s)"]
    lines += [f"wrote {res.clips} rows to {args.csv_out}"] if args.csv_out else []
    _emit(args, res.to_dict(), "\n".join(lines))
    return 0


def cmd_demo_world(args) -> int:
    from .demo_world import write_world

    if args.n < 1:
        raise UsageError("--n must be at least 1")
    csv_path = write_world(args.seed, args.n, args.out, args.world)
    clips = sum(1 for _ in csv_path.open()) - 1
    _emit(args, {"out": str(args.out), "csv": str(csv_path), "n": args.n, "seed": args.seed, "world": args.world,
                 "clips": clips}, f"wrote {clips} clips and {csv_path}")
    return 0


def cmd_train_demo(args) -> int:
    from .training import recipe_config, train_demo

    cfg = recipe_config(args.recipe, seed=args.seed, **({"steps": args.steps} if args.steps else {}))
    report = train_demo(args.out, cfg, log=lambda m: print(m, file=sys.stderr))
    _emit(args, report, json.dumps(report, indent=2))
    return 0


def cmd_scenarios(args) -> int:
    from .scenarios import SCENARIOS, SCENARIOS_DIR, build, listing, rows

    if args.list:
        _emit(args, {"scenarios": [{"name": s.name, "title": s.title, "pairs": len(rows(s.name)), "look_at": s.look_at}
                                   for s in SCENARIOS]}, listing())
        return 0
    out = Path(args.out) if args.out else SCENARIOS_DIR
    paths = build(out)
    _emit(args, {"out": str(out), "scenarios": [str(p) for p in paths]}, "\n".join(map(str, paths)))
    return 0


def cmd_check(args) -> int:
    from .health import health_check

    ck = _load(args)
    report = health_check(ck, policy=args.policy, references=not args.no_references,
                          on_step=lambda m: print(f"… {m}", file=sys.stderr))
    _emit(args, report.to_dict(), report.text())
    return 0


def cmd_checkpoints(args) -> int:
    rows = [{"name": k.name, "params_m": params_millions(k), "download_mb": k.download_mb, "truncation": k.truncation,
             "notes": k.notes} for k in KNOWN_CHECKPOINTS]
    _emit(args, {"checkpoints": rows}, "\n".join(f"{r['name']:38} {r['params_m']:7.1f} M  {r['download_mb']:4d} MB  {r['notes']}" for r in rows))
    return 0


def cmd_convert(args) -> int:
    from .msclap import MsClapError, convert

    try:
        out = convert(args.file, args.out, tokenizer=args.tokenizer)
    except MsClapError as e:
        raise UsageError(str(e)) from None  # MsClapError names the file
    _emit(args, {"out": str(out)}, f"wrote {out} (load it with --checkpoint {out})")
    return 0


# -- the parser: one function per sub-command, each beside the flags it shares -------------------------------------
def _common(sp, model: bool = True) -> None:
    """--json; with ``model``, the checkpoint and decoding flags every model command takes."""
    sp.add_argument("--json", action="store_true", help="print JSON")
    if model:
        sp.add_argument("--checkpoint", default=BUNDLED, help="'bundled' (default), a hub id or a local folder")
        sp.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
        sp.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="weights in fp32 or bf16; auto: bf16 on CUDA and on CPUs with hardware bf16, for "
                             "full-size models (default auto)")
        sp.add_argument("--policy", default=DEFAULT_POLICY, choices=LONG_CLIP_POLICIES, help="clips longer than the window")
        sp.add_argument("--max-seconds", type=_positive("number of seconds"), default=LIMITS.max_seconds,
                        help=f"stop decoding a file after this many seconds (default {LIMITS.max_seconds:g}, as the app)")
        sp.add_argument("--skip-bad", action="store_true", help="skip unreadable files instead of stopping")


def _scenario(sp) -> None:
    """--scenario NAME: a shipped scenario instead of --audio (and --text)."""
    from .scenarios import names

    sp.add_argument("--scenario", default=None, choices=names(), metavar="NAME",
                    help="a shipped scenario (the Batch page's) instead of --audio/--text: " + ", ".join(names())
                         + " (python -m clap_core scenarios --list)")


def _pairs(sp, note: str = "") -> None:
    """--audio/--text, or --batch, or --scenario: the N (clip, caption) pairs of batch, sweep, finetune, retrieval."""
    sp.add_argument("--audio", nargs="+", help="the clips (with --text, one caption per clip)")
    sp.add_argument("--text", nargs="+", help="the captions, in the order of --audio")
    sp.add_argument("--batch", default=None, help="a batch file (.zip from the app's Download batch) instead of "
                                                  "--audio/--text" + note)
    _scenario(sp)


def _templates(sp) -> None:
    sp.add_argument("--template", action="append", help="prompt template with {} (repeat to ensemble)")


def _parse_batch(sub) -> None:
    b = sub.add_parser("batch", help="C, both softmaxes and every loss term for N (clip, caption) pairs")
    _pairs(b, "; its τ and policy are not applied")
    b.add_argument("--tau", type=_tau, default=None, help="override τ, within %g … %g (default: the checkpoint's "
                                                        "exp(logit_scale_a))" % TAU_RANGE)
    b.add_argument("--save-embeddings", default=None, help="write E_a, E_t, tau to this .npz")
    b.add_argument("--loss", choices=("softmax", "sigmoid"), default="softmax",
                   help="softmax (default): CLAP's symmetric loss; sigmoid: SigLIP's loss on the same cosines too, "
                        "in a 'sigmoid' object beside the softmax keys")
    b.add_argument("--t", type=float, default=None, help="with --loss sigmoid: the scale t ≥ 0 (default: the "
                                                         "checkpoint's, else SigLIP's initial 10; CLAP checkpoints have none)")
    b.add_argument("--b", type=float, default=None, help="with --loss sigmoid: the bias b (default: the checkpoint's "
                                                         "logit_bias, else SigLIP's initial −10)")
    _common(b)
    b.set_defaults(func=cmd_batch)


def _parse_sweep(sub) -> None:
    s = sub.add_parser("sweep", help="ℓ_text, ℓ_audio and L over a range of τ, and the τ that minimises L")
    _pairs(s)
    s.add_argument("--taus", nargs="+", type=_tau, default=None,
                   help="the τ values (default: 61 log-spaced from 0.1 to 1000); τ* is searched between the smallest and largest")
    s.add_argument("--loss", choices=("softmax", "sigmoid"), default="softmax",
                   help="softmax (default): L over τ; sigmoid: SigLIP's loss over a (t, b) grid and its minimiser")
    s.add_argument("--ts", nargs="+", type=float, default=None,
                   help="with --loss sigmoid: the t values, each ≥ 0 (default: 13 log-spaced from 1 to 1000)")
    s.add_argument("--bs", nargs="+", type=float, default=None,
                   help="with --loss sigmoid: the b values (default: −50 to 10 in steps of 5); the minimiser is "
                        "searched in the box the two grids span")
    _common(s)
    s.set_defaults(func=cmd_sweep)


def _parse_finetune(sub) -> None:
    f = sub.add_parser("finetune", help="fine-tune a copy of the projection heads (and τ) on N (clip, caption) pairs")
    _pairs(f)
    f.add_argument("--steps", type=_whole(1, FINETUNE_MAX_STEPS), required=True, help=f"optimiser steps, 1 to {FINETUNE_MAX_STEPS}")
    f.add_argument("--lr", type=_positive("learning rate"), default=1e-3, help="Adam's learning rate (default 0.001)")
    f.add_argument("--train", choices=FINETUNE_CHOICES, default=FINETUNE_CHOICES[0],
                   help="heads: the two projection heads; heads+tau: and log τ (default heads)")
    f.add_argument("--seed", type=int, default=0, help="picks the held-out pairs (nothing else is random)")
    f.add_argument("--holdout", type=_whole(0), default=0, help="pairs kept out of training; their loss is reported too")
    f.add_argument("--loss", choices=("softmax", "sigmoid"), default="softmax",
                   help="softmax: CLAP's symmetric loss (default); sigmoid: SigLIP's, the bias b trained as well (and t "
                        "with --train heads+tau), from the checkpoint's t and b or SigLIP's t = 10, b = −10")
    f.add_argument("--save", default=None, help="write the fine-tuned checkpoint into this new or empty folder "
                                                "(save_pretrained; loads back with --checkpoint FOLDER)")
    _common(f)
    f.set_defaults(func=cmd_finetune)


def _parse_zero_shot(sub) -> None:
    z = sub.add_parser("zero-shot", help="probability of each label for each clip")
    z.add_argument("--audio", nargs="+", help="the clips")
    z.add_argument("--batch", default=None, help="the clips of a batch file (.zip) instead of --audio")
    _scenario(z)
    z.add_argument("--labels", nargs="+", default=None,
                   help="the labels (default with --batch or --scenario: the batch's own true labels)")
    _templates(z)
    z.add_argument("--top-k", type=_positive_int, default=5)
    z.add_argument("--tau", type=_tau, default=None, help="τ, within %g … %g (default: the checkpoint's)" % TAU_RANGE)
    _common(z)
    z.set_defaults(func=cmd_zero_shot)


def _parse_retrieval(sub) -> None:
    r = sub.add_parser("retrieval", help="R@1/5/10 and mAP both ways and each pair's partner ranks (the Retrieval "
                                         "page's numbers, one tie rule)")
    _pairs(r)
    _common(r)
    r.set_defaults(func=cmd_retrieval)


def _parse_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="zero-shot accuracy and retrieval metrics on labelled data")
    e.add_argument("--data", required=True, help="CSV file,label[,caption][,pair], a folder of label subfolders (or "
                                                 "holding clips.csv), or a zip of either; or a standard dataset as "
                                                 "published, as a folder, a zip or its metadata CSV: ESC-50 "
                                                 "(meta/esc50.csv + audio/), UrbanSound8K (metadata/UrbanSound8K.csv + "
                                                 "audio/foldN/), Clotho (clotho_captions_<split>.csv + <split>/), "
                                                 "AudioCaps (<split>.csv + <youtube_id>[_<start_time>].wav)")
    e.add_argument("--labels", nargs="+", default=None,
                   help="the labels to classify into (default: the set's own labels, sorted)")
    _templates(e)
    e.add_argument("--csv-out", default=None, help="write one row per clip: file,label,predicted,probability,correct")
    e.add_argument("--attributes", action="store_true",
                   help="require the attribute-level accuracy (reported whenever the captions hold same-label twins "
                        "that differ in one attribute word); exit 2 when there are none")
    e.add_argument("--twins", action="store_true",
                   help="require the twin test (Winoground text, audio and group scores over twin pairs: a pair column, "
                        "or same-label clips whose captions differ in one attribute word); exit 2 when there are none")
    _common(e)
    e.set_defaults(func=cmd_evaluate)


def _parse_demo_world(sub) -> None:
    d = sub.add_parser("demo-world", help="write generated demo clips and clips.csv")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--n", type=_positive_int, default=24,
                   help="clips (classes, attributes), or twin pairs per class and attribute (pairs: 42·n clips)")
    d.add_argument("--world", choices=("classes", "attributes", "pairs"), default="classes",
                   help="classes: the original world; attributes: captions' attribute words true of the audio; "
                        "pairs: same-class twins whose captions differ in one attribute word (for evaluate "
                        "--attributes)")
    d.add_argument("--out", required=True)
    _common(d, model=False)
    d.set_defaults(func=cmd_demo_world)


def _parse_train_demo(sub) -> None:
    t = sub.add_parser("train-demo", help="rebuild a shipped demo checkpoint from scratch")
    t.add_argument("--out", required=True)
    t.add_argument("--recipe", choices=[recipe for _, recipe in SHIPPED.values()], default=SHIPPED[BUNDLED][1],
                   help="; ".join(f"{recipe}: rebuilds '{name}'" for name, (_, recipe) in SHIPPED.items()))
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--steps", type=int, default=None)
    _common(t, model=False)
    t.set_defaults(func=cmd_train_demo)


def _parse_scenarios(sub) -> None:
    sc = sub.add_parser("scenarios", help="rebuild the shipped scenario batches (assets/scenarios), or list them")
    sc.add_argument("--out", default=None, help="where to write (default: assets/scenarios; the CSVs name files "
                                                "relative to their own folder)")
    sc.add_argument("--list", action="store_true", help="list the scenarios (name, pairs, title) and write nothing")
    _common(sc, model=False)
    sc.set_defaults(func=cmd_scenarios)


def _parse_convert(sub) -> None:
    cv = sub.add_parser("convert", help="an MS-CLAP .pth → a safetensors folder that loads without pickle")
    cv.add_argument("--from", dest="source_format", choices=("msclap",), required=True, help="the file's format")
    cv.add_argument("file", help="msclap's CLAP_weights_2022.pth or CLAP_weights_2023.pth (read weights-only)")
    cv.add_argument("--out", required=True, help="the folder to write (config.json, model.safetensors, tokenizer)")
    cv.add_argument("--tokenizer", default=None,
                    help="folder or hub id of the text tokenizer to copy in (default: gpt2 / bert-base-uncased "
                         "from the hub cache)")
    _common(cv, model=False)
    cv.set_defaults(func=cmd_convert)


def _parse_check(sub) -> None:
    h = sub.add_parser("check", help="is this checkpoint healthy? each figure with its meaning and a verdict, beside "
                                     "the bundled checkpoint and a random-weight model of the same configuration")
    h.add_argument("--no-references", action="store_true", help="skip the two reference points (faster)")
    _common(h)
    h.set_defaults(func=cmd_check)


def _parse_checkpoints(sub) -> None:
    c = sub.add_parser("checkpoints", help="list the known checkpoints")
    _common(c, model=False)
    c.set_defaults(func=cmd_checkpoints)


SUBCOMMANDS = (_parse_batch, _parse_sweep, _parse_finetune, _parse_zero_shot, _parse_retrieval, _parse_evaluate,
               _parse_demo_world, _parse_train_demo, _parse_scenarios, _parse_convert, _parse_check, _parse_checkpoints)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands (each added by its ``_parse_*`` function, in SUBCOMMANDS order)."""
    p = _Parser(prog="python -m clap_core", description="CLAP Explorer's engine: loss terms, zero-shot, evaluation.")
    sub = p.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.func(args)
    except AudioError as e:
        print(f"error: {e.name}: {e.reason}", file=sys.stderr)
    except (CheckpointError, UsageError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
    return 2
