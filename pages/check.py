"""Health check: is the checkpoint in use broken, and what does it know? Each figure with its meaning, a verdict and
two reference points (the bundled checkpoint, a random-weight model of the same configuration)."""

import streamlit as st

from ui import check, state

state.require_app()

st.title("Health check")
ck = state.checkpoint()
st.caption(
    "On data the app ships — 100 probe captions, the 23 real recordings with their captions and labels, the twelve "
    "demo-world clips — the checkpoint in use is measured the way people who check CLAP checkpoints do: is a tower "
    "collapsed, where does τ sit, is it deterministic, does it know real audio, how much does the prompt matter. "
    "Nothing here depends on your batch. The same check: `python -m clap_core check --checkpoint NAME`."
)
if not check.twin_allowed():
    st.caption(f"On this server the random-weight reference is left out for {ck.name}: it would hold a second "
               f"{ck.n_params * 4 / 1e6:,.0f} MB model. Run the check on your own machine for it.")
rep = check.report()
fresh = rep is None and not st.session_state.get("health_asked")
st.button("Run the health check" if fresh else "Run it again", key="health-run", type="primary",
          on_click=check.ask, help="About 10 s for the bundled checkpoint, 30 s for a full-size one on 2 CPU cores.")
check.run_if_asked()
rep = check.report()
if rep is None:
    st.stop()

st.subheader(f"{ck.name}: {sum(x.verdict == 'ok' for x in rep.lines)} fine, "
             f"{sum(x.verdict == 'warn' for x in rep.lines)} to look at, {sum(x.verdict == 'fail' for x in rep.lines)} "
             "broken")
for line in rep.lines:
    check.draw_line(line)
with st.expander("All lines as a table"):
    st.dataframe(check.frame(rep), width="stretch", hide_index=True, key="health-table")
check.export(rep)
