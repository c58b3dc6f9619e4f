"""The reader's screen: the browser's viewport width, read (not guessed) by a tiny component, and what the pages do
with it — below NARROW_PX, heatmaps are square with numbered axes, and Plotly's toolbar is hidden so that it never
covers a title or a value. Also the app's one piece of CSS: wide formulas scroll inside their box instead of being
cut off at the screen's edge.
"""

from __future__ import annotations

import streamlit as st

NARROW_PX = 640  # CSS px: a phone held upright (390–430) and small tablets; a 1366 px laptop is wide
_JS = """
export default function (component) {
  const { setStateValue } = component;
  let last = -1, timer = null;
  const send = () => {
    const w = Math.round(window.innerWidth);
    if (last < 0 || Math.abs(w - last) >= 40) { last = w; setStateValue("width", w); }
  };
  send();
  const onResize = () => { clearTimeout(timer); timer = setTimeout(send, 300); };
  window.addEventListener("resize", onResize);
  return () => window.removeEventListener("resize", onResize);
}
"""
CSS = """
<style data-drawn-for="{width}">
.katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 2px; }
</style>
"""
_viewport = st.components.v2.component("clap_explorer_viewport", js=_JS)


def track() -> None:
    """Mount the width reader and the CSS (app.py, once per run, before the page). The style element says which width
    the run drew for (``data-drawn-for``: CSS px, or ``unknown`` on the first run of a page load, before the browser
    has reported it), so that a test can wait for the layout a screen gets instead of for a time."""
    _viewport(key="viewport", on_width_change=lambda: None)
    st.html(CSS.replace("{width}", str(width() or "unknown")))  # the width this run draws for, in the page's DOM


def width() -> int | None:
    """The viewport's width in CSS px, once the browser has said it (None before, and under AppTest)."""
    held = st.session_state.get("viewport")
    value = getattr(held, "width", None) if held is not None else None
    if value is None and isinstance(held, dict):
        value = held.get("width")
    return int(value) if isinstance(value, (int, float)) else None


def narrow() -> bool:
    """Whether the screen is narrower than NARROW_PX (a phone)."""
    w = width()
    return w is not None and w < NARROW_PX


def square_px() -> int | None:
    """On a narrow screen, the height that makes a full-width heatmap square (the width less the page's margins)."""
    w = width()
    return max(280, w - 40) if w is not None and w < NARROW_PX else None


def chart_config() -> dict:
    """Plotly's config: no toolbar on a narrow screen (it sits over the title and the top row), no logo anywhere."""
    return {"displaylogo": False, **({"displayModeBar": False} if narrow() else {})}


def chart(fig, key: str, where=None) -> None:
    """``fig`` at the container's full width, with :func:`chart_config`."""
    (where or st).plotly_chart(fig, width="stretch", key=key, config=chart_config())
