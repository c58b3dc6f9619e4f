"""Retrieval: a typed query ranks the batch's clips; a clip ranks the captions; R@K, mAP and each pair's rank."""

import streamlit as st

from ui import retrieval, state
from ui.honest import demo_notice
from ui.text import md
from ui.widgets import stop_if_empty

state.require_app()

st.title("Retrieval")
items = state.batch()
stop_if_empty(items)
res = state.result()
demo_notice(res)
st.caption(f"Scores are cosines between the embeddings (C = τ·cos with τ = {res.tau:.2f} ranks the same way); ties go "
           "to the lower index (the rule is stated in full under the batch's ranks).")

tab_text, tab_audio = st.tabs(["Text → audio: type a query", "Audio → text: pick a clip"])
with tab_text:
    query = st.text_input("Query", items.captions[0], key="rt-query",
                          help="Any text; a caption of the batch shows where its own clip ranks.")
    if query.strip():
        ranked = retrieval.query_ranking(query, items)
        for i, rank in retrieval.own_clip_ranks(query, items, ranked):
            st.info(f"This is caption {i + 1}'s text: its own clip, {i + 1}. {md(items.names[i])}, ranks "
                    f"**{rank} of {len(items)}** (row {i + 1} of C).")
        top = st.slider("Players for the top clips", 1, len(items), min(5, len(items)), key="rt-top") if len(items) > 1 else 1
        for rank, row in ranked.head(top).iterrows():
            a, b = st.columns([2, 3])
            a.markdown(f"**Rank {rank}:** {md(row['clip'])} (pair {row['#']} of the batch) · cosine {row['cosine']:.4f}")
            pair = items[int(row["#"]) - 1]
            if pair.data is not None:
                a.audio(pair.data, format=pair.mime)
            b.caption(f"its caption: {md(row['its caption'])}")
        retrieval.table(ranked, "query_ranking")
    else:
        st.caption("Type a query to rank the clips.")
with tab_audio:
    clip = st.selectbox("Clip", range(len(items)), format_func=lambda j: f"{j + 1}. {items.names[j]}", key="rt-clip")
    if items[clip].data is not None:
        st.audio(items[clip].data, format=items[clip].mime)
    ranked_captions = retrieval.caption_ranking(res, items, clip)
    own = int(ranked_captions.index[ranked_captions["#"] == clip + 1][0])
    st.markdown(f"Its own caption, “{md(items.captions[clip])}”, ranks **{own} of {len(items)}** (column {clip + 1} of C).")
    retrieval.table(ranked_captions, "caption_ranking")

st.subheader("The batch")
st.caption("R@K: the share of captions (clips) whose own clip (caption) is among their K best; with N ≤ K it is 1 by "
           "definition. mAP: with one right answer per query, the mean of 1/rank.")
st.dataframe(retrieval.metrics_frame(res), width="stretch", key="rt-metrics",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("R@1", "R@5", "R@10", "mAP")})
st.markdown("**Each pair's rank of its true partner** — the worst first; click a column to sort.")
st.caption(retrieval.TIE_RULE)
retrieval.table(retrieval.partner_frame(res, items), "partner_ranks", index=False)

st.subheader("Twin test (Winoground, CompA)")
tw = retrieval.twins(res, items)
if tw is None:
    st.caption("The batch holds no twins — clips of one label whose captions differ in one attribute word (quiet/loud, "
               "slow/fast, low/high). Load the *Hard negatives* scenario on the Batch page for four such pairs.")
else:
    st.caption(f"{tw['pairs']} twin pairs, found by {md(tw['found_by'])}. For each pair, the text score asks both clips "
               "to pick their own caption of the two, the audio score both captions to pick their own clip, the group "
               "score both; a tie counts as a failure. Chance: 25 %, 25 %, 16.7 %.")
    st.dataframe(retrieval.twin_frame(tw), width="stretch", key="rt-twins",
                 column_config={c: st.column_config.NumberColumn(format="%.1f %%") for c in ("score", "chance")})
    st.dataframe(retrieval.twin_pairs_frame(tw, items), width="stretch", hide_index=True, key="rt-twin-pairs")

st.subheader("Export")
st.download_button("retrieval.json", retrieval.export_json(res, items).encode(), "retrieval.json", "application/json",
                   key="rt-json", help="R@K and mAP both ways, each pair's ranks and the tie rule")
