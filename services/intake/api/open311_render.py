"""Open311 answers as JSON or XML, and errors as the spec's error list.

XML is written with :mod:`xml.etree.ElementTree` (writing only: no XML is ever parsed
here), with the spec's element names: a list of ``item`` elements under ``root``, nested
lists by their singular names (``endpoints``/``endpoint``, ``formats``/``format``). Text
that XML 1.0 cannot carry is dropped rather than written as a broken document.

Every refusal on an Open311 route — a refused key, a bad form, an unknown request, a
failed FastAPI check, a 429 or 503 from intake's own path — answers
``[{"code": <status>, "description": "..."}]`` (or ``<errors><error>…``) with that HTTP
status and its headers (``Retry-After``, ``WWW-Authenticate``), and so does a database or
broker that is away (503 with ``Retry-After``, as on every route): :class:`Open311Route`.
A body over intake's size limit is refused (413) before any route sees it, in the house's
JSON shape ``{"detail": ...}``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from shared.domain.errors import NotFound
from shared.outages import dependency_unavailable
from shared.web.app import RETRY_AFTER_SECONDS

FORMATS = ("json", "xml")
XML_TYPE = "text/xml; charset=utf-8"
_PLURALS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute",
            "values": "value"}  # fmt: skip
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(Exception):
    """A refusal on an Open311 route: HTTP ``status`` and a reason, Chinese first."""

    def __init__(self, status: int, description: str, headers: Mapping[str, str] | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, dict(headers or {})


def render(fmt: str, root: str, item: str, rows: Sequence[Mapping[str, Any]],
           status: int = 200, headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
    """A list of ``rows`` (a JSON array, or ``<root><item>…</item></root>``)."""
    if fmt == "xml":
        top = ET.Element(root)
        for row in rows:
            _fill(ET.SubElement(top, item), row)
        return _xml(top, status, headers)
    return JSONResponse(list(rows), status_code=status, headers=headers)


def render_one(fmt: str, root: str, row: Mapping[str, Any]) -> Response:
    """One object (a JSON object, or ``<root>…</root>``): discovery, a service definition."""
    if fmt == "xml":
        top = ET.Element(root)
        _fill(top, row)
        return _xml(top, 200, None)
    return JSONResponse(dict(row))


def error(fmt: str, status: int, description: str, headers: Mapping[str, str] | None = None
          ) -> Response:  # fmt: skip
    return render(fmt, "errors", "error", [{"code": status, "description": description}],
                  status=status, headers=headers)  # fmt: skip


def _fill(element: ET.Element, row: Mapping[str, Any]) -> None:
    for name, value in row.items():
        child = ET.SubElement(element, name)
        if isinstance(value, list):
            for entry in value:
                inner = ET.SubElement(child, _PLURALS.get(name, "item"))
                if isinstance(entry, Mapping):
                    _fill(inner, entry)
                else:
                    inner.text = _text(entry)
        elif isinstance(value, Mapping):
            _fill(child, value)
        else:
            child.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _xml(top: ET.Element, status: int, headers: Mapping[str, str] | None) -> Response:
    body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return Response(body, status_code=status, media_type=XML_TYPE, headers=headers)


def format_of(request: Request) -> str:
    """The format an answer (an error too) is written in: the path's suffix, else JSON."""
    return "xml" if request.url.path.endswith(".xml") else "json"


class Open311Route(APIRoute):
    """Routes whose every refusal is an Open311 error list (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = format_of(request)
            try:
                return await handler(request)
            except Open311Error as exc:
                return error(fmt, exc.status, exc.description, exc.headers)
            except NotFound as exc:
                return error(fmt, 404, str(exc))
            except HTTPException as exc:
                return error(fmt, exc.status_code, str(exc.detail), exc.headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": ""}
                where = ".".join(str(p) for p in first["loc"][1:])
                return error(fmt, 400, f"请求参数无效：{where} ({first['msg']})")
            except Exception as exc:
                if (part := dependency_unavailable(exc)) is None:
                    raise  # a bug: a 500 with its traceback
                return error(fmt, 503, f"服务暂时不可用，请稍后再试 ({part} unavailable)",
                             {"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip

        return route
