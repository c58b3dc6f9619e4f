"""MS-CLAP (clap_core.msclap): parity with the msclap package, safe loading, conversion, features, the Embedder.

Parity: tests/reference/msclap-<version>.npz holds msclap 1.3.4's own embeddings (made by
tests/reference/msclap_parity.sh in a separate environment) of real shipped clips and captions, with random
weights of the real shapes regenerated here from the seed in msclap_random.py and written in msclap's layout.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REF = Path(__file__).resolve().parent / "reference"
sys.path.insert(0, str(REF))

from msclap_parity import CAPTIONS, COSINE_MIN, compare, decoded_clips, project_side  # noqa: E402
from msclap_random import random_state_dict, write_tokenizers  # noqa: E402

from clap_core.checkpoints import KNOWN_CHECKPOINTS, CheckpointError, load_checkpoint  # noqa: E402
from clap_core.embed import Embedder  # noqa: E402
from clap_core.msclap import VERSIONS, MsClapModel, convert  # noqa: E402
from clap_core.msclap.loading import MsClapFeatures, save_folder  # noqa: E402
from clap_core.msclap.model import LogMel  # noqa: E402


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    return write_tokenizers(tmp_path_factory.mktemp("tok"))


def _write_pth(version: str, folder: Path) -> tuple[Path, dict]:
    ref = dict(np.load(REF / f"msclap-{version}.npz"))
    spec = json.loads(str(ref["spec"]))
    sd = random_state_dict(spec, version, int(ref["seed"]))
    path = folder / f"CLAP_weights_{version}.pth"
    torch.save({"model": sd}, path)  # msclap's file layout
    return path, ref


@pytest.mark.parametrize("version", ["2023", "2022"])
def test_parity_with_msclap_and_convert_round_trip(version, tokenizers, tmp_path):
    pth, ref = _write_pth(version, tmp_path)
    ours = project_side(pth, version, tokenizers)
    res = compare(ref, ours)
    assert res["audio_cosine"].min() >= COSINE_MIN, res["audio_cosine"]
    assert res["text_cosine"].min() >= COSINE_MIN, res["text_cosine"]
    assert ours["tau"] == pytest.approx(float(ref["tau"]), rel=1e-6)
    assert res["C_max_abs_diff"] < 1e-3 and res["C_vs_msclap_similarity"] < 1e-3
    assert res["L"][0] == pytest.approx(res["L"][1], abs=1e-4)
    ck = ours["checkpoint"]
    assert ck.family == f"msclap-{version}" and ck.card()["family"] == ck.family
    assert ck.window_seconds == VERSIONS[version].duration and ck.sampling_rate == 44100

    # the converted folder: no pickle in it, loads through the common loader, the same embeddings
    out = convert(pth, tmp_path / "converted", tokenizer=tokenizers[VERSIONS[version].text_model])
    assert {p.suffix for p in out.iterdir()} <= {".json", ".safetensors", ".txt"}
    audio, text = ours["audio"], ours["text"]
    del ours, ck
    back = load_checkpoint(str(out), device="cpu", precision="fp32")
    assert back.family == f"msclap-{version}"
    emb = Embedder(back)
    np.testing.assert_array_equal(emb.embed_clips(decoded_clips(), policy="first"), audio)
    np.testing.assert_array_equal(emb.embed_texts(list(CAPTIONS)), text)


class _Marker:
    """Unpickling this would create a file (the attack a .pth can carry)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_malicious_pth_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "CLAP_weights_2023.pth"
    torch.save({"model": {"logit_scale": torch.zeros(())}, "x": _Marker(marker)}, bad)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused: it needs more than tensors"):
        load_checkpoint(str(bad), device="cpu")
    assert not marker.exists()
    raw = tmp_path / "plain.pth"  # a bare pickle, not torch's zip format
    raw.write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(str(raw), device="cpu")
    assert not marker.exists()


def test_weights_of_another_model_are_refused(tmp_path):
    f = tmp_path / "other.pth"
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3)}}, f)
    with pytest.raises(CheckpointError, match="neither MS-CLAP 2022"):
        load_checkpoint(str(f), device="cpu")


def test_hub_names_fail_offline_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="cannot download 'msclap-2023'.*convert --from msclap"):
        load_checkpoint("msclap-2023", device="cpu")


def test_registry_lists_both_versions():
    names = {k.name: k for k in KNOWN_CHECKPOINTS}
    for v in ("2023", "2022"):
        entry = names[f"msclap-{v}"]
        assert entry.params_m and entry.download_mb and "clips/s" in entry.notes


def test_features_come_from_the_stored_weights():
    """DFT × Hann and slaney mel weights reproduce a numpy STFT log-mel; scaling the stored mel matrix shifts
    the features by exactly its dB; a short clip is tiled as msclap tiles it, never zero-padded."""
    v = VERSIONS["2022"]
    spec = [("a.spectrogram_extractor.stft.conv_real.weight", (513, 1, 1024), "float32"),
            ("a.spectrogram_extractor.stft.conv_imag.weight", (513, 1, 1024), "float32"),
            ("a.logmel_extractor.melW", (513, 64), "float32")]
    sd = random_state_dict(spec, "2022")
    front = LogMel(1024, 320, 64)
    front.load_state_dict({"conv_real": sd[spec[0][0]], "conv_imag": sd[spec[1][0]], "melW": sd[spec[2][0]]})
    fe = MsClapFeatures(v, front)
    clip = decoded_clips()[0].waveform(44100)  # 2.15 s < 5 s
    feats = fe.window_features([clip], 44100)["input_features"].numpy()[0, 0]  # (T, 64)
    tiled = np.tile(clip, 3)[: v.window_samples]
    padded = np.pad(tiled.astype(np.float64), 512, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, 1024)[::320]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2
    expect = 10 * np.log10(np.maximum(power @ sd[spec[2][0]].numpy().astype(np.float64), 1e-10))
    assert feats.shape == (v.window_samples // 320 + 1, 64)
    assert np.abs(feats - expect).max() < 0.05  # float32 conv STFT vs float64 FFT, in dB
    front.melW.mul_(2.0)
    doubled = MsClapFeatures(v, front).window_features([clip], 44100)["input_features"].numpy()[0, 0]
    loud = feats > -90  # away from the 1e-10 floor
    np.testing.assert_allclose((doubled - feats)[loud], 10 * np.log10(2.0), atol=2e-3)


def _tiny_folder(version: str, tmp: Path, tokenizers) -> Path:
    """A tiny random MS-CLAP of ``version``'s kind saved as a converted folder (fast; the real shapes are above)."""
    from transformers import BertConfig, GPT2Config

    torch.manual_seed(0)
    v = VERSIONS[version]
    if v.text_model == "gpt2":
        text, small = GPT2Config(n_layer=1, n_embd=32, n_head=2), {"out_emb": 64, "audio": {
            "patch_embeds_hidden_size": 8, "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 1, 1], "hidden_size": 64}}
    else:
        text, small = BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64), {
            "out_emb": 16, "audio": {"widths": [4, 4, 4, 4, 8, 16]}}
    model = MsClapModel(v, text, small).eval()
    for m in model.modules():  # batch-norm statistics away from the identity, as a trained model has
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    spec = [(k, (513, 1, 1024), "float32") for k in ("stft.conv_real.weight", "stft.conv_imag.weight")]
    sd = random_state_dict(spec + [("logmel_extractor.melW", (513, 64), "float32")], version)
    front = LogMel(1024, 320, 64)
    front.load_state_dict({"conv_real": sd[spec[0][0]], "conv_imag": sd[spec[1][0]], "melW": sd["logmel_extractor.melW"]})
    from clap_core.msclap.loading import load_tokenizer

    return save_folder(model, front, load_tokenizer(tokenizers[v.text_model], v, local_only=True), tmp / f"tiny-{version}")


@pytest.mark.parametrize("version", ["2022", "2023"])
def test_embedder_over_msclap_long_clip_policies_and_precision(version, tokenizers, tmp_path):
    ck = load_checkpoint(str(_tiny_folder(version, tmp_path, tokenizers)), device="cpu", precision="fp32")
    emb = Embedder(ck)
    clips = decoded_clips()
    rain = clips[3]  # 7.05 s: two 5 s windows for 2022, two 7 s windows (the last aligned to the end) for 2023
    w = rain.waveform(44100)
    L = VERSIONS[version].window_samples
    windows = emb.embed_audio([w[:L], w[-L:]])
    mean = windows.mean(axis=0)
    np.testing.assert_allclose(emb.embed_clips([rain], policy="windows")[0], mean / np.linalg.norm(mean), atol=1e-5)
    np.testing.assert_allclose(emb.embed_clips([rain], policy="first")[0], windows[0], atol=1e-5)
    start = (len(w) - L) // 2
    np.testing.assert_allclose(emb.embed_clips([rain], policy="centre")[0], emb.embed_audio([w[start:start + L]])[0],
                               atol=1e-5)
    flute = clips[0].waveform(44100)  # shorter than the window: tiled, as msclap
    np.testing.assert_allclose(emb.embed_audio([flute])[0], emb.embed_audio([np.tile(flute, 4)[:L]])[0], atol=1e-5)
    assert [p.shape[0] for p in emb.pooled_clips([rain, clips[0]])] == [2, 1]
    text = emb.embed_texts(list(CAPTIONS))
    assert text.shape == (4, 1024) and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    assert emb.pooled_texts(list(CAPTIONS)).shape == (4, ck.model.config.text_config.hidden_size)
    bf16 = Embedder(load_checkpoint(str(tmp_path / f"tiny-{version}"), device="cpu", precision="bf16"))
    assert bf16.checkpoint.precision == "bf16"
    cos = np.sum(bf16.embed_clips(clips, policy="first") * emb.embed_clips(clips, policy="first"), axis=1)
    assert cos.min() > 0.99, cos


def test_cli_convert_errors_are_one_line(tmp_path, capsys):
    from clap_core.cli import main

    bad = tmp_path / "x.pth"
    bad.write_bytes(b"not a torch file")
    assert main(["convert", "--from", "msclap", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "x.pth" in err


def test_finetune_heads_save_and_random_twin_work_for_msclap(tokenizers, tmp_path):
    """Fine-tuning the projection heads, saving the result and the random-weight twin go through the same seam."""
    from clap_core.baseline import random_twin
    from clap_core.finetune import FineTuner, save_pretrained

    ck = load_checkpoint(str(_tiny_folder("2023", tmp_path, tokenizers)), device="cpu", precision="fp32")
    emb = Embedder(ck)
    clips = decoded_clips()
    tuner = FineTuner(emb, clips, list(CAPTIONS), policy="first")
    before = tuner.loss_now
    tuner.step(5)
    assert tuner.loss_now < before
    tuned = tuner.checkpoint()
    assert tuned.fingerprint != ck.fingerprint and ck.model.audio_projection is not tuned.model.audio_projection
    tuned_audio = emb.for_heads(tuned).embed_clips(clips, policy="first")
    back = load_checkpoint(str(save_pretrained(tuned, tmp_path / "tuned")), device="cpu", precision="fp32")
    np.testing.assert_allclose(Embedder(back).embed_clips(clips, policy="first"), tuned_audio, atol=1e-5)
    assert back.tau == pytest.approx(tuned.tau, rel=1e-6)
    twin = random_twin(ck)
    assert twin.model is not ck.model and twin.family == ck.family
    assert Embedder(twin).embed_texts(["a dog"]).shape == (1, 1024)


@pytest.mark.parametrize("version", ["2023"])
def test_a_registry_name_prefers_its_converted_folder(version, tokenizers, tmp_path, monkeypatch):
    """With a converted folder in the cache, `msclap-2023` loads it (no pickle, no hub) even offline."""
    from clap_core.msclap import converted_dir

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLAP_EXPLORER_CONVERTED", str(tmp_path / "converted"))
    folder = _tiny_folder(version, tmp_path, tokenizers)
    folder.rename(converted_dir(f"msclap-{version}").parent.mkdir(parents=True) or converted_dir(f"msclap-{version}"))
    steps = []
    ck = load_checkpoint(f"msclap-{version}", device="cpu", on_step=steps.append)
    assert ck.name == f"msclap-{version}" and ck.source == str(converted_dir(f"msclap-{version}").resolve())
    assert ck.family == f"msclap-{version}" and any("converted folder" in s for s in steps)
    assert not any(".pth" in s for s in steps)


def test_the_sidebar_picks_msclap_and_every_page_works_on_it(tokenizers, tmp_path, monkeypatch):
    """In the app: msclap-2023 is in the picker; offline without its weights it says so and keeps bundled; with
    its converted folder in the cache it loads, keeps the batch, and the Loss and Compare pages use it."""
    import re

    from streamlit.testing.v1 import AppTest

    from clap_core.msclap import converted_dir
    from conftest import ROOT

    def plain(markdown: str) -> str:
        return re.sub(r"\\(.)", r"\1", markdown)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLAP_EXPLORER_CONVERTED", str(tmp_path / "converted"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    picker = at.sidebar.selectbox(key="ck_choice")
    assert {"msclap-2023", "msclap-2022"} <= set(picker.options)
    picker.set_value("msclap-2023").run()
    assert at.session_state.checkpoint == "bundled"
    assert any("cannot download 'msclap-2023'" in plain(e.value) for e in at.sidebar.error)

    target = converted_dir("msclap-2023")
    target.parent.mkdir(parents=True)
    _tiny_folder("2023", tmp_path, tokenizers).rename(target)
    at.sidebar.selectbox(key="ck_choice").set_value("msclap-2023").run()
    assert not at.exception and at.session_state.checkpoint == "msclap-2023" and len(at.session_state.batch) == 12
    at.switch_page("pages/loss.py").run()
    assert not at.exception and any(m.label.startswith("L =") for m in at.metric)
    at.switch_page("pages/compare.py").run()  # A: msclap-2023 (44.1 kHz), B: bundled (48 kHz), the same clips
    assert not at.exception and sum(m.label == "L" for m in at.metric) == 2
