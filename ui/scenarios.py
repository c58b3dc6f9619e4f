"""The scenarios (shipped batches that each teach one thing) as pages show them."""

from __future__ import annotations

import streamlit as st

from clap_core.scenarios import DEFAULT_SCENARIO, SCENARIOS, get

from . import state

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "get", "scenario_line"]


def scenario_line() -> None:
    """One line at the top of every page: which scenario the batch is (or that it is the user's own)."""
    loaded = state.scenario()
    n = len(state.batch())
    pairs = f"{n} pair{'s' * (n != 1)}"
    if loaded is None:
        text = f"Batch: your own, {pairs}"
    else:
        text = f"Scenario: {loaded[0].title}, {pairs}" + (" (changed since loaded)" if loaded[1] else "")
    st.caption(f"{text} · scenarios and clips are on the Batch page", help=loaded[0].look_at if loaded else None)
