"""The broker connection of every process: robust, and knowing every node of a cluster.

aio-pika's robust connection reconnects, restores its channels, exchanges, queues and
consumers, but only ever to its one URL (aio-pika issue #141 asks for more). When that
node dies, a cluster needs the next one. :class:`ClusterConnection` is the robust
connection with one change: each connection attempt after the first uses the next URL of
the list, round and round, so a lost node (killed, paused, cut off) is left for a live
one, and a node that is down at start is skipped. Consumers are restored on the node the
connection lands on (quorum queues are served from any node of the cluster), and
publisher confirms that were pending on the lost node fail, so the outbox relay sends
those events again (consumers are idempotent).

A node that stops answering without closing its sockets (SIGSTOP, a network cut) is
noticed by AMQP heartbeats: aiormq gives up on a connection silent for about three
heartbeat intervals plus three seconds (``(heartbeat + 1) * 3``: 18 s at the default 5;
it logs "connection ... was stuck"), aborts its socket, and the robust connection moves
on like after a kill. A connection attempt to such a node is bounded by ``timeout``.
aiormq fails the confirms that were pending on it with a bare ``CancelledError``;
publishers go through :func:`shared.messaging.confirm.publish_confirmed`, which makes
that (and a confirm that never comes) an ordinary error to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection
from aiormq.exceptions import AMQPError
from yarl import URL

# The method aio-pika's reconnect loop calls for every attempt (name-mangled: it is
# private, so tests/unit/test_broker_connection.py fails loudly if an upgrade renames it).
ATTEMPT_HOOK = "_RobustConnection__connect_transport"


class ClusterConnection(RobustConnection):
    """A robust connection over several broker URLs (one per node), tried in turn."""

    def __init__(self, urls: Sequence[str], *, heartbeat: int, **kwargs: Any) -> None:
        if not urls:
            raise ValueError("no broker URL")
        self.urls = tuple(_with_heartbeat(URL(u), heartbeat) for u in urls)
        self._attempts = 0
        super().__init__(self.urls[0], **kwargs)

    def use_next_url(self) -> URL:
        """The URL of the next attempt: the first one first, then each next in turn."""
        self.url = self.urls[self._attempts % len(self.urls)]
        self._attempts += 1
        return self.url

    async def _RobustConnection__connect_transport(self) -> None:
        self.use_next_url()
        await getattr(RobustConnection, ATTEMPT_HOOK)(self)


def _with_heartbeat(url: URL, heartbeat: int) -> URL:
    """``url`` asking for ``heartbeat`` unless it names one itself."""
    return url if "heartbeat" in url.query else url.update_query(heartbeat=heartbeat)


async def connect_cluster(
    urls: Sequence[str],
    *,
    name: str,
    heartbeat: int,
    reconnect_interval: float,
    timeout: float,
) -> ClusterConnection:
    """Connect to the first node that answers; keep reconnecting (to any node) after.

    Returns once connected. ``fail_fast`` is off: the first connection is retried across
    the nodes like every later one, instead of failing on the first node's absence.
    """
    conn = ClusterConnection(
        urls,
        heartbeat=heartbeat,
        client_properties={"connection_name": name},
        reconnect_interval=reconnect_interval,
        fail_fast=False,
    )
    await conn.connect(timeout=timeout)
    return conn


async def connect_any(urls: Sequence[str], *, timeout: float = 10) -> AbstractConnection:
    """A plain (not robust) connection to the first node that answers, for short jobs
    (the ``shaobao dlq`` commands); raises the last node's error when none does."""
    error: Exception = ValueError("no broker URL")
    for url in urls:
        try:
            return await aio_pika.connect(url, timeout=timeout)
        except (OSError, AMQPError) as exc:  # refused, timed out, closed while opening
            error = exc
    raise error
