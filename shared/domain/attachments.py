"""Attachments (附件) as rules without I/O: what a file is, by its bytes; what it may be
called; what its id looks like.

The type is read from the file's first bytes (its magic number), never taken from the
client's ``Content-Type`` or its file name: a page or a script sent as ``image/jpeg`` is
refused, and what is stored is served with the type found here. The name a client gives
is kept only for people to read (a download's suggested name): any directory part,
control or direction-changing character is dropped, and the name ends in an extension of
the type found, so ``evil.html`` that is really a JPEG is offered as ``evil.html.jpg``.
An attachment's id is the SHA-256 of its bytes in lower-case hex (content-addressed: the
same bytes are one attachment, stored once).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

ID_PATTERN = re.compile(r"\A[0-9a-f]{64}\Z")
MAX_NAME_CHARS = 120
KINDS = ("intake", "progress", "evidence")  # 诉求附件 / 进展附件 / 办结凭证、书面承诺


@dataclass(frozen=True)
class FileType:
    """A type this service accepts: its MIME type, extensions and Chinese name."""

    mime: str
    extensions: tuple[str, ...]
    label: str


JPEG = FileType("image/jpeg", (".jpg", ".jpeg"), "JPEG 图片")
PNG = FileType("image/png", (".png",), "PNG 图片")
WEBP = FileType("image/webp", (".webp",), "WebP 图片")
HEIC = FileType("image/heic", (".heic", ".heif"), "HEIC 图片")
PDF = FileType("application/pdf", (".pdf",), "PDF 文档")
MP3 = FileType("audio/mpeg", (".mp3",), "MP3 录音")
M4A = FileType("audio/mp4", (".m4a",), "M4A 录音")
AMR = FileType("audio/amr", (".amr",), "AMR 录音")
WAV = FileType("audio/wav", (".wav",), "WAV 录音")
DOCX = FileType(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    (".docx",),
    "Word 文档",
)
ACCEPTED = (JPEG, PNG, WEBP, HEIC, PDF, MP3, M4A, AMR, WAV, DOCX)
ACCEPTED_TEXT = "JPEG、PNG、WebP、HEIC 图片，PDF、Word(docx) 文档，MP3、M4A、AMR、WAV 录音"
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_M4A_BRANDS = {b"M4A ", b"M4B "}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]')


def attachment_id(data: bytes) -> str:
    """The id of these bytes: their SHA-256 in lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def is_attachment_id(text: str) -> bool:
    """True for exactly 64 lower-case hex digits (nothing else ever reaches a path)."""
    return ID_PATTERN.match(text) is not None


def sniff(data: bytes) -> FileType | None:
    """The accepted type these bytes begin as, or None (refused: 415)."""
    head = data[:64]
    found = _by_prefix(head) or _by_box(head)
    if found is None and head.startswith(b"PK\x03\x04") and _is_docx(data):
        found = DOCX
    return found


def _by_prefix(head: bytes) -> FileType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return AMR
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return MP3
    return None


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 set bits, then a version and a layer that are not
    the reserved values (version 01, layer 00)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    return (head[1] >> 3) & 3 != 1 and (head[1] >> 1) & 3 != 0


def _by_box(head: bytes) -> FileType | None:
    """ISO base media files (HEIC photos, M4A recordings): an ``ftyp`` box first."""
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in _HEIC_BRANDS:
        return HEIC
    if brand in _M4A_BRANDS:
        return M4A
    return None


def _is_docx(data: bytes) -> bool:
    """A zip holding a Word document's parts (not any zip: an archive of anything is not
    a document a person opens)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def clean_name(given: str | None, kind: FileType) -> str:
    """A file name safe to show and to offer for download (see the module docstring)."""
    text = unicodedata.normalize("NFC", given or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("", text).strip().lstrip(".").strip()
    stem = text or "附件"
    if not stem.lower().endswith(kind.extensions):
        stem = stem[: MAX_NAME_CHARS - len(kind.extensions[0])] + kind.extensions[0]
    if len(stem) > MAX_NAME_CHARS:
        dot = stem.rfind(".")
        stem = stem[: MAX_NAME_CHARS - (len(stem) - dot)] + stem[dot:]
    return stem
