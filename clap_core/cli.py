"""Command line: ``python -m clap_core {batch,zero-shot,evaluate,demo-world,train-demo,checkpoints}``.

Unreadable input ends with exit code 2 and one line on stderr naming the file and the reason; with
``--skip-bad`` the rest is processed and the bad files are listed under ``skipped``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np

from .audio import AudioError, describe_content
from .batch import LIMITS, Batch, FileOutcome, Limits, read_clips
from .batchfile import BatchFileError, read_batch_zip
from .checkpoints import BUNDLED, KNOWN_CHECKPOINTS, PRECISIONS, CheckpointError, load_checkpoint, params_millions
from .demo_world import DEFAULT_TEMPLATE
from .features import DEFAULT_POLICY, LONG_CLIP_POLICIES, describe_windowing

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm", ".mka", ".aif", ".aiff"}


class UsageError(Exception):
    """Bad arguments or input the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage block) and exit code 2."""

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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


def _from_batch_file(args, instead: tuple[str, ...]) -> tuple[Batch, list[FileOutcome], dict] | None:
    """The batch file of --batch, read: (batch, one outcome per clip, its settings); None without --batch.
    A UsageError when --batch comes with the flags it replaces (``instead``), or neither is given."""
    flags = " and ".join(f"--{name}" for name in instead)
    if args.batch is None:
        if not all(getattr(args, name) for name in instead):
            raise UsageError(f"give {flags}, or --batch")
        return None
    if any(getattr(args, name) for name in instead):
        raise UsageError(f"--batch replaces {flags}: give one or the other")
    try:
        return read_batch_zip(args.batch, _limits(args))
    except BatchFileError as e:
        raise UsageError(f"{args.batch}: {e}") from None


def _clip_record(clip, ck, policy: str) -> dict:
    info = clip.info
    window = int(round(ck.window_seconds * ck.sampling_rate))
    n = len(clip.waveform(ck.sampling_rate))
    return {
        "file": info.name, "container": info.container, "source_rate": info.source_rate,
        "channels": info.channels, "seconds": round(info.seconds, 4),
        "resampled": info.source_rate != ck.sampling_rate, "truncated": info.truncated,
        "windowing": describe_windowing(n, ck.sampling_rate, window, policy),
        "warnings": list(clip.warnings_for(ck.window_seconds)),
    }


def _emit(args, payload: dict, text: str) -> None:
    print(json.dumps(payload) if args.json else text)


def cmd_batch(args) -> int:
    from .contrastive import contrastive
    from .embed import Embedder

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
    texts, kept_clips = batch.captions, batch.clips
    emb = Embedder(ck)
    E_a = emb.embed_clips(kept_clips, policy=args.policy)
    E_t = emb.embed_texts(texts)
    tau = ck.tau if args.tau is None else args.tau
    res = contrastive(E_t, E_a, tau)
    if args.save_embeddings:
        np.savez(args.save_embeddings, E_a=E_a.astype(np.float32), E_t=E_t.astype(np.float32),
                 tau=np.float64(tau), texts=np.array(texts), files=np.array([c.info.name for c in kept_clips]))
    payload = {"checkpoint": ck.name, "precision": ck.precision, "policy": args.policy, "texts": texts,
               "clips": [_clip_record(c, ck, args.policy) for c in kept_clips],
               **res.to_dict(), "tau_checkpoint": ck.tau, "C_is_symmetric": res.is_symmetric(),
               "note": res.note, "skipped": skipped, **({"batch_settings": from_file[2]} if from_file else {})}
    lines = [f"checkpoint {ck.name}  τ={tau:.4f}  N={res.n}  chance log N={res.chance:.4f}",
             f"loss_text {res.loss_text:.4f}  loss_audio {res.loss_audio:.4f}  loss {res.loss:.4f}"]
    for i, t in enumerate(texts):
        lines.append(f"  [{i}] {t!r:40.40} ↔ {kept_clips[i].info.name}:  ℓ_text_i {res.per_item_text[i]:.4f}  "
                     f"ℓ_audio_i {res.per_item_audio[i]:.4f}")
    if res.note:
        lines.append(res.note)
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_zero_shot(args) -> int:
    from .embed import Embedder
    from .zeroshot import check_labels, check_templates, zero_shot

    templates = check_templates(args.template or [DEFAULT_TEMPLATE])
    labels = check_labels(args.labels)
    from_file = _from_batch_file(args, ("audio",))
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


LABELLED_DATA = "a CSV file (file,label[,caption]) or a folder of label folders"
WORLD_CSV = "clips.csv"  # what demo-world writes beside its clips; a folder holding one is read through it


def read_labelled(data: str) -> list[dict]:
    """Rows {file, label, caption|None} from a CSV (file,label[,caption]), a folder holding clips.csv, or a
    folder of label folders."""
    path = Path(data)
    if path.is_dir() and (path / WORLD_CSV).is_file():
        return _csv_rows(path / WORLD_CSV, str(path / WORLD_CSV))
    if path.is_dir():
        rows = [{"file": str(f), "label": d.name, "caption": None}
                for d in sorted(p for p in path.iterdir() if p.is_dir())
                for f in sorted(d.iterdir()) if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES]
        if not rows:
            raise UsageError(f"{data}: no audio files in label subfolders and no {WORLD_CSV} "
                             f"(expected DIR/<label>/<clip> or DIR/{WORLD_CSV})")
        return rows
    if path.is_file():
        return _csv_rows(path, data)
    raise UsageError(f"{data}: no such file or folder")


def _csv_text(path: Path, shown: str) -> str:
    """The file's text; a UsageError naming it when its bytes are not UTF-8 text (an image, audio, …)."""
    with path.open("rb") as f:
        head = f.read(4096)
    text = None
    if b"\0" not in head:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    if text is None or "\0" in text:
        what = describe_content(head) or "binary data, not UTF-8 text"
        raise UsageError(f"{shown}: not {LABELLED_DATA}; its content is {what}")
    return text


def _csv_rows(path: Path, shown: str) -> list[dict]:
    """Rows of a CSV file,label[,caption]; relative file paths are taken from the CSV's folder."""
    reader = csv.DictReader(io.StringIO(_csv_text(path, shown), newline=""))
    rows = []
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        if not {"file", "label"} <= set(columns):
            raise UsageError(f"{shown}: not {LABELLED_DATA}; its first line has no file and label columns")
        reader.fieldnames = columns
        for r in reader:
            file, label = (r.get("file") or "").strip(), (r.get("label") or "").strip()
            if not file or not label:
                raise UsageError(f"{shown}: line {reader.line_num} has an empty {'file' if not file else 'label'}")
            rows.append({"file": file if Path(file).is_absolute() else str((path.parent / file).resolve()),
                         "label": label, "caption": (r.get("caption") or "").strip() or None})
    except csv.Error as e:
        raise UsageError(f"{shown}: not a readable CSV (line {reader.line_num}: {e})") from None
    if not rows:
        raise UsageError(f"{shown}: the CSV has no rows")
    return rows


def cmd_evaluate(args) -> int:
    from .embed import Embedder
    from .retrieval import retrieval_metrics
    from .zeroshot import zero_shot

    rows = read_labelled(args.data)
    template = (args.template or [DEFAULT_TEMPLATE])
    ck = _load(args)
    clips, skipped = _read([r["file"] for r in rows], args)
    rows = [r for r, c in zip(rows, clips) if c is not None]
    kept = [c for c in clips if c is not None]
    if not kept:
        raise UsageError("no readable clips left")
    warned = [{"file": c.info.name, "warnings": list(c.warnings_for(ck.window_seconds))}
              for c in kept if c.warnings_for(ck.window_seconds)]
    labels = sorted({r["label"] for r in rows})
    emb = Embedder(ck)
    E_a = emb.embed_clips(kept, policy=args.policy)
    zs = zero_shot(emb, E_a, labels, template, true_labels=[r["label"] for r in rows])
    captioned = [i for i, r in enumerate(rows) if r["caption"]]
    missing = len(rows) - len(captioned)
    if len(captioned) >= 2:  # retrieval on the clips that have a caption; the others are left out of it
        sim = emb.embed_texts([rows[i]["caption"] for i in captioned]) @ E_a[captioned].T  # (M, M) captions × clips
        retrieval = retrieval_metrics(sim, None)
        retrieval_on = "captions (each caption's own clip is the relevant one)"
        if missing:
            retrieval_on += f"; {missing} of {len(rows)} clips have no caption and are left out"
    else:
        from .zeroshot import label_embeddings

        sim = label_embeddings(emb, labels, template) @ E_a.T  # (K, N) label prompts × clips
        relevant = np.array([[r["label"] == lab for r in rows] for lab in labels])
        retrieval = retrieval_metrics(sim, relevant)
        retrieval_on = "label prompts (clips of the same label are relevant)"
    payload = {"checkpoint": ck.name, "clips": len(kept), "labels": labels, "template": template,
               "zero_shot_accuracy": zs.accuracy, "confusion": zs.confusion().tolist(),
               "retrieval_on": retrieval_on, "captions_missing": missing, **retrieval,
               "warnings": warned, "skipped": skipped}
    lines = [f"{len(kept)} clips, {len(labels)} labels, zero-shot accuracy {zs.accuracy:.3f}",
             f"retrieval on {retrieval_on}:"] + [f"  {k} {v:.3f}" for k, v in retrieval.items()]
    lines += [f"warning {w['file']}: {text}" for w in warned for text in w["warnings"]]
    lines += [f"skipped {s['file']}: {s['reason']}" for s in skipped]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_demo_world(args) -> int:
    from .demo_world import write_world

    if args.n < 1:
        raise UsageError("--n must be at least 1")
    csv_path = write_world(args.seed, args.n, args.out)
    _emit(args, {"out": str(args.out), "csv": str(csv_path), "n": args.n, "seed": args.seed}, f"wrote {args.n} clips and {csv_path}")
    return 0


def cmd_train_demo(args) -> int:
    from .training import TrainConfig, train_demo

    cfg = TrainConfig(seed=args.seed, **({"steps": args.steps} if args.steps else {}))
    report = train_demo(args.out, cfg, log=lambda m: print(m, file=sys.stderr))
    _emit(args, report, json.dumps(report, indent=2))
    return 0


def cmd_checkpoints(args) -> int:
    rows = [{"name": k.name, "params_m": params_millions(k), "download_mb": k.download_mb, "truncation": k.truncation,
             "notes": k.notes} for k in KNOWN_CHECKPOINTS]
    _emit(args, {"checkpoints": rows}, "\n".join(f"{r['name']:38} {r['params_m']:7.1f} M  {r['download_mb']:4d} MB  {r['notes']}" for r in rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    p = _Parser(prog="python -m clap_core", description="CLAP Explorer's engine: loss terms, zero-shot, evaluation.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, model=True):
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

    b = sub.add_parser("batch", help="C, both softmaxes and every loss term for N (clip, caption) pairs")
    b.add_argument("--audio", nargs="+", help="the clips (with --text, one caption per clip)")
    b.add_argument("--text", nargs="+", help="the captions, in the order of --audio")
    b.add_argument("--batch", default=None, help="a batch file (.zip from the app's Download batch) instead of "
                                                 "--audio/--text; its τ and policy are not applied")
    b.add_argument("--tau", type=_positive("number (τ)"), default=None, help="override τ (default: the checkpoint's exp(logit_scale_a))")
    b.add_argument("--save-embeddings", default=None, help="write E_a, E_t, tau to this .npz")
    common(b)
    b.set_defaults(func=cmd_batch)

    z = sub.add_parser("zero-shot", help="probability of each label for each clip")
    z.add_argument("--audio", nargs="+", help="the clips")
    z.add_argument("--batch", default=None, help="the clips of a batch file (.zip) instead of --audio")
    z.add_argument("--labels", nargs="+", required=True)
    z.add_argument("--template", action="append", help="prompt template with {} (repeat to ensemble)")
    z.add_argument("--top-k", type=_positive_int, default=5)
    z.add_argument("--tau", type=_positive("number (τ)"), default=None)
    common(z)
    z.set_defaults(func=cmd_zero_shot)

    e = sub.add_parser("evaluate", help="zero-shot accuracy and retrieval metrics on labelled data")
    e.add_argument("--data", required=True, help="folder of label subfolders, or CSV file,label[,caption]")
    e.add_argument("--template", action="append")
    common(e)
    e.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("demo-world", help="write generated demo clips and clips.csv")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--n", type=_positive_int, default=24)
    d.add_argument("--out", required=True)
    common(d, model=False)
    d.set_defaults(func=cmd_demo_world)

    t = sub.add_parser("train-demo", help="rebuild the bundled demo checkpoint from scratch")
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--steps", type=int, default=None)
    common(t, model=False)
    t.set_defaults(func=cmd_train_demo)

    c = sub.add_parser("checkpoints", help="list the known checkpoints")
    common(c, model=False)
    c.set_defaults(func=cmd_checkpoints)
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
