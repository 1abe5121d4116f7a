"""An Open311 GeoReport v2 ``POST requests`` form, read and turned into intake's
:class:`~services.intake.schemas.CaseCreate` (so it takes the path every submission takes).

Checked here, each refusal a 400 with a Chinese-first reason: the form's encoding, one
value per field, no unknown field (a typo such as ``lng`` is refused, not lost), the
spec's limits (description ≤ 4,000 characters), a place (``address_string`` or
``lat`` and ``long``), ``lat``/``long`` as numbers in range, a known ``service_code`` and a
``media_url`` that is an http(s) URL of at most 2,048 characters.

``media_url`` is kept as a link only, never fetched by any part of Shaobao (fetching a URL a
client names is server-side request forgery): it is appended to the description after
:data:`MEDIA_MARK`, where the departments see it, and read back from there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from services.intake.schemas import CaseCreate, PetitionerIn, PointIn

MEDIA_MARK = "\n\n附件链接 (media_url，未经系统打开): "
DESCRIPTION_MAX = 4000  # GeoReport v2: "may be limited to 4000 characters"
CASE_TEXT_MAX = 5000  # CaseCreate.description
MEDIA_URL_MAX = 2048
TITLE_MAX = 40
FIELDS = frozenset({
    "api_key", "service_code", "description", "address_string", "lat", "long", "media_url",
    "first_name", "last_name", "phone", "email", "device_id", "account_id",
})  # fmt: skip
IGNORED = frozenset({"jurisdiction_id"})  # one jurisdiction: accepted and not needed
_SHORT = 64
_SPACE = re.compile(r"\s")


class FormError(ValueError):
    """A form that cannot become a case: ``status`` and a reason, Chinese first."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def parse_form(raw: bytes, *, max_fields: int = 50) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body, blank ones dropped."""
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields,
                          encoding="utf-8", errors="strict")  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(
            f"表单无法解析：须为 UTF-8 编码的 URL 编码表单 (malformed form: {exc})"
        ) from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormError(f"字段 {name[:40]} 出现多次 (field given more than once)")
        form[name] = value.strip()
    unknown = sorted(
        n for n in form if n not in FIELDS | IGNORED and not n.startswith("attribute[")
    )
    if unknown:
        raise FormError(f"不支持的字段：{', '.join(n[:40] for n in unknown[:5])} (unknown fields)")
    return {n: v for n, v in form.items() if v and n in FIELDS}


def to_case(form: Mapping[str, str], categories: Mapping[str, str]) -> CaseCreate:
    """The case the form asks for; category and place left to triage when not given."""
    description = _description(form)
    code = form.get("service_code")
    if code is not None and (code not in categories or code == "unclassified"):
        raise FormError(f"service_code 不存在：{code[:64]} (unknown service_code)")
    for name in ("device_id", "account_id"):
        if len(form.get(name, "")) > _SHORT:
            raise FormError(f"{name} 过长，最多 {_SHORT} 个字符 ({name} too long)")
    media = media_url(form.get("media_url"))
    text = description + (MEDIA_MARK + media if media else "")
    if len(text) > CASE_TEXT_MAX:
        raise FormError(
            f"description 与 media_url 合计超过 {CASE_TEXT_MAX} 个字符 (description and media_url too long)"
        )
    try:
        return CaseCreate(
            category=code,
            title=_title(description),
            description=text,
            address=form.get("address_string"),
            point=_point(form),
            petitioner=_petitioner(form),
        )
    except ValidationError as exc:
        raise FormError(_reason(exc)) from exc


def _description(form: Mapping[str, str]) -> str:
    description = form.get("description")
    if description is None:
        raise FormError("请填写 description（诉求内容）(description is required)")
    if len(description) > DESCRIPTION_MAX:
        raise FormError(
            f"description 最多 {DESCRIPTION_MAX} 个字符，收到 {len(description)} 个 (description too long)"
        )
    if "address_string" not in form and "lat" not in form and "long" not in form:
        raise FormError("请提供 address_string 或 lat 与 long（诉求地点）(a location is required)")
    return description


def _title(description: str) -> str:
    first = description.splitlines()[0].strip() or description.strip()
    return first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1] + "…"


def _point(form: Mapping[str, str]) -> PointIn | None:
    lat, lon = form.get("lat"), form.get("long")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise FormError("lat 与 long 须同时提供 (lat and long go together)")
    try:
        return PointIn(lat=float(lat), lon=float(lon))
    except ValueError as exc:  # a ValidationError is a ValueError too
        raise FormError(
            "lat 须在 -90 到 90 之间、long 须在 -180 到 180 之间的数字 (lat/long out of range)"
        ) from exc


def _petitioner(form: Mapping[str, str]) -> PetitionerIn | None:
    first, last = form.get("first_name", ""), form.get("last_name", "")
    # A Chinese name is written family name first, with no space.
    name = last + first if (last + first) and not (last + first).isascii() else f"{first} {last}"
    given = {"name": name.strip() or None, "phone": form.get("phone"), "email": form.get("email")}
    if not any(given.values()):
        return None
    try:
        return PetitionerIn(**given)
    except ValidationError as exc:
        raise FormError(_reason(exc)) from exc


def media_url(value: str | None) -> str | None:
    """``value`` if it is an absolute http(s) URL of at most 2,048 characters. Only its form
    is checked: it is never opened, so a private address is harmless text."""
    if value is None:
        return None
    if len(value) > MEDIA_URL_MAX:
        raise FormError(f"media_url 最多 {MEDIA_URL_MAX} 个字符 (media_url too long)")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise FormError("media_url 不是有效的网址 (media_url is not a URL)") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc or _SPACE.search(value):
        raise FormError("media_url 须为 http:// 或 https:// 网址 (media_url must be http(s))")
    return value


def split_media(description: str) -> tuple[str, str | None]:
    """A stored description and the media_url appended to it, if any (a link that no longer
    passes :func:`media_url` stays part of the text)."""
    text, mark, link = description.rpartition(MEDIA_MARK)
    if not mark:
        return description, None
    try:
        return text, media_url(link)
    except FormError:
        return description, None


_NAMES = {"name": "first_name/last_name", "title": "description", "address": "address_string",
          "petitioner.name": "first_name/last_name", "petitioner.phone": "phone",
          "petitioner.email": "email", "point.lat": "lat", "point.lon": "long"}  # fmt: skip


def _reason(exc: ValidationError) -> str:
    """The first error, named by the form's field (the case's field names differ)."""
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "form"
    field = _NAMES.get(field, field)
    return f"{field} 格式不正确 ({error['msg']})"
