"""The Evaluate page on the standard layouts (issue 20): an ESC-50 zip and a Clotho zip, built at test time in exactly
those layouts, give the CLI's numbers on the page, with the protocol, the per-fold table and DCASE's mAP@10."""

import json

import pytest
from test_app import open_app, plain
from test_cli import cli
from test_datasets import clotho, esc50, zipped  # noqa: F401  (fixtures)

EVALUATE = "pages/evaluate.py"


def run_zip(data: bytes, name: str):
    at = open_app(EVALUATE)
    at.radio(key="ev-source").set_value("Zip upload").run()
    at.file_uploader(key="ev-zip").set_value((name, data, "application/zip")).run()
    assert not at.exception, at.exception
    at.button(key="ev-start").click().run()
    assert not at.exception, at.exception
    return at


def test_esc50_on_the_page_gives_the_cli_s_numbers(esc50, tmp_path):  # noqa: F811
    data = zipped(esc50, "ESC-50-master")
    (tmp_path / "esc.zip").write_bytes(data)
    want = json.loads(cli("evaluate", "--data", tmp_path / "esc.zip", "--json").stdout)
    at = run_zip(data, "esc.zip")
    res = at.session_state.ev_result
    assert res.accuracy == pytest.approx(want["zero_shot_accuracy"], abs=1e-12)
    assert [f["accuracy"] for f in res.folds["folds"]] == pytest.approx([f["accuracy"] for f in want["folds"]["folds"]])
    folds = next(d.value for d in at.dataframe if "fold" in d.value.columns)
    assert list(folds["fold"]) == [f["fold"] for f in want["folds"]["folds"]]
    assert any(plain(m.value).startswith("ESC-50") for m in at.markdown)  # the protocol, printed with the figures


def test_clotho_on_the_page_is_caption_retrieval(clotho, tmp_path):  # noqa: F811
    data = zipped(clotho)
    (tmp_path / "clotho.zip").write_bytes(data)
    want = json.loads(cli("evaluate", "--data", tmp_path / "clotho.zip", "--json").stdout)
    at = run_zip(data, "clotho.zip")
    res = at.session_state.ev_result
    assert res.zs is None and res.retrieval["text_to_audio_mAP@10"] == pytest.approx(want["text_to_audio_mAP@10"])
    shown = next(d.value for d in at.dataframe if "mAP@10" in d.value.columns)
    assert shown.loc["text → audio", "R@1"] == pytest.approx(want["text_to_audio_R@1"])
    assert any("A caption set" in plain(c.value) for c in at.caption)
