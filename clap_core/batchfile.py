"""A batch as one file: a zip with the clips as they were given, ``batch.csv`` (file, name, caption, label,
source) and ``settings.json`` (checkpoint, long-clip policy, τ). Shared by the app (Download / Open batch)
and the CLI (``--batch``).

Reading treats the zip as untrusted: nothing is extracted to disk (members are read into memory by
name), member names must be relative without ``..`` or backslashes, and every size is bounded twice —
by the size a member's header declares and by the bytes actually inflated, so a lying header or a zip
bomb stops at the limit. Audio members decode through :meth:`Batch.add_files`, so each one gets its
:class:`FileOutcome` and a bad clip never costs the rest.

A zip without ``batch.csv`` is accepted too: every file in it is tried as a clip (in name order, the
format read from the content), with captions from the file names.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath

from .batch import LIMITS, Batch, FileOutcome, Limits, Pair
from .contrastive import check_tau
from .features import LONG_CLIP_POLICIES
from .safezip import MemberUnread, Reader, TotalExceeded, ZipRefused, open_zip, visible, zip_members
from .tables import TableError, csv_text, read_table

FORMAT = 1  # settings.json "format": what this module writes and reads
CSV_NAME, SETTINGS_NAME = "batch.csv", "settings.json"
CSV_COLUMNS = ("file", "name", "caption", "label", "source")  # file and caption are required when reading
MAX_MEMBERS = 200  # entries in the zip, folders included
MAX_UNPACKED_MB = 200  # all clips together, inflated (the server's upload limit, .streamlit/config.toml)
MAX_TEXT_BYTES = 1_000_000  # batch.csv and settings.json each
SOURCES = ("upload", "recording", "example", "file")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same batch gives the same bytes
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class BatchFileError(ZipRefused):
    """A batch file that cannot be opened; the message is one line naming the reason."""


TOO_BIG = f"the clips unpack to more than {MAX_UNPACKED_MB} MB (the limit for a batch file)"


# -- writing ------------------------------------------------------------------------------------
def _member_name(index: int, width: int, name: str) -> str:
    """'clips/03-dog_bark.wav': numbered (unique), only [A-Za-z0-9._-], at most 80 characters."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = _UNSAFE_CHARS.sub("_", stem).strip("._")[:60] or "clip"
    ext = _UNSAFE_CHARS.sub("", ext)[:8]
    return f"clips/{index:0{width}d}-{stem}" + (f".{ext}" if ext else "")


def clip_bytes(pair: Pair) -> tuple[bytes, str]:
    """(the file's bytes, its name) for one pair: the bytes as given, or — for a pair read from a path, whose
    bytes were not kept — its decoded samples as a float32 WAV at the source rate (exactly those samples)."""
    if pair.data is not None:
        return pair.data, pair.name
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, pair.clip.samples, pair.info.source_rate, format="WAV", subtype="FLOAT")
    stem = pair.name.rsplit(".", 1)[0] if "." in pair.name else pair.name
    return buf.getvalue(), f"{stem}.wav"


def write_batch_zip(batch: Batch, settings: dict) -> bytes:
    """The batch as a zip: clips/NN-<name> (the clips as uploaded), batch.csv and settings.json."""
    buf = io.BytesIO()
    rows = []
    width = max(2, len(str(len(batch))))
    with zipfile.ZipFile(buf, "w") as zf:
        for i, pair in enumerate(batch, start=1):
            data, name = clip_bytes(pair)
            member = _member_name(i, width, name)
            zf.writestr(zipfile.ZipInfo(member, _ZIP_TIME), data, compress_type=zipfile.ZIP_STORED)
            rows.append([member, pair.name, pair.caption, pair.label, pair.source])
        text = {CSV_NAME: csv_text(CSV_COLUMNS, rows),  # text cells escaped for spreadsheets, unescaped on reading
                SETTINGS_NAME: json.dumps({**settings, "format": FORMAT}, indent=2, ensure_ascii=False) + "\n"}
        for member, body in text.items():
            zf.writestr(zipfile.ZipInfo(member, _ZIP_TIME), body.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# -- reading ------------------------------------------------------------------------------------
def _settings(text: str | None) -> dict:
    """The settings a batch file carries, checked: checkpoint (str), policy (a long-clip policy), tau (a number in
    TAU_RANGE, or None for the checkpoint's own); a key is left out when the file lacks it or its value is unusable,
    and a τ outside the range is named under ``tau_refused`` (one line) instead of taken."""
    if text is None:
        return {}
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # also: nesting deeper than the parser's stack
        raise BatchFileError(f"{SETTINGS_NAME} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise BatchFileError(f"{SETTINGS_NAME} is not a JSON object")
    if raw.get("format", FORMAT) != FORMAT:
        raise BatchFileError(f"{SETTINGS_NAME} is format {raw.get('format')!r}; this version reads format {FORMAT}")
    out = {}
    if isinstance(raw.get("checkpoint"), str) and raw["checkpoint"].strip():
        out["checkpoint"] = raw["checkpoint"].strip()
    if raw.get("policy") in LONG_CLIP_POLICIES:
        out["policy"] = raw["policy"]
    if "tau" in raw:
        if raw["tau"] is None:
            out["tau"] = None
        else:
            try:
                out["tau"] = check_tau(raw["tau"], f"the τ in {SETTINGS_NAME}")
            except ValueError as e:
                out["tau_refused"] = f"{e}; it was not used"
    return out


def _base(members: dict[str, zipfile.ZipInfo]) -> str:
    """Where batch.csv is: '' at the top, or the one folder that holds it (a batch unzipped and zipped again)."""
    if CSV_NAME in members:
        return ""
    found = [n for n in members if PurePosixPath(n).name == CSV_NAME]
    return found[0][: -len(CSV_NAME)] if len(found) == 1 else ""


def _rows(text: str, members: dict[str, zipfile.ZipInfo], limits: Limits, base: str = "") -> list[dict]:
    """batch.csv's rows, each naming a member of the zip (relative to ``base``, batch.csv's folder);
    BatchFileError for bad columns, a missing member or text that is not CSV."""
    rows = []
    try:
        for k, (_, row) in enumerate(read_table(text, ("file", "caption")), start=2):  # row 1 is the header
            if len(rows) >= limits.max_clips:
                raise BatchFileError(f"{CSV_NAME} has more than {limits.max_clips} rows; a batch holds at most "
                                     f"{limits.max_clips} pairs")
            file = (row.get("file") or "").strip()
            if base + file not in members:
                raise BatchFileError(f"{CSV_NAME} row {k} names {file!r}, which is not in the zip" if file
                                     else f"{CSV_NAME} row {k} has no file")
            rows.append({"file": base + file, "name": (row.get("name") or "").strip() or PurePosixPath(file).name,
                         "caption": row.get("caption") or "", "label": (row.get("label") or "").strip(),
                         "source": row.get("source") if row.get("source") in SOURCES else "upload"})
    except TableError as e:
        if e.columns is not None:
            raise BatchFileError(f"{CSV_NAME} needs the columns file,caption (label, name, source optional); "
                                 f"it has: {','.join(e.columns) or 'none'}") from None
        raise BatchFileError(f"{CSV_NAME} is not a readable CSV ({e})") from None
    return rows


def _loose_rows(members: dict[str, zipfile.ZipInfo], limits: Limits) -> list[dict]:
    """No batch.csv: every file of the zip (not settings.json, not hidden, not macOS metadata), by name."""
    files = sorted(n for n in members if n != SETTINGS_NAME and visible(n))
    if not files:
        raise BatchFileError(f"no {CSV_NAME} and no clips in the zip")
    if len(files) > limits.max_clips:
        raise BatchFileError(f"no {CSV_NAME} and {len(files)} files; a batch holds at most {limits.max_clips} clips")
    return [{"file": n, "name": PurePosixPath(n).name, "caption": None, "label": "", "source": "upload"} for n in files]


def read_batch_zip(data: bytes | str | os.PathLike,
                   limits: Limits = LIMITS) -> tuple[Batch, list[FileOutcome], dict]:
    """Open a batch file (bytes or a path): (the batch, one outcome per clip, its settings — those of
    {checkpoint, policy, tau} it holds); BatchFileError with a one-line reason when the file cannot be used."""
    try:
        return _read_batch_zip(data, limits)
    except BatchFileError:
        raise
    except TotalExceeded:
        raise BatchFileError(TOO_BIG) from None
    except ZipRefused as e:  # safezip's refusals, as this file's
        raise BatchFileError(str(e)) from None


def _read_batch_zip(data: bytes | str | os.PathLike, limits: Limits) -> tuple[Batch, list[FileOutcome], dict]:
    with open_zip(data, MAX_MEMBERS, "a batch file") as zf:
        members = zip_members(zf, MAX_MEMBERS, "a batch file")
        total = min(MAX_UNPACKED_MB * 1_000_000, limits.max_clips * limits.max_file_bytes)
        reader = Reader(zf, total)
        base = _base(members)
        settings = _settings(reader.text(members[base + SETTINGS_NAME], MAX_TEXT_BYTES)
                             if base + SETTINGS_NAME in members else None)
        if base + CSV_NAME in members:
            rows = _rows(reader.text(members[base + CSV_NAME], MAX_TEXT_BYTES), members, limits, base)
        else:
            rows = _loose_rows(members, limits)
        sizes = [members[n].file_size for n in {r["file"] for r in rows}]
        if sum(size for size in sizes if size <= limits.max_file_bytes) > reader.left:  # bigger ones are not read
            raise BatchFileError(TOO_BIG)
        payload: dict[str, bytes | str] = {}  # member → bytes, or the reason it could not be read
        for name in dict.fromkeys(r["file"] for r in rows):
            try:
                payload[name] = reader.read(members[name], limits.max_file_bytes)
            except MemberUnread as e:
                payload[name] = str(e)
    return assemble_batch(rows, payload, limits) + (settings,)


def assemble_batch(rows: Sequence[dict], payload: dict[str, bytes | str],
                   limits: Limits = LIMITS) -> tuple[Batch, list[FileOutcome]]:
    """A batch from rows {file, name, caption (None: from the name), label, source} and payload {file: bytes,
    or the reason there are none}: clips decode through Batch.add_files in row order; every row gets an outcome."""
    readable = [r for r in rows if isinstance(payload[r["file"]], bytes)]
    batch = Batch(limits=limits)
    decoded: list[FileOutcome] = []
    for r in readable:  # add_files takes one source per call; one row at a time keeps the rows' order
        batch, got = batch.add_files([(r["name"], payload[r["file"]])], r["source"],
                                     captions=[r["caption"]], labels=[r["label"]])
        decoded += got
    done = iter(decoded)
    outcomes = [next(done) if isinstance(payload[r["file"]], bytes) else FileOutcome(r["name"], False, payload[r["file"]])
                for r in rows]
    return batch, outcomes
