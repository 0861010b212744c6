"""USPTO's weekly "grant full text with embedded images" archive: a tar of per-patent ZIPs.

Real archives are several GB, so nothing here extracts or loads the archive: :func:`members` walks the
tar header by header (seeking past each member's data; memory stays constant however many members),
and :func:`open_zip` opens one member ZIP in place (a seekable window on the tar file), so a document
is read from the archive only when its job runs. Only uncompressed tars (what USPTO ships) are read:
a compressed one cannot be entered at a member's offset, so it is refused with that reason.
"""
from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TAR_SUFFIXES = (".tar",)
COMPRESSED_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class ArchiveError(Exception):
    """The archive itself cannot be read on (not a tar, truncated, compressed)."""


@dataclass
class Member:
    name: str
    offset: int                 # of the member's (first) tar header: where :func:`open_zip` starts
    size: int
    skip: str | None = None     # why it is not a document (a README, a ZIP without XML)
    error: str | None = None    # why it is a broken document (a corrupt ZIP)


def is_tar_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(TAR_SUFFIXES) or name.endswith(COMPRESSED_TAR_SUFFIXES)


def stamp(path: str | Path) -> dict:
    """What identifies one archive for resuming: its size and modification time (with its path)."""
    st = os.stat(path)
    return {"archive_size": st.st_size, "archive_mtime": int(st.st_mtime)}


def members(path: str | Path) -> Iterator[Member]:
    """Every regular member of the tar, in archive order; raises :class:`ArchiveError` where the archive
    stops making sense (after yielding the members before that point)."""
    path = Path(path)
    if path.name.lower().endswith(COMPRESSED_TAR_SUFFIXES):
        raise ArchiveError("compressed tar: members cannot be read in place; uncompress it first "
                           "(USPTO ships the weekly archive as a plain .tar)")
    total = path.stat().st_size
    try:
        tf = tarfile.open(path, "r:")
    except tarfile.TarError as exc:
        raise ArchiveError(f"not a tar archive ({exc})") from None
    with tf:
        count = 0
        while True:
            try:
                info = tf.next()
            except tarfile.TarError as exc:
                raise ArchiveError(f"unreadable after {count} member(s): {exc}") from None
            if info is None:
                return
            count += 1
            tf.members.clear()       # constant memory: the tar module would keep every header
            if not info.isfile():
                continue             # folders of the archive (UTIL0448/ ...) carry nothing
            if info.offset_data + info.size > total:
                raise ArchiveError(f"truncated: member {info.name} needs {info.size} bytes but the file ends "
                                   f"{total - info.offset_data} bytes into it")
            yield _classify(tf, info)


def _classify(tf: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    member = Member(info.name, info.offset, info.size)
    looks_zip = info.name.lower().endswith(".zip")
    fh = tf.extractfile(info)
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        if looks_zip:
            member.error = f"corrupt ZIP: {exc}"
        else:
            member.skip = "not a ZIP (the weekly archive holds one ZIP per patent)"
        return member
    with zf:
        if not xml_members(zf):
            member.skip = "ZIP without an XML document"
    return member


def xml_members(zf: zipfile.ZipFile) -> list[str]:
    return sorted(n for n in zf.namelist()
                  if n.lower().endswith((".xml", ".sgm", ".sgml")) and not n.endswith("/"))


@contextmanager
def open_zip(path: str, tar_offset: int | None = None) -> Iterator[zipfile.ZipFile]:
    """The ZIP at ``path``, or the ZIP that is the member of the tar ``path`` whose header starts at
    ``tar_offset`` (read in place). Errors come as :class:`OSError` or :class:`zipfile.BadZipFile`."""
    if tar_offset is None:
        with zipfile.ZipFile(path) as zf:
            yield zf
        return
    try:
        tf = tarfile.open(path, "r:")
    except tarfile.TarError as exc:
        raise OSError(f"{path}: not a tar archive ({exc})") from None
    with tf:
        try:
            tf.fileobj.seek(int(tar_offset))
            info = tarfile.TarInfo.fromtarfile(tf)
        except (tarfile.TarError, ValueError) as exc:
            raise OSError(f"{path}: no tar member at byte {tar_offset} ({exc}); "
                          f"was the archive replaced?") from None
        with zipfile.ZipFile(tf.extractfile(info)) as zf:
            yield zf
