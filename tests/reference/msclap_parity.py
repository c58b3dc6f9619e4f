"""This project's side of the MS-CLAP parity check (see msclap_parity.sh).

    python tests/reference/msclap_parity.py prepare VERSION DIR   # the clips msclap embeds, as 44.1 kHz float WAVs
    python tests/reference/msclap_parity.py check VERSION DIR     # load DIR/msclap-VERSION.pth here, compare

The same comparison runs in tests/test_msclap.py against the stored tests/reference/msclap-VERSION.npz, with
the weights regenerated from the seed (msclap_random.py) instead of msclap's .pth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

CLIPS = ("flute-A4.wav", "piano.wav", "ocean.wav", "rain.wav")  # 2.2 s, 3.9 s (repeated), 6.4 s, 7.1 s (cut to the window)
CAPTIONS = ("a flute plays a high tone", "a piano melody", "ocean waves crash on the shore",
            "heavy rain falls! a loud noise")  # the '!' takes GPT-2's id 0, which msclap's last-token rule skips
COSINE_MIN = 0.9999


def decoded_clips():
    from clap_core.audio import decode

    return [decode(ROOT / "assets" / "examples" / name) for name in CLIPS]


def prepare(version: str, folder: Path) -> Path:
    """The first window of each clip (the 'first' policy's input), at 44.1 kHz, for msclap to read unchanged."""
    import soundfile as sf

    from clap_core.msclap import VERSIONS

    v = VERSIONS[version]
    clips_dir = folder / f"clips-{version}"
    clips_dir.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(decoded_clips()):
        w = clip.waveform(v.sampling_rate)[: v.window_samples]
        sf.write(clips_dir / f"{i:02d}-{Path(CLIPS[i]).stem}.wav", w, v.sampling_rate, subtype="FLOAT")
    (clips_dir / "captions.json").write_text(json.dumps(list(CAPTIONS)))
    return clips_dir


def project_side(pth: Path, version: str, tokenizers: dict) -> dict:
    """This project's embeddings of the parity clips and captions from an msclap .pth."""
    from clap_core.embed import Embedder
    from clap_core.msclap import VERSIONS, load_msclap

    ck = load_msclap(str(pth), device="cpu", precision="fp32", tokenizer=tokenizers[VERSIONS[version].text_model])
    emb = Embedder(ck)
    return {"audio": emb.embed_clips(decoded_clips(), policy="first"), "text": emb.embed_texts(list(CAPTIONS)),
            "tau": ck.tau, "checkpoint": ck}


def compare(ref, ours: dict) -> dict:
    """Per-item cosines, τ, and C and L from both sides' embeddings (the project's own contrastive maths)."""
    from clap_core.contrastive import contrastive, l2_normalise

    ra, rt = l2_normalise(ref["audio"].astype(np.float64)), l2_normalise(ref["text"].astype(np.float64))
    oa, ot = ours["audio"].astype(np.float64), ours["text"].astype(np.float64)
    tau_ref = float(ref["tau"])
    mine, theirs = contrastive(ot, oa, ours["tau"]), contrastive(rt, ra, tau_ref)
    return {
        "audio_cosine": np.sum(ra * oa, axis=1), "text_cosine": np.sum(rt * ot, axis=1),
        "tau": (ours["tau"], tau_ref),
        "C_max_abs_diff": float(np.abs(mine.C - theirs.C).max()),
        "C_vs_msclap_similarity": float(np.abs(mine.C - np.asarray(ref["similarity"]).T).max()),
        "L": (float(mine.loss), float(theirs.loss)),
    }


def check(version: str, folder: Path) -> dict:
    from msclap_random import write_tokenizers

    ref = np.load(folder / f"msclap-{version}.npz")
    toks = write_tokenizers(folder / "tokenizers-here")
    res = compare(ref, project_side(folder / f"msclap-{version}.pth", version, toks))
    print(f"MS-CLAP {version}: audio cosine min {res['audio_cosine'].min():.7f}, text cosine min "
          f"{res['text_cosine'].min():.7f}, tau {res['tau'][0]:.6f} vs {res['tau'][1]:.6f}, C max |diff| "
          f"{res['C_max_abs_diff']:.2e} (vs msclap's own similarity {res['C_vs_msclap_similarity']:.2e}), "
          f"L {res['L'][0]:.6f} vs {res['L'][1]:.6f}")
    ok = (res["audio_cosine"].min() >= COSINE_MIN and res["text_cosine"].min() >= COSINE_MIN
          and abs(res["tau"][0] - res["tau"][1]) < 1e-5 * res["tau"][1] and abs(res["L"][0] - res["L"][1]) < 1e-3)
    if not ok:
        raise SystemExit(f"MS-CLAP {version}: parity FAILED")
    return res


if __name__ == "__main__":
    cmd, version, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    {"prepare": prepare, "check": check}[cmd](version, folder)
