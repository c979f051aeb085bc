"""Opening zip containers (xlsx, kmz) only after checking what they would unpack to.

A zip's central directory declares every member's size; Python's ``zipfile`` never inflates
a member past its declared size (and checks its CRC), so checking the declared sizes and
ratios before reading bounds the memory a hostile archive (a "zip bomb") can take.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from geo._read_base import Reading

__all__ = ["open_zip", "read_member"]

#: Members this small cannot bomb anything, whatever their ratio.
_RATIO_FLOOR_BYTES = 1 * 2**20
_MAX_MEMBERS = 10_000


def open_zip(data: bytes, reading: Reading, *, kind: str, fix: str) -> zipfile.ZipFile:
    """The archive in ``data``, once its declared content passes the reading's limits.

    ``kind`` names the container in messages ("Excel workbook", "KMZ file"); ``fix`` says
    how to get a sound copy.
    """
    limits = reading.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise reading.error(
            f"it is not a readable {kind}: it is damaged or truncated", fix
        ) from exc
    if len(members) > _MAX_MEMBERS:
        raise reading.error(f"the {kind} holds {len(members):,} files, far too many", fix)
    if any(m.flag_bits & 0x1 for m in members):
        raise reading.error(
            f"the {kind} is password-protected", "Remove the password and save it again"
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise reading.error(
            f"the {kind} would unpack to {total / 2**20:,.0f} MiB, more than the "
            f"{limits.max_uncompressed_bytes / 2**20:,.0f} MiB allowed",
            "Split the data into smaller files",
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise reading.error(
                f"the member {m.filename!r} of the {kind} is compressed {ratio:,.0f} times, "
                f"more than the {limits.max_compression_ratio:g} allowed (a zip bomb?)",
                fix,
            )
    return archive


def read_member(archive: zipfile.ZipFile, member: str, reading: Reading, *, fix: str) -> bytes:
    """The bytes of ``member``; a corrupt member is an :class:`InputError`."""
    try:
        return archive.read(member)
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
    ) as exc:
        raise reading.error(f"the member {member!r} is damaged ({exc})", fix) from exc
