"""Prevention work's tables in intake's schema (issue 23, part B): grid workers and their
daily patrols (每日一巡查), the risk register (矛盾隐患记录表), quarterly campaigns (专项排查)
and the return visits to explained closures (回头看).

Every row that lies somewhere keeps the full path of its place (``path``: a grid's
``d01.s01.c01.g01``), so an area's rows are ``path = area OR path LIKE area || '.%'``.
"""

from sqlalchemy import Column, Date, Index, Integer, Table, Text, UniqueConstraint, func

from services.intake.tables import metadata
from shared.db.types import JSON, TZ, UUIDT

grid_workers = Table(
    "grid_workers",
    metadata,
    Column("worker_id", Text, primary_key=True),  # the office's own staff number
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),  # the grid they are responsible for
    Column("updated_by", Text, nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
    Index("ix_intake_grid_workers_path", "path"),
)

patrols = Table(
    "patrols",
    metadata,
    Column("patrol_id", UUIDT, primary_key=True),
    Column("worker_id", Text, nullable=False),
    Column("path", Text, nullable=False),  # the grid patrolled
    Column("day", Date, nullable=False),  # Shanghai day
    Column("households_visited", Integer, nullable=False),
    Column("minutes", Integer),
    Column("campaign_id", Text),
    Column("findings", JSON, nullable=False),  # [{text, category?}]
    Column("mediations", JSON, nullable=False),  # [{outcome, case_id?}]
    Column("fingerprint", Text, nullable=False),  # sha256 of the body: a replay or a conflict
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", TZ, nullable=False),
    UniqueConstraint("worker_id", "path", "day", name="uq_intake_patrol_day"),
    Index("ix_intake_patrols_path_day", "path", "day"),
)

risks = Table(
    "risks",
    metadata,
    Column("risk_id", UUIDT, primary_key=True),
    Column("path", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("address", Text),
    Column("category", Text),
    Column("description", Text, nullable=False),
    Column("seen_by", Text, nullable=False),  # grid worker id
    Column("seen_on", Date, nullable=False),
    Column("follow_up_on", Date, nullable=False),
    Column("campaign_id", Text),
    Column("patrol_id", UUIDT),
    Column("state", Text, nullable=False),  # open | resolved | case
    Column("outcome", Text),
    Column("case_id", UUIDT),
    Column("created_by", Text, nullable=False),
    Column("idempotency_key", Text),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("closed_at", TZ),
    UniqueConstraint("created_by", "idempotency_key", name="uq_intake_risk_idempotency"),
    Index("ix_intake_risks_path", "path", "seen_on"),
    Index("ix_intake_risks_due", "state", "follow_up_on"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", Text, primary_key=True),  # chosen by the office: 2026q4-heating
    Column("theme", Text, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),  # inclusive
    Column("areas", JSON, nullable=False),  # [{path, households}]
    Column("updated_by", Text, nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

revisits = Table(
    "revisits",
    metadata,
    Column("case_id", UUIDT, primary_key=True),  # the explained closure visited again
    Column("outcome", Text, nullable=False),  # settled | alive
    Column("method", Text, nullable=False),  # phone | visit
    Column("note", Text, nullable=False),
    Column("rebound_case_id", UUIDT),  # the new case an ``alive`` visit opened
    Column("fingerprint", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", TZ, nullable=False),
)
