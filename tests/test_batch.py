"""The batch model (clap_core.batch): every file gets an outcome, limits hold, edits return new batches."""

import numpy as np
import pytest

from clap_core import batch as batch_mod
from clap_core.audio import AudioError
from clap_core.batch import LIMITS, Batch, Limits, read_clip
from clap_core.scenarios import default_batch
from media import all_formats


@pytest.fixture(scope="module")
def fmts():
    return all_formats()


def test_every_file_gets_an_outcome_in_order(fmts):
    files = [("ok.flac", fmts["flac"]), ("broken.wav", b"RIFF\0\0\0\0WAVEnot audio"),
             ("huge.wav", b"RIFF" + bytes(LIMITS.max_file_bytes)), ("ok.m4a", fmts["m4a-aac"])]
    new, outcomes = Batch().add_files(files)
    assert [o.name for o in outcomes] == ["ok.flac", "broken.wav", "huge.wav", "ok.m4a"]
    assert [o.added for o in outcomes] == [True, False, False, True]
    assert "25 000 004 bytes is over the limit of 25 MB (25 000 000 bytes) per file" == outcomes[2].reason
    assert outcomes[1].message.startswith("broken.wav: not added — ")
    assert new.names == ["ok.flac", "ok.m4a"] and new.captions == ["ok", "ok"]
    assert new[0].data == fmts["flac"]  # the player's bytes


def test_a_full_batch_names_what_did_not_fit(fmts):
    small = Batch(limits=Limits(max_clips=2))
    new, outcomes = small.add_files([(f"{k}.flac", fmts["flac"]) for k in range(3)])
    assert len(new) == 2 and not outcomes[2].added and "full (2 clips at most)" in outcomes[2].reason


def test_an_unexpected_decoder_failure_is_that_file_s_message(fmts, monkeypatch):
    real = batch_mod.decode

    def flaky(source, **kw):
        if kw.get("name") == "bad.flac":
            raise RuntimeError("<_io.BytesIO object at 0x7f00> went wrong")
        return real(source, **kw)

    monkeypatch.setattr(batch_mod, "decode", flaky)
    new, outcomes = Batch().add_files([("bad.flac", fmts["flac"]), ("good.flac", fmts["flac"])])
    assert new.names == ["good.flac"]
    assert outcomes[0].reason == "could not be decoded (RuntimeError)" and "0x" not in outcomes[0].message


def test_same_clip_twice_has_two_uids_and_one_content_key(fmts):
    new, _ = Batch().add_files([("a.flac", fmts["flac"]), ("a.flac", fmts["flac"])])
    assert new[0].uid != new[1].uid and new[0].clip.key == new[1].clip.key


def test_the_file_hash_is_computed_once_and_carried_by_every_edit(fmts, monkeypatch):
    import hashlib

    from ui import store

    new, _ = Batch().add_files([("a.flac", fmts["flac"]), ("b.m4a", fmts["m4a-aac"])])
    assert [p.file_sha for p in new] == [hashlib.sha256(fmts[k]).hexdigest() for k in ("flac", "m4a-aac")]
    later = new.with_edits(["x", "y"], ["", "l"]).move(0, 1).shuffle_captions().remove([new[1].uid])
    assert later[0].file_sha == new[0].file_sha and later[0].data is new[0].data

    class NoHashing:
        def sha256(self, *_):
            raise AssertionError("hashed again")

    monkeypatch.setattr(store, "hashlib", NoHashing())
    assert store.file_of(later[0]) == (new[0].data, new[0].file_sha)  # what the batch store keeps: no second hash


def test_edit_move_remove_shuffle_restore_return_new_batches():
    b = default_batch()
    assert len(b) == 12 and b.names[0] == "demo-low-tone.flac" and b.labels[0] == "low tone"  # the own-world scenario
    edited = b.with_edits(["x"] + b.captions[1:], b.labels)
    assert edited.captions[0] == "x" and b.captions[0] != "x"  # the old batch is untouched
    moved = b.move(0, 1)
    assert moved.names[:2] == [b.names[1], b.names[0]] and b.move(0, -1) is b
    assert len(b.remove({b[3].uid})) == 11
    shuffled = b.shuffle_captions()
    assert shuffled.shuffled and sorted(shuffled.captions) == sorted(b.captions)
    assert all(s != o for s, o in zip(shuffled.captions, b.captions))  # a derangement
    again = shuffled.shuffle_captions()
    assert again.captions != shuffled.captions and again.unshuffled == shuffled.unshuffled
    assert again.restore_captions().captions == b.captions and not again.restore_captions().shuffled
    assert b.shuffle_captions().captions == shuffled.captions  # seeded: the same shuffle from the same state
    with pytest.raises(ValueError, match="need 12 captions"):
        b.with_edits(["x"], ["y"])


def test_read_clip_limits_seconds_and_size(fmts, tmp_path):
    clip = read_clip("f.flac", fmts["flac"], Limits(max_seconds=0.5))
    assert clip.info.truncated and clip.seconds == pytest.approx(0.5, abs=1e-3)
    p = tmp_path / "big.wav"
    p.write_bytes(b"RIFF" + bytes(2_000_001))
    with pytest.raises(AudioError, match=r"^big.wav: 2 000 005 bytes is over the limit of 2 MB \(2 000 000 bytes\) per file$"):
        read_clip("big.wav", p, Limits(max_file_mb=2))


def test_two_rates_from_one_source(fmts):
    clip = read_clip("f.flac", fmts["flac"])
    a48, a16 = clip.waveform(48_000), clip.waveform(16_000)
    assert len(a48) == pytest.approx(3 * len(a16), abs=2) and np.isfinite(a16).all()
    assert clip.waveform(48_000) is a48 and clip.waveform(clip.info.source_rate) is clip.samples
