"""Reading an untrusted zip in bounded time and memory: the one reader behind batch files (clap_core.batchfile) and
labelled sets (clap_core.evaluate).

Nothing is extracted to disk: members are read into memory by name. A zip is refused (:class:`ZipRefused`, one line)
when its end record declares more entries, or a larger directory, than the caller allows (before the entry list is
read), when a name is absolute, climbs with ``..``, holds a backslash, a NUL or a drive letter, or is held twice.
Each member is bounded twice — by the size its header declares and by the bytes actually inflated — so a lying header
or a zip bomb stops at the limit; a member that cannot be read (too big, damaged, encrypted) raises
:class:`MemberUnread` with its reason and costs only itself, and the total over all members is bounded too
(:class:`TotalExceeded`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from pathlib import Path, PurePosixPath

from .batch import over_limit

_EOCD, _EOCD64, _LOCATOR64 = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
CENTRAL_BYTES_PER_ENTRY = 4096  # a generous bound on one central-directory record (46 bytes + name + extras)


class ZipRefused(ValueError):
    """The zip as a whole cannot be used; the message is one line naming why."""


class TotalExceeded(ZipRefused):
    """The members read so far unpack to more than the total the caller allows."""


class MemberUnread(Exception):
    """One member could not be read (too big, damaged, encrypted): its reason; the rest goes on."""


def unsafe_name(name: str) -> bool:
    """A member name that is absolute, climbs with '..', uses backslashes, a NUL or a drive letter."""
    return (not name or name.startswith("/") or "\\" in name or "\x00" in name or re.match(r"^[A-Za-z]:", name) is not None
            or ".." in PurePosixPath(name).parts)


def visible(name: str) -> bool:
    """Not macOS metadata, not a hidden file or folder."""
    return not name.startswith("__MACOSX/") and not any(p.startswith(".") for p in PurePosixPath(name).parts)


def _directory_size(f) -> tuple[int, int] | None:
    """(entries, bytes) the zip's end record declares for its central directory, read from the file's last 64 KB
    (and the ZIP64 end record where the short one is saturated); None when there is no end record."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - 22 - 65_535))
    tail = f.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    entries, cd_bytes = int.from_bytes(tail[at + 10 : at + 12], "little"), int.from_bytes(tail[at + 12 : at + 16], "little")
    if (entries == 0xFFFF or cd_bytes == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == _LOCATOR64:
        f.seek(int.from_bytes(tail[at - 12 : at - 4], "little"))
        rec = f.read(56)
        if len(rec) == 56 and rec[:4] == _EOCD64:
            entries, cd_bytes = int.from_bytes(rec[32:40], "little"), int.from_bytes(rec[40:48], "little")
    return entries, cd_bytes


def open_zip(data: bytes | str | os.PathLike, max_entries: int | None = None, what: str = "") -> zipfile.ZipFile:
    """The zip (bytes or a path), opened; with ``max_entries``, refused from its end record before its entry list is
    read (a zip of a million entries costs no time or memory to refuse; ``what`` names whose limit it is)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(data))
    else:
        path = Path(data)
        if not path.exists() or path.is_dir():
            raise ZipRefused("is a folder, not a zip file" if path.is_dir() else "no such file")
        source = path
    try:
        if max_entries is not None:
            with (source.open("rb") if isinstance(source, Path) else contextlib.nullcontext(source)) as f:
                declared = _directory_size(f)
            if declared and (declared[0] > max_entries or declared[1] > max_entries * CENTRAL_BYTES_PER_ENTRY):
                raise ZipRefused(f"the zip declares {declared[0]} entries in a {declared[1]:,}-byte directory; "
                                 f"{what} has at most {max_entries} entries".replace(",", " "))
        return zipfile.ZipFile(source)
    except ZipRefused:
        raise
    except OSError as e:
        raise ZipRefused(f"cannot be read ({e.strerror or e})") from None
    except Exception:  # BadZipFile, or a damaged directory another way: untrusted input never escapes
        raise ZipRefused("not a zip file") from None


def zip_members(zf: zipfile.ZipFile, max_entries: int, what: str) -> dict[str, zipfile.ZipInfo]:
    """The zip's files (not its folders) by name; ZipRefused for more than ``max_entries`` entries (``what``
    names whose limit it is), a name that is absolute, climbs with '..' or has a backslash, or a name held twice."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise ZipRefused(f"the zip has {len(infos)} entries; {what} has at most {max_entries}")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if unsafe_name(info.filename):
            raise ZipRefused(f"unsafe name in the zip: {info.filename!r} (absolute, '..' or a backslash)")
        if info.filename in members:
            raise ZipRefused(f"the zip holds {info.filename!r} twice")
        if not info.is_dir():
            members[info.filename] = info
    return members


class Reader:
    """Reads members of an open zip into memory within the limits (per member and in total)."""

    def __init__(self, zf: zipfile.ZipFile, total_limit: int):
        self.zf, self.left = zf, total_limit

    def read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        """The member's bytes; TotalExceeded past the total limit, MemberUnread (its reason) past ``limit``."""
        if info.file_size > limit:
            raise MemberUnread(over_limit(info.file_size, limit))
        if info.flag_bits & 0x1:
            raise MemberUnread("is encrypted (password-protected) in the zip; zip it again without a password")
        cap = min(limit, self.left)
        try:
            with self.zf.open(info) as f:
                data = f.read(cap + 1)  # never inflates more than one byte past the cap
        except Exception as e:  # bad CRC, damaged deflate data, unknown compression
            detail = re.sub(r"<[^<>]*>", "", str(e)).strip(" .") or type(e).__name__  # no object reprs
            raise MemberUnread(f"could not be unpacked from the zip ({detail})") from None
        if len(data) > self.left:
            raise TotalExceeded("the members unpack to more than the total allowed")
        if len(data) > limit:
            raise MemberUnread(f"unpacks to more than the limit of {limit / 1e6:g} MB per file")
        self.left -= len(data)
        return data

    def text(self, info: zipfile.ZipInfo, max_bytes: int = 1_000_000) -> str:
        """A small text member as UTF-8 (a BOM dropped); ZipRefused naming it when it is too big or not UTF-8."""
        try:
            raw = self.read(info, max_bytes)
        except MemberUnread as e:
            raise ZipRefused(f"{info.filename}: {e}") from None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ZipRefused(f"{info.filename} is not UTF-8 text") from None
