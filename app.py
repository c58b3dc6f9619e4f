"""CLAP Explorer: the entry point. Page config, navigation over pages/, and the shared sidebar."""

import streamlit as st

from ui import sidebar, state


def main() -> None:
    """Set up the page, this session's state (the example batch on first open) and the navigation."""
    st.set_page_config(page_title="CLAP Explorer", page_icon="🎧", layout="wide")
    nav = st.navigation([
        st.Page("pages/batch.py", title="Batch", icon=":material/library_music:", default=True),
        st.Page("pages/similarity.py", title="Similarity matrix", icon=":material/grid_on:"),
        st.Page("pages/loss.py", title="Loss", icon=":material/functions:"),
        st.Page("pages/zero_shot.py", title="Zero-shot", icon=":material/label:"),
    ])
    with st.spinner("Loading the checkpoint and the example batch…"):
        state.init()
    sidebar.render()
    nav.run()


main()
