"""The τ sweep: each point is `batch --tau t`, τ* is a minimum, and the two limits the Loss page states."""

import json
import math

import numpy as np
import pytest
from test_cli import cli

from clap_core.contrastive import contrastive, contrastive_from_cosine, cosine_matrix
from clap_core.sweep import check_taus, default_taus, large_tau_slope, minimise_tau, sweep_tau

EXAMPLES = ["demo-siren.flac", "demo-chord.flac", "rain.wav", "demo-low-tone.flac"]
CAPTIONS = ["a wailing siren", "a major chord", "rain on a window", "a wailing siren too"]  # one hard pair


def random_cosine(seed: int, n: int, d: int = 8) -> np.ndarray:
    """Unrelated captions and clips: L is often above chance at every τ."""
    rng = np.random.default_rng(seed)
    return cosine_matrix(rng.standard_normal((n, d)), rng.standard_normal((n, d)))


def learnt_cosine(seed: int, n: int, d: int = 8) -> np.ndarray:
    """Each caption a noisy copy of its clip: most pairs win, a few lose (a trained model's batch)."""
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal((n, d))
    return cosine_matrix(audio + rng.standard_normal((n, d)), audio)


def test_default_grid_is_61_log_spaced_values_from_0_1_to_1000():
    taus = default_taus()
    assert len(taus) == 61 and taus[0] == pytest.approx(0.1, rel=1e-12) and taus[-1] == pytest.approx(1000, rel=1e-12)
    np.testing.assert_allclose(np.diff(np.log10(taus)), 4 / 60, rtol=1e-9)  # 4 decades in 60 equal steps


@pytest.mark.parametrize("seed,n", [(0, 2), (1, 8), (2, 64)])
def test_every_point_is_the_contrastive_result_at_that_tau(seed, n):
    cos = random_cosine(seed, n)
    sw = sweep_tau(cos)
    for k in (0, 17, 40, 60):
        res = contrastive_from_cosine(cos, float(sw.tau[k]))
        assert (sw.loss[k], sw.loss_text[k], sw.loss_audio[k]) == (res.loss, res.loss_text, res.loss_audio)
    assert sw.chance == pytest.approx(math.log(n))


@pytest.mark.parametrize("make", [random_cosine, learnt_cosine])
@pytest.mark.parametrize("seed,n", [(3, 3), (4, 8), (5, 32), (6, 64)])
def test_best_tau_is_a_minimum(make, seed, n):
    cos = make(seed, n)
    sw = sweep_tau(cos)
    assert sw.best_loss <= sw.loss.min()
    assert sw.best_loss == contrastive_from_cosine(cos, sw.best_tau).loss
    for step in (1.001, 1.05):  # no lower value beside it inside the range (L may flatten to 0.0 at the top)
        if not sw.at_upper_bound:
            assert contrastive_from_cosine(cos, sw.best_tau * step).loss > sw.best_loss
        if not sw.at_lower_bound:
            assert contrastive_from_cosine(cos, sw.best_tau / step).loss >= sw.best_loss


def test_best_tau_on_batches_of_each_kind():
    """Minima inside the range, at its lower end (L above chance everywhere) and at its top (every pair wins)."""
    kinds = {(sw.at_lower_bound, sw.at_upper_bound)
             for sw in (sweep_tau(make(s, 3)) for s in range(8) for make in (random_cosine, learnt_cosine))}
    assert kinds == {(False, False), (True, False), (False, True)}


def test_minimum_found_inside_a_narrow_range_and_between_grid_points():
    cos = learnt_cosine(7, 8)
    wide = sweep_tau(cos)
    assert not wide.at_upper_bound and 0.1 < wide.best_tau < 1000
    narrow = sweep_tau(cos, [wide.best_tau / 3, wide.best_tau * 3])  # two points only: the search does the work
    assert narrow.best_tau == pytest.approx(wide.best_tau, rel=1e-6)
    lo, hi = wide.best_tau * 2, wide.best_tau * 5  # L rises on this range: its minimum is its lower end
    assert minimise_tau(cos, lo, hi)[0] == pytest.approx(lo, rel=1e-12)


def test_small_tau_tends_to_chance_and_large_tau_to_the_hardest_negative_margin():
    cos = random_cosine(8, 6)
    sw = sweep_tau(cos, [1e-6, 1e-4, 1e4, 1e6])
    assert abs(sw.loss[0] - math.log(6)) < 1e-6
    assert abs(sw.loss_text[0] - math.log(6)) < 1e-6 and abs(sw.loss_audio[0] - math.log(6)) < 1e-6
    # at large τ, L/τ → (1/2N) Σ (hardest negative's cosine − own cosine), over the rows and columns that lose
    diag = np.diag(cos)
    margins = np.concatenate([cos.max(axis=1) - diag, cos.max(axis=0) - diag])
    assert (margins > 0).any()  # random cosines: some pairs are wrong
    assert sw.slope == pytest.approx(margins.sum() / 12, rel=1e-12)
    assert sw.wrong_rows == tuple(np.flatnonzero(margins[:6] > 0)) and sw.wrong_cols == tuple(np.flatnonzero(margins[6:] > 0))
    assert sw.loss[-1] / 1e6 == pytest.approx(sw.slope, rel=1e-5)


def test_a_batch_where_every_pair_wins_has_its_minimum_at_the_top():
    cos = np.eye(4) * 0.9 + 0.05  # every diagonal entry wins its row and its column
    sw = sweep_tau(cos)
    assert large_tau_slope(cos) == 0.0 and sw.at_upper_bound and sw.best_tau == 1000.0
    assert np.all(np.diff(sw.loss) <= 0) and sw.best_loss < 1e-12


def test_one_pair_gives_zero_at_every_tau():
    sw = sweep_tau(np.array([[0.3]]))
    assert np.all(sw.loss == 0.0) and sw.chance == 0.0


@pytest.mark.parametrize("bad", [[], [0.0], [-1.0], [float("nan")], [float("inf")]])
def test_bad_grids_are_refused(bad):
    with pytest.raises(ValueError):
        check_taus(bad)


def test_cli_sweep_equals_batch_tau(tmp_path):
    from conftest import ROOT

    files = [ROOT / "assets" / "examples" / f for f in EXAMPLES]
    sw = json.loads(cli("sweep", "--audio", *files, "--text", *CAPTIONS, "--json").stdout)
    assert set(sw) >= {"tau", "loss", "loss_text", "loss_audio", "best_tau", "best_loss"}
    assert len(sw["tau"]) == 61 and sw["chance"] == pytest.approx(math.log(4))
    assert sw["best_loss"] <= min(sw["loss"])
    for k in (0, 35, 60):  # the same numbers `batch --tau t` prints, to the last bit
        t = sw["tau"][k]
        one = json.loads(cli("batch", "--audio", *files, "--text", *CAPTIONS, "--tau", repr(t), "--json").stdout)
        assert one["tau"] == t
        assert (one["loss"], one["loss_text"], one["loss_audio"]) == (sw["loss"][k], sw["loss_text"][k], sw["loss_audio"][k])
    # --taus: the given values; τ* searched between the smallest and the largest
    few = json.loads(cli("sweep", "--audio", *files, "--text", *CAPTIONS, "--taus", 50, 2, 10, "--json").stdout)
    assert few["tau"] == [2.0, 10.0, 50.0] and few["loss"][1] == sw["loss"][sw["tau"].index(10.0)]
    assert 2.0 <= few["best_tau"] <= 50.0 and few["best_loss"] <= min(few["loss"])


def test_cli_sweep_bad_arguments_exit_2_one_line():
    from conftest import ROOT

    clip = ROOT / "assets" / "examples" / "demo-siren.flac"
    for args, says in [(["--taus", "0"], "--taus"), (["--taus", "x"], "--taus")]:
        proc = cli("sweep", "--audio", clip, "--text", "a siren", *args, check=False)
        assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("sweep", "--audio", clip, clip, "--text", "a siren", check=False)
    assert proc.returncode == 2 and "one caption per clip" in proc.stderr


def test_sweep_of_real_embeddings_matches_contrastive(bundled):
    from clap_core.embed import Embedder
    from clap_core.scenarios import default_batch

    items = default_batch()
    emb = Embedder(bundled)
    E_t, E_a = emb.embed_texts(items.captions), emb.embed_clips(items.clips)
    sw = sweep_tau(cosine_matrix(E_t, E_a), [bundled.tau])
    assert sw.loss[0] == contrastive(E_t, E_a, bundled.tau).loss
