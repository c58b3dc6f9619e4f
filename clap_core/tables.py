"""CSV out and in, safe for spreadsheets: every CSV the project writes goes through here.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to a spreadsheet
(OWASP's CSV injection): a caption such as ``=HYPERLINK(…)`` would run when a colleague opens the export. Such a
text cell is written with a leading apostrophe, which spreadsheets show as text and hide. Reading undoes it, so a
file the project writes reads back to exactly the text it was given (``unescape_cell(escape_cell(x)) == x`` for
every string x; tested). Numbers are written as numbers: only text cells are touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Sequence

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def escape_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it as text: an apostrophe in front of a formula start, and in front of an
    apostrophe that would otherwise be read back as an escape."""
    if text.startswith(FORMULA_START) or (text.startswith(_QUOTE) and text[1:2] in (*FORMULA_START, _QUOTE)):
        return _QUOTE + text
    return text


def unescape_cell(text: str) -> str:
    """The inverse of :func:`escape_cell`."""
    if text.startswith(_QUOTE) and text[1:2] in (*FORMULA_START, _QUOTE):
        return text[1:]
    return text


class TableError(ValueError):
    """A CSV that cannot be read as a table: ``columns`` holds the header found when a required column is missing;
    otherwise the message is the csv module's reason and ``line`` where it stopped."""

    def __init__(self, message: str, columns: list[str] | None = None, line: int | None = None):
        super().__init__(message)
        self.columns, self.line = columns, line


def read_table(text: str, required: Collection[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of a CSV ``text`` with a header line — the one reader of the CSVs the project
    takes in (batch.csv, labelled sets): column names stripped, text cells unescaped (:func:`unescape_cell`).
    TableError when a ``required`` column is missing or the text is not CSV (a field over the csv module's limit…)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        if not set(required) <= set(columns):
            raise TableError(f"missing column(s) {', '.join(sorted(set(required) - set(columns)))}", columns=columns)
        reader.fieldnames = columns
        for row in reader:
            yield reader.line_num, {k: unescape_cell(v) if isinstance(v, str) else v for k, v in row.items()}
    except csv.Error as e:
        raise TableError(str(e), line=reader.line_num) from None


def _cell(value):
    return escape_cell(value) if isinstance(value, str) else value


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A CSV (``\\n`` line ends) of a header and rows, each text cell escaped."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([_cell(h) for h in header])
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def frame_csv(frame: pd.DataFrame, index: bool = True) -> str:
    """``frame.to_csv(index=index)`` with every text cell, column name and index label escaped."""
    out = frame.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):  # object or pandas' string dtype
            out[c] = out[c].map(_cell).astype(object)
    out.columns = [_cell(c) for c in out.columns]
    if index:
        out.index = out.index.map(_cell)
        out.index.name = _cell(frame.index.name) if frame.index.name is not None else None
    return out.to_csv(index=index)
