"""Phone and ID numbers typed into free text, masked before the text leaves intake.

Pure (no I/O). A petitioner's structured contact is encrypted and never travels; but people
type numbers into titles and descriptions ("请联系我 13812345678"), and those texts go out
in events, webhooks, timelines and answers. :func:`mask_numbers` masks what looks like

- a mainland mobile number, ``1[3-9]`` and nine more digits, optionally ``+86``/``86``
  before it and a space or hyphen after the third and seventh digit → ``138****5678``;
- a landline with its area code, ``0`` and two or three digits, then seven or eight
  (``010-12345678``, ``0571 87654321``, ``(021)12345678``) → ``0571-****4321``;
- an ID number: 18 digits (the last may be ``X``) or 15 → ``110***********123X``.

A number counts only whole: a digit right before or after it means it is part of a longer
number, which is left alone. Dates (``2024-05-01``, ``20240501``), times, amounts and
building or room numbers (``3号楼``, ``1201室``) match none of these shapes. Full-width
digits (``１３８…``) count as digits. Not masked: a landline without its area code (eight
digits are as often an amount or a date), and numbers spelt out in Chinese characters.
"""

from __future__ import annotations

import re

_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"  # 010 and 02x are the three-digit area codes
_ID18 = r"(?P<id18>[0-9]{17}[0-9Xx])"
_ID15 = r"(?P<id15>[0-9]{15})"
_MOBILE = r"(?:\+?86[- ]?)?(?P<mobile>1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4})"
_LANDLINE = rf"(?:[(（](?P<area1>{_AREA})[)）]|(?P<area2>{_AREA})[- ]?)(?P<local>[0-9]{{7,8}})"
_NUMBERS = re.compile(rf"(?<![0-9])(?:{_ID18}|{_ID15}|{_MOBILE}|{_LANDLINE})(?![0-9Xx])")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _masked(m: re.Match[str]) -> str:
    if ident := m["id18"] or m["id15"]:
        return f"{ident[:3]}{'*' * (len(ident) - 7)}{ident[-4:]}"
    if m["mobile"]:
        digits = re.sub(r"[^0-9]", "", m["mobile"])
        return f"{digits[:3]}****{digits[-4:]}"
    local = m["local"]
    return f"{m['area1'] or m['area2']}-{'*' * (len(local) - 4)}{local[-4:]}"


def mask_numbers(text: str) -> str:
    """``text`` with every phone and ID number in it masked (see the module's docstring).

    Matched on a copy with full-width digits made ASCII (same length, so positions agree);
    the text around a number is left exactly as it was."""
    plain = text.translate(_FULL_WIDTH)
    out, last = [], 0
    for m in _NUMBERS.finditer(plain):
        out += [text[last : m.start()], _masked(m)]
        last = m.end()
    return "".join(out) + text[last:] if out else text


def mask_optional(text: str | None) -> str | None:
    return None if text is None else mask_numbers(text)
