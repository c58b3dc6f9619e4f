"""User text (captions, labels, file names) is data: shown verbatim, never as Markdown or HTML."""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'^])")


def md(text: str) -> str:
    """``text`` escaped for st.markdown: every Markdown and Streamlit directive character is literal,
    line breaks become spaces (so a caption cannot open a heading or a list)."""
    flat = " ".join(str(text).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def plotly(text: str, width: int | None = None, limit: int | None = None) -> str:
    """``text`` escaped for Plotly's HTML subset (ticks, hovers, bars); optionally cut to ``limit``
    characters and wrapped every ``width`` characters with <br>."""
    s = " ".join(str(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    if width:
        s = "\n".join(s[i : i + width] for i in range(0, len(s), width))
    return html.escape(s, quote=False).replace("\n", "<br>")


def cut(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[: n - 1] + "…"
