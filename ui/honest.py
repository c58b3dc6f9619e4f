"""An honest default: where the numbers are, say when a demo checkpoint is shown clips from outside its world.

The demo checkpoints (``bundled``, ``bundled-classes``) know only the demo world's twelve synthetic sound classes. Shown
real audio, they score at or above chance, which reads as "the app (or CLAP) is broken" unless the page says why. The
notice gives what the model knows, what this batch shows about it (the other clips' own L against chance, from the
same result the page draws), and what to pick instead.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from clap_core.checkpoints import SHIPPED, hub_reachable, offline_mode
from clap_core.contrastive import ContrastiveResult, contrastive_from_cosine
from clap_core.scenarios import demo_world_keys

from . import state
from .text import md


@st.cache_data(ttl=600, show_spinner=False)
def _hub_ok() -> bool:
    """Whether this server can reach the Hugging Face Hub (asked at most every 10 minutes)."""
    return not offline_mode() and hub_reachable(timeout=2.0)


def outside_clips() -> list[int]:
    """Indices of the batch's pairs whose clip is not a shipped demo-world clip, when the checkpoint in use is a demo
    one (or fine-tuned from one); [] otherwise."""
    if state.shared_checkpoint_name() not in SHIPPED:
        return []
    keys = demo_world_keys()
    return [i for i, p in enumerate(state.batch()) if p.clip.key not in keys]


def figures(res: ContrastiveResult, outside: list[int]) -> str:
    """What the batch shows about the outside clips: their own L against chance (two or more), or where the one
    clip's caption ranks it."""
    if len(outside) >= 2:
        sub = contrastive_from_cosine(res.cosine[np.ix_(outside, outside)], res.tau)
        verdict = "above" if sub.loss > sub.chance else "barely below" if sub.loss > 0.8 * sub.chance else "below"
        return (f"your {len(outside)} clips from outside it, as a batch of their own: L = {sub.loss:.2f}, {verdict} "
                f"chance log {len(outside)} = {sub.chance:.2f}")
    i = outside[0]
    rank = 1 + int(np.sum(res.cosine[i] > res.cosine[i, i]))
    return (f"the clip from outside it, {md(state.batch()[i].name)}: its caption ranks it {rank} of {res.n}, "
            f"with {res.P_text[i, i]:.0%} of the caption's softmax")


def demo_notice(res: ContrastiveResult | None = None) -> None:
    """The notice, on a page that shows numbers (nothing when it does not apply)."""
    outside = outside_clips()
    if not outside:
        return
    res = res if res is not None else state.result()
    name = state.checkpoint_name()
    alternative = ("pick a LAION checkpoint (laion/clap-htsat-unfused, laion/larger_clap_general) or MS-CLAP in the "
                   "sidebar") if _hub_ok() else (
        "a LAION or MS-CLAP checkpoint would, but this server cannot reach the Hugging Face Hub to download one: run "
        "the app where it can, or give a local folder (sidebar, Custom)")
    st.warning(
        f"**{md(name)} is a small demo model**: it knows only the demo world's 12 synthetic sound classes (tones, "
        f"sweeps, noise, clicks, chords…) and their words, so on other audio its numbers say little. "
        f"On this batch, {figures(res, outside)}. For real audio, {alternative}.",
        icon=":material/info:")
