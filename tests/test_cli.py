"""The CLI contract of ``python -m clap_core`` (external checks use it), run as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pytest


def cli(*args, check=True):
    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "clap_core", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    proc = cli("demo-world", "--seed", 77, "--n", 12, "--out", out, "--json")
    assert json.loads(proc.stdout)["n"] == 12
    return out


def test_demo_world_writes_clips_and_csv(world):
    lines = (world / "clips.csv").read_text().strip().splitlines()
    assert lines[0] == "file,label,caption" and len(lines) == 13
    assert len(list(world.glob("*.wav"))) == 12


def test_batch_json_contract(world, tmp_path):
    files = sorted(world.glob("*.wav"))[:4]
    captions = [f.stem.split("_", 1)[1].replace("-", " ") for f in files]
    npz = tmp_path / "emb.npz"
    out = json.loads(cli("batch", "--audio", *files, "--text", *captions, "--save-embeddings", npz, "--json").stdout)
    for key in ("checkpoint", "tau", "C", "P_text", "P_audio", "loss_text", "loss_audio", "loss",
                "per_item_text", "per_item_audio"):
        assert key in out
    C = np.array(out["C"])
    assert C.shape == (4, 4) and out["checkpoint"] == "bundled"
    np.testing.assert_allclose(np.array(out["P_text"]).sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.array(out["P_audio"]).sum(axis=0), 1.0, atol=1e-9)
    assert out["loss"] == pytest.approx(0.5 * (out["loss_text"] + out["loss_audio"]))
    assert out["loss_text"] == pytest.approx(np.mean(out["per_item_text"]))
    saved = np.load(npz)
    assert saved["E_a"].dtype == np.float32 and saved["E_a"].shape == saved["E_t"].shape
    np.testing.assert_allclose(np.linalg.norm(saved["E_a"], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(float(saved["tau"]) * saved["E_t"] @ saved["E_a"].T, C, atol=1e-4)
    # deterministic across processes
    again = json.loads(cli("batch", "--audio", *files, "--text", *captions, "--json").stdout)
    assert again["C"] == out["C"]


def test_batch_tau_override(world):
    files = sorted(world.glob("*.wav"))[:3]
    out = json.loads(cli("batch", "--audio", *files, "--text", "a", "b", "c", "--tau", 2.5, "--json").stdout)
    assert out["tau"] == 2.5 and out["tau_checkpoint"] != 2.5
    np.testing.assert_allclose(np.array(out["C"]), 2.5 * np.array(out["cosine"]))


def test_single_pair(world):
    f = sorted(world.glob("*.wav"))[0]
    out = json.loads(cli("batch", "--audio", f, "--text", "a tone", "--json").stdout)
    assert out["loss"] == 0.0 and "one pair" in out["note"]


def test_unreadable_file_exit_2_one_line(world, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio at all, just some text " * 10)
    good = sorted(world.glob("*.wav"))[0]
    proc = cli("batch", "--audio", good, bad, "--text", "a", "b", "--json", check=False)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert str(bad) in last and "not a recognised audio format" in last
    assert "Traceback" not in proc.stderr


def test_skip_bad_processes_the_rest(world, tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    files = sorted(world.glob("*.wav"))[:2]
    out = json.loads(cli("batch", "--audio", files[0], empty, files[1], "--text", "x", "y", "z",
                         "--skip-bad", "--json").stdout)
    assert out["n"] == 2 and out["texts"] == ["x", "z"]
    assert out["skipped"] == [{"file": str(empty), "reason": "the file is empty (0 bytes)"}]


def test_mismatched_counts_and_bad_checkpoint(world):
    f = sorted(world.glob("*.wav"))[0]
    proc = cli("batch", "--audio", f, "--text", "a", "b", check=False)
    assert proc.returncode == 2 and "one caption per clip" in proc.stderr.strip().splitlines()[-1]
    proc = cli("batch", "--checkpoint", "laion/clap-htsat-unfused", "--audio", f, "--text", "a", check=False)
    assert proc.returncode == 2 and "bundled" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr


def test_zero_shot_contract(world):
    files = sorted(world.glob("*.wav"))[:3]
    out = json.loads(cli("zero-shot", "--audio", *files, "--labels", "low tone", "high tone", "white noise",
                         "--template", "This is a sound of {}.", "--template", "{}", "--json").stdout)
    assert len(out["results"]) == 3 and out["templates"] == ["This is a sound of {}.", "{}"]
    for r in out["results"]:
        assert sum(r["probabilities"].values()) == pytest.approx(1.0)
        assert r["top_label"] == max(r["probabilities"], key=r["probabilities"].get)
    proc = cli("zero-shot", "--audio", files[0], "--labels", "a", "b", "--template", "no slot", check=False)
    assert proc.returncode == 2 and "{}" in proc.stderr.strip().splitlines()[-1]


def test_evaluate_csv_and_folder(world, tmp_path):
    out = json.loads(cli("evaluate", "--data", world / "clips.csv", "--json").stdout)
    assert out["clips"] == 12 and 0.0 <= out["zero_shot_accuracy"] <= 1.0
    for key in ("text_to_audio_R@1", "text_to_audio_R@5", "text_to_audio_R@10", "text_to_audio_mAP",
                "audio_to_text_R@1", "audio_to_text_mAP"):
        assert key in out
    folder = tmp_path / "by-label"
    for f in sorted(world.glob("*.wav"))[:6]:
        label = f.stem.split("_", 1)[1]
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / f.name).write_bytes(f.read_bytes())
    out2 = json.loads(cli("evaluate", "--data", folder, "--json").stdout)
    assert out2["clips"] == 6 and len(out2["labels"]) == 6


def test_checkpoints_listing():
    out = json.loads(cli("checkpoints", "--json").stdout)
    names = [c["name"] for c in out["checkpoints"]]
    from clap_core.checkpoints import KNOWN_CHECKPOINTS

    assert names[0] == "bundled" and "laion/clap-htsat-fused" in names and names == [k.name for k in KNOWN_CHECKPOINTS]
    assert all(c["params_m"] > 0 for c in out["checkpoints"])


def test_import_does_not_pull_streamlit():
    code = "import sys, clap_core, clap_core.cli, clap_core.training; print('streamlit' in sys.modules)"
    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.parametrize("args,argument", [
    (("batch", "--audio", "a.wav", "--text", "a", "--max-seconds", "nan"), "--max-seconds"),
    (("batch", "--audio", "a.wav", "--text", "a", "--max-seconds", "inf"), "--max-seconds"),
    (("batch", "--audio", "a.wav", "--text", "a", "--max-seconds", "-1"), "--max-seconds"),
    (("batch", "--audio", "a.wav", "--text", "a", "--tau", "0"), "--tau"),
    (("zero-shot", "--audio", "a.wav", "--labels", "x", "y", "--top-k", "0"), "--top-k"),
    (("zero-shot", "--audio", "a.wav", "--labels", "x", "y", "--top-k", "-1"), "--top-k"),
])
def test_bad_arguments_exit_2_naming_the_argument(args, argument):
    proc = cli(*args, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and argument in lines[0], proc.stderr


def test_bad_template_exit_2_one_line(world):
    f = sorted(world.glob("*.wav"))[0]
    proc = cli("zero-shot", "--audio", f, "--labels", "x", "y", "--template", "A {x} sound of {}.", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "{x}" in lines[0] and "{{" in lines[0], proc.stderr


def test_a_45_s_clip_gives_the_app_s_numbers_with_the_cli_defaults(tmp_path, bundled):
    """One set of limits: the CLI's defaults read what the app reads (the first 30 s)."""
    from clap_core.batch import Batch
    from clap_core.contrastive import contrastive
    from clap_core.embed import Embedder
    from conftest import ROOT
    from media import encode_soundfile, real_clip

    data, rate = real_clip("ocean.wav", None)
    long = np.tile(data, int(np.ceil(45 * rate / len(data))))[: 45 * rate]
    path = tmp_path / "ocean-45s.flac"
    path.write_bytes(encode_soundfile(long, rate, "FLAC"))
    other = ROOT / "assets" / "examples" / "demo-siren.flac"
    texts = ["waves on a shore for a long time", "a siren going up and down"]
    out = json.loads(cli("batch", "--audio", path, other, "--text", *texts, "--json").stdout)
    assert out["clips"][0]["truncated"] and out["clips"][0]["seconds"] == pytest.approx(30.0, abs=1e-3)
    batch, _ = Batch().add_files([(path.name, path.read_bytes()), (other.name, other.read_bytes())], captions=texts)
    emb = Embedder(bundled)
    app = contrastive(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips), bundled.tau)
    assert out["C"] == app.C.tolist() and out["loss"] == app.loss


def _one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_evaluate_refuses_files_that_are_not_a_labelled_csv(world, tmp_path):
    from conftest import ROOT

    image = tmp_path / "image.png"
    image.write_bytes((ROOT / "docs" / "screenshots" / "1-batch.png").read_bytes())
    line = _one_error_line(cli("evaluate", "--data", image, check=False))
    assert str(image) in line and "not a CSV file (file,label[,caption]), a folder of label folders or a zip" in line
    assert "PNG image" in line
    binary = tmp_path / "clips.csv"  # the name says CSV, the bytes are not text
    binary.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8)))
    line = _one_error_line(cli("evaluate", "--data", binary, check=False))
    assert str(binary) in line and "not a CSV file" in line and "not UTF-8 text" in line
    wav = sorted(world.glob("*.wav"))[0]
    line = _one_error_line(cli("evaluate", "--data", wav, check=False))
    assert str(wav) in line and "WAV audio" in line


def test_evaluate_reads_a_demo_world_folder_through_its_csv(world):
    from clap_core.evaluate import read_labelled

    assert read_labelled(str(world)) == read_labelled(str(world / "clips.csv"))
    out = json.loads(cli("evaluate", "--data", world, "--json").stdout)
    assert out["clips"] == 12 and out["captions_missing"] == 0 and out["skipped"] == []
    assert out["retrieval_on"] == "captions (each caption's own clip is the relevant one)"


def test_evaluate_with_some_captions_missing_uses_the_captions_there_are(world, tmp_path):
    import csv

    rows = list(csv.DictReader((world / "clips.csv").read_text().splitlines()))
    for r in rows[:3]:
        r["caption"] = ""
    for r in rows:
        r["file"] = str(world / r["file"])
    data = tmp_path / "partial.csv"
    with data.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        writer.writeheader()
        writer.writerows(rows)
    out = json.loads(cli("evaluate", "--data", data, "--json").stdout)
    assert out["clips"] == 12 and out["captions_missing"] == 3
    assert out["retrieval_on"].startswith("captions") and "3 of 12 clips have no caption" in out["retrieval_on"]
    text = cli("evaluate", "--data", data).stdout
    assert "3 of 12 clips have no caption and are left out" in text
