"""Personal data: encrypted at rest, pseudonymised in events and logs, masked for departments."""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.fernet import Fernet, MultiFernet


class PiiVault:
    """Encrypts name, phone and ID number with a key from settings (Fernet, AES-128-CBC+HMAC).

    ``key`` may list several Fernet keys, comma-separated, newest first (rotation): the
    first encrypts everything written from then on, every one of them decrypts."""

    def __init__(self, key: str) -> None:
        keys = [Fernet(k.strip().encode()) for k in key.split(",") if k.strip()]
        self._fernet = MultiFernet(keys)

    def seal(self, value: str | None) -> bytes | None:
        return None if value is None else self._fernet.encrypt(value.encode())

    def open(self, token: bytes | None) -> str | None:
        return None if token is None else self._fernet.decrypt(token).decode()


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def petitioner_ref(key: str, *, phone: str | None, id_number: str | None) -> str | None:
    """A keyed hash naming a petitioner without revealing them; phone first, then ID number."""
    basis = (
        f"phone:{normalise_phone(phone)}"
        if phone
        else f"id:{normalise_id_number(id_number)}"
        if id_number
        else None
    )
    if basis is None:
        return None
    digest = hmac.new(key.encode(), basis.encode(), hashlib.sha256).hexdigest()
    return f"p_{digest[:32]}"


def identity_refs(
    key: str,
    *,
    phone: str | None,
    id_number: str | None,
    name: str | None = None,
    address: str | None = None,
) -> list[tuple[str, str]]:
    """Every identity a submission gives, as (kind, keyed ref): the phone's, the ID
    number's, and name + address together (一人多号: they link numbers into one person).
    The first is the petitioner's own ref (:func:`petitioner_ref`); none without a phone
    or an ID number (an anonymous submission links nothing)."""
    found = [
        ("phone", petitioner_ref(key, phone=phone, id_number=None)) if phone else None,
        ("id_number", petitioner_ref(key, phone=None, id_number=id_number)) if id_number else None,
    ]
    out = [(kind, ref) for kind, ref in filter(None, found) if ref]
    said = "".join((address or "").split())
    if out and name and said:
        basis = f"name_address:{''.join(name.split())}|{said}"
        digest = hmac.new(key.encode(), basis.encode(), hashlib.sha256).hexdigest()
        out.append(("name_address", f"p_{digest[:32]}"))
    return out


def mask_phone(phone: str | None) -> str | None:
    """138****1234: what a department sees on its own dispatches."""
    if not phone:
        return None
    digits = normalise_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
