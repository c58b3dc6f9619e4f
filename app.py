"""CLAP Explorer: the entry point. Page config, navigation over pages/, and the shared sidebar."""

import os

# Before torch is imported: OpenMP threads sleep instead of spinning while they wait, so on a shared
# 2-core box one session's idle threads do not slow another's embedding (the user's setting wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numpy's products here are small (N ≤ 64): one BLAS thread; two stall ~24 ms when the other core is busy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import streamlit as st  # noqa: E402

from ui import screen, sidebar, state  # noqa: E402
from ui.actions import take_table_edits  # noqa: E402
from ui.resources import warm_up  # noqa: E402
from ui.scenarios import scenario_line  # noqa: E402
from ui.settings import hosted  # noqa: E402


def main() -> None:
    """Set up the page, this session's state (the default scenario's batch on first open) and the navigation."""
    st.set_page_config(page_title="CLAP Explorer", page_icon="🎧", layout="wide")
    if hosted():  # a second line of defence: an uncaught error shows no traceback or server path to visitors
        st.set_option("client.showErrorDetails", "none")
    nav = st.navigation({
        "The batch and its loss": [
            st.Page("pages/batch.py", title="Batch", icon=":material/library_music:", default=True),
            st.Page("pages/similarity.py", title="Similarity matrix", icon=":material/grid_on:"),
            st.Page("pages/loss.py", title="Loss", icon=":material/functions:"),
            st.Page("pages/zero_shot.py", title="Zero-shot", icon=":material/label:"),
        ],
        "Why it moves": [
            st.Page("pages/embedding_map.py", title="Embedding map", icon=":material/scatter_plot:"),
            st.Page("pages/answers.py", title="Four answers", icon=":material/quiz:"),
            st.Page("pages/train.py", title="Train on this batch", icon=":material/model_training:"),
        ],
        "Check a checkpoint": [
            st.Page("pages/check.py", title="Health check", icon=":material/health_and_safety:"),
            st.Page("pages/retrieval.py", title="Retrieval", icon=":material/manage_search:"),
            st.Page("pages/evaluate.py", title="Evaluate a labelled set", icon=":material/fact_check:"),
            st.Page("pages/compare.py", title="Compare two checkpoints", icon=":material/compare:"),
        ],
    })
    if "batch" not in st.session_state:  # a first visit: say what is happening from the first paint
        loading = st.empty()
        loading.info("Loading the checkpoint and the example batch…", icon=":material/hourglass_top:")
        state.init()
        loading.empty()
    warm_up(state.shared_checkpoint_name(), state.precision(), state.batch())
    screen.track()  # the viewport's width (phones get square, numbered heatmaps) and the app's CSS
    sidebar.render()
    take_table_edits()  # the Batch page's table edits of this run, before the line below counts them
    scenario_line()
    nav.run()


main()
