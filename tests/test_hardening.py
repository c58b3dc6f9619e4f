"""Hardening, second pass (issue 17): hostile settings, τ out of range, thousands of labels, a batch file whose
every clip fails, formula cells in exports, a million-entry zip, output paths checked before the work, and
messages that name what happened. Each test reproduces one finding."""

import csv
import io
import json
import struct
import time
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_app import metric, open_app, plain
from test_batchfile import batch_csv, make_zip, siren
from test_cli import cli

from clap_core.batch import Batch, read_clip, visible_name
from clap_core.batchfile import BatchFileError, read_batch_zip, write_batch_zip
from clap_core.contrastive import TAU_RANGE, check_tau
from clap_core.scenarios import default_batch
from clap_core.tables import escape_cell, frame_csv, unescape_cell
from clap_core.zeroshot import MAX_LABELS, check_labels

# -- 2. a hostile settings.json -------------------------------------------------------------------------------------
HOSTILE_SETTINGS = {
    "a 401-digit τ": '{"tau": 1' + "0" * 400 + "}",
    "200 000 brackets": "[" * 200_000,
    "τ = 1e308": '{"tau": 1e308}',
    "τ = 5000": '{"tau": 5000}',
    "τ = 1e-300": '{"tau": 1e-300}',
    "τ a string": '{"tau": "12"}',
}


def _with_settings(text: str) -> bytes:
    return make_zip({"batch.csv": batch_csv(["a.flac", "a siren"]), "a.flac": siren(), "settings.json": text})


@pytest.mark.parametrize("case", list(HOSTILE_SETTINGS))
def test_a_hostile_settings_file_is_one_line_never_an_exception(case):
    data = _with_settings(HOSTILE_SETTINGS[case])
    try:
        batch, outcomes, settings = read_batch_zip(data)
    except BatchFileError as e:
        assert case == "200 000 brackets" and str(e) == "settings.json is not valid JSON"
        return
    assert len(batch) == 1 and "tau" not in settings
    assert settings["tau_refused"].startswith("the τ in settings.json") and "\n" not in settings["tau_refused"]
    assert len(settings["tau_refused"]) < 120  # never a 309-digit number


def test_the_cli_says_one_line_for_a_hostile_settings_file(tmp_path):
    path = tmp_path / "hostile.zip"
    path.write_bytes(_with_settings("[" * 200_000))
    proc = cli("batch", "--batch", path, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    path.write_bytes(_with_settings(HOSTILE_SETTINGS["a 401-digit τ"]))
    out = json.loads(cli("batch", "--batch", path, "--json").stdout)  # the clips are used; the τ is not
    assert "outside the valid range" in out["batch_settings"]["tau_refused"] and out["tau"] == out["tau_checkpoint"]


# -- 3. one valid τ range ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [5000, 1e-300, 1e308, 10 ** 400, float("nan"), float("inf"), -1, 0, True, "3"])
def test_tau_outside_the_range_is_refused_with_a_line(value):
    with pytest.raises(ValueError) as e:
        check_tau(value)
    assert "\n" not in str(e.value) and len(str(e.value)) < 100


def test_tau_inside_the_range_is_taken_and_the_cli_enforces_it():
    assert check_tau(TAU_RANGE[0]) == 0.1 and check_tau(1000) == 1000.0 and check_tau(14) == 14.0
    for bad in ("5000", "0.01", "1e308"):
        proc = cli("batch", "--scenario", "own-world", "--tau", bad, check=False)
        assert proc.returncode == 2 and "outside the valid range 0.1 … 1000" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_a_batch_file_with_tau_5000_leaves_the_loss_page_working(bundled):
    at = open_app()
    at.file_uploader(key="open-batch-0").set_value(("t.zip", _with_settings('{"tau": 5000}'), "application/zip")).run()
    assert not at.exception and len(at.session_state.batch) == 1 and not at.session_state.taus
    assert any("τ in settings.json = 5000 is outside the valid range" in plain(w.value) for w in at.warning)
    at.switch_page("pages/loss.py").run()
    assert not at.exception and metric(at, "τ in use") == f"{bundled.tau:.2f}"
    # a τ inside the range but below the slider's usual 1 … 100 widens the slider instead of breaking it
    at.switch_page("pages/batch.py").run()
    at.file_uploader(key="open-batch-1").set_value(("s.zip", _with_settings('{"tau": 0.25}'), "application/zip")).run()
    at.switch_page("pages/loss.py").run()
    assert not at.exception and at.slider(key="tau_widget").value == pytest.approx(0.25)
    assert at.slider(key="tau_widget").min == pytest.approx(0.1)


# -- 4. thousands of labels ------------------------------------------------------------------------------------
def test_more_labels_than_the_bound_are_refused_and_checking_is_linear():
    with pytest.raises(ValueError, match=f"5000 labels; at most {MAX_LABELS}"):
        check_labels([f"label {i}" for i in range(5000)])
    many = [f"label {i}" for i in range(MAX_LABELS)]
    start = time.perf_counter()
    for _ in range(20):
        check_labels(many)
    assert time.perf_counter() - start < 2.0  # 20 × 1000 labels; quadratic checking took ~0.3 s each
    with pytest.raises(ValueError, match="duplicate labels: a, b"):
        check_labels(["a", "b", "a", "b", "c"])


def test_texts_beyond_the_cache_size_embed_correctly(bundled):
    from clap_core.embed import Embedder

    small = Embedder(bundled, max_cache=8)
    texts = [f"a sound number {i}" for i in range(20)]
    got = small.embed_texts(texts)  # more texts than the cache holds: read back from the run, not the cache
    want = Embedder(bundled).embed_texts(texts)
    assert got.shape == (20, bundled.embed_dim) and np.array_equal(got, want)


def test_zero_shot_page_refuses_too_many_labels_with_a_line():
    at = open_app("pages/zero_shot.py")
    area = next(t for t in at.text_area if "label" in t.label.lower())
    area.set_value("\n".join(f"label {i}" for i in range(MAX_LABELS + 5))).run()
    assert not at.exception
    assert any(f"{MAX_LABELS + 5} labels; at most {MAX_LABELS}" in plain(e.value) for e in at.error)


# -- 5. a batch file whose every clip fails replaces nothing ------------------------------------------------------
def test_a_batch_file_none_of_whose_clips_can_be_used_keeps_the_batch_and_its_link():
    at = open_app()
    at.button(key="shuffle").click().run()  # a change: the batch is saved under ?b=
    before, link = list(at.session_state.batch.captions), at.session_state.store_id
    broken = make_zip({"batch.csv": batch_csv(["a.wav", "one"], ["b.wav", "two"]), "a.wav": b"RIFF0000WAVEjunk",
                       "b.wav": b"not audio at all"})
    at.file_uploader(key="open-batch-0").set_value(("broken.zip", broken, "application/zip")).run()
    assert not at.exception
    assert at.session_state.batch.captions == before and at.session_state.store_id == link
    assert any(plain(e.value) == "Could not open broken.zip: none of its 2 clips could be used (below). The batch is "
                                 "unchanged." for e in at.error)
    assert any(plain(e.value).startswith("a.wav: not added") for e in at.error)
    from ui.store import _store

    record = json.loads(_store().cache.get(("batch", link)))
    assert [p["caption"] for p in record["pairs"]] == before  # the saved record was not overwritten


# -- 6. Evaluate with no readable clip -----------------------------------------------------------------------------
def test_evaluate_page_lists_the_skipped_files_when_none_is_readable():
    at = open_app("pages/evaluate.py")
    at.radio(key="ev-source").set_value("Zip upload").run()
    data = make_zip({"dog/a.wav": b"RIFF0000WAVEjunk", "cat/b.wav": b"nothing"})
    at.file_uploader(key="ev-zip").set_value(("bad.zip", data, "application/zip")).run()
    at.button(key="ev-start").click().run()
    assert not at.exception
    text = " ".join(plain(e.value) for e in at.error)
    assert "no readable clips left: all 2 skipped" in text and "a.wav" in text and "b.wav" in text


# -- 8. formula cells in exports -------------------------------------------------------------------------------
FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "'=already", "''x", "'tis", "plain", "", "-", "'"]


@pytest.mark.parametrize("text", FORMULAS)
def test_escape_is_inverted_by_unescape(text):
    out = escape_cell(text)
    assert unescape_cell(out) == text
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_batch_csv_neutralises_formulas_and_round_trips_exactly():
    batch = default_batch()
    captions = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@me", "'=quoted", *batch.captions[5:]]
    labels = ["=label", *batch.labels[1:]]
    batch = batch.with_edits(captions, labels)
    data = write_batch_zip(batch, {})
    rows = list(csv.reader(io.StringIO(zipfile.ZipFile(io.BytesIO(data)).read("batch.csv").decode())))
    cells = [c for row in rows[1:] for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    again, _, _ = read_batch_zip(data)
    assert again.captions == captions and again.labels == labels


def test_every_csv_export_is_neutralised():
    import pandas as pd

    frame = pd.DataFrame({"caption": ["=cmd()", "ok"], "x": [-1.5, 2.0]}, index=pd.Index(["@a", "b"], name="=i"))
    rows = list(csv.reader(io.StringIO(frame_csv(frame))))
    assert rows[0] == ["'=i", "caption", "x"] and rows[1] == ["'@a", "'=cmd()", "-1.5"]
    from clap_core.contrastive import contrastive
    from ui.views import VIEWS
    from ui.widgets import loss_terms_csv, matrix_frame

    batch = default_batch()
    batch = batch.with_edits(["=evil", *batch.captions[1:]], batch.labels)
    rng = np.random.default_rng(0)
    res = contrastive(rng.standard_normal((len(batch), 8)), rng.standard_normal((len(batch), 8)), 10.0)
    assert "\n=evil" not in loss_terms_csv(res, batch) and "'=evil" in loss_terms_csv(res, batch)
    matrix = frame_csv(matrix_frame(res, batch, VIEWS[0]))
    assert "'=evil" in matrix and "\n=evil" not in matrix


def test_evaluate_csv_out_neutralises_formulas(tmp_path):
    from conftest import ROOT

    table = tmp_path / "set.csv"
    clips = sorted((ROOT / "assets" / "examples").glob("demo-*.flac"))[:3]
    table.write_text("file,label\n" + "".join(f"{c},=lab{i}\n" for i, c in enumerate(clips)))
    out = tmp_path / "rows.csv"
    cli("evaluate", "--data", table, "--csv-out", out)
    with out.open() as f:
        rows = list(csv.reader(f))
    assert all(r[1].startswith("'=lab") for r in rows[1:]) and not any(r[2].startswith("=") for r in rows[1:])


# -- 9. a million-entry zip is refused from its end record -----------------------------------------------------------
def _fake_zip(entries: int, cd_bytes: int, zip64: bool = False) -> bytes:
    """A zip whose end record declares ``entries`` entries in a ``cd_bytes`` directory (the directory itself
    absent): what a refusal must read before anything else."""
    body = b"\0" * 64
    if not zip64:
        return body + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, min(entries, 0xFFFF), min(entries, 0xFFFF),
                                                  cd_bytes, 0, 0)
    rec64 = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, entries, entries, cd_bytes, 0)
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, len(body), 1)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + rec64 + locator + end


@pytest.mark.parametrize("zip64", [False, True])
def test_a_zip_declaring_too_many_entries_is_refused_before_its_list_is_read(zip64):
    data = _fake_zip(1_500_000 if zip64 else 60_000, 130_000_000 if zip64 else 4_000_000, zip64)
    with pytest.raises(BatchFileError, match=r"the zip declares \d+ entries in a .*; a batch file has at most 200 entries"):
        read_batch_zip(data)
    from clap_core.evaluate import DataError, zip_set

    with pytest.raises(DataError, match="a labelled set here has at most"):
        zip_set(data, "set.zip")


def test_a_real_zip_with_many_entries_is_refused_fast():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(20_000):
            zf.writestr(f"f{i}.txt", b"")
    start = time.perf_counter()
    with pytest.raises(BatchFileError, match="declares 20000 entries"):
        read_batch_zip(buf.getvalue())
    assert time.perf_counter() - start < 0.5


# -- 10. output paths are checked before the work ------------------------------------------------------------------
def test_finetune_save_refuses_a_non_empty_folder_a_file_and_an_unwritable_place(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "config.json").write_text("{}")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for target, says in [(full, "the folder is not empty"), (afile, "is a file, not a folder"),
                         ("/proc/clap-explorer-test", "cannot be written")]:
        start = time.perf_counter()
        proc = cli("finetune", "--scenario", "own-world", "--steps", 2000, "--save", target, check=False)
        assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert time.perf_counter() - start < 60  # refused before 2 000 steps of training
    assert (full / "config.json").read_text() == "{}"


def test_evaluate_csv_out_and_save_embeddings_are_checked_first(tmp_path):
    for args in (("evaluate", "--data", "assets/scenarios/own-world.csv", "--csv-out", "/proc/x.csv"),
                 ("batch", "--scenario", "own-world", "--save-embeddings", "/proc/x.npz"),
                 ("evaluate", "--data", "assets/scenarios/own-world.csv", "--csv-out", tmp_path)):
        proc = cli(*args, check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# -- 12. messages that name what happened ---------------------------------------------------------------------
def test_a_name_with_bidi_controls_or_nul_is_shown_visibly():
    assert visible_name("evil\u202egnp.wav") == "evil⟨U+202E⟩gnp.wav"
    assert visible_name("a\x00b.wav") == "a⟨U+0000⟩b.wav" and visible_name("rain.wav") == "rain.wav"
    batch, outcomes = Batch().add_files([("x\u202eyz.flac", siren()), ("bad\x00.wav", b"junk")])
    assert batch.names == ["x⟨U+202E⟩yz.flac"] and outcomes[1].name == "bad⟨U+0000⟩.wav"


def test_a_file_just_over_the_limit_says_so_in_bytes(tmp_path):
    from clap_core.audio import AudioError
    from clap_core.batch import Limits

    p = tmp_path / "big.wav"
    p.write_bytes(b"RIFF" + bytes(25_000_001 - 4))
    with pytest.raises(AudioError) as e:
        read_clip("big.wav", p, Limits(max_file_mb=25))
    assert e.value.reason == "25 000 001 bytes is over the limit of 25 MB (25 000 000 bytes) per file"


def test_an_encrypted_member_is_named_without_a_repr():
    data = bytearray(make_zip({"batch.csv": batch_csv(["a.flac", "a siren"]), "a.flac": siren()}, zipfile.ZIP_STORED))
    local = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.flac").header_offset
    data[local + 6] |= 1  # the 'encrypted' flag bit, in the local header …
    at = 0
    while (at := bytes(data).find(b"PK\x01\x02", at + 1)) >= 0:  # … and in a.flac's central-directory record
        if bytes(data[at + 46 : at + 52]) == b"a.flac":
            data[at + 8] |= 1
    batch, outcomes, _ = read_batch_zip(bytes(data))
    assert len(batch) == 0 and "encrypted" in outcomes[0].reason and "<ZipInfo" not in outcomes[0].reason


def test_a_corrupt_store_says_it_failed_not_that_the_batch_was_dropped(monkeypatch):
    from ui import store

    at = open_app()
    at.button(key="shuffle").click().run()
    link = at.session_state.store_id
    store._store().cache.set(("batch", link), "{not json")
    fresh = AppTest.from_file(str(__import__("conftest").ROOT / "app.py"), default_timeout=180)
    fresh.query_params["b"] = link
    fresh.run()
    assert not fresh.exception
    text = " ".join(plain(e.value) for e in fresh.error)
    assert "could not be read: the server's batch store failed" in text
    assert not any("least recently" in plain(i.value) or "no longer kept" in plain(i.value) for i in fresh.info)


def test_the_app_hides_error_details_in_hosted_mode(monkeypatch):
    import streamlit as st

    monkeypatch.setenv("CLAP_EXPLORER_HOSTED", "1")
    at = open_app()
    assert not at.exception
    assert st.get_option("client.showErrorDetails") == "none"
    st.set_option("client.showErrorDetails", "full")  # this test process's other AppTests
