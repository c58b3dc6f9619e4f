"""Attribute-level accuracy from a labelled set's captions: twins found in the captions, and the CLI's
``evaluate --attributes`` on a demo-world ``pairs`` set reproducing each shipped checkpoint's train_report."""

import json

import numpy as np
import pytest
from test_cli import cli

from clap_core.attributes import PAIRS_SEED, caption_twins, twin_accuracy
from clap_core.checkpoints import BUNDLED, BUNDLED_CLASSES, SHIPPED


def test_caption_twins_pairs_rows_that_differ_in_one_attribute_word():
    captions = ["a sustained quiet chord", "a sustained loud chord", "a sustained loud chord",
                "a slow siren, loud", "a fast siren, loud", "a slow siren, quiet", "a chord", None]
    labels = ["chord", "chord", "chord", "siren", "siren", "siren", "chord", "chord"]
    assert caption_twins(captions, labels) == [(0, 1, "loud"), (3, 4, "speed")]  # 2 has no unpaired twin left
    assert caption_twins(["a quiet chord", "a loud chord"], ["chord", "tremolo"]) == []  # labels differ
    assert caption_twins(["a quiet chord", "a loud hum"], ["chord", "chord"]) == []  # two words differ


def test_twin_accuracy_counts_rows_and_columns():
    e = np.eye(4)
    E_t = e[[0, 1, 2, 3]]
    E_a = e[[0, 1, 3, 2]]  # pair (2, 3): clips swapped, both rows and both columns wrong
    got = twin_accuracy(E_t, E_a, [(0, 1, "loud"), (2, 3, "pitch")])
    assert (got["pairs"], got["rows"], got["columns"]) == (2, 0.5, 0.5)
    assert got["by_attribute"] == {"loud": {"pairs": 1, "rows": 1.0, "columns": 1.0},
                                   "pitch": {"pairs": 1, "rows": 0.0, "columns": 0.0}}


@pytest.fixture(scope="module")
def pairs_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    report = json.loads(SHIPPED[BUNDLED][0].joinpath("train_report.json").read_text())
    n = report["attribute_pairs"] // 21  # pairs per (class, attribute): 21 of them
    cli("demo-world", "--world", "pairs", "--seed", PAIRS_SEED, "--n", n, "--out", out)
    return out / "clips.csv"


@pytest.mark.parametrize("name", [BUNDLED, BUNDLED_CLASSES])
def test_evaluate_attributes_reproduces_the_train_report(pairs_world, name):
    report = json.loads(SHIPPED[name][0].joinpath("train_report.json").read_text())
    got = json.loads(cli("evaluate", "--data", pairs_world, "--attributes", "--checkpoint", name, "--json").stdout)
    a = got["attribute_accuracy"]
    assert a["pairs"] == report["attribute_pairs"] and got["clips"] == 2 * a["pairs"]
    rows = 2 * a["pairs"]  # 16-bit WAV files vs in-memory float clips: a flipped choice or two at most
    assert a["rows"] == pytest.approx(report["attribute_accuracy_rows"], abs=2 / rows)
    assert a["columns"] == pytest.approx(report["attribute_accuracy_columns"], abs=2 / rows)
    for attr, fig in a["by_attribute"].items():
        assert fig["pairs"] == report["attribute_accuracy_by_attribute"][attr]["pairs"]


def test_evaluate_attributes_without_twins_is_a_one_line_error(tmp_path):
    cli("demo-world", "--seed", 3, "--n", 12, "--out", tmp_path)
    proc = cli("evaluate", "--data", tmp_path / "clips.csv", "--attributes", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--attributes needs same-label clips" in proc.stderr
