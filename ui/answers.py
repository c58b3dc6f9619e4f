"""The Four answers page's pieces: each answer (clap_core.answers) written out on the batch, with a link to
the page that shows it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clap_core.answers import FourAnswers, four_answers
from clap_core.batch import Batch
from clap_core.contrastive import ContrastiveResult

from .text import md


def answers(res: ContrastiveResult) -> FourAnswers:
    """The four answers for the batch's loss terms."""
    return four_answers(res)


def _link(page: str, label: str) -> None:
    st.page_link(page, label=label, icon=":material/arrow_forward:")


def symmetric(ans: FourAnswers, items: Batch) -> None:
    """1. Is C symmetric?"""
    st.subheader("1. Is C symmetric?")
    a = ans.asymmetry
    if len(items) == 1:
        st.write("With one pair C is a single number, so trivially yes — and there is nothing to compare.")
    elif a.symmetric:
        st.write("On this batch it happens to be (to 1e-9). In general it is not: rows are captions, columns clips.")
    else:
        st.markdown(
            f"**No.** C[i, j] compares caption i with clip j; C[j, i] compares caption j with clip i — four different "
            f"embeddings. The most asymmetric pair of cells here: C[{a.i + 1}, {a.j + 1}] = **{a.c_ij:.3f}** "
            f"(“{md(items[a.i].caption)}” vs {md(items[a.j].name)}) and C[{a.j + 1}, {a.i + 1}] = **{a.c_ji:.3f}** "
            f"(“{md(items[a.j].caption)}” vs {md(items[a.i].name)}): they differ by {a.gap:.3f}."
        )
    _link("pages/similarity.py", "Similarity matrix: view C, and its “Is C symmetric?” section")


def two_axes(ans: FourAnswers, res: ContrastiveResult, items: Batch) -> None:
    """2. Why ℓ_text ≠ ℓ_audio from the same matrix?"""
    st.subheader("2. Why is ℓ_text ≠ ℓ_audio when both come from the same C?")
    ax = ans.axes
    c = st.columns(2)
    c[0].metric("ℓ_text: softmax along each row", f"{ax.loss_text:.4f}")
    c[1].metric("ℓ_audio: softmax down each column", f"{ax.loss_audio:.4f}")
    k = ax.index
    st.markdown(
        "The same numbers are normalised along different axes: ℓ_text asks each **caption** to pick its clip among "
        "all clips (a row), ℓ_audio asks each **clip** to pick its caption among all captions (a column). Row i and "
        "column i share only their diagonal cell, so their denominators differ. "
        + (f"They differ most for pair {k + 1} (“{md(items[k].caption)}” ↔ {md(items[k].name)}): "
           f"−log P_text[{k + 1},{k + 1}] = **{ax.item_text:.4f}** from row {k + 1}, "
           f"−log P_audio[{k + 1},{k + 1}] = **{ax.item_audio:.4f}** from column {k + 1}:" if res.n > 1 else "")
    )
    if res.n > 1:
        row, col = f"P_text[{k + 1}, j]: row {k + 1}", f"P_audio[i, {k + 1}]: column {k + 1}"
        st.dataframe(pd.DataFrame({"clip j": items.names, row: res.P_text[k], "caption i": items.captions,
                                   col: res.P_audio[:, k]}, index=pd.RangeIndex(1, res.n + 1, name="i, j")),
                     width="stretch", column_config={c: st.column_config.NumberColumn(format="%.4f") for c in (row, col)})
    _link("pages/similarity.py", "Similarity matrix: views “softmax → along each row” and “softmax ↓ down each column”")
    _link("pages/loss.py", "Loss: each pair's ℓ_text,i and ℓ_audio,i")


def off_diagonal(ans: FourAnswers, res: ContrastiveResult, items: Batch) -> None:
    """3. Where do the off-diagonal entries enter?"""
    st.subheader("3. Where do the off-diagonal entries enter?")
    d = ans.denominators
    st.markdown("Only in the softmax **denominators**. Write L out:")
    st.latex(r"L = \underbrace{-\frac{1}{N}\sum_i C_{ii}}_{\text{numerators}} + \underbrace{\frac{1}{2N}\sum_i "
             r"\Big[\log\sum_k e^{C_{ik}} + \log\sum_k e^{C_{ki}}\Big]}_{\text{denominators}}")
    c = st.columns(3)
    c[0].metric("numerators", f"{d.numerators:.4f}", help="−mean of the diagonal of C: the true pairs alone")
    c[1].metric("denominators", f"{d.denominators:.4f}", help="every entry of C, through the log-sum-exps")
    c[2].metric("sum = L", f"{d.loss:.4f}")
    st.markdown(
        f"So a negative cell C[i, j] raises L by making a denominator larger, and its gradient is always a push: "
        f"∂L/∂C[i, j] = (P_text[i, j] + P_audio[i, j])/(2N) > 0. On this batch the negatives take "
        f"{100 * d.negatives_share_text:.1f} % of a row's softmax mass and {100 * d.negatives_share_audio:.1f} % of a "
        f"column's on average, and all the pushes together equal the pulls: Σ ∂L/∂C = {d.grad_sum:+.1e}."
    )
    if d.heaviest:
        st.write("The heaviest negatives (largest ∂L/∂C off the diagonal):")
        st.dataframe(pd.DataFrame([{"caption (row)": items[n.i].caption, "clip (column)": items[n.j].name,
                                    "∂L/∂C": n.grad, "P_text[i, j]": n.p_text, "P_audio[i, j]": n.p_audio}
                                   for n in d.heaviest]), width="stretch", hide_index=True,
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("∂L/∂C", "P_text[i, j]", "P_audio[i, j]")})
    else:
        st.write("With one pair there is no negative.")
    _link("pages/similarity.py", "Similarity matrix: view ∂L/∂C")
    _link("pages/embedding_map.py", "Embedding map: the pull and the pushes on each item")


def quoted(ans: FourAnswers) -> None:
    """4. The commonly quoted formula."""
    st.subheader("4. What is wrong with the formula as it is often quoted?")
    q = ans.quoted
    st.latex(r"\ell = \frac{1}{N}\sum_{i=0}^{N} \log \operatorname{diag}(\operatorname{softmax}(C))")
    st.markdown(
        f"- **No minus sign**: the mean log-probability of the true pairs is ≤ 0, a log-likelihood to *maximise*; "
        f"the loss is its negative.\n"
        f"- **N+1 terms**: i runs 0..N, but diag(softmax(C)) has N = {q.n} entries (in code, index {q.n} raises an "
        f"IndexError); the sum has N terms, i = 1..N (or 0..N−1).\n"
        f"- **One axis only**: softmax over the last axis is P_text (each caption's row): that is ℓ_text alone. "
        f"CLAP's loss also takes the softmax down each column and averages the two."
    )
    c = st.columns(3)
    c[0].metric("as quoted (its N terms that exist)", f"{q.as_quoted:.4f}", help="(1/N) Σ log P_text[i,i]")
    c[1].metric("with the minus sign: ℓ_text", f"{q.with_minus:.4f}")
    c[2].metric("the symmetric loss L", f"{q.loss:.4f}", help="½(ℓ_text + ℓ_audio)")
    _link("pages/loss.py", "Loss: the formulas with their minus signs")
