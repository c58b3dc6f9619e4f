"""Streamlit glue: the only place Streamlit meets clap_core (resources, session state, widgets, figures)."""
