"""The twin test (clap_core.twins): Winoground text, audio and group scores over twin pairs, from a pair column or
detected twins, in Evaluate's result and on the CLI (`evaluate --twins`); the hard-negatives scenario and the demo
world's pairs with `bundled` against `bundled-classes` (trained without hard negatives)."""

import csv
import json

import numpy as np
import pytest
from test_cli import cli

from clap_core import scenarios, twins
from clap_core.checkpoints import BUNDLED_CLASSES, load_checkpoint
from clap_core.embed import Embedder
from clap_core.evaluate import demo_world_set, evaluate, path_set
from conftest import ROOT

HARD = ROOT / "assets" / "scenarios" / "hard-negatives.csv"
PAIRS_SEED, PAIRS_N = 5, 84  # the demo world's pairs: 42 twin pairs, one per (class, attribute word pair) and two


@pytest.fixture(scope="module")
def classes_only():
    return load_checkpoint(BUNDLED_CLASSES, device="cpu")


def by_hand(E_t: np.ndarray, E_a: np.ndarray, pairs: list[tuple[int, int]]) -> dict:
    """Text, audio and group scores from the cosines: strict wins at 12 decimals (a tie is a failure)."""
    T = E_t / np.linalg.norm(E_t, axis=1, keepdims=True)
    A = E_a / np.linalg.norm(E_a, axis=1, keepdims=True)
    C = np.round(T.astype(np.float64) @ A.T.astype(np.float64), 12)
    text = [C[i, i] > C[j, i] and C[j, j] > C[i, j] for i, j in pairs]
    audio = [C[i, i] > C[i, j] and C[j, j] > C[j, i] for i, j in pairs]
    group = [t and a for t, a in zip(text, audio)]
    return {"text": float(np.mean(text)), "audio": float(np.mean(audio)), "group": float(np.mean(group))}


def scenario_embeddings(ck):
    batch = scenarios.load("hard-negatives")
    emb = Embedder(ck)
    return batch, emb.embed_texts(batch.captions), emb.embed_clips(batch.clips)


def test_hard_negatives_bundled_against_bundled_classes(bundled, classes_only):
    got = {}
    for name, ck in (("bundled", bundled), ("bundled-classes", classes_only)):
        res = evaluate(path_set(str(HARD)), Embedder(ck))
        batch, E_t, E_a = scenario_embeddings(ck)
        want = by_hand(E_t, E_a, [(0, 1), (2, 3), (4, 5), (6, 7)])
        t = res.twins
        assert t["pairs"] == 4 and t["found_by"] == twins.BY_DETECTION
        assert {k: t[k] for k in ("text", "audio", "group")} == pytest.approx(want, abs=0)
        assert [p["rows"] for p in t["per_pair"]] == [[0, 1], [2, 3], [4, 5], [6, 7]]
        on_batch = twins.twin_scores(E_t, E_a, batch.captions, batch.labels)  # any batch, no Evaluate
        assert {k: on_batch[k] for k in ("text", "audio", "group")} == pytest.approx(want, abs=0)
        got[name] = want
    assert got["bundled"] == {"text": 1.0, "audio": 1.0, "group": 1.0}  # trained with hard negatives
    assert got["bundled-classes"] == {"text": 0.0, "audio": 0.0, "group": 0.0}  # below chance: it cannot tell them


def test_the_pairs_world_bundled_against_bundled_classes(bundled, classes_only):
    data = demo_world_set(PAIRS_SEED, PAIRS_N, "pairs")
    clips = list(data.clips())
    pairs = [(i, i + 1) for i in range(0, PAIRS_N, 2)]  # the pairs world lays twins out consecutively
    got = {}
    for name, ck in (("bundled", bundled), ("bundled-classes", classes_only)):
        emb = Embedder(ck)
        res = evaluate(data, emb)
        assert res.twins["pairs"] == PAIRS_N // 2 and [p["rows"] for p in res.twins["per_pair"]] == [list(p) for p in pairs]
        from clap_core.batch import read_clip

        E_a = emb.embed_clips([read_clip(c.name, c.source) for c in clips])
        want = by_hand(emb.embed_texts([c.caption for c in clips]), E_a, pairs)
        assert {k: res.twins[k] for k in ("text", "audio", "group")} == pytest.approx(want, abs=0)
        assert set(res.twins["by_kind"]) == {"loud", "speed", "pitch"}
        got[name] = want
    assert got["bundled"]["group"] > 0.6 > twins.CHANCE["group"] > got["bundled-classes"]["group"]
    assert got["bundled"]["text"] > got["bundled-classes"]["text"] and got["bundled"]["audio"] > got["bundled-classes"]["audio"]


def test_a_pair_column_decides_the_pairs(bundled, tmp_path):
    rows = list(csv.DictReader(HARD.read_text().splitlines()))
    order = [5, 0, 7, 2, 1, 6, 3, 4]  # twins apart; ids pair them again
    ids = {0: "chord", 1: "chord", 2: "siren", 3: "siren", 4: "tremolo", 5: "tremolo", 6: "noise-a", 7: "noise-b"}
    table = tmp_path / "paired.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "caption", "pair"])
        w.writerows([[str(HARD.parent / rows[k]["file"]), rows[k]["label"], rows[k]["caption"], ids[k]] for k in order])
    res = evaluate(path_set(str(table)), Embedder(bundled))
    t = res.twins
    assert t["found_by"] == twins.BY_COLUMN and t["pairs"] == 3 and t["left_out_rows"] == 2  # noise-a, noise-b alone
    at = {k: i for i, k in enumerate(order)}
    pairs = [(at[0], at[1]), (at[2], at[3]), (at[4], at[5])]
    pairs = sorted(pairs, key=lambda p: min(p))  # in the order the first row of each id comes
    assert [tuple(p["rows"]) for p in t["per_pair"]] == [tuple(sorted(p)) for p in pairs]
    batch, E_t, E_a = scenario_embeddings(bundled)
    want = by_hand(E_t, E_a, [(0, 1), (2, 3), (4, 5)])  # the same clips and captions, in the scenario's order
    assert {k: t[k] for k in ("text", "audio", "group")} == pytest.approx(want, abs=0)
    assert "by_kind" not in t and t["per_pair"][0]["files"][0].endswith(".flac")


def test_ties_count_as_failures_and_chance_is_a_quarter_a_quarter_and_a_sixth():
    tied = np.array([[[0.5, 0.5], [0.1, 0.5]]])  # clip 0 ties between its captions; caption 0 ties between clips
    o = twins.outcomes(tied)
    assert not o["text"][0] and not o["audio"][0] and not o["group"][0] and o["tied"][0]
    one_ulp = np.nextafter(0.5, 1.0)  # below the 12-decimal rounding: still a tie
    assert not twins.outcomes(np.array([[[one_ulp, 0.5], [0.1, 0.6]]]))["audio"][0]
    rng = np.random.default_rng(0)
    shares = {k: v.mean() for k, v in twins.outcomes(rng.normal(size=(60_000, 2, 2))).items() if k != "tied"}
    for k, chance in twins.CHANCE.items():
        assert shares[k] == pytest.approx(chance, abs=0.006)
    with pytest.raises(ValueError, match="no twin pairs"):
        twins.scores(np.zeros((0, 2, 2)), [])


def test_cli_twins(bundled):
    out = json.loads(cli("evaluate", "--data", HARD, "--twins", "--json").stdout)
    res = evaluate(path_set(str(HARD)), Embedder(bundled))
    assert out["twins"] == res.twins and out["twins"]["chance"]["group"] == pytest.approx(1 / 6)
    text = cli("evaluate", "--data", HARD, "--twins").stdout
    assert "twin test over 4 pairs, found by twin detection" in text and "ties count as failures" in text
    proc = cli("evaluate", "--data", ROOT / "assets" / "scenarios" / "out-of-domain.csv", "--twins", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--twins: no twin pairs" in lines[0]
