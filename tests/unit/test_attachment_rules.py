"""What an attachment is, by its bytes, and what it may be called (shared.domain.attachments)."""

from __future__ import annotations

import io
import zipfile

import pytest

from shared.domain import attachments as a


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, "x")
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", a.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00", a.PNG),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", a.WEBP),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", a.HEIC),
        (b"%PDF-1.7\n", a.PDF),
        (b"ID3\x04\x00", a.MP3),
        (b"\xff\xfb\x90\x64\x00", a.MP3),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", a.M4A),
        (b"#!AMR\n\x3c", a.AMR),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", a.WAV),
    ],
)
def test_accepted_types_are_known_by_their_first_bytes(head: bytes, kind: a.FileType) -> None:
    assert a.sniff(head + b"\0" * 64) is kind


def test_a_word_document_is_a_zip_with_word_parts() -> None:
    assert a.sniff(_zip("[Content_Types].xml", "word/document.xml")) is a.DOCX


@pytest.mark.parametrize(
    "data",
    [
        b"<html><script>alert(1)</script>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"MZ\x90\x00",  # a Windows program
        b"\x7fELF\x02",
        b"GIF89a",
        b"\xff\xe9\x00\x00",  # MPEG sync with a reserved version: not audio
        b"\x00\x00\x00\x18ftypisom",  # a video, not a recording
        b"",
    ],
)
def test_anything_else_is_refused(data: bytes) -> None:
    assert a.sniff(data) is None


def test_a_zip_that_is_not_a_word_document_is_refused() -> None:
    assert a.sniff(_zip("payload.exe")) is None
    assert a.sniff(b"PK\x03\x04broken") is None


def test_the_type_comes_from_the_bytes_whatever_the_name() -> None:
    assert a.clean_name("evil.html", a.JPEG) == "evil.html.jpg"
    assert a.clean_name("照片.JPG", a.JPEG) == "照片.JPG"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("..\\..\\windows\\system32\\a.pdf", "a.pdf"),
        ("/abs/path/书面承诺.pdf", "书面承诺.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("a\x00b\r\nc.pdf", "abc.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe.pdf"),  # right-to-left override dropped
        ('we<i>rd:"na|me?*.pdf', "weirdname.pdf"),
        ("", "附件.pdf"),
        (None, "附件.pdf"),
        ("../", "附件.pdf"),
    ],
)
def test_names_lose_directories_and_dangerous_characters(given: str | None, kept: str) -> None:
    assert a.clean_name(given, a.PDF) == kept


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = a.clean_name("长" * 500 + ".pdf", a.PDF)
    assert len(name) == a.MAX_NAME_CHARS and name.endswith(".pdf")
    name = a.clean_name("x" * 500, a.PDF)
    assert len(name) <= a.MAX_NAME_CHARS and name.endswith(".pdf")


def test_an_id_is_exactly_the_bytes_sha256_in_lower_hex() -> None:
    aid = a.attachment_id(b"abc")
    assert aid == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert a.is_attachment_id(aid)
    for bad in (aid.upper(), aid[:-1], aid + "0", "../" + aid[3:], aid[:-1] + "\n", ""):
        assert not a.is_attachment_id(bad)
