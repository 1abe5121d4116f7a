"""The attachment rows a service keeps in its own schema (one function, two schemas).

``attachment_uploads`` says who uploaded which bytes under which name: the uploader (the
key's actor, e.g. ``department:d01.s01.housing``) reads its own uploads before they are
linked to a case, and links only its own uploads. The bytes are in the store
(``shared.attachments.store``), never in a row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, Table, Text

from shared.db.types import TZ, UUIDT


def uploads_table(metadata: MetaData) -> Table:
    return Table(
        "attachment_uploads",
        metadata,
        Column("attachment_id", Text, primary_key=True),  # sha256 hex of the bytes
        Column("uploaded_by", Text, primary_key=True),  # the key's actor
        Column("uploader_key", UUIDT, nullable=False),
        Column("filename", Text, nullable=False),  # cleaned (shared.domain.attachments)
        Column("content_type", Text, nullable=False),  # sniffed from the bytes
        Column("size", BigInteger, nullable=False),
        Column("uploaded_at", TZ, nullable=False),
    )
