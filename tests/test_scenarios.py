"""Each shipped scenario makes the point its text says, on the bundled checkpoints; the files rebuild bit for bit."""

import hashlib
import math

import numpy as np
import pytest

from clap_core import scenarios
from clap_core.checkpoints import BUNDLED, BUNDLED_CLASSES, load_checkpoint
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder


@pytest.fixture(scope="module")
def run():
    embedders = {name: Embedder(load_checkpoint(name, device="cpu")) for name in (BUNDLED, BUNDLED_CLASSES)}

    def result(name: str, checkpoint: str = BUNDLED):
        emb, batch = embedders[checkpoint], scenarios.load(name)
        return batch, contrastive(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips), emb.checkpoint.tau)

    return result


def test_every_scenario_loads_and_is_described():
    assert scenarios.DEFAULT_SCENARIO == scenarios.SCENARIOS[0].name
    for s in scenarios.SCENARIOS:
        batch = scenarios.load(s.name)
        assert 2 <= len(batch) <= batch.limits.max_clips and all(batch.captions) and all(batch.labels)
        assert s.title and s.look_at.endswith(".")
    with pytest.raises(ValueError, match="unknown scenario 'nope'; choose one of own-world"):
        scenarios.get("nope")


def test_own_world_has_a_clean_diagonal_far_below_chance(run):
    batch, r = run("own-world")
    assert len(set(batch.labels)) == len(batch) == 12  # one clip per class
    assert (r.C.argmax(axis=0) == np.arange(len(batch))).all() and (r.C.argmax(axis=1) == np.arange(len(batch))).all()
    assert r.loss < 0.1 * r.chance


def test_out_of_domain_recordings_carry_most_of_the_loss(run):
    batch, r = run("out-of-domain")
    real = np.array([n.endswith(".wav") for n in batch.names])
    assert real.sum() == 2 and r.share[real].sum() > 0.8  # two of eight pairs, most of L
    assert r.share[~real].max() < r.share[real].min()


def test_hard_negatives_separate_twins_only_with_hard_negative_training(run):
    batch, new = run("hard-negatives")
    n = len(batch)
    twin = np.arange(n) ^ 1  # pairs (0, 1), (2, 3), …: same class, one caption word apart
    assert [batch.labels[i] for i in range(0, n, 2)] == [batch.labels[i] for i in range(1, n, 2)]
    rows = np.arange(n)
    on_twin = new.P_text[rows, twin]
    on_rest = 1 - new.P_text[rows, rows] - on_twin
    assert on_twin.sum() > on_rest.sum()  # what the softmax must resolve sits on the twin
    assert (new.P_text[rows, rows] > on_twin).all() and (new.P_audio[rows, rows] > new.P_audio[twin, rows]).all()
    _, old = run("hard-negatives", BUNDLED_CLASSES)
    assert (old.P_text[rows, rows] < old.P_text[rows, twin]).sum() >= 2  # the class-only model picks the twin
    assert old.loss > 10 * new.loss


def test_shuffled_captions_put_the_loss_above_chance(run):
    batch, r = run("shuffled")
    own = scenarios.load("own-world")
    assert batch.names == own.names and sorted(batch.captions) == sorted(own.captions)
    assert all(a != b for a, b in zip(batch.captions, own.captions))  # a derangement
    assert r.loss > r.chance


def test_duplicates_have_a_floor_above_zero(run):
    batch, r = run("duplicates")
    keys = [c.key for c in batch.clips]
    assert len(keys) - len(set(keys)) == 1
    i, j = [k for k, key in enumerate(keys) if keys.count(key) == 2]
    assert batch.captions[i] != batch.captions[j]
    np.testing.assert_array_equal(r.C[:, i], r.C[:, j])  # identical columns: nothing can tell them apart
    floor = scenarios.duplicates_floor(len(batch))
    assert floor == pytest.approx(2 * math.log(2) / 8)
    assert r.P_text[i, i] <= 0.5 and r.P_text[j, j] <= 0.5
    assert r.loss_text >= floor and r.loss_audio >= floor and r.loss >= floor > 0


def test_bigger_batch_moves_chance_and_loss(run):
    small, r8 = run("batch-8")
    big, r32 = run("batch-32")
    assert (len(small), len(big)) == (scenarios.SMALL_N, scenarios.BIG_N)
    assert big.names[:8] == small.names and big.captions[:8] == small.captions
    assert r32.chance - r8.chance == pytest.approx(math.log(4))
    assert r32.loss > r8.loss + 0.5


def _digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rebuild_is_bit_identical(tmp_path):
    out = tmp_path / "scenarios"
    scenarios.build(out)
    assert _digest(out) == _digest(scenarios.SCENARIOS_DIR)
