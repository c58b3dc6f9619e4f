"""Every button is reachable from AppTest: the two that used to be read directly (their click lost to a rerun) now
act through callbacks — Compare's "Load … as B" and the embedding map's "Compute it" for a full-size model's
random-weight twin. Here the size thresholds are lowered so that the bundled checkpoints take those paths."""

from test_app import metric, open_app


def test_compare_load_as_b_is_taken_by_its_callback(monkeypatch):
    import ui.compare

    monkeypatch.setattr(ui.compare, "FULL_SIZE_M", -1.0)  # every B waits for the click
    monkeypatch.setattr(ui.compare, "is_loaded", lambda *a: False)
    at = open_app("pages/compare.py")
    at.selectbox(key="compare-b").set_value("bundled-classes").run()
    assert not at.exception and any(b.key == "compare-load" for b in at.button)
    assert not any(m.label == "L" for m in at.metric)  # nothing is compared before the click
    at.button(key="compare-load").click().run()
    assert not at.exception and not any(b.key == "compare-load" for b in at.button)
    assert sum(m.label == "L" for m in at.metric) == 2  # A and B


def test_the_random_twin_button_computes_the_gap(monkeypatch):
    import ui.embedding_map

    monkeypatch.setattr(ui.embedding_map, "AUTO_RANDOM_PARAMS", 0)  # the bundled model is treated as full-size
    at = open_app("pages/embedding_map.py")
    assert any(b.key == "map-random-gap" for b in at.button)
    assert not any(m.label.startswith("Gap of a random-weight model") for m in at.metric)
    at.button(key="map-random-gap").click().run()
    assert not at.exception and not any(b.key == "map-random-gap" for b in at.button)
    assert float(metric(at, "Gap of a random-weight model")) > 0
