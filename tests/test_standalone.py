"""The repository stands alone (issue 16): nothing outside the checkout is read; one tie rule for every rank the
project takes (Retrieval, Evaluate, Compare, the CLI); the τ* condition and the large-τ slope as stated; the shipped
scenarios on the command line; CSV paths taken from the CSV's own folder."""

import csv
import json
import math
import re
import subprocess

import numpy as np
import pytest
from test_cli import cli

from clap_core import scenarios
from clap_core.contrastive import contrastive, cosine_matrix
from clap_core.retrieval import partner_ranks, retrieval_metrics
from clap_core.sweep import large_tau_slope, start_slope, sweep_tau
from conftest import ROOT

SIBLING = "../" + "shared"  # spelt in two parts so that this file does not name it


def test_no_tracked_file_names_a_path_outside_the_checkout():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    code = [f for f in files if f.endswith((".py", ".sh", ".toml", ".cfg", ".ini", ".txt")) or f in ("Makefile", ".ci/run")]
    assert len(code) > 50
    beside = '"shared"' + ' / "audio"'  # a path built from the checkout's parent folder
    named = [f for f in code if SIBLING in (ROOT / f).read_text(encoding="utf-8", errors="replace")
             or beside in (ROOT / f).read_text(encoding="utf-8", errors="replace")]
    assert named == []


def test_the_real_recordings_ship_with_their_licence_and_the_tests_read_them_there():
    import media

    real = ROOT / "assets" / "real"
    assert media.REAL == real
    wavs = sorted(real.glob("*.wav"))
    with (real / "captions.csv").open(newline="") as f:
        listed = {r["file"] for r in csv.DictReader(f)}
    assert len(wavs) == 23 and {w.name for w in wavs} == listed
    assert "CC BY 4.0" in (real / "ATTRIBUTION.md").read_text() and "Attribution 4.0" in (real / "LICENSE").read_text()
    for name in ("rain.wav", "piano.wav", "flute-A4.wav"):  # the examples' copies are the same files
        assert (real / name).read_bytes() == (ROOT / "assets" / "examples" / name).read_bytes()


# -- one tie rule -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def duplicated(bundled, tmp_path_factory):
    """The 12 default clips plus the siren clip again as row 13, captioned 'a loud siren wailing': its CSV (absolute
    paths), its batch and both embeddings."""
    from clap_core.embed import Embedder

    rows = scenarios.rows("own-world")
    folder = scenarios.SCENARIOS_DIR
    siren = next(r for r in rows if "siren" in r["file"])
    rows = [*rows, {**siren, "caption": "a loud siren wailing"}]
    out = tmp_path_factory.mktemp("dup") / "dup.csv"
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        w.writeheader()
        w.writerows({"file": str((folder / r["file"]).resolve()), "label": r["label"], "caption": r["caption"]}
                    for r in rows)
    emb = Embedder(bundled)
    from clap_core.batch import Batch

    batch, outcomes = Batch().add_files([(p, p) for p in (str((folder / r["file"]).resolve()) for r in rows)], "file",
                                        captions=[r["caption"] for r in rows], labels=[r["label"] for r in rows])
    assert all(o.added for o in outcomes)
    return out, batch, emb.embed_texts(batch.captions), emb.embed_clips(batch.clips)


def _independent(cos: np.ndarray) -> dict[str, float]:
    """R@1 and mAP text→audio by the stated rule, written out: round to 12 decimals, ties to the lower index."""
    r = np.round(cos, 12)
    ranks = [1 + sum(1 for j in range(r.shape[1]) if r[i, j] > r[i, i] or (r[i, j] == r[i, i] and j < i))
             for i in range(r.shape[0])]
    return {"R@1": float(np.mean([k == 1 for k in ranks])), "mAP": float(np.mean([1 / k for k in ranks]))}


def test_a_duplicated_clip_ranks_alike_on_every_page_and_the_cli(duplicated, bundled):
    from clap_core.compare import compare
    from clap_core.embed import Embedder
    from clap_core.evaluate import Evaluation, path_set
    from ui.retrieval import metrics_frame

    csv_path, batch, E_t, E_a = duplicated
    res = contrastive(E_t, E_a, bundled.tau)
    want = _independent(res.cosine)
    assert want["R@1"] == pytest.approx(12 / 13) and want["mAP"] == pytest.approx(12.5 / 13)  # 0.923, 0.962
    lib = retrieval_metrics(res.cosine)
    assert (lib["text_to_audio_R@1"], lib["text_to_audio_mAP"]) == pytest.approx((want["R@1"], want["mAP"]), abs=1e-15)
    assert lib == retrieval_metrics(res.C / res.tau)  # a float32 E_t @ E_a.T can split the tie by 1e-8: not used
    page = metrics_frame(res)  # the Retrieval page's table
    assert page.iloc[0].tolist() == [lib[f"text_to_audio_{m}"] for m in ("R@1", "R@5", "R@10", "mAP")]
    assert compare(res, res).retrieval()["A"] == lib  # the Compare page
    ev = Evaluation(path_set(str(csv_path)), Embedder(bundled)).run().result()  # the Evaluate page and CLI
    assert ev.retrieval == pytest.approx(lib, abs=1e-15)
    rows, _ = partner_ranks(res.cosine)
    assert rows[12] == 2 and rows[:12].tolist() == [1] * 12
    out = json.loads(cli("evaluate", "--data", csv_path, "--json").stdout)
    assert out["text_to_audio_R@1"] == pytest.approx(12 / 13) and {k: out[k] for k in lib} == pytest.approx(lib)
    files = [str((scenarios.SCENARIOS_DIR / r["file"]).resolve()) for r in scenarios.rows("own-world")]
    files.append(files[[i for i, f in enumerate(files) if "siren" in f][0]])
    got = json.loads(cli("retrieval", "--audio", *files, "--text", *batch.captions, "--json").stdout)
    assert {k: got[k] for k in lib} == pytest.approx(lib) and got["rank_of_clip_text_to_audio"] == rows.tolist()


def test_the_loss_pages_losers_are_counted_by_the_tie_rule(duplicated, bundled):
    _, _, E_t, E_a = duplicated
    sw = sweep_tau(cosine_matrix(E_t, E_a))
    rows, cols = partner_ranks(cosine_matrix(E_t, E_a))
    assert 12 in sw.wrong_rows  # the later copy's caption ties with the earlier copy and loses the tie
    assert sw.wrong_rows == tuple(np.flatnonzero(rows > 1)) and sw.wrong_cols == tuple(np.flatnonzero(cols > 1))


# -- τ* and the large-τ slope, as README states them ---------------------------------------------------------------
def test_tau_star_is_the_bottom_exactly_when_the_start_slope_is_not_negative():
    seen = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((6, 8))
        cos = cosine_matrix(a * rng.uniform(0, 1) + rng.standard_normal((6, 8)), a)
        sw = sweep_tau(cos, [1e-6, 1e3])
        assert sw.start_slope == pytest.approx(cos.mean() - np.diag(cos).mean(), abs=1e-15)
        assert sw.at_lower_bound == sw.rises_from_start, seed
        h = 1e-7  # the slope at the start, by finite differences
        assert (sweep_tau(cos, [h]).loss[0] - math.log(6)) / h == pytest.approx(sw.start_slope, abs=1e-5)
        seen.add(sw.rises_from_start)
    assert seen == {True, False}


def test_shuffled_ranks_no_pair_first_yet_its_tau_star_is_not_the_bottom(bundled):
    from clap_core.embed import Embedder

    batch = scenarios.load("shuffled")
    emb = Embedder(bundled)
    cos = cosine_matrix(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips))
    sw = sweep_tau(cos)
    assert retrieval_metrics(cos)["text_to_audio_R@1"] == 0.0
    assert sw.start_slope < 0 and not sw.rises_from_start  # the true pairs' mean cosine is above the mean of all
    assert not sw.at_lower_bound and sw.best_tau == pytest.approx(0.258, abs=5e-4) and sw.best_loss < sw.chance
    readme = (ROOT / "README.md").read_text()
    assert "ranks pairs worse than chance, τ* is the bottom" not in readme
    assert "mean(cos) − mean(diag cos)" in readme


def test_the_large_tau_slope_is_the_sum_of_the_losing_margins_over_2n(bundled):
    from clap_core.embed import Embedder

    batch = scenarios.load("out-of-domain")
    emb = Embedder(bundled)
    cos = cosine_matrix(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips))
    diag = np.diag(cos)
    margins = np.concatenate([cos.max(axis=1) - diag, cos.max(axis=0) - diag])
    losing = margins[margins > 0]
    s = large_tau_slope(cos)
    assert s == pytest.approx(losing.sum() / (2 * len(batch)), rel=1e-12) == pytest.approx(0.0457, abs=5e-4)
    assert losing.mean() == pytest.approx(0.244, abs=5e-3) and abs(losing.mean() - s) > 0.1
    assert "τ × the mean of those margins" not in (ROOT / "README.md").read_text()
    assert start_slope(cos) < 0


# -- the shipped scenarios on the command line ---------------------------------------------------------------------
def test_scenarios_list_names_every_scenario():
    text = cli("scenarios", "--list").stdout
    listed = json.loads(cli("scenarios", "--list", "--json").stdout)["scenarios"]
    assert [s["name"] for s in listed] == list(scenarios.names())
    for s in scenarios.SCENARIOS:
        assert s.name in text and s.title in text
    helptext = re.sub(r"-\s+", "-", " ".join(cli("batch", "--help").stdout.split()))  # argparse wraps at hyphens
    assert "--scenario NAME" in helptext and all(s.name in helptext for s in scenarios.SCENARIOS)


@pytest.mark.parametrize("command", ["batch", "sweep", "retrieval"])
def test_scenario_flag_equals_the_same_clips_given_by_hand(command):
    rows = scenarios.rows("hard-negatives")
    files = [str((scenarios.SCENARIOS_DIR / r["file"]).resolve()) for r in rows]
    by_name = json.loads(cli(command, "--scenario", "hard-negatives", "--json").stdout)
    by_hand = json.loads(cli(command, "--audio", *files, "--text", *[r["caption"] for r in rows], "--json").stdout)
    keys = {"batch": ("loss", "loss_text", "loss_audio", "C"), "sweep": ("loss", "best_tau", "best_loss"),
            "retrieval": ("text_to_audio_R@1", "audio_to_text_mAP", "rank_of_clip_text_to_audio")}[command]
    for k in keys:
        assert by_name[k] == by_hand[k], k  # bit-identical


def test_scenario_flag_on_finetune_and_zero_shot():
    ft = json.loads(cli("finetune", "--scenario", "shuffled", "--steps", 3, "--json").stdout)
    assert ft["steps"] == 3 and len(ft["initial"]["texts"]) == 12
    zs = json.loads(cli("zero-shot", "--scenario", "own-world", "--json").stdout)  # labels: the batch's own
    assert len(zs["labels"]) == 12 and sum(r["top_label"] in r["file"].replace("-", " ") for r in zs["results"]) >= 11
    bad = cli("batch", "--scenario", "nope", check=False)
    assert bad.returncode == 2 and "hard-negatives" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    both = cli("batch", "--scenario", "shuffled", "--audio", "x.wav", "--text", "x", check=False)
    assert both.returncode == 2 and "--scenario replaces --audio and --text" in both.stderr


def test_single_tau_sweep_says_so():
    line = cli("sweep", "--scenario", "own-world", "--taus", 3).stdout.splitlines()[1]
    assert "(the only τ given)" in line and "top of the range" not in line


def test_evaluate_reads_a_scenario_csv_from_the_repository_root(tmp_path):
    out = json.loads(cli("evaluate", "--data", "assets/scenarios/out-of-domain.csv", "--json").stdout)
    assert out["clips"] == 8 and not out["skipped"]
    table = tmp_path / "sub" / "set.csv"
    table.parent.mkdir()
    table.write_text("file,label\nmissing.wav,x\n")
    proc = cli("evaluate", "--data", table, check=False)
    assert proc.returncode == 2 and str(tmp_path / "sub" / "missing.wav") in proc.stderr
    assert "'missing.wav' in the CSV, taken from the CSV's folder" in proc.stderr
