"""Evaluate: run the checkpoint over a labelled set — accuracy, per class, confusion, mistakes, retrieval."""

import streamlit as st

from ui import evaluate as ev
from ui import state, zeroshot
from ui.figures import confusion
from ui.retrieval import twin_frame
from ui.screen import chart
from ui.text import md

state.require_app()
ss = st.session_state

st.title("Evaluate a labelled set")
st.caption("Every clip is classified zero-shot into the labels below with the template(s) (several are ensembled, as "
           "on the Zero-shot page), with the checkpoint, τ and long-clip policy in use; retrieval runs both ways on the "
           "captions when the set has them, else on the label prompts. Only embeddings are kept, not the audio. "
           + ev.limits_note())

kind = st.radio("Labelled set", ev.sources(), horizontal=True, key="ev-source", disabled=ev.running())
params = {}
if kind == ev.DEMO:
    c1, c2, c3 = st.columns(3)
    params["world"] = c1.selectbox("World", ev.DEMO_WORLDS, key="ev-world",
                                   help="classes: what `demo-world --out` writes; attributes: captions whose loudness, "
                                        "speed and pitch words are true of the audio (what the bundled model trains on); "
                                        "pairs: same-class twins whose captions differ in one of those words, for the "
                                        "attribute accuracy (42 clips per round; seed 987655 is the held-out one)")
    params["seed"] = c2.number_input("Seed", 0, 2**32 - 1, ev.HELD_OUT_SEED, key="ev-seed",
                                     help=f"{ev.HELD_OUT_SEED}: the bundled checkpoint's held-out set, never trained on")
    params["n"] = c3.number_input("Clips (N)", 1, ev.limits().max_clips, min(ev.HELD_OUT_N, ev.limits().max_clips),
                                  key="ev-n", help="cycling through the 12 classes")
elif kind == ev.ZIP:
    params["upload"] = st.file_uploader("Labelled set (.zip)", type=["zip"], key="ev-zip")
    st.caption(ev.ZIP_LAYOUTS)
elif kind == ev.LOCAL:
    params["path"] = st.text_input("A folder of label folders, a folder holding clips.csv, a CSV file,label[,caption] "
                                   "or a zip, on the machine that runs the app", key="ev-path")

try:
    data = ev.open_set(kind, **params)
except ValueError as e:
    st.error(md(str(e)))
    data = None

if data is not None:
    st.markdown(f"**{md(data.description)}**: {data.size} clips, {len(data.labels)} labels.")
    c1, c2 = st.columns([3, 2])
    labels_key = f"ev-labels-{ss.ev_set_version}"  # a new set: a fresh box with its labels
    c1.text_area("Labels, one per line (default: the set's own)", "\n".join(data.labels), key=labels_key,
                 height=zeroshot.box_height(len(data.labels)))
    c2.text_area("Templates, one per line, each with {}", zeroshot.DEFAULT_TEMPLATE, height=120, key="ev-templates")
    st.button("Evaluate", key="ev-start", type="primary", disabled=ev.running(), on_click=ev.start,
              args=(labels_key, "ev-templates"))

if ev.running():
    r = ev.run()
    st.progress(r.read / r.size, text=ev.progress_text(r))
    st.button("Stop", key="ev-stop", on_click=ev.stop, help="Stop after the chunk in progress; the clips done so far "
                                                             "are evaluated")
    ev.step()
    st.rerun()

ev.settle()
if ss.get("ev_error"):
    earlier = " The result below is the previous run's." if ss.get("ev_result") else ""
    st.error(md(ss.ev_error.rstrip(".") + "." if earlier else ss.ev_error) + earlier)
res = ev.result()
if res is None:
    st.stop()

st.subheader("Result")
st.caption(f"{md(res.description)} · checkpoint {md(res.checkpoint)} · {len(res.labels)} labels · templates: "
           + " · ".join(f"“{md(t)}”" for t in res.templates) + f" · τ = {res.tau or 0:.2f} · policy {res.policy}")
if res.protocol is not None:
    with st.expander("The protocol of every figure below", expanded=res.standard is not None):
        st.markdown(md(res.protocol.text()))
if res.reference:
    r = res.reference
    side = "above" if r["gap_points"] >= 0 else "below"
    st.info(f"**Published:** {md(r['checkpoint'])} on {md(r['dataset'])}: {r['published']:.2f} % ({md(r['source'])}); "
            f"measured here {r['measured']:.2f} %, {abs(r['gap_points']):.2f} points {side}."
            + (f" {md(r['caveat'])}" if r.get("caveat") else ""), icon=":material/menu_book:")
    if r.get("differences"):
        state_of = {True: "differs", None: "not stated by the source"}
        st.markdown("A gap of more than a few points usually comes from the protocol; here:\n"
                    + "\n".join(f"- **{md(d['aspect'].replace('_', ' '))}** ({state_of[d['differs']]}): here "
                                 f"{md(str(d['here']))}; reference {md(str(d['reference']))} — {md(d['why'])}"
                                 for d in r["differences"]))
if res.stopped:
    parts = [f"{res.clips} evaluated"] + ([f"{len(res.skipped)} skipped"] if res.skipped else [])
    st.warning(f"Stopped after {res.read} of {res.size} files ({', '.join(parts)}): the figures are for those "
               f"{res.clips} clips; Continue goes on with the other {res.size - res.read}.")
    st.button("Continue", key="ev-continue", on_click=ev.resume)
if res.zs is None:  # a caption set (Clotho, AudioCaps): retrieval only
    st.caption("A caption set: every clip has captions and no label, so the figures are the standard retrieval "
               "protocol below; there is no classification.")
m = st.columns(4)
m[0].metric("Top-1 accuracy", "—" if res.accuracy is None else f"{100 * res.accuracy:.1f} %",
            help="over the clips whose true label is among the labels")
m[1].metric("Clips evaluated", f"{res.clips} of {res.size}")
m[2].metric("Speed", f"{res.clips_per_second or 0:.1f} clips/s", help=f"reading, decoding and embedding: {res.seconds:.1f} s")
m[3].metric("Files skipped", len(res.skipped))
if res.outside_labels:
    st.info(f"{res.outside_labels} clips have a true label that is not among the labels: they are left out of the "
            "accuracy.")

if res.folds:
    st.markdown(f"**Per fold** — the mean over folds: {100 * res.folds['mean_accuracy']:.1f} % (unweighted; the figure "
                "above is over all clips)")
    st.dataframe(ev.folds_frame(res), width="stretch", hide_index=True, key="ev-folds",
                 column_config={"accuracy %": st.column_config.NumberColumn(format="%.1f")})
if res.zs is not None:
    a, b = st.columns([2, 3])
    a.markdown("**Per class** (predicted: clips given that label)")
    a.dataframe(ev.per_class_frame(res), width="stretch", hide_index=True, key="ev-per-class",
                height=min(40 + 35 * len(res.labels), 600),
                column_config={"accuracy %": st.column_config.NumberColumn(format="%.1f")})
    b.markdown("**Confusion matrix** (rows: true label, columns: predicted)")
    if res.zs.confusion().sum():
        chart(confusion(res.zs), "ev-confusion", b)

    st.subheader("Most confident mistakes")
    if not res.mistakes:
        st.caption("None: every clip with a label among the labels was classified right.")
    for mistake in res.mistakes:
        a, b = st.columns([2, 3])
        a.markdown(f"**{md(mistake.name)}**")
        if mistake.wav is not None:
            a.audio(mistake.wav, format="audio/wav")
        b.markdown(f"true **{md(mistake.label)}**, predicted **{md(mistake.predicted)}** "
                   f"with probability {mistake.probability:.3f}")

st.subheader("Retrieval")
st.caption(f"On {md(res.retrieval_on)}. Ranked by cosine; ties go to the lower index (the earlier clip or caption).")
if res.retrieval and res.retrieval_on.startswith("captions") and res.zs is not None:
    m_caps = res.clips - res.captions_missing
    st.caption(f"Why R@1 can be low beside a high accuracy: each of the {m_caps} captions has one right clip out of "
               f"{m_caps} (chance R@1 = {1 / m_caps:.3f}), while a caption that describes its class fits the other "
               f"clips of that class about as well — {m_caps / max(1, len(res.labels)):.0f} clips per label here. "
               "Classification only asks for the right one of the "
               f"{len(res.labels)} labels.")
if res.retrieval:
    st.dataframe(ev.retrieval_frame(res), width="stretch", key="ev-retrieval",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("R@1", "R@5", "R@10", "mAP", "mAP@10")})

if res.twins:
    tw = res.twins
    st.subheader("Twin test (Winoground, CompA)")
    st.caption(f"{tw['pairs']} twin pairs, found by {md(tw['found_by'])}: the text score asks both clips of a pair to pick "
               "their own caption, the audio score both captions their own clip, the group score both; a tie counts as "
               "a failure.")
    st.dataframe(twin_frame(tw), width="stretch", key="ev-twins",
                 column_config={c: st.column_config.NumberColumn(format="%.1f %%") for c in ("score", "chance")})

if res.attributes:
    a = res.attributes
    st.subheader("Attribute words")
    st.caption(f"{a['pairs']} pairs of same-label clips whose captions differ in one attribute word only (quiet/loud, "
               "slow/fast, low/high): the share of each pair's two captions that pick their own clip over the twin, "
               "and of its two clips that pick their own caption. Chance is 50 %.")
    m = st.columns(2)
    m[0].metric("caption → clip", f"{a['rows']:.1%}")
    m[1].metric("clip → caption", f"{a['columns']:.1%}")
    st.dataframe(ev.attribute_frame(a), width="stretch", key="ev-attributes",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("caption → clip", "clip → caption")})

if res.skipped:
    with st.expander(f"{len(res.skipped)} files skipped", expanded=True):
        st.dataframe(ev.skipped_frame(res), width="stretch", hide_index=True, key="ev-skipped")
if res.warnings:
    with st.expander(f"{len(res.warnings)} clips decoded with a warning"):
        for w in res.warnings:
            st.markdown(f"**{md(w['file'])}**: " + "; ".join(md(x) for x in w["warnings"]))

st.subheader("Export")
c1, c2 = st.columns(2)
c1.download_button("evaluation.csv", res.rows_csv().encode(), "evaluation.csv", "text/csv", key="ev-csv",
                   help="one row per clip: file, label, predicted, probability, correct (as the CLI's --csv-out)")
c2.download_button("evaluation.json", ev.export_json(res).encode(), "evaluation.json", "application/json",
                   key="ev-json", help="every figure (as the CLI's evaluate --json)")
