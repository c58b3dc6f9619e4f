"""Evaluating a labelled set (clap_core.evaluate): the sources (a zip of label folders or with a CSV, a folder,
the demo world, the examples), what an untrusted zip may not do, Stop keeping what was done, the most
confident mistakes, and the CLI giving the page's numbers (`evaluate --labels --template --csv-out`)."""

import csv
import io
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf
from test_cli import cli

from clap_core import demo_world
from clap_core.embed import Embedder
from clap_core.evaluate import (
    CHUNK,
    DataError,
    Evaluation,
    SetLimits,
    demo_world_set,
    evaluate,
    examples_set,
    path_set,
    zip_set,
)
from clap_core.retrieval import partner_ranks, ranking, retrieval_metrics, tie_scores
from conftest import ROOT

SEED, N = 77, 12  # a small demo world (one clip per class); never used in training


@pytest.fixture(scope="module")
def emb(bundled):
    return Embedder(bundled)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    demo_world.write_world(SEED, N, out)
    return out


def make_zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def world_rows(world) -> list[dict]:
    return list(csv.DictReader((world / "clips.csv").read_text().splitlines()))


def folder_zip(world) -> bytes:
    """The world as <top>/<label>/<clip>, plus a broken clip, a clip outside any label folder and a README."""
    members = {f"set/{r['label']}/{r['file']}": (world / r["file"]).read_bytes() for r in world_rows(world)}
    members["set/siren/broken.wav"] = b"RIFF\x00\x00\x00\x00WAVEthis is not really audio"
    members["loose.wav"] = (world / world_rows(world)[0]["file"]).read_bytes()
    members["README.txt"] = b"not a clip"
    return make_zip(members)


def same_numbers(a, b) -> None:
    """Two results of the same clips: the same classification and (to float32 rounding) the same figures."""
    assert a.labels == b.labels and a.zs.top1 == b.zs.top1 and a.accuracy == b.accuracy
    np.testing.assert_array_equal(a.zs.confusion(), b.zs.confusion())
    np.testing.assert_allclose(a.zs.probs, b.zs.probs, rtol=0, atol=1e-6)
    assert a.retrieval.keys() == b.retrieval.keys()
    np.testing.assert_allclose(list(a.retrieval.values()), list(b.retrieval.values()), atol=1e-9)


# -- sources -----------------------------------------------------------------------------------
@pytest.mark.parametrize("world_name,generate", [("classes", demo_world.generate),
                                                  ("attributes", demo_world.generate_attributed)])
def test_the_demo_world_set_is_the_generated_world_one_clip_at_a_time(world_name, generate, world):
    entries = list(demo_world_set(SEED, N, world_name).clips())
    made = generate(SEED, N)
    assert [e.label for e in entries] == [c.label for c in made]
    assert [e.caption for e in entries] == [c.caption for c in made]
    for e, c in zip(entries, made):
        samples, rate = sf.read(io.BytesIO(e.source), dtype="float32")
        assert rate == demo_world.RATE and np.abs(samples - c.waveform).max() < 1 / 2**15  # 16-bit WAV
    if world_name == "classes":  # the very files `demo-world --out` writes, under the same names
        assert [e.name for e in entries] == [r["file"] for r in world_rows(world)]
        assert all(e.source == (world / e.name).read_bytes() for e in entries)


def test_zip_of_label_folders_and_zip_with_a_csv_give_the_folder_s_numbers(world, emb):
    on_disk = evaluate(path_set(str(world)), emb)
    by_folder = evaluate(zip_set(folder_zip(world), "set.zip"), emb)
    assert by_folder.labels == on_disk.labels and by_folder.clips == N
    assert set(by_folder.names) == {f"set/{r['label']}/{r['file']}" for r in world_rows(world)}
    skipped = {o.name: o.reason for o in by_folder.skipped}
    assert set(skipped) == {"set/siren/broken.wav", "loose.wav"}
    assert "not in a label folder" in skipped["loose.wav"] and skipped["set/siren/broken.wav"]
    assert by_folder.read == by_folder.size == N + 2
    assert by_folder.retrieval_on.startswith("label prompts")  # folders carry no captions
    predicted = {name.rsplit("/", 1)[-1]: p for name, p in zip(by_folder.names, by_folder.zs.top1)}
    assert predicted == {name.rsplit("/", 1)[-1]: p for name, p in zip(on_disk.names, on_disk.zs.top1)}
    assert by_folder.accuracy == on_disk.accuracy

    rows = world_rows(world)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["file", "label", "caption"])
    writer.writerows([[f"clips/{r['file']}", r["label"], r["caption"]] for r in rows] + [["clips/gone.wav", "siren", ""]])
    members = {"data/labels.csv": table.getvalue(), **{f"data/clips/{r['file']}": (world / r["file"]).read_bytes()
                                                         for r in rows}}
    by_csv = evaluate(zip_set(make_zip(members), "with-csv.zip"), emb)
    assert [o.name for o in by_csv.skipped] == ["clips/gone.wav"] and "not in the zip" in by_csv.skipped[0].reason
    assert by_csv.retrieval_on.startswith("captions") and by_csv.captions_missing == 0
    same_numbers(by_csv, on_disk)


@pytest.mark.parametrize("members,limits,message", [
    ({"../evil/x.wav": b"RIFF"}, None, "unsafe name in the zip: '../evil/x.wav'"),
    ({"/etc/x.wav": b"RIFF"}, None, "unsafe name in the zip: '/etc/x.wav'"),
    ({"a\\b.wav": b"RIFF"}, None, "unsafe name"),
    ({f"dog/{i}.wav": b"RIFF" for i in range(8)}, SetLimits(100, 5, 10), "the zip declares 8 entries in a 440-byte directory; a labelled set here has at most 5 entries"),
    ({f"dog/{i}.wav": b"RIFF" for i in range(8)}, SetLimits(5, 100, 10), "8 clips; at most 5 are evaluated at a time"),
    ({"dog/big.wav": bytes(3_000_000)}, SetLimits(5, 100, 2), "the clips unpack to more than 2 MB"),
    ({"a.csv": "file,label\n", "b.csv": "file,label\n"}, None, "holds 2 CSV files"),
    ({"notes.txt": b"hello"}, None, "no CSV and no audio files in label folders"),
    ({"t.csv": "name,kind\nx.wav,dog\n"}, None, "t.csv: not a CSV file (file,label[,caption])"),
])
def test_a_zip_that_cannot_be_used_is_refused_in_one_line(members, limits, message):
    args = (make_zip(members), "my set.zip") + ((limits,) if limits else ())
    with pytest.raises(DataError) as e:
        zip_set(*args)
    assert str(e.value).startswith("my set.zip") and message in str(e.value) and "\n" not in str(e.value)


def test_not_a_zip_is_refused():
    with pytest.raises(DataError, match=r"^notes\.zip: not a zip file$"):
        zip_set(b"just text", "notes.zip")


def test_the_examples_set_and_its_csv_are_the_same_set(emb):
    a = evaluate(examples_set(), emb)
    b = evaluate(path_set(str(ROOT / "assets" / "examples" / "examples.csv")), emb)
    assert [n.rsplit("/", 1)[-1] for n in b.names] == list(a.names)
    same_numbers(a, b)


# -- the run -----------------------------------------------------------------------------------
def test_stop_keeps_what_was_done_and_continue_reaches_the_whole_set(emb):
    labels = list(demo_world.LABELS)
    run = Evaluation(demo_world_set(SEED, 2 * CHUNK + 5, "classes"), emb, labels)
    run.advance()
    part = run.result()
    assert part.stopped and part.read == part.clips == CHUNK and part.size == 2 * CHUNK + 5
    same_numbers(part, evaluate(demo_world_set(SEED, CHUNK, "classes"), emb, labels))  # the first chunk's clips
    whole = run.run().result()
    assert not whole.stopped and whole.clips == 2 * CHUNK + 5
    same_numbers(whole, evaluate(demo_world_set(SEED, 2 * CHUNK + 5, "classes"), emb, labels))


def test_the_most_confident_mistakes_are_ranked_and_keep_a_player(world, emb, tmp_path):
    rows = world_rows(world)
    wrong = {0: "siren", 3: "chord", 7: "low tone"}  # true labels made wrong on purpose
    data = tmp_path / "wrong.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label"])
        writer.writerows([[str(world / r["file"]), wrong.get(i, r["label"])] for i, r in enumerate(rows)])
    res = Evaluation(path_set(str(data)), emb, list(demo_world.LABELS), players=2).run().result()
    top = res.zs.probs.max(axis=1)
    mistaken = [i for i in range(N) if res.zs.top1[i] != res.true_labels[i]]
    assert {m.index for m in res.mistakes} == set(mistaken) >= set(wrong)
    assert [m.probability for m in res.mistakes] == sorted(top[mistaken], reverse=True)
    assert [m.wav is not None for m in res.mistakes] == [True, True] + [False] * (len(mistaken) - 2)
    first = res.mistakes[0]
    heard, _ = sf.read(io.BytesIO(first.wav), dtype="float32")
    original, _ = sf.read(world / rows[first.index]["file"], dtype="float32")
    np.testing.assert_array_equal(heard, original)  # the clip as decoded, as 16-bit WAV
    assert res.accuracy == pytest.approx(1 - len(mistaken) / N)
    per = {c.label: c for c in res.per_class()}
    assert sum(c.clips for c in per.values()) == N and sum(c.correct for c in per.values()) == N - len(mistaken)


def test_labels_outside_the_set_and_clips_outside_the_labels(world, emb):
    res = evaluate(path_set(str(world)), emb, labels=["siren", "chord", "a dog barking"])
    assert res.outside_labels == N - 2 and res.clips == N
    assert res.accuracy in (0.0, 0.5, 1.0)  # over the siren and the chord only
    assert [c.clips for c in res.per_class()] == [1, 1, 0] and res.per_class()[2].accuracy is None


# -- retrieval ranks and the tie rule -----------------------------------------------------------
def test_partner_ranks_follow_the_tie_rule_that_recall_uses():
    # clip 2 duplicates clip 0: every caption scores them the same
    sim = np.array([[0.9, 0.1, 0.9], [0.2, 0.8, 0.2], [0.7, 0.3, 0.7]])
    rows, cols = partner_ranks(sim)
    assert rows.tolist() == [1, 1, 2]  # caption 2 finds clip 0 first (lower index), its own clip second
    assert cols.tolist() == [1, 1, 2]  # clip 2's column is clip 0's: caption 0 (0.9) beats its own (0.7)
    assert ranking(np.array([0.5, 0.7, 0.7])).tolist() == [1, 2, 0]
    ulp = np.nextafter(0.7, 1.0)  # a matrix product can round a duplicate's score one ulp apart
    noisy = np.array([[0.9, 0.1, 0.9], [0.2, 0.8, 0.2], [0.7, 0.3, ulp]])  # unrounded, caption 2 would win
    assert [r.tolist() for r in partner_ranks(noisy)] == [[1, 1, 2], [1, 1, 2]]
    assert np.array_equal(tie_scores(noisy), tie_scores(sim))
    m = retrieval_metrics(sim)
    assert m["text_to_audio_R@1"] == pytest.approx(np.mean(rows == 1))
    assert m["text_to_audio_mAP"] == pytest.approx(np.mean(1 / rows))
    assert m["audio_to_text_mAP"] == pytest.approx(np.mean(1 / cols))


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_labels_templates_and_csv_out_give_the_function_s_numbers(world, bundled, tmp_path):
    labels = ["siren", "white noise", "low tone", "chord"]
    templates = ["This is a sound of {}.", "{}"]
    out_csv = tmp_path / "rows.csv"
    proc = cli("evaluate", "--data", world, "--labels", *labels, "--template", templates[0], "--template",
               templates[1], "--csv-out", out_csv, "--json")
    got = json.loads(proc.stdout)
    res = evaluate(path_set(str(world)), Embedder(bundled), labels, templates)  # a fresh cache: the CLI's batches
    assert got["labels"] == labels and got["template"] == templates and got["clips"] == N
    assert got["zero_shot_accuracy"] == res.accuracy and got["confusion"] == res.zs.confusion().tolist()
    assert got["per_class"] == res.to_dict()["per_class"] and got["outside_labels"] == N - 4
    for key, value in res.retrieval.items():
        assert got[key] == value
    rows = list(csv.DictReader(out_csv.read_text().splitlines()))
    assert [list(r) for r in rows[:1]] == [["file", "label", "predicted", "probability", "correct"]]
    assert len(rows) == N
    for r, want in zip(rows, res.rows()):
        assert r["file"] == want["file"] and r["label"] == want["label"] and r["predicted"] == want["predicted"]
        assert float(r["probability"]) == want["probability"]  # bit for bit
        assert r["correct"] == str(want["predicted"] == want["label"])
    assert sum(r["correct"] == "True" for r in rows) == round(res.accuracy * (N - got["outside_labels"]))


def test_cli_reads_a_zip_and_names_a_refused_one(world, tmp_path):
    data = tmp_path / "set.zip"
    data.write_bytes(folder_zip(world))
    out = json.loads(cli("evaluate", "--data", data, "--skip-bad", "--json").stdout)
    assert out["clips"] == N and sorted(s["file"] for s in out["skipped"]) == ["loose.wav", "set/siren/broken.wav"]
    proc = cli("evaluate", "--data", data, check=False)  # without --skip-bad the first bad file ends it
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        "error: loose.wav: not in a label folder (expected <label>/<clip>)")
    evil = tmp_path / "evil.zip"
    evil.write_bytes(make_zip({"../../x.wav": b"RIFF"}))
    proc = cli("evaluate", "--data", evil, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "unsafe name in the zip" in lines[0] and str(evil) in lines[0]
