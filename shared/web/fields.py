"""Field types for request contracts: text without control characters, and id shapes.

PostgreSQL cannot store NUL (``\\x00``) in ``TEXT`` or ``JSONB``: before these types, a
title, note or path id carrying one reached the database and answered 500 (found by
``tests/e2e/test_schemathesis.py``). Other C0 control characters (all but tab, newline
and carriage return) are nothing a person types, so free text refuses them too, with a
reason, as a 422. The pattern is in the OpenAPI document so clients can see the rule.

A lone surrogate (``"\\udfff"`` as a JSON escape) is no character at all: it cannot be
encoded as UTF-8, so before this check it reached the PII vault or the database driver
and answered 500. Text refuses it too (422); it is not in the OpenAPI pattern, since no
generator produces one and JSON Schema engines disagree about surrogate ranges.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

CONTROL_FREE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# Shapes of the ids that appear in paths and queries (owner ids as in config/owners.yaml).
OWNER_ID = r"^[a-z0-9][a-z0-9-]*$"
PETITIONER_REF = r"^p_[0-9a-f]{32}$"
WORD = r"^[a-z][a-z0-9_]*$"
CATEGORY = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("不能包含控制字符（如 \\x00）(control characters are not allowed)")
    if _SURROGATE.search(value):
        raise ValueError(
            "不能包含无效的 Unicode 代理字符（如 \\udfff）(lone surrogates are not allowed)"
        )
    return value


Text = Annotated[
    str, AfterValidator(_no_control), Field(json_schema_extra={"pattern": CONTROL_FREE})
]
"""Free text a person wrote: tab, newline and carriage return allowed, other controls not."""

# An attachment named in a request: the SHA-256 of its bytes (shared.domain.attachments).
AttachmentRef = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{64}$", description="附件编号：文件内容的 SHA-256（小写十六进制）"),
]
