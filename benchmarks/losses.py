"""Each demo checkpoint under both losses on the held-out attribute world (seed 987654, the set train_report.json's
figures come from): the mean softmax L and sigmoid L_sig over its 12-pair distinct-class batches, and the sigmoid's
calibration — σ(t·cos + b) for true pairs against negatives, binned into a reliability table.

    python -m benchmarks.losses [CHECKPOINT ...]     (default: bundled, bundled-classes, bundled-sigmoid)
"""

from __future__ import annotations

import sys

import numpy as np

from clap_core import demo_world
from clap_core.attributes import EVAL_PER_CLASS, EVAL_SEED
from clap_core.checkpoints import load_checkpoint
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.sigmoid import resolve_tb, sigmoid

BINS = np.linspace(0.0, 1.0, 11)


def figures(name: str) -> dict:
    ck = load_checkpoint(name, device="cpu")
    k = len(demo_world.LABELS)
    clips = demo_world.generate_attributed(EVAL_SEED, EVAL_PER_CLASS * k)
    emb = Embedder(ck, batch_size=16)
    E_a = emb.embed_audio([c.waveform for c in clips])
    E_t = emb.embed_texts([c.caption for c in clips])
    t, b, source = resolve_tb(ck.model)
    soft, sig, pos, neg = [], [], [], []
    for i in range(0, len(clips), k):  # clips cycle through the classes: each block of k is one per class
        soft.append(contrastive(E_t[i:i + k], E_a[i:i + k], ck.tau).loss)
        s = sigmoid(E_t[i:i + k], E_a[i:i + k], t, b)
        sig.append(s.loss)
        pos += list(np.diag(s.sigma))
        neg += list(s.sigma[~np.eye(k, dtype=bool)])
    p, q = np.array(pos), np.array(neg)
    values, truth = np.concatenate([p, q]), np.concatenate([np.ones(len(p)), np.zeros(len(q))])
    rows = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        inside = (values >= lo) & ((values < hi) | (hi == 1.0))
        if inside.any():
            rows.append((lo, hi, int(inside.sum()), float(values[inside].mean()), float(truth[inside].mean())))
    return {"name": name, "tau": ck.tau, "t": t, "b": b, "tb_source": source, "softmax_L": float(np.mean(soft)),
            "sigmoid_L": float(np.mean(sig)), "sigma_pairs": float(p.mean()), "sigma_negatives": float(q.mean()),
            "reliability": rows}


def main(names: list[str]) -> None:
    out = [figures(n) for n in names]
    print("| checkpoint | τ | (t, b) | softmax L | sigmoid L_sig | mean σ, true pairs | mean σ, negatives |")
    print("|---|---|---|---|---|---|---|")
    for f in out:
        print(f"| {f['name']} | {f['tau']:.2f} | ({f['t']:.3g}, {f['b']:.3g}) | {f['softmax_L']:.4f} | "
              f"{f['sigmoid_L']:.4f} | {f['sigma_pairs']:.3f} | {f['sigma_negatives']:.4f} |")
    for f in out:
        print(f"\nreliability of σ for {f['name']} ((t, b): {f['tb_source']}): bin, cells, mean σ, share that are pairs")
        for lo, hi, n, mean, share in f["reliability"]:
            print(f"  [{lo:.1f}, {hi:.1f})  {n:5d}  {mean:.3f}  {share:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bundled", "bundled-classes"])
