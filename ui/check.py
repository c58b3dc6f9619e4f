"""The Health check page's glue: run clap_core.health on the checkpoint in use (once per checkpoint and policy, kept
in the session), and draw each line with its verdict, what it means and the reference points."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from clap_core.health import TWIN_SKIP_PARAMS, HealthReport, Line, health_check

from . import state
from .settings import hosted
from .text import md

ICONS = {"ok": ":green[:material/check_circle:]", "info": ":blue[:material/info:]",
         "warn": ":orange[:material/warning:]", "fail": ":red[:material/cancel:]"}
WORDS = {"ok": "fine", "info": "for reading", "warn": "to look at", "fail": "broken"}


def key() -> tuple[str, str, str]:
    """What a report belongs to: the checkpoint's weights, its precision and the long-clip policy."""
    ck = state.checkpoint()
    return ck.fingerprint, ck.precision, state.policy()


def twin_allowed() -> bool:
    """Whether the random-weight reference may be built here: always on your own machine; in hosted mode only for a
    model small enough that a second copy costs nothing worth counting."""
    return not hosted() or state.checkpoint().n_params < TWIN_SKIP_PARAMS


def ask() -> None:
    """The Run button's callback: the page runs the check where the button is, with its steps shown."""
    st.session_state.health_asked = True


def run_if_asked() -> None:
    """Check the checkpoint in use when the button asked for it, and keep the report for it."""
    if not st.session_state.pop("health_asked", False):
        return
    ck = state.checkpoint()
    with st.status(f"Checking {ck.name}…", expanded=True) as status:
        report = health_check(ck, policy=state.policy(), twin=twin_allowed(),
                              on_step=lambda m: status.write(m[0].upper() + m[1:] + "…"))
        status.update(label=f"Checked {ck.name} in {report.seconds:.0f} s", state="complete", expanded=False)
    st.session_state.health = (key(), report)


def report() -> HealthReport | None:
    """The report of the checkpoint in use, if it has been checked in this session."""
    held = st.session_state.get("health")
    return held[1] if held and held[0] == key() else None


def frame(rep: HealthReport) -> pd.DataFrame:
    """One row per line: verdict, figure, value, the verdict in words, the reference points."""
    refs = sorted({k for x in rep.lines for k in x.references})
    return pd.DataFrame([{"": WORDS[x.verdict], "figure": x.title, "value": x.shown, "verdict": x.says,
                          **{k: x.references.get(k, "") for k in refs}} for x in rep.lines])


def draw_line(x: Line) -> None:
    """One line as a person reads it: the figure and its verdict, what it means underneath."""
    refs = " · ".join(f"{md(k)}: {md(v)}" for k, v in x.references.items())
    st.markdown(f"{ICONS[x.verdict]} **{md(x.title)}** — {md(x.shown)}  \n{md(x.says[0].upper() + x.says[1:])}.")
    st.caption(md(x.meaning) + (f" Reference points: {refs}." if refs else ""))


def export(rep: HealthReport) -> None:
    st.download_button("health_check.json", json.dumps(rep.to_dict(), indent=1).encode(), "health_check.json",
                       "application/json", key="health-json", help="every figure (as python -m clap_core check --json)")
