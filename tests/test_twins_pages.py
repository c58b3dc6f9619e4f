"""The twin test on the batch (issue 20, point 4): the Retrieval page and `retrieval --scenario` give the library's
Winoground/CompA scores on the Hard negatives scenario, and `bundled` beats `bundled-classes` there."""

import json

from test_app import open_app
from test_cli import cli

from clap_core import scenarios
from clap_core.checkpoints import load_checkpoint
from clap_core.embed import Embedder
from clap_core.twins import CHANCE, twin_scores


def library(checkpoint):
    batch = scenarios.load("hard-negatives")
    emb = Embedder(checkpoint)
    return twin_scores(emb.embed_texts(batch.captions), emb.embed_clips(batch.clips), batch.captions, batch.labels)


def test_bundled_against_bundled_classes_on_hard_negatives(bundled):
    ours, theirs = library(bundled), library(load_checkpoint("bundled-classes", device="cpu"))
    assert ours["pairs"] == theirs["pairs"] == 4
    assert ours["group"] > theirs["group"] and ours["group"] > CHANCE["group"]  # hard negatives bought the twins
    cli_out = json.loads(cli("retrieval", "--scenario", "hard-negatives", "--json").stdout)["twins"]
    assert {k: cli_out[k] for k in ("pairs", "text", "audio", "group")} == {k: ours[k] for k in ("pairs", "text", "audio", "group")}


def test_the_retrieval_page_shows_the_same_twin_scores(bundled):
    at = open_app()
    at.selectbox(key="scenario-pick").set_value("hard-negatives")
    at.button(key="load-scenario").click().run()
    at.switch_page("pages/retrieval.py").run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "score" in d.value.columns)
    want = library(bundled)
    assert list(shown["score"]) == [100 * want[k] for k in ("text", "audio", "group")]
    assert list(shown["chance"]) == [100 * CHANCE[k] for k in ("text", "audio", "group")]
