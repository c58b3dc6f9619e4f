"""The health check (issue 20): its figures against independent computations, its verdicts on the bundled checkpoint
(healthy, knows only its demo world), on a random-weight model (near chance) and on a checkpoint with one tower
collapsed on purpose (flagged), and the same numbers from the CLI and the page."""

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
from test_app import open_app, plain
from test_cli import cli

from clap_core.baseline import random_twin
from clap_core.health import (
    COLLAPSED,
    TEMPLATES,
    alignment,
    health_check,
    mean_offdiagonal_cosine,
    probe_captions,
    uniformity,
)


def test_the_figures_are_what_they_say():
    rng = np.random.default_rng(0)
    E = rng.standard_normal((7, 5))
    X = E / np.linalg.norm(E, axis=1, keepdims=True)
    pairs = [(i, j) for i in range(7) for j in range(7) if i != j]
    assert mean_offdiagonal_cosine(E) == pytest.approx(np.mean([X[i] @ X[j] for i, j in pairs]), abs=1e-12)
    assert uniformity(E) == pytest.approx(np.log(np.mean([np.exp(-2 * np.sum((X[i] - X[j]) ** 2))
                                                         for i, j in pairs if i < j])), abs=1e-12)
    F = rng.standard_normal((7, 5))
    Y = F / np.linalg.norm(F, axis=1, keepdims=True)
    assert alignment(E, F) == pytest.approx(np.mean(np.sum((X - Y) ** 2, axis=1)), abs=1e-12)
    assert uniformity(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-12)  # collapsed: every pair at distance 0
    assert len(probe_captions()) == 100 and len(set(probe_captions())) == 100 and len(TEMPLATES) >= 8


@pytest.fixture(scope="module")
def bundled_report(bundled):
    return health_check(bundled)


def test_bundled_is_healthy_and_knows_only_its_demo_world(bundled_report):
    r = bundled_report
    assert not any(x.verdict == "fail" for x in r.lines), r.text()
    assert r.line("text_spread").verdict == "ok" and r.line("audio_spread").verdict == "ok"
    assert r.line("determinism").value is True and r.line("independence").value < 1e-4
    assert r.line("real_audio").verdict == "warn" and "knows only its demo world" in r.line("real_audio").says
    assert r.line("demo_world").value >= 0.9
    assert r.line("tau").verdict == "ok" and r.line("bf16").value > 0.99
    assert set(r.line("text_spread").references) == {"random weights"}  # bundled is itself; its random twin beside it
    assert f"over {len(TEMPLATES)} templates" in r.line("prompts").shown and "ensembled" in r.line("prompts").shown


def test_a_random_weight_model_is_near_chance(bundled):
    r = health_check(random_twin(bundled, seed=3), references=False)
    chance = 1 / 23
    assert r.line("real_audio").value <= 3 * chance and r.line("demo_world").value <= 0.34
    assert r.line("real_audio").verdict == "warn"


def test_a_collapsed_text_tower_is_flagged(bundled):
    model = copy.deepcopy(bundled.model)
    with torch.no_grad():  # every caption → the same projection: the text tower's output no longer matters
        for p in model.text_projection.parameters():
            p.zero_()
        last = [m for m in model.text_projection.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.copy_(torch.linspace(-1, 1, last.bias.numel()))
    broken = dataclasses.replace(bundled, name="bundled, text tower collapsed", model=model,
                                 fingerprint=bundled.fingerprint + "-collapsed")
    r = health_check(broken, references=False)
    line = r.line("text_spread")
    assert line.value > COLLAPSED and line.verdict == "fail" and "collapsed" in line.says
    assert r.line("audio_spread").verdict == "ok" and r.worst == "fail"
    assert r.line("uniformity_text").verdict == "warn"


def test_the_cli_and_the_page_give_the_library_s_numbers(bundled_report):
    out = json.loads(cli("check", "--json").stdout)
    lib = {x.key: x for x in bundled_report.lines}
    assert [x["key"] for x in out["lines"]] == list(lib)
    for x in out["lines"]:
        if isinstance(x["value"], float):
            assert x["value"] == pytest.approx(lib[x["key"]].value, rel=1e-9, abs=1e-12), x["key"]
        assert x["verdict"] == lib[x["key"]].verdict and x["shown"] == lib[x["key"]].shown
    bad = cli("check", "--checkpoint", "/nonexistent/folder", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1

    at = open_app("pages/check.py")
    assert not at.exception
    at.button(key="health-run").click().run()
    assert not at.exception
    text = " ".join(plain(m.value) for m in at.markdown)
    for x in bundled_report.lines:
        assert x.shown in text, x.key
    assert "knows only its demo world" in text
