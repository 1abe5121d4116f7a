from shared.db.alembic_env import run
from shared.db.platform import metadata

run(metadata)
