"""User text is data: captions, labels and file names reach every page literally (AppTest).

Markdown bodies carry them backslash-escaped (so **x**, :red[x], $x$ and links stay text); Plotly
figures carry them HTML-escaped (so <b>x</b> stays text). The browser test checks the rendering."""

import json
import re

from streamlit.testing.v1 import AppTest

from conftest import ROOT
from media import all_formats

NASTY_CAPTION = "**bold** <b>html</b> :red[red] $x^2$ [link](http://example.com) # head"
NASTY_LABEL = ":blue[label] <i>it</i>"
NASTY_NAME = "**clip**<b>.flac"


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def escaped_everywhere(body: str, text: str) -> bool:
    """``text`` appears in a Markdown body only in its escaped form."""
    return text in plain(body) and text not in body


def figures(at) -> list[str]:
    """Each Plotly chart's figure JSON, with JSON's own escapes undone (so '<' reads as '<')."""
    return [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]


def test_user_text_is_shown_verbatim_on_every_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.file_uploader[0].set_value([(NASTY_NAME, all_formats()["flac"], "audio/flac")]).run()
    assert not at.exception, at.exception
    items = at.session_state.batch
    captions, labels = items.captions, items.labels
    captions[0], labels[-1] = NASTY_CAPTION, NASTY_LABEL
    at.session_state.batch = items.with_edits(captions, labels)
    at.run()
    assert not at.exception
    md_bodies = [m.value for m in at.markdown]
    assert any(escaped_everywhere(b, NASTY_CAPTION) for b in md_bodies)
    assert any(escaped_everywhere(b, NASTY_NAME) for b in md_bodies)
    assert any(escaped_everywhere(m.value, NASTY_NAME) for m in at.success)  # "Added 1 clip: …"

    at.switch_page("pages/similarity.py").run()
    assert not at.exception
    spec = "".join(figures(at))
    assert "&lt;b&gt;html&lt;/b&gt;" in spec and "<b>html</b>" not in spec
    assert "&lt;b&gt;.flac" in spec
    at.selectbox(key="insp-caption").set_value(0).run()
    assert any(escaped_everywhere(c.value, NASTY_CAPTION) for c in at.caption)

    at.switch_page("pages/loss.py").run()
    assert not at.exception
    spec = "".join(figures(at))
    assert "&lt;b&gt;html&lt;/b&gt;" in spec and "<b>html</b>" not in spec
    table = at.dataframe[0].value
    assert table["caption"].iloc[0] == NASTY_CAPTION and table["clip"].iloc[-1] == NASTY_NAME

    at.switch_page("pages/zero_shot.py").run()
    at.selectbox(key="zs-preset").set_value("Labels of this batch").run()
    assert not at.exception
    headings = [m.value for m in at.markdown]
    assert any(escaped_everywhere(h, NASTY_NAME) for h in headings)
    assert NASTY_LABEL in list(at.dataframe[0].value.columns)  # a table shows it as it is
    spec = "".join(figures(at))
    assert "&lt;i&gt;it&lt;/i&gt;" in spec and "<i>it</i>" not in spec
