"""msclap's side of the parity check; runs in the separate environment that msclap_parity.sh builds.

    python msclap_reference.py VERSION CLIPS_DIR OUT_DIR

Builds msclap's own CLAP for VERSION with its own config (the text encoder from its config instead of
from_pretrained, the hub being out of reach), gives it the deterministic random weights of msclap_random.py
(loaded strictly: the file has exactly msclap's keys and shapes), saves them as msclap saves its checkpoints
({"model": state_dict}) to OUT_DIR/msclap-VERSION.pth, and stores msclap's embeddings (CLAPWrapper's
get_audio_embeddings / get_text_embeddings / compute_similarity) of the clips in CLIPS_DIR (44.1 kHz float WAVs
no longer than the window, so msclap neither resamples nor crops at random) and of the captions in
captions.json to OUT_DIR/msclap-VERSION.npz.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from msclap_random import SEED, random_state_dict, self_built, spec_of, write_tokenizers  # noqa: E402


def main(version: str, clips_dir: Path, out_dir: Path) -> None:
    import msclap
    import msclap.CLAPWrapper as wrapper_mod
    import msclap.models.clap as clap_mod
    from transformers import AutoModel, AutoTokenizer, BertConfig, GPT2Config

    out_dir.mkdir(parents=True, exist_ok=True)
    toks = write_tokenizers(out_dir / "tokenizers")
    real_from_pretrained = AutoTokenizer.from_pretrained

    class _AutoModel:  # the text encoder from its config: random weights of the real shapes, no download
        @staticmethod
        def from_pretrained(name, *a, **k):
            return AutoModel.from_config(GPT2Config() if "gpt" in name else BertConfig())

    class _AutoTokenizer:
        @staticmethod
        def from_pretrained(name, *a, **k):
            return real_from_pretrained(str(toks[name]))

    def _load(path, *a, **k):  # torchaudio's own loader needs torchcodec; soundfile reads the same float samples
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate

    clap_mod.AutoModel = _AutoModel
    wrapper_mod.AutoTokenizer = _AutoTokenizer
    wrapper_mod.torchaudio.load = _load

    # msclap's model for this version, to read its exact keys and shapes
    probe = wrapper_mod.CLAPWrapper.__new__(wrapper_mod.CLAPWrapper)
    probe.config_as_str = (Path(wrapper_mod.__file__).parent / f"configs/config_{version}.yml").read_text()
    args = probe.read_config_as_args(probe.config_as_str, is_config_str=True)
    model = clap_mod.CLAP(audioenc_name=args.audioenc_name, sample_rate=args.sampling_rate, window_size=args.window_size,
                          hop_size=args.hop_size, mel_bins=args.mel_bins, fmin=args.fmin, fmax=args.fmax,
                          classes_num=args.num_classes, out_emb=args.out_emb, text_model=args.text_model,
                          transformer_embed_dim=args.transformer_embed_dim, d_proj=args.d_proj)
    spec = spec_of(model.state_dict())
    own = model.state_dict()
    sd = {k: own[k].clone() if self_built(k) else v for k, v in random_state_dict(spec, version).items()}
    model.load_state_dict(sd, strict=True)  # exactly msclap's layout
    del model
    pth = out_dir / f"msclap-{version}.pth"
    torch.save({"model": sd}, pth)

    clap = wrapper_mod.CLAPWrapper(model_fp=str(pth), version=version, use_cuda=False)
    clap.clap.load_state_dict(torch.load(pth, weights_only=True)["model"], strict=True)  # as the wrapper, but strict
    clips = sorted(clips_dir.glob("*.wav"))
    captions = json.loads((clips_dir / "captions.json").read_text())
    with torch.no_grad():
        audio = clap.get_audio_embeddings([str(c) for c in clips], resample=True)
        text = clap.get_text_embeddings(captions)
        sim = clap.compute_similarity(audio, text)  # (N_audio, N_text) = τ · cos
    tau = float(clap.clap.logit_scale.exp())
    np.savez_compressed(
        out_dir / f"msclap-{version}.npz",
        audio=audio.numpy().astype(np.float32), text=text.numpy().astype(np.float32), similarity=sim.numpy(),
        tau=np.float64(tau), clips=np.array([c.stem for c in clips]), captions=np.array(captions),
        spec=np.array(json.dumps(spec)), seed=np.int64(SEED), msclap_version=np.array(msclap.__version__
                                                                                    if hasattr(msclap, "__version__") else
                                                                                    _dist_version()),
    )
    print(f"msclap {version}: {len(clips)} clips, {len(captions)} captions, tau {tau:.4f}, "
          f"{sum(int(np.prod(s)) for _, s, _ in spec) / 1e6:.1f} M values in the state dict")


def _dist_version() -> str:
    from importlib.metadata import version

    return version("msclap")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
