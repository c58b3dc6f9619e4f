"""Zero-shot classification and retrieval metrics on hand-solvable cases and the bundled model."""

import numpy as np
import pytest

from clap_core import demo_world
from clap_core.contrastive import l2_normalise
from clap_core.embed import Embedder
from clap_core.retrieval import average_precision, recall_at_k, retrieval_metrics
from clap_core.zeroshot import check_labels, check_templates, label_embeddings, zero_shot


class FakeCheckpoint:
    tau = 10.0


class TableEmbedder:
    """Text embeddings from a lookup table: lets zero-shot be checked by hand."""

    checkpoint = FakeCheckpoint()

    def __init__(self, table):
        self.table = table

    def embed_texts(self, texts):
        return np.stack([self.table[t] for t in texts])


def test_templates_must_have_one_slot():
    assert check_templates(["a {}"]) == ["a {}"]
    for bad in ([], ["no slot"], ["{} and {}"]):
        with pytest.raises(ValueError):
            check_templates(bad)


def test_labels_are_checked():
    assert check_labels([" dog ", "cat"]) == ["dog", "cat"]
    for bad in (["dog"], ["dog", "dog"], ["dog", " "]):
        with pytest.raises(ValueError):
            check_labels(bad)


def test_template_ensemble_is_normalised_mean():
    table = {"a x": np.array([1.0, 0, 0]), "the x": np.array([0, 2.0, 0]),
             "a y": np.array([0, 0, 1.0]), "the y": np.array([0, 0, 3.0])}
    emb = label_embeddings(TableEmbedder(table), ["x", "y"], ["a {}", "the {}"])
    np.testing.assert_allclose(emb[0], l2_normalise(np.array([0.5, 0.5, 0])))
    np.testing.assert_allclose(emb[1], [0, 0, 1])


def test_probabilities_top_k_accuracy_confusion():
    table = {"x": np.array([1.0, 0]), "y": np.array([0, 1.0])}
    audio = np.array([[1.0, 0.1], [0.2, 1.0], [1.0, 0.0]])
    zs = zero_shot(TableEmbedder(table), audio, ["x", "y"], ["{}"], true_labels=["x", "y", "y"])
    np.testing.assert_allclose(zs.probs.sum(axis=1), 1.0)
    cos0 = l2_normalise(audio[0])
    expected = np.exp(10 * cos0) / np.exp(10 * cos0).sum()
    np.testing.assert_allclose(zs.probs[0], expected)
    assert zs.top1 == ["x", "y", "x"]
    assert zs.top_k(1)[1][0][0] == "y"
    assert zs.accuracy == pytest.approx(2 / 3)
    np.testing.assert_array_equal(zs.confusion(), [[1, 0], [1, 1]])


def test_bundled_checkpoint_classifies_held_out_demo_clips(bundled):
    clips = demo_world.generate(424242, 2 * len(demo_world.LABELS))  # a seed never used in training
    emb = Embedder(bundled)
    E_a = emb.embed_audio([c.waveform for c in clips])
    zs = zero_shot(emb, E_a, list(demo_world.LABELS), [demo_world.DEFAULT_TEMPLATE],
                   true_labels=[c.label for c in clips])
    assert zs.accuracy >= 0.85, zs.top1


def test_recall_and_map_hand_solved():
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0], [0.0, 0.1, 0.2]])
    m = retrieval_metrics(sim)
    assert m["text_to_audio_R@1"] == pytest.approx(2 / 3)  # caption 1 ranks clip 0 first
    assert m["text_to_audio_mAP"] == pytest.approx((1 + 0.5 + 1) / 3)
    # columns: clip 0 → caption 0 first; clip 1 → caption 1 first; clip 2 → caption 2 first
    assert m["audio_to_text_R@1"] == pytest.approx(1.0)
    assert recall_at_k(sim, np.eye(3, dtype=bool), 2) == pytest.approx(1.0)


def test_average_precision_multiple_relevant():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    rel = np.array([True, False, True, False])
    assert average_precision(scores, rel) == pytest.approx((1 + 2 / 3) / 2)


def test_perfect_retrieval():
    m = retrieval_metrics(np.eye(12) + 0.01)
    assert all(v == 1.0 for v in m.values())
