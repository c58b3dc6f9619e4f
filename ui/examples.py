"""The shipped example clips, read once per process."""

from __future__ import annotations

import streamlit as st

from clap_core.examples import Example, load_examples


@st.cache_resource(show_spinner=False)
def examples() -> list[Example]:
    """The examples listed in assets/examples/examples.csv."""
    return load_examples()
