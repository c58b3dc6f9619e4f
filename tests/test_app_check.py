"""AppTests of the quick-check pages: Retrieval (its numbers are clap_core's, ties go to the lower index) and
Evaluate a labelled set (the CLI's numbers on the same set; the held-out demo world reproduces the training
report; a zip with bad files, a refused zip, hosted limits)."""

import json

import numpy as np
import pytest
from test_app import metric, open_app, plain
from test_cli import cli
from test_evaluate import folder_zip, make_zip
from test_evaluate import world as world  # noqa: F401  (the fixture)

from clap_core.contrastive import contrastive
from clap_core.embed import Embedder
from clap_core.paths import BUNDLED_DIR
from clap_core.retrieval import TIE_RULE, partner_ranks, retrieval_metrics, tie_scores
from conftest import ROOT

EVALUATE, RETRIEVAL = "pages/evaluate.py", "pages/retrieval.py"


@pytest.fixture(autouse=True)
def _store_in_a_temporary_folder(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CLAP_EXPLORER_STORE", str(tmp_path_factory.mktemp("store")))


def read(message) -> str:
    """A message as read: escapes and bold markers gone."""
    return plain(message.value).replace("**", "")


def frame(at, first_column: str):
    return next(d.value for d in at.dataframe if first_column in d.value.columns)


def batch_result(at, bundled):
    items = at.session_state.batch
    emb = Embedder(bundled)
    return contrastive(emb.embed_texts(items.captions), emb.embed_clips(items.clips), bundled.tau)


# -- Retrieval ---------------------------------------------------------------------------------
def test_retrieval_page_numbers_are_clap_core_s(bundled):
    at = open_app(RETRIEVAL)
    res = batch_result(at, bundled)
    items = at.session_state.batch
    want = retrieval_metrics(tie_scores(res.cosine))
    shown = frame(at, "mAP")
    for row, direction in zip(shown.itertuples(index=False), ("text_to_audio", "audio_to_text")):
        np.testing.assert_allclose(list(row), [want[f"{direction}_{m}"] for m in ("R@1", "R@5", "R@10", "mAP")],
                                   atol=1e-6)
    rows, cols = partner_ranks(res.cosine)
    partners = frame(at, "rank of its clip (text → audio)").set_index("#").sort_index()
    assert partners["rank of its clip (text → audio)"].tolist() == rows.tolist()
    assert partners["rank of its caption (audio → text)"].tolist() == cols.tolist()
    assert any(TIE_RULE in plain(c.value) for c in at.caption)

    i = int(np.argmax(rows))  # the caption whose own clip ranks worst
    at.text_input(key="rt-query").set_value(items.captions[i]).run()
    assert not at.exception
    assert any(f"its own clip, {i + 1}. " in read(m) and f"ranks {rows[i]} of {len(items)}" in read(m) for m in at.info)
    ranked = frame(at, "its caption")
    assert ranked["#"].tolist() == (np.argsort(-tie_scores(res.cosine[i]), kind="stable") + 1).tolist()
    at.text_input(key="rt-query").set_value("a sound nobody wrote down").run()
    assert not at.info and not at.exception
    j = int(np.argmax(cols))
    at.selectbox(key="rt-clip").set_value(j).run()
    assert any(f"ranks {cols[j]} of {len(items)}" in read(m) for m in at.markdown)
    assert {b.label for b in at.get("download_button")} >= {"partner_ranks.csv", "retrieval.json", "caption_ranking.csv"}


def test_a_duplicate_clip_ranks_one_place_lower_by_the_tie_rule():
    at = open_app(RETRIEVAL)
    items = at.session_state.batch
    first = items[0]
    at.session_state.batch, _ = items.add_files([(first.name, first.data)], captions=[first.caption])
    at.run()
    assert not at.exception
    n = len(items) + 1
    partners = frame(at, "rank of its clip (text → audio)").set_index("#")
    for column in ("rank of its clip (text → audio)", "rank of its caption (audio → text)"):
        assert partners.loc[n, column] == partners.loc[1, column] + 1  # the copy loses the tie to pair 1
    shown = frame(at, "mAP")["mAP"].tolist()  # one right answer per query: mAP is the mean of 1/rank
    assert shown == pytest.approx([np.mean(1 / partners["rank of its clip (text → audio)"]),
                                   np.mean(1 / partners["rank of its caption (audio → text)"])])


# -- Evaluate ----------------------------------------------------------------------------------
def evaluate_on_page(at, source: str, **inputs):
    at.radio(key="ev-source").set_value(source).run()
    for key, value in inputs.items():
        widget = next(w for w in (at.selectbox, at.number_input, at.text_input) if any(x.key == key for x in w))
        widget(key=key).set_value(value).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="ev-start").click().run()
    assert not at.exception
    return at.session_state.ev_result


def test_the_page_gives_the_cli_s_numbers_on_the_shipped_examples():
    at = open_app(EVALUATE)
    res = evaluate_on_page(at, "Shipped examples")
    got = json.loads(cli("evaluate", "--data", ROOT / "assets" / "examples" / "examples.csv", "--json").stdout)
    page = res.to_dict()
    for key in ("clips", "labels", "template", "zero_shot_accuracy", "confusion", "retrieval_on", "per_class",
                "captions_missing", "tau"):
        assert page[key] == got[key], key
    for key in [k for k in got if "@" in k or k.endswith("mAP")]:
        assert page[key] == pytest.approx(got[key], abs=1e-6)
    assert metric(at, "Top-1 accuracy") == f"{100 * got['zero_shot_accuracy']:.1f} %"
    assert metric(at, "Clips evaluated") == f"{got['clips']} of {got['clips']}"
    assert len(page["most_confident_mistakes"]) == len(res.mistakes) > 0
    assert sum(1 for a in at.get("audio") if a) >= 1  # the mistakes' players
    assert {b.label for b in at.get("download_button")} >= {"evaluation.csv", "evaluation.json"}
    assert at.get("plotly_chart")  # the confusion matrix


def test_the_held_out_demo_world_reproduces_the_training_report():
    report = json.loads((BUNDLED_DIR / "train_report.json").read_text())
    world_name = report.get("config", {}).get("world", "classes")
    at = open_app(EVALUATE)
    res = evaluate_on_page(at, "Demo world (generated)", **{"ev-world": world_name, "ev-seed": report["eval_seed"],
                                                           "ev-n": report["eval_clips"]})
    assert res.clips == report["eval_clips"] and not res.stopped and not res.skipped
    assert res.accuracy == report["zero_shot_accuracy"]
    assert metric(at, "Top-1 accuracy") == f"{100 * report['zero_shot_accuracy']:.1f} %"
    assert res.clips_per_second > 0 and "clips/s" in metric(at, "Speed")


def test_the_pairs_world_shows_the_attribute_accuracy_of_the_cli(tmp_path):
    at = open_app(EVALUATE)
    res = evaluate_on_page(at, "Demo world (generated)", **{"ev-world": "pairs", "ev-seed": 987655, "ev-n": 42})
    assert res.clips == 42 and res.attributes["pairs"] == 21  # one twin pair per class and attribute
    cli("demo-world", "--world", "pairs", "--seed", 987655, "--n", 1, "--out", tmp_path)
    got = json.loads(cli("evaluate", "--data", tmp_path / "clips.csv", "--attributes", "--json").stdout)
    assert res.to_dict()["attribute_accuracy"] == got["attribute_accuracy"]
    assert metric(at, "caption → clip") == f"{got['attribute_accuracy']['rows']:.1%}"
    assert metric(at, "clip → caption") == f"{got['attribute_accuracy']['columns']:.1%}"


def test_a_zip_with_bad_files_is_evaluated_and_a_refused_zip_says_why(world):  # noqa: F811
    at = open_app(EVALUATE)
    at.radio(key="ev-source").set_value("Zip upload").run()
    at.file_uploader(key="ev-zip").set_value(("set.zip", folder_zip(world), "application/zip")).run()
    assert any("set.zip (label folders)" in plain(m.value) and "14 clips, 12 labels" in plain(m.value)
               for m in at.markdown)
    at.button(key="ev-start").click().run()
    assert not at.exception
    res = at.session_state.ev_result
    assert res.clips == 12 and metric(at, "Files skipped") == "2"
    skipped = frame(at, "reason")
    assert sorted(skipped["file"]) == ["loose.wav", "set/siren/broken.wav"]

    at.file_uploader(key="ev-zip").set_value(("evil.zip", make_zip({"../../etc/x.wav": b"RIFF"}),
                                             "application/zip")).run()
    assert not at.exception
    assert any(plain(e.value) == "evil.zip: unsafe name in the zip: '../../etc/x.wav' (absolute, '..' or a backslash)"
               for e in at.error)
    assert at.session_state.ev_result is res  # the last result stays


def test_a_local_folder_and_bad_labels(world):  # noqa: F811
    at = open_app(EVALUATE)
    res = evaluate_on_page(at, "Local folder or CSV", **{"ev-path": str(world)})
    assert res.clips == 12 and res.retrieval_on.startswith("captions")
    at.text_area(key=f"ev-labels-{at.session_state.ev_set_version}").set_value("only one label").run()
    at.button(key="ev-start").click().run()
    assert any(plain(e.value) == "Cannot evaluate: give at least two labels to choose between. The result below is the "
               "previous run's." for e in at.error)
    assert at.session_state.ev_result is res


def test_hosted_mode_offers_no_local_paths_and_caps_the_set(monkeypatch):
    monkeypatch.setenv("CLAP_EXPLORER_HOSTED", "1")
    at = open_app(EVALUATE)
    assert "Local folder or CSV" not in at.radio(key="ev-source").options
    at.radio(key="ev-source").set_value("Demo world (generated)").run()
    assert at.number_input(key="ev-n").max == 300
    assert any("At most 300 clips per set in this hosted app" in plain(c.value) for c in at.caption)
    at.radio(key="ev-source").set_value("Zip upload").run()
    many = make_zip({f"dog/{i}.wav": b"RIFF" for i in range(301)})
    at.file_uploader(key="ev-zip").set_value(("many.zip", many, "application/zip")).run()
    assert any("301 clips; at most 300 are evaluated at a time" in plain(e.value) for e in at.error)


def test_user_text_stays_text_on_both_pages():
    from test_verbatim import NASTY_CAPTION, NASTY_NAME, escaped_everywhere, figures

    nasty_label = ":blue[label] <b>bold $x$"  # a folder name: no '/'

    at = open_app(RETRIEVAL)
    items = at.session_state.batch
    at.session_state.batch = items.with_edits([NASTY_CAPTION, *items.captions[1:]], items.labels)
    at.run()
    at.text_input(key="rt-query").set_value(NASTY_CAPTION).run()
    assert not at.exception
    assert any(escaped_everywhere(m.value, NASTY_CAPTION) for m in at.markdown)  # clip 1's own caption ranks …
    assert any(read(m).startswith("This is caption 1's text") for m in at.info)
    assert NASTY_CAPTION in frame(at, "rank of its clip (text → audio)")["caption"].tolist()  # a table: as it is

    siren = (ROOT / "assets" / "examples" / "demo-siren.flac").read_bytes()
    tone = (ROOT / "assets" / "examples" / "demo-low-tone.flac").read_bytes()
    data = make_zip({f"{nasty_label}/{NASTY_NAME}": siren, "siren/s.flac": siren, "low tone/t.flac": tone})
    at.switch_page(EVALUATE).run()
    at.radio(key="ev-source").set_value("Zip upload").run()
    at.file_uploader(key="ev-zip").set_value(("nasty.zip", data, "application/zip")).run()
    at.button(key="ev-start").click().run()
    assert not at.exception
    res = at.session_state.ev_result
    assert nasty_label in res.labels and res.mistakes and res.mistakes[0].label == nasty_label
    assert any(escaped_everywhere(m.value, f"{nasty_label}/{NASTY_NAME}") for m in at.markdown)  # the mistake
    assert any(escaped_everywhere(m.value, nasty_label) for m in at.markdown)
    assert nasty_label in frame(at, "accuracy %")["label"].tolist()  # a table: as it is
    spec = "".join(figures(at))
    assert "&lt;b&gt;bold" in spec and "<b>bold" not in spec
