"""End-to-end fixtures: the four services as processes on a fresh stack, and keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.auth.keys import Role, create_key
from shared.db.engine import make_engine
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).parents[1] / "data" / "triage_sample.csv"
ATTACHMENT_MAX_BYTES = 1024 * 1024  # smaller than the default, so a too-large upload is quick


@pytest.fixture(scope="session")
async def services(
    stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    models = train_sample_model(tmp_path_factory.mktemp("triage-models"))
    procs = ServiceProcs(
        stack=stack,
        log_dir=Path(tmp_path_factory.mktemp("service-logs")),
        # Short webhook back-off so retry tests take seconds, not minutes.
        env_extra={
            "SHAOBAO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
            # No quiet hours for messages to people, so results do not depend on the hour.
            "SHAOBAO_NOTIFIER_QUIET_START": "00:00",
            "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
            # Attachments in a folder of this session (tests/e2e/test_attachments.py).
            "SHAOBAO_ATTACHMENTS_DIR": str(tmp_path_factory.mktemp("attachments")),
            "SHAOBAO_ATTACHMENT_MAX_BYTES": str(ATTACHMENT_MAX_BYTES),
            # A triage model trained on the labelled sample (tests/e2e/test_triage.py);
            # a newer file in the folder is taken within half a second.
            "SHAOBAO_TRIAGE_MODELS_DIR": str(models),
            "SHAOBAO_TRIAGE_RELOAD_SECONDS": "0.5",
        },
    )
    await procs.start_all()
    yield procs
    procs.stop_all()


def train_sample_model(directory: Path) -> Path:
    """A model trained on tests/data/triage_sample.csv, saved in ``directory``."""
    from shared.triage.model import Model
    from shared.triage.tables import load_labelled

    data = load_labelled(SAMPLE, None, None)
    Model.train(data.texts, data.labels, seed=42).save(directory)
    return directory


class Keys:
    def __init__(self, stack: StackUnderTest) -> None:
        self.settings = stack.settings()

    async def make(
        self, role: Role, *, channel: str | None = None, owner: str | None = None
    ) -> dict[str, str]:
        engine = make_engine(self.settings, pool_size=1)
        try:
            async with engine.begin() as conn:
                key = await create_key(
                    conn,
                    pepper=self.settings.key_pepper.get_secret_value(),
                    role=role,
                    channel=channel,
                    owner_id=owner,
                )
        finally:
            await engine.dispose()
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def keys(stack: StackUnderTest) -> Keys:
    return Keys(stack)
