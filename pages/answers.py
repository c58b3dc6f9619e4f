"""Four answers: the questions a colleague asks after the usual explanation of the loss, on this batch."""

import streamlit as st

from ui import answers, sigmoid, state
from ui.widgets import stop_if_empty

state.require_app()

st.title("Four answers")
items = state.batch()
stop_if_empty(items)
res = state.result()
ans = answers.answers(res)

st.caption(f"Answered on the loaded batch of {res.n} pair{'s' if res.n != 1 else ''} at τ = {res.tau:.2f}; each "
           "answer links to the page that shows it. Rows of C are captions, columns clips.")
answers.symmetric(ans, items)
answers.two_axes(ans, res, items)
answers.off_diagonal(ans, res, items)
answers.quoted(ans)
if sigmoid.loss_kind() == "sigmoid":
    sigmoid.answers_section(res, items)
