"""CLAP Explorer — placeholder entry point (the explorer pages arrive with the app issue)."""

import streamlit as st

st.set_page_config(page_title="CLAP Explorer", layout="wide")
st.title("CLAP Explorer")
st.write("The engine (`clap_core`) is ready; try `python -m clap_core batch --help`.")
