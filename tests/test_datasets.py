"""Standard datasets (clap_core.datasets): ESC-50, UrbanSound8K, Clotho and AudioCaps in their published layouts,
built small and synthetic here (demo-world audio written as WAV files), recognised from a folder, a zip and their
metadata CSV, and every figure checked against an independent computation from the Embedder's embeddings; the
published references (clap_core.references) and the CLI's evaluate on them."""

import csv
import dataclasses
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_cli import cli

from clap_core import demo_world
from clap_core.audio import resample
from clap_core.batch import read_clip
from clap_core.checkpoints import KNOWN_CHECKPOINTS
from clap_core.datasets import clean_label
from clap_core.embed import Embedder
from clap_core.evaluate import DataError, Evaluation, evaluate, path_set, zip_set
from clap_core.references import GAP_POINTS, REFERENCES, lookup

ESC_CLASSES = ("crackling_fire", "rain", "siren")  # 2 folds × 3 classes × 2 clips; two names the demo model never learnt
US8K_CLASSES = ("air_conditioner", "fast_clicks", "chord")  # folds of unequal size: their mean ≠ the overall figure
TEMPLATE = demo_world.DEFAULT_TEMPLATE
ESC_RATE = 44_100  # ESC-50's own rate: the clips are resampled to the model's


@pytest.fixture(scope="module")
def emb(bundled):
    return Embedder(bundled)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_clip(path: Path, label: str, rng, rate: int = demo_world.RATE, seconds: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lo, hi = (seconds, seconds) if seconds else (2.0, 4.0)
    wave = demo_world.make_clip(label, rng, lo, hi).waveform
    if rate != demo_world.RATE:
        wave = resample(wave.astype(np.float32), demo_world.RATE, rate)
    sf.write(path, wave, rate, subtype="PCM_16")


def demo_label(name: str) -> str:
    """A dataset class name → the demo world's sound that stands in for it."""
    return {"air_conditioner": "low rumble", "crackling_fire": "fast clicks", "rain": "white noise"}.get(name, clean_label(name))


@pytest.fixture(scope="module")
def esc50(tmp_path_factory):
    """ESC-50-master/: meta/esc50.csv + audio/, 2 folds × 3 classes × 2 clips of 5 s at 44.1 kHz."""
    root = tmp_path_factory.mktemp("esc") / "ESC-50-master"
    rng = np.random.default_rng(50)
    rows = []
    for fold in (1, 2):
        for target, cat in enumerate(ESC_CLASSES):
            for take in "AB":
                name = f"{fold}-{1000 + 10 * target + fold}-{take}-{target}.wav"
                write_clip(root / "audio" / name, demo_label(cat), rng, ESC_RATE, 5.0)
                rows.append([name, fold, target, cat, "False", 1000 + target, take])
    write_csv(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    (root / "README.md").write_text("ESC-50 (synthetic stand-in)\n")
    return root


@pytest.fixture(scope="module")
def us8k(tmp_path_factory):
    """UrbanSound8K/: metadata/UrbanSound8K.csv + audio/foldN/, folds 1 (3 clips), 2 (4) and 3 (2)."""
    root = tmp_path_factory.mktemp("us8k") / "UrbanSound8K"
    rng = np.random.default_rng(8)
    rows, plan = [], {1: [0, 1, 2], 2: [0, 1, 2, 2], 3: [1, 0]}
    for fold, ids in plan.items():
        for k, cid in enumerate(ids):
            name = f"{100 + k}-{cid}-0-{fold}.wav"
            write_clip(root / "audio" / f"fold{fold}" / name, demo_label(US8K_CLASSES[cid]), rng)
            rows.append([name, 100 + k, 0.0, 3.0, 1, fold, cid, US8K_CLASSES[cid]])
    write_csv(root / "metadata" / "UrbanSound8K.csv",
              ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    return root


def five_captions(clip) -> list[str]:
    """Five captions; the last is the same text for every clip, so its own clip ranks low for some (mAP@10 < mAP)
    and, audio → text, its copies tie (the lower index first)."""
    return [clip.caption, clip.label, f"the sound of {clip.label}", f"a recording of a {clip.label}",
            "something can be heard"]


@pytest.fixture(scope="module")
def clotho(tmp_path_factory):
    """clotho_captions_evaluation.csv + evaluation/: 12 clips × 5 captions (file names with a comma and spaces)."""
    root = tmp_path_factory.mktemp("clotho") / "clotho"
    clips = demo_world.generate(21, 12)
    rows = []
    for i, c in enumerate(clips):
        name = f"clip {i:02d}, {c.label}.wav"
        (root / "evaluation").mkdir(parents=True, exist_ok=True)
        sf.write(root / "evaluation" / name, c.waveform, demo_world.RATE, subtype="PCM_16")
        rows.append([name, *five_captions(c)])
    write_csv(root / "clotho_captions_evaluation.csv", ["file_name", *[f"caption_{k}" for k in range(1, 6)]], rows)
    write_csv(root / "clotho_metadata_evaluation.csv", ["file_name", "keywords"], [[rows[0][0], "x"]])
    return root


@pytest.fixture(scope="module")
def audiocaps(tmp_path_factory):
    """test.csv (audiocap_id, youtube_id, start_time, caption), one row per caption, 2–5 captions per clip; the
    clips in test/ as <youtube_id>_<start>.wav or <youtube_id>.flac; one listed clip missing."""
    root = tmp_path_factory.mktemp("audiocaps") / "audiocaps"
    clips = demo_world.generate(33, 11)
    rows, n = [], 0
    for i, c in enumerate(clips):
        yid, start = f"yt{i:02d}-_{chr(65 + i)}x", 10 * i
        caps = five_captions(c)[: 2 + i % 4]
        for cap in caps:
            n += 1
            rows.append([1000 + n, yid, start, cap])
        if i == 7:
            continue  # listed, not downloaded
        name = f"{yid}_{start}.wav" if i % 2 else f"{yid}.flac"
        (root / "test").mkdir(parents=True, exist_ok=True)
        sf.write(root / "test" / name, c.waveform, demo_world.RATE, subtype="PCM_16")
    rows.insert(3, rows.pop(0))  # a clip's captions need not be consecutive
    write_csv(root / "test.csv", ["audiocap_id", "youtube_id", "start_time", "caption"], rows)
    return root


def zipped(root: Path, top: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, f"{top}/{p.relative_to(root)}" if top else str(p.relative_to(root)))
    return buf.getvalue()


# -- independent figures ------------------------------------------------------------------------
def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def embed_files(emb, files: list[Path]) -> np.ndarray:
    return emb.embed_clips([read_clip(f.name, str(f)) for f in files])


def first_rank(scores_row: np.ndarray, relevant: np.ndarray) -> int:
    """1-based rank of the best relevant item: scores compared to 12 decimals, ties to the lower index."""
    order = np.argsort(-np.round(scores_row, 12), kind="stable")
    return int(np.flatnonzero(relevant[order])[0]) + 1


def zero_shot_by_hand(emb, files, classes, folds, labels):
    A = unit(embed_files(emb, files))
    T = unit(emb.embed_texts([TEMPLATE.format(lab) for lab in classes]))
    predicted = [classes[k] for k in (A @ T.T).argmax(axis=1)]
    right = np.array([p == t for p, t in zip(predicted, labels)])
    per_fold = {f: right[np.array(folds) == f].mean() for f in sorted(set(folds))}
    return right.mean(), per_fold


def table(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text().splitlines()))


# -- classification: ESC-50, UrbanSound8K -----------------------------------------------------------------------
def test_esc50_is_zero_shot_per_fold_with_the_labels_cleaned(esc50, emb):
    res = evaluate(path_set(str(esc50)), emb)
    assert res.standard.dataset == "ESC-50" and res.standard.found == res.standard.listed == 12
    assert res.labels == ("crackling fire", "rain", "siren")  # "crackling_fire" → "crackling fire", sorted
    meta = table(esc50 / "meta" / "esc50.csv")
    files = [esc50 / "audio" / r["filename"] for r in meta]
    accuracy, per_fold = zero_shot_by_hand(emb, files, list(res.labels), [int(r["fold"]) for r in meta],
                                           [clean_label(r["category"]) for r in meta])
    assert res.accuracy == pytest.approx(accuracy, abs=1e-12)
    assert [(f["fold"], f["clips"]) for f in res.folds["folds"]] == [(1, 6), (2, 6)]
    assert [f["accuracy"] for f in res.folds["folds"]] == pytest.approx([per_fold[1], per_fold[2]], abs=1e-12)
    assert res.folds["mean_accuracy"] == pytest.approx(np.mean(list(per_fold.values())), abs=1e-12)
    text = res.protocol.text()
    for part in ("ESC-50 (meta/esc50.csv; 12 of 12 listed clips found)", "'This is a sound of {}.'",
                 "'_' → ' '", "1, 2 listed; evaluated 1, 2", "files at 44100 Hz", "resampled to the model's 48000 Hz",
                 "first 30 s; long-clip policy windows", "12 evaluated of 12 in the set; 5.0 s each"):
        assert part in text, part
    assert res.reference is None  # the bundled model has no published figure
    assert res.twins is None and res.to_dict()["protocol"] == text


def test_esc50_as_a_zip_or_its_csv_gives_the_folder_s_figures(esc50, emb, tmp_path):
    on_disk = evaluate(path_set(str(esc50)), emb)
    by_zip = evaluate(zip_set(zipped(esc50, "ESC-50-master"), "ESC-50-master.zip"), emb)
    by_csv = evaluate(path_set(str(esc50 / "meta" / "esc50.csv")), emb)
    for other in (by_zip, by_csv):
        assert other.standard.dataset == "ESC-50" and other.labels == on_disk.labels
        assert other.accuracy == on_disk.accuracy and other.folds == on_disk.folds
        assert [n.rsplit("/", 1)[-1] for n in other.names] == [n.rsplit("/", 1)[-1] for n in on_disk.names]
    assert by_zip.description == "ESC-50-master.zip (ESC-50: meta/esc50.csv)"


def test_a_partial_download_is_evaluated_on_what_is_there(esc50, emb, tmp_path):
    part = tmp_path / "ESC-50-part"
    (part / "meta").mkdir(parents=True)
    (part / "meta" / "esc50.csv").write_bytes((esc50 / "meta" / "esc50.csv").read_bytes())
    (part / "audio").mkdir()
    kept = sorted((esc50 / "audio").iterdir())[2:]
    for f in kept:
        (part / "audio" / f.name).write_bytes(f.read_bytes())
    data = path_set(str(part))
    assert data.standard.listed == 12 and data.standard.found == 10
    res = Evaluation(data, emb).run().result()
    assert res.clips == 10 and len(res.skipped) == 2
    assert all(o.reason.startswith("not found (looked for audio/") for o in res.skipped)
    assert "10 of 12 listed clips found" in res.protocol.text()


def test_urbansound8k_folds_and_their_unweighted_mean(us8k, emb):
    res = evaluate(path_set(str(us8k)), emb)
    assert res.standard.dataset == "UrbanSound8K" and res.standard.folds == (1, 2, 3)
    assert res.labels == ("air conditioner", "chord", "fast clicks")
    meta = table(us8k / "metadata" / "UrbanSound8K.csv")
    files = [us8k / "audio" / f"fold{r['fold']}" / r["slice_file_name"] for r in meta]
    accuracy, per_fold = zero_shot_by_hand(emb, files, list(res.labels), [int(r["fold"]) for r in meta],
                                           [clean_label(r["class"]) for r in meta])
    assert res.accuracy == pytest.approx(accuracy, abs=1e-12)
    assert [(f["fold"], f["clips"]) for f in res.folds["folds"]] == [(1, 3), (2, 4), (3, 2)]
    assert [f["accuracy"] for f in res.folds["folds"]] == pytest.approx([per_fold[k] for k in (1, 2, 3)], abs=1e-12)
    assert res.folds["mean_accuracy"] == pytest.approx(np.mean(list(per_fold.values())), abs=1e-12)
    assert res.names[0] == f"fold1/{meta[0]['slice_file_name']}"


# -- caption retrieval: Clotho, AudioCaps ------------------------------------------------------------------------
def caption_figures_by_hand(emb, files: list[Path], captions: list[list[str]]) -> dict:
    A = unit(embed_files(emb, files))
    texts = [c for caps in captions for c in caps]
    owner = np.array([i for i, caps in enumerate(captions) for _ in caps])
    S = unit(emb.embed_texts(texts)) @ A.T  # (captions, clips)
    clips = np.arange(len(files))
    t2a = np.array([first_rank(S[m], clips == owner[m]) for m in range(len(texts))])
    a2t = np.array([first_rank(S[:, n], owner == n) for n in clips])
    out = {}
    for k in (1, 5, 10):
        out[f"text_to_audio_R@{k}"] = float(np.mean(t2a <= k))
        out[f"audio_to_text_R@{k}"] = float(np.mean(a2t <= k))
    out["text_to_audio_mAP@10"] = float(np.mean(np.where(t2a <= 10, 1 / t2a, 0)))
    out["text_to_audio_mAP"] = float(np.mean(1 / t2a))
    aps = []
    for n in clips:  # audio → text AP over the clip's own captions
        order = np.argsort(-np.round(S[:, n], 12), kind="stable")
        hits = (owner == n)[order]
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(precision[hits].mean())
    out["audio_to_text_mAP"] = float(np.mean(aps))
    return out


def test_clotho_retrieval_over_every_caption(clotho, emb):
    res = evaluate(path_set(str(clotho)), emb)
    assert res.standard.dataset == "Clotho" and res.standard.table == "clotho_captions_evaluation.csv"
    assert res.zs is None and res.accuracy is None and res.labels == () and res.per_class() == []
    rows = table(clotho / "clotho_captions_evaluation.csv")
    files = [clotho / "evaluation" / r["file_name"] for r in rows]
    want = caption_figures_by_hand(emb, files, [[r[f"caption_{k}"] for k in range(1, 6)] for r in rows])
    assert res.retrieval.keys() == want.keys()
    for key, value in want.items():
        assert res.retrieval[key] == pytest.approx(value, abs=1e-12), key
    assert res.retrieval["text_to_audio_mAP@10"] < res.retrieval["text_to_audio_mAP"]  # two ranks past 10
    assert res.retrieval_on.startswith("every caption (60 over 12 clips, 5.00 per clip)")
    text = res.protocol.text()
    assert "Clotho (clotho_captions_evaluation.csv; 12 of 12 listed clips found): caption retrieval" in text
    assert "templates: not used" in text and "mAP@10 (DCASE)" in text and "first 30 s; long-clip policy" in text
    d = res.to_dict()
    assert d["zero_shot_accuracy"] is None and d["confusion"] is None and d["dataset"]["task"] == "captions"
    assert [r["predicted"] for r in res.rows()] == [None] * 12


def test_clotho_as_a_zip_and_with_labels(clotho, emb):
    by_zip = evaluate(zip_set(zipped(clotho), "clotho.zip"), emb)
    on_disk = evaluate(path_set(str(clotho)), emb)
    assert by_zip.standard.dataset == "Clotho" and by_zip.retrieval == on_disk.retrieval
    labelled = evaluate(path_set(str(clotho)), emb, labels=["siren", "chord"])
    assert labelled.zs is not None and labelled.accuracy is None and labelled.outside_labels == 12
    assert labelled.retrieval == on_disk.retrieval


def test_audiocaps_groups_captions_by_clip_and_finds_both_namings(audiocaps, emb):
    data = path_set(str(audiocaps))
    assert data.standard.dataset == "AudioCaps" and data.standard.listed == 11 and data.standard.found == 10
    res = Evaluation(data, emb).run().result()
    assert [o.name for o in res.skipped] == ["yt07-_Hx"] and "not found (looked for yt07-_Hx.<ext>" in res.skipped[0].reason
    rows = table(audiocaps / "test.csv")
    order = list(dict.fromkeys(r["youtube_id"] for r in rows))
    present = [y for y in order if y != "yt07-_Hx"]
    on_disk = {p.stem.rsplit("_", 1)[0] if p.suffix == ".wav" else p.stem: p for p in (audiocaps / "test").iterdir()}
    files = [on_disk[y] for y in present]
    assert [n for n in res.names] == [f.name for f in files]
    captions = [[r["caption"] for r in rows if r["youtube_id"] == y] for y in present]
    want = caption_figures_by_hand(emb, files, captions)
    for key, value in want.items():
        assert res.retrieval[key] == pytest.approx(value, abs=1e-12), key
    by_csv = evaluate(path_set(str(audiocaps / "test.csv")), emb)
    assert by_csv.retrieval == res.retrieval


# -- recognition ---------------------------------------------------------------------------------
def test_ordinary_sets_are_not_taken_for_standard_ones(tmp_path, emb):
    write_csv(tmp_path / "set.csv", ["file", "label", "caption"], [["a.wav", "x", "y"]])
    assert path_set(str(tmp_path / "set.csv")).standard is None
    bad = write_csv(tmp_path / "ESC" / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10",
                                                             "src_file", "take"], [["a.wav", "one", 0, "dog", "", "", ""]])
    with pytest.raises(DataError, match=r"line 2: fold 'one' is not a whole number"):
        path_set(str(bad.parent.parent))


def test_a_folder_with_several_caption_tables_takes_the_test_split(clotho, tmp_path):
    folder = tmp_path / "clotho"
    folder.mkdir()
    for split in ("development", "evaluation", "validation"):
        (folder / f"clotho_captions_{split}.csv").write_bytes((clotho / "clotho_captions_evaluation.csv").read_bytes())
    data = path_set(str(folder))
    assert data.standard.table == "clotho_captions_evaluation.csv" and "the test split first" in data.standard.choice
    assert data.standard.found == 0  # no evaluation/ folder here: every clip is reported not found


# -- published references -------------------------------------------------------------------------
def test_references_attach_to_known_checkpoints_with_a_source():
    known = {k.name for k in KNOWN_CHECKPOINTS}
    assert set(REFERENCES) <= known
    for name, refs in REFERENCES.items():
        for r in refs:
            assert r.checkpoint == name and r.source and 0 < r.value < 100
    assert lookup("msclap-2023", "ESC-50").value == 93.9 and lookup("msclap-2022", "ESC-50").value == 82.6
    assert lookup("laion/clap-htsat-unfused", "ESC-50") is None and lookup("bundled", "ESC-50") is None


def test_a_gap_over_three_points_lists_the_protocol_differences(esc50, bundled):
    """The bundled weights under a name with a published figure: the reference rides with the result."""
    as_msclap = Embedder(dataclasses.replace(bundled, name="msclap-2023"))
    res = evaluate(path_set(str(esc50)), as_msclap)
    ref = res.reference
    assert ref["published"] == 93.9 and ref["measured"] == pytest.approx(100 * res.accuracy)
    assert ref["gap_points"] == pytest.approx(100 * res.accuracy - 93.9)
    assert abs(ref["gap_points"]) > GAP_POINTS and "microsoft/CLAP README" in ref["source"]
    differs = {d["aspect"]: d["differs"] for d in ref["differences"]}
    # templates, clips evaluated (12 of 2000) and the rate differ; labels ('_' → ' '), fusion and 5 s clips do not
    assert differs == {"templates": True, "folds": True, "sample_rate": True}
    same = evaluate(path_set(str(esc50)), as_msclap, templates=["this is the sound of {}"])
    assert "templates" not in {d["aspect"] for d in same.reference.get("differences", [])}
    own = evaluate(path_set(str(esc50)), as_msclap, labels=["siren", "rain", "crackling fire"])  # the page's box
    assert "labels" not in {d["aspect"] for d in own.reference["differences"]} and own.accuracy == res.accuracy
    other = evaluate(path_set(str(esc50)), as_msclap, labels=["siren", "rain", "fire"])
    assert {"aspect": "labels", "differs": True} in [{k: d[k] for k in ("aspect", "differs")}
                                                     for d in other.reference["differences"]]
    assert "labels: as given (--labels)" in other.protocol.text()


# -- the CLI ---------------------------------------------------------------------------------------
def test_cli_prints_the_protocol_the_fold_table_and_carries_it_all_in_json(esc50, clotho, bundled):
    res = evaluate(path_set(str(esc50)), Embedder(bundled))
    out = json.loads(cli("evaluate", "--data", esc50, "--json").stdout)
    assert out["protocol"] == res.protocol.text() and out["folds"] == res.folds
    assert out["zero_shot_accuracy"] == res.accuracy and out["dataset"]["dataset"] == "ESC-50"
    text = cli("evaluate", "--data", esc50).stdout.splitlines()
    assert text[0] == f"protocol: {res.protocol.text()}"
    assert "  fold  clips  accuracy" in text and any(line.startswith("  mean of 2 folds") for line in text)
    caps = cli("evaluate", "--data", clotho).stdout
    assert "no zero-shot (a caption set" in caps and "text_to_audio_mAP@10" in caps
    proc = cli("evaluate", "--data", esc50, "--twins", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "ESC-50 holds no twin pairs" in proc.stderr
