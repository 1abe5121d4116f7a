"""key-person lifecycle, plans, visits, conversions; persons of many numbers

The registry gets a state (active | left), who entered a person, a review due date, and
why they left; every change is a row of ``key_person_events``. 一人一策 plans (every
version), visits and conversions (矛盾转化) have their own tables. ``person_links`` joins
identity refs (phone, ID number, name + address) into one person (一人多号). Existing
registry rows stay active, entered by rule, due for review 90 days after their entry.

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0008"
down_revision: str | None = "intake_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "intake"
TZ = sa.DateTime(timezone=True)


def _json() -> postgresql.JSONB:
    return postgresql.JSONB(none_as_null=True, astext_type=sa.Text())


def upgrade() -> None:
    _registry()
    _events()
    _plans_visits_conversions()
    op.create_table(
        "person_links",
        sa.Column("ref", sa.Text(), primary_key=True),
        sa.Column("person_ref", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("linked_at", TZ, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        schema=S,
    )
    op.create_index(
        op.f("ix_intake_person_links_person_ref"), "person_links", ["person_ref"], schema=S
    )


def _registry() -> None:
    add = [
        sa.Column("state", sa.Text(), nullable=False, server_default="active"),
        sa.Column("entered_by", sa.Text(), nullable=False, server_default="rule"),
        sa.Column("review_due", sa.Date()),
        sa.Column("left_at", TZ),
        sa.Column("left_reason", sa.Text()),
    ]
    for column in add:
        op.add_column("key_persons", column, schema=S)
    op.execute(
        "UPDATE intake.key_persons SET review_due ="
        " ((entered_at AT TIME ZONE 'Asia/Shanghai')::date + 90)"
    )
    op.create_index(
        "ix_intake_key_persons_review", "key_persons", ["state", "review_due"], schema=S
    )


def _events() -> None:
    op.create_table(
        "key_person_events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("petitioner_ref", sa.Text(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("detail", _json()),
        sa.Column("dedupe", sa.Text()),
        sa.UniqueConstraint("petitioner_ref", "dedupe", name="uq_intake_key_person_event_dedupe"),
        schema=S,
    )
    op.create_index(
        "ix_intake_key_person_events_person",
        "key_person_events",
        ["petitioner_ref", "seq"],
        schema=S,
    )
    op.execute(
        "INSERT INTO intake.key_person_events (petitioner_ref, at, actor, action, reason)"
        " SELECT petitioner_ref, entered_at, 'rule', 'entered', reason FROM intake.key_persons"
    )


def _plans_visits_conversions() -> None:
    op.create_table(
        "key_person_plans",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("petitioner_ref", sa.Text(), nullable=False),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("measures", _json(), nullable=False),
        sa.Column("cadre", sa.Text(), nullable=False),
        sa.Column("grid_worker", sa.Text(), nullable=False),
        sa.Column("volunteer", sa.Text(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("made_by", sa.Text(), nullable=False),
        sa.Column("made_at", TZ, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_intake_key_person_plans_person", "key_person_plans", ["petitioner_ref", "seq"],
        schema=S,
    )  # fmt: skip
    op.create_table(
        "key_person_visits",
        sa.Column("visit_id", sa.Uuid(), primary_key=True),
        sa.Column("petitioner_ref", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("visited_at", TZ, nullable=False),
        sa.Column("visitors", _json(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Uuid()),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.UniqueConstraint(
            "petitioner_ref", "kind", "visited_at", name="uq_intake_key_person_visit"
        ),
        schema=S,
    )
    op.create_table(
        "key_person_conversions",
        sa.Column("petitioner_ref", sa.Text(), primary_key=True),
        sa.Column("role", sa.Text(), primary_key=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "person_links", "key_person_conversions", "key_person_visits", "key_person_plans",
        "key_person_events",
    ):  # fmt: skip
        op.drop_table(table, schema=S)
    op.drop_index("ix_intake_key_persons_review", "key_persons", schema=S)
    for column in ("left_reason", "left_at", "review_due", "entered_by", "state"):
        op.drop_column("key_persons", column, schema=S)
