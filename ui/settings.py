"""App settings from the environment or Streamlit secrets (for a hosted deployment)."""

from __future__ import annotations

import os

import streamlit as st

from clap_core.batch import LIMITS
from clap_core.batchfile import MAX_UNPACKED_MB
from clap_core.checkpoints import BUNDLED, KNOWN_CHECKPOINTS

__all__ = ["LIMITS", "MAX_UNPACKED_MB", "hosted", "default_checkpoint"]  # LIMITS: clap_core's, the same as the CLI's


def _setting(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    try:
        secret = st.secrets.get(name)
    except Exception:  # no secrets.toml: that is fine
        secret = None
    return str(secret) if secret else None


def hosted() -> bool:
    """Hosted mode: only the known checkpoints, no custom ids or local folders."""
    return (_setting("CLAP_EXPLORER_HOSTED") or "").lower() in ("1", "true", "yes")


def default_checkpoint() -> str:
    """The checkpoint a new session opens on: CLAP_EXPLORER_CHECKPOINT, else the bundled one."""
    name = _setting("CLAP_EXPLORER_CHECKPOINT") or BUNDLED
    if hosted() and name not in {k.name for k in KNOWN_CHECKPOINTS}:
        return BUNDLED
    return name
