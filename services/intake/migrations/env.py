from services.intake.tables import metadata
from shared.db.alembic_env import run

run(metadata)
