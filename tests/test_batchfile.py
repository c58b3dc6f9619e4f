"""The batch as a file: a faithful round trip, and an untrusted zip that cannot climb out, blow up or lie."""

import csv
import io
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from clap_core.batch import LIMITS, Batch, Limits
from clap_core.batchfile import MAX_MEMBERS, TOO_BIG, BatchFileError, read_batch_zip, write_batch_zip
from clap_core.scenarios import default_batch
from conftest import ROOT

EXAMPLES = ROOT / "assets" / "examples"
SETTINGS = {"checkpoint": "bundled", "policy": "first", "tau": 5.0}


def make_zip(members: dict, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def batch_csv(*rows, columns=("file", "caption", "label")) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def siren() -> bytes:
    return (EXAMPLES / "demo-siren.flac").read_bytes()


def assert_same(a: Batch, b: Batch) -> None:
    assert b.names == a.names and b.captions == a.captions and b.labels == a.labels
    for p, q in zip(a, b, strict=True):
        assert p.clip.key == q.clip.key and np.array_equal(p.clip.samples, q.clip.samples)
        assert p.clip.samples.dtype == q.clip.samples.dtype == np.float32


def test_round_trip_is_faithful_and_the_same_batch_gives_the_same_bytes():
    batch = default_batch()
    batch = batch.with_edits([c + " — edited, with a comma, and \"quotes\"" for c in batch.captions],
                             ["", *batch.labels[1:]])
    data = write_batch_zip(batch, SETTINGS)
    again, outcomes, settings = read_batch_zip(data)
    assert_same(batch, again)
    assert [p.source for p in again] == ["example"] * len(batch) and all(o.added for o in outcomes)
    assert settings == SETTINGS
    assert write_batch_zip(batch, SETTINGS) == data  # fixed member times: same batch, same bytes
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[0] == "clips/01-demo-low-tone.flac" and {"batch.csv", "settings.json"} <= set(names)
    header = zipfile.ZipFile(io.BytesIO(data)).read("batch.csv").decode().splitlines()[0]
    assert header.startswith("file,") and "caption" in header and "label" in header


def test_a_clip_read_from_a_path_round_trips_as_its_samples(tmp_path):
    """A pair read from a path has no bytes: the zip holds its decoded samples as a float WAV, exactly."""
    path = tmp_path / "weird name (1) ü.mp3"
    path.write_bytes((EXAMPLES / "demo-chord.flac").read_bytes())  # the content decides the format
    batch, _ = Batch().add_files([(path.name, path), ("same again", path)], "file", captions=["a", "b"])
    assert batch[0].data is None
    data = write_batch_zip(batch, {})
    members = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert members[:2] == ["clips/01-weird_name_1.wav", "clips/02-same_again.wav"]  # unique, safe names
    again, outcomes, settings = read_batch_zip(data)
    assert_same(batch, again)
    assert settings == {}
    assert [p.source for p in again] == ["file", "file"] and again[0].info.container == "wav"


def test_a_path_to_a_zip_reads_like_its_bytes(tmp_path):
    path = tmp_path / "b.zip"
    path.write_bytes(write_batch_zip(default_batch(), SETTINGS))
    assert_same(default_batch(), read_batch_zip(path)[0])
    with pytest.raises(BatchFileError, match="no such file"):
        read_batch_zip(tmp_path / "nope.zip")


@pytest.mark.parametrize("name", ["../x.wav", "/etc/x.wav", "clips/../../x.wav", "clips\\x.wav", "C:/x.wav"])
def test_unsafe_member_names_are_refused(name):
    data = make_zip({"batch.csv": batch_csv(["ok.flac", "a siren", ""]), "ok.flac": siren(), name: siren()})
    with pytest.raises(BatchFileError, match="unsafe name in the zip") as e:
        read_batch_zip(data)
    assert "\n" not in str(e.value)


def test_a_row_naming_a_climbing_path_is_only_looked_up_in_the_zip():
    data = make_zip({"batch.csv": batch_csv(["../assets/examples/demo-siren.flac", "a siren", ""])})
    with pytest.raises(BatchFileError, match=r"row 2 names '\.\./assets/examples/demo-siren\.flac', which is not in"):
        read_batch_zip(data)


def test_a_highly_compressible_member_over_the_limit_is_not_inflated():
    big = bytes(LIMITS.max_file_bytes + 1_000_000)  # 26 MB of zeros: a few kB deflated
    data = make_zip({"batch.csv": batch_csv(["bomb.wav", "zeros", ""], ["ok.flac", "a siren", "siren"]),
                     "bomb.wav": big, "ok.flac": siren()})
    assert len(data) < len(siren()) + 100_000  # the zeros take a few kB
    batch, outcomes, _ = read_batch_zip(data)
    assert batch.names == ["ok.flac"] and batch.captions == ["a siren"]
    assert not outcomes[0].added and "over the limit of 25 MB per file" in outcomes[0].reason
    assert outcomes[1].added


def _lie_about_size(data: bytes, member: str, size: int) -> bytes:
    """The zip with ``member``'s uncompressed size in both headers replaced by ``size``."""
    out = bytearray(data)
    name = member.encode()
    for sig, offset, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := out.find(sig, start)) >= 0:
            if out[start + name_at:start + name_at + len(name)] == name:
                out[start + offset:start + offset + 4] = struct.pack("<I", size)
            start += 4
    return bytes(out)


def test_a_member_whose_header_lies_about_its_size_stops_at_the_declared_size():
    honest = make_zip({"batch.csv": batch_csv(["bomb.wav", "zeros", ""], ["ok.flac", "a siren", ""]),
                       "bomb.wav": bytes(60_000_000), "ok.flac": siren()})
    data = _lie_about_size(honest, "bomb.wav", 1000)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("bomb.wav").file_size == 1000
    batch, outcomes, _ = read_batch_zip(data)
    assert batch.names == ["ok.flac"]
    assert not outcomes[0].added and outcomes[0].reason.startswith("could not be unpacked from the zip")


def test_a_batch_file_that_unpacks_too_big_is_refused_before_reading():
    chunk = bytes(LIMITS.max_file_bytes - 1_000_000)  # 24 MB each, 9 of them: 216 MB > 200 MB
    members = {f"{i}.wav": chunk for i in range(9)}
    data = make_zip({"batch.csv": batch_csv(*[[n, "zeros", ""] for n in members]), **members})
    with pytest.raises(BatchFileError) as e:
        read_batch_zip(data)
    assert str(e.value) == TOO_BIG == "the clips unpack to more than 200 MB (the limit for a batch file)"


def test_too_many_members_or_rows():
    data = make_zip({f"clips/{i}.txt": b"x" for i in range(MAX_MEMBERS + 1)})
    with pytest.raises(BatchFileError, match=f"the zip declares {MAX_MEMBERS + 1} entries in a .*-byte directory; a batch "
                                             "file has at most 200 entries"):
        read_batch_zip(data)
    small = Limits(max_clips=2)
    data = make_zip({"batch.csv": batch_csv(*[["s.flac", f"siren {i}", ""] for i in range(3)]), "s.flac": siren()})
    with pytest.raises(BatchFileError, match="batch.csv has more than 2 rows; a batch holds at most 2 pairs"):
        read_batch_zip(data, small)
    data = make_zip({f"{i}.flac": siren() for i in range(3)})
    with pytest.raises(BatchFileError, match="no batch.csv and 3 files; a batch holds at most 2 clips"):
        read_batch_zip(data, small)


@pytest.mark.parametrize("members,message", [
    ({"settings.json": "{}"}, "no batch.csv and no clips in the zip"),
    ({"batch.csv": "clip,text\nx.wav,a\n", "x.wav": b"x"},
     "batch.csv needs the columns file,caption (label, name, source optional); it has: clip,text"),
    ({"batch.csv": batch_csv(["nope.wav", "a", ""])}, "batch.csv row 2 names 'nope.wav', which is not in the zip"),
    ({"batch.csv": batch_csv(["", "a", ""])}, "batch.csv row 2 has no file"),
    ({"batch.csv": b"file,caption\n\xff\xfe,x\n"}, "batch.csv is not UTF-8 text"),
    ({"batch.csv": "file,caption\nx.wav," + "a" * 200_000 + "\n", "x.wav": b"x"},
     "batch.csv is not a readable CSV (field larger than field limit (131072))"),
    ({"batch.csv": batch_csv(), "settings.json": "[1, 2]"}, "settings.json is not a JSON object"),
    ({"batch.csv": batch_csv(), "settings.json": "{nope"}, "settings.json is not valid JSON"),
    ({"batch.csv": batch_csv(), "settings.json": '{"format": 7}'}, "settings.json is format 7; this version reads"),
])
def test_unusable_batch_files_get_one_line_naming_why(members, message):
    with pytest.raises(BatchFileError) as e:
        read_batch_zip(make_zip(members))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.parametrize("data", [b"", b"hello, not a zip", b"PK\x03\x04" + bytes(40), siren()])
def test_not_a_zip(data):
    with pytest.raises(BatchFileError, match="^not a zip file$"):
        read_batch_zip(data)


def test_a_zip_of_clips_without_batch_csv_is_read_with_captions_from_names():
    data = make_zip({"b/dog-bark_01.flac": siren(), "a/siren.flac": siren(), "__MACOSX/._x": b"junk",
                     ".DS_Store": b"junk", "notes.txt": b"some text", "settings.json": json.dumps({"policy": "nope"})})
    batch, outcomes, settings = read_batch_zip(data)
    assert batch.names == ["siren.flac", "dog-bark_01.flac"] and batch.captions == ["siren", "dog bark 01"]
    assert [o.name for o in outcomes] == ["siren.flac", "dog-bark_01.flac", "notes.txt"]
    assert not outcomes[2].added and "not" in outcomes[2].reason
    assert settings == {}  # an unknown policy is not taken


def test_a_batch_unzipped_and_zipped_again_in_its_folder_opens_the_same():
    original = zipfile.ZipFile(io.BytesIO(write_batch_zip(default_batch(), SETTINGS)))
    rezipped = make_zip({f"my batch/{n}": original.read(n) for n in original.namelist()})
    batch, _, settings = read_batch_zip(rezipped)
    assert_same(default_batch(), batch)
    assert settings == SETTINGS


def test_bad_clips_inside_a_good_file_get_their_outcome_and_the_rest_stays():
    data = make_zip({"batch.csv": batch_csv(["a.flac", "one", "x"], ["broken.wav", "two", "y"], ["a.flac", "three", "z"]),
                     "a.flac": siren(), "broken.wav": b"RIFF\x00\x00\x00\x00WAVEnot really"})
    batch, outcomes, _ = read_batch_zip(data)
    assert batch.captions == ["one", "three"] and batch.labels == ["x", "z"]
    assert [o.added for o in outcomes] == [True, False, True] and outcomes[1].name == "broken.wav"


# -- the CLI's --batch (in process: the same main() as python -m clap_core, without a new interpreter each) --
@pytest.fixture
def cli(capsys):
    from clap_core.cli import main

    def run(*args) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own errors
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


NUMBERS = ("C", "cosine", "P_text", "P_audio", "loss_text", "loss_audio", "loss", "per_item_text", "per_item_audio",
           "tau")


def test_cli_batch_file_gives_the_numbers_of_audio_and_text(tmp_path, cli):
    files = [EXAMPLES / n for n in ("demo-siren.flac", "demo-chord.flac", "rain.wav")]
    texts = ["a siren going up and down", "a major chord", "rain, falling"]
    batch, _ = Batch().add_files([(f.name, f.read_bytes()) for f in files], captions=texts, labels=["siren", "", ""])
    zpath = tmp_path / "batch.zip"
    zpath.write_bytes(write_batch_zip(batch, {"checkpoint": "bundled", "policy": "windows", "tau": None}))
    code_a, direct, _ = cli("batch", "--audio", *files, "--text", *texts, "--json")
    code_b, via_zip, err = cli("batch", "--batch", zpath, "--json")
    assert code_a == code_b == 0, err
    a, b = json.loads(direct), json.loads(via_zip)
    assert {k: a[k] for k in NUMBERS} == {k: b[k] for k in NUMBERS} and b["texts"] == texts
    assert [c["file"] for c in b["clips"]] == [f.name for f in files]
    assert b["batch_settings"] == {"checkpoint": "bundled", "policy": "windows", "tau": None}
    zs_direct = json.loads(cli("zero-shot", "--audio", *files, "--labels", "siren", "chord", "--json")[1])
    zs_zip = json.loads(cli("zero-shot", "--batch", zpath, "--labels", "siren", "chord", "--json")[1])
    assert [r["probabilities"] for r in zs_direct["results"]] == [r["probabilities"] for r in zs_zip["results"]]


def test_cli_batch_file_from_the_command_line(tmp_path):
    """The real command, once: python -m clap_core batch --batch on the example batch."""
    zpath = tmp_path / "examples.zip"
    zpath.write_bytes(write_batch_zip(default_batch(), {}))
    proc = subprocess.run([sys.executable, "-m", "clap_core", "batch", "--batch", str(zpath), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["texts"] == default_batch().captions


@pytest.mark.parametrize("args,message", [
    (("batch", "--batch", "{zip}", "--audio", "{clip}"), "error: --batch replaces --audio and --text: give one or the other"),
    (("batch", "--text", "a"), "error: give --audio and --text, or --batch"),
    (("zero-shot", "--labels", "a", "b"), "error: give --audio, or --batch"),
    (("batch", "--batch", "{clip}"), "error: {clip}: not a zip file"),
    (("zero-shot", "--batch", "{bad}", "--labels", "a", "b"), "error: {bad}: unsafe name in the zip: '../x.wav'"),
])
def test_cli_batch_file_misuse_exits_2_with_one_line(tmp_path, cli, args, message):
    paths = {"zip": tmp_path / "b.zip", "clip": EXAMPLES / "demo-siren.flac", "bad": tmp_path / "bad.zip"}
    paths["zip"].write_bytes(write_batch_zip(default_batch(), {}))
    paths["bad"].write_bytes(make_zip({"../x.wav": siren()}))
    code, _, err = cli(*[a.format(**paths) for a in args])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(message.format(**paths)), err


def test_cli_skip_bad_lists_a_bad_member_of_the_batch_file(tmp_path, cli):
    zpath = tmp_path / "b.zip"
    zpath.write_bytes(make_zip({"batch.csv": batch_csv(["a.flac", "one", ""], ["broken.wav", "two", ""],
                                                       ["a.flac", "three", ""]),
                                "a.flac": siren(), "broken.wav": b"not audio at all"}))
    code, _, err = cli("batch", "--batch", zpath, "--json")
    assert code == 2 and err.strip().startswith("error: broken.wav: ")
    out = json.loads(cli("batch", "--batch", zpath, "--skip-bad", "--json")[1])
    assert out["texts"] == ["one", "three"] and [s["file"] for s in out["skipped"]] == ["broken.wav"]
