"""Fine-tuning a copy of the projection heads on one batch (clap_core.finetune) and its CLI."""

import io
import json
import math
import zipfile

import numpy as np
import pytest
import torch

from clap_core.batch import Batch
from clap_core.checkpoints import load_checkpoint
from clap_core.cli import main
from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.examples import load_examples
from clap_core.finetune import (
    LOG_TAU_RANGE,
    FineTuner,
    FinetuneSettings,
    fine_tuned_name,
    heads_bytes,
    holdout_split,
    save_pretrained,
    zip_pretrained,
)


@pytest.fixture(scope="module")
def real_batch() -> Batch:
    """The five real recordings shipped in assets/examples with their captions: sounds the bundled model never
    heard, so its L starts far above 1."""
    batch, outcomes = Batch().add_examples([e for e in load_examples() if e.source == "real"])
    assert all(o.added for o in outcomes) and len(batch) == 5
    return batch


@pytest.fixture(scope="module")
def emb(bundled) -> Embedder:
    return Embedder(bundled)


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def result_of(ck, batch: Batch) -> object:
    e = Embedder(ck)
    return contrastive(e.embed_texts(batch.captions), e.embed_clips(batch.clips), ck.tau)


def same_numbers(a, b) -> None:
    """Equal up to float32 rounding: a fresh Embedder runs the heads on batches of windows straight after the
    towers, the fine-tuned one on each clip's cached tower outputs (other batch shapes, other rounding)."""
    assert a.tau == b.tau
    np.testing.assert_allclose(a.C, b.C, rtol=0, atol=2e-6 * a.tau)
    assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-7)


def test_fifty_steps_halve_a_loss_above_one(emb, real_batch, bundled):
    start = contrastive(emb.embed_texts(real_batch.captions), emb.embed_clips(real_batch.clips), bundled.tau)
    assert start.loss > 1.0 and start.loss > start.chance  # the model is lost on these recordings
    ft = FineTuner(emb, real_batch.clips, real_batch.captions)
    assert ft.loss0 == pytest.approx(start.loss, rel=1e-5)  # the training loss starts at the checkpoint's L
    ft.step(50)
    assert len(ft.loss) == ft.steps == 50 and not ft.heldout
    end = ft.result()
    assert end.loss <= start.loss / 2, (start.loss, end.loss)
    assert ft.loss[-1] == pytest.approx(end.loss, rel=1e-3, abs=1e-5)  # float32 training vs the float64 report


def test_the_same_seed_gives_bit_identical_runs(emb, real_batch):
    runs = []
    for _ in range(2):
        ft = FineTuner(emb, real_batch.clips, real_batch.captions,
                       settings=FinetuneSettings(lr=3e-3, train="heads+tau", seed=7, holdout=2))
        ft.step(15)
        runs.append(ft)
    a, b = runs
    assert a.loss == b.loss and a.heldout == b.heldout and a.tau == b.tau
    assert list(a.held_idx) == list(b.held_idx)
    for head in ("audio_head", "text_head"):
        sa, sb = getattr(a, head).state_dict(), getattr(b, head).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert np.array_equal(a.result().C, b.result().C)
    assert a.checkpoint().fingerprint == b.checkpoint().fingerprint


def test_the_seed_picks_the_held_out_pairs():
    picks = {tuple(holdout_split(8, 3, seed)[1]) for seed in range(6)}
    assert len(picks) > 1  # different seeds, different pairs
    train, held = holdout_split(8, 3, 5)
    assert sorted([*train, *held]) == list(range(8)) and len(held) == 3
    assert tuple(holdout_split(8, 3, 5)[1]) == tuple(held)


def test_held_out_pairs_are_left_out_of_training(emb, real_batch, bundled):
    ft = FineTuner(emb, real_batch.clips, real_batch.captions, settings=FinetuneSettings(seed=3, holdout=2))
    E_t, E_a = emb.embed_texts(real_batch.captions), emb.embed_clips(real_batch.clips)
    whole = contrastive(E_t, E_a, bundled.tau)
    train = contrastive(E_t[ft.train_idx], E_a[ft.train_idx], bundled.tau)
    assert ft.loss0 == pytest.approx(train.loss, rel=1e-5)  # the training loss: the training pairs' own batch
    held = (whole.per_item_text + whole.per_item_audio)[ft.held_idx].mean() / 2
    assert ft.heldout0 == pytest.approx(held, rel=1e-5)  # held-out: against the whole batch
    ft.step(30)
    assert len(ft.heldout) == 30 and ft.loss[-1] < ft.loss0 / 2


def test_the_shared_checkpoint_is_never_changed(bundled, emb, real_batch, tmp_path):
    before = weights(bundled.model)
    heads = (bundled.model.audio_projection, bundled.model.text_projection)
    ft = FineTuner(emb, real_batch.clips, real_batch.captions, settings=FinetuneSettings(train="heads+tau", lr=1e-2))
    ft.step(20)
    tuned = ft.checkpoint()
    save_pretrained(tuned, tmp_path / "saved")
    ft.result(tuned)
    after = weights(bundled.model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert (bundled.model.audio_projection, bundled.model.text_projection) == heads
    assert not bundled.model.training
    # the fine-tuned model shares the towers and holds heads and scales of its own
    assert tuned.model.audio_model is bundled.model.audio_model and tuned.model.text_model is bundled.model.text_model
    assert tuned.model.audio_projection is not bundled.model.audio_projection
    assert not torch.equal(tuned.model.audio_projection.linear1.weight, bundled.model.audio_projection.linear1.weight)
    assert tuned.fingerprint != bundled.fingerprint and tuned.tau != bundled.tau
    assert tuned.model.logit_scale_t.item() == tuned.model.logit_scale_a.item()  # one shared temperature
    assert LOG_TAU_RANGE[0] <= math.log(tuned.tau) <= LOG_TAU_RANGE[1]


def test_heads_only_keeps_tau(emb, real_batch, bundled):
    ft = FineTuner(emb, real_batch.clips, real_batch.captions)
    ft.step(3)
    tuned = ft.checkpoint()
    assert tuned.tau == bundled.tau and tuned.tau_text == bundled.tau_text
    assert tuned.name == fine_tuned_name("bundled", 3) == "bundled (fine-tuned, 3 steps)"


def test_a_step_runs_only_the_heads(emb, real_batch, monkeypatch, bundled):
    ft = FineTuner(emb, real_batch.clips, real_batch.captions)

    def no_tower(*args, **kwargs):
        raise AssertionError("a tower ran")

    monkeypatch.setattr(bundled.model.audio_model, "forward", no_tower)
    monkeypatch.setattr(bundled.model.text_model, "forward", no_tower)
    ft.step(2)
    res = ft.result()  # a new Embedder on the fine-tuned heads reuses the cached tower outputs too
    assert res.n == 5
    assert heads_bytes(bundled) < 0.2 * sum(p.numel() * p.element_size() for p in bundled.model.parameters())


def test_the_saved_folder_and_the_zip_load_back_with_the_final_numbers(emb, real_batch, tmp_path):
    ft = FineTuner(emb, real_batch.clips, real_batch.captions, settings=FinetuneSettings(train="heads+tau"))
    ft.step(10)
    tuned = ft.checkpoint()
    final = ft.result(tuned)  # what the app and the CLI report
    same_numbers(result_of(tuned, real_batch), final)  # as a fresh Embedder computes it

    loaded = load_checkpoint(str(save_pretrained(tuned, tmp_path / "saved")), device="cpu")
    assert loaded.tau == tuned.tau and loaded.name != tuned.name
    same_numbers(result_of(loaded, real_batch), final)

    data = zip_pretrained(tuned)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert all(n.startswith("bundled-fine-tuned-10-steps/") for n in names)
        assert "bundled-fine-tuned-10-steps/model.safetensors" in names
        zf.extractall(tmp_path / "unzipped")
    unzipped = load_checkpoint(str(tmp_path / "unzipped" / "bundled-fine-tuned-10-steps"), device="cpu")
    same_numbers(result_of(unzipped, real_batch), final)


def test_bad_settings_are_named(emb, real_batch):
    for settings, words in [(FinetuneSettings(holdout=4), "leaves 1"), (FinetuneSettings(train="towers"), "towers"),
                            (FinetuneSettings(lr=5.0), "learning rate")]:
        with pytest.raises(ValueError, match=words):
            FineTuner(emb, real_batch.clips, real_batch.captions, settings=settings)


# -- the CLI -------------------------------------------------------------------------------------
def cli_json(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def real_args(batch: Batch) -> list[str]:
    return ["--audio", *[str(e.path) for e in load_examples() if e.source == "real"], "--text", *batch.captions]


def test_cli_equals_the_library_and_saves_a_loadable_checkpoint(capsys, emb, real_batch, tmp_path):
    out = cli_json(capsys, "finetune", *real_args(real_batch), "--steps", "12", "--lr", "0.003", "--train",
                   "heads+tau", "--seed", "4", "--holdout", "1", "--save", str(tmp_path / "cli-saved"))
    ft = FineTuner(emb, real_batch.clips, real_batch.captions,
                   settings=FinetuneSettings(lr=0.003, train="heads+tau", seed=4, holdout=1))
    ft.step(12)
    assert out["loss"] == ft.loss and out["heldout"] == ft.heldout and out["heldout_pairs"] == list(ft.held_idx)
    res = ft.result()
    assert out["final"]["loss"] == res.loss and out["final"]["C"] == res.C.tolist() and out["final"]["tau"] == ft.tau
    assert out["final"]["checkpoint"] == "bundled (fine-tuned, 12 steps)"

    batch = cli_json(capsys, "batch", *real_args(real_batch))
    assert set(out["initial"]) == set(out["final"]) == set(batch) - {"skipped"}
    assert out["initial"]["loss"] == batch["loss"] and out["initial"]["C"] == batch["C"]
    reloaded = cli_json(capsys, "batch", *real_args(real_batch), "--checkpoint", str(tmp_path / "cli-saved"))
    assert reloaded["tau"] == out["final"]["tau"]
    np.testing.assert_allclose(reloaded["C"], out["final"]["C"], rtol=0, atol=2e-6 * reloaded["tau"])
    assert reloaded["loss"] == pytest.approx(out["final"]["loss"], rel=1e-5)


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's errors
        return e.code


def test_cli_bounds_and_bad_settings_are_one_line(capsys, real_batch):
    for argv, words in [(["--steps", "2001"], "--steps: must be between 1 and 2000, got 2001"),
                        (["--steps", "0"], "--steps: must be between 1 and 2000, got 0"),
                        (["--steps", "5", "--holdout", "4"], "the batch has 5 pairs, holding out 4 leaves 1"),
                        (["--steps", "5", "--train", "towers"], "invalid choice: 'towers'")]:
        assert exit_code(["finetune", *real_args(real_batch), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
