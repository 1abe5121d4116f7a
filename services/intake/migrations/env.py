from services.intake import tables_prevention  # noqa: F401  (its tables join the metadata)
from services.intake.tables import metadata
from shared.db.alembic_env import run

run(metadata)
