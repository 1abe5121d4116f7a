"""The broker connection tries each node in turn (shared/messaging/connection.py)."""

from __future__ import annotations

import pytest
from aio_pika import RobustConnection

from shared.messaging.connection import ATTEMPT_HOOK, ClusterConnection

URLS = [f"amqp://u:p@127.0.0.1:{port}/v" for port in (27601, 27602, 27603)]


def test_aio_pika_still_calls_the_hook_every_attempt_goes_through() -> None:
    """The rotation overrides a private method of aio-pika's robust connection; an upgrade
    that renames it must fail here, not silently stay on one node."""
    assert callable(getattr(RobustConnection, ATTEMPT_HOOK, None))
    assert ATTEMPT_HOOK in ClusterConnection.__dict__


async def test_each_attempt_after_the_first_takes_the_next_node_round_and_round() -> None:
    conn = ClusterConnection(URLS, heartbeat=5)
    ports = [conn.use_next_url().port for _ in range(5)]
    assert ports == [27601, 27602, 27603, 27601, 27602]


async def test_every_node_is_asked_for_the_heartbeat_unless_its_url_names_one() -> None:
    conn = ClusterConnection([URLS[0], URLS[1] + "?heartbeat=30"], heartbeat=5)
    assert [u.query["heartbeat"] for u in conn.urls] == ["5", "30"]


async def test_no_node_is_refused() -> None:
    with pytest.raises(ValueError, match="no broker URL"):
        ClusterConnection([], heartbeat=5)
