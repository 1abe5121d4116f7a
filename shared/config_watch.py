"""Operator files (rules, owners, calendar) reloaded while a service runs.

A :class:`ConfigWatch` looks at its files every few seconds. When their bytes change it
loads the whole set again (off the event loop) and, only if every file is valid, hands the
new set to ``apply`` in one step, so no request or handler ever sees half of an edit. A set
with a mistake is refused: the error is logged with file, line and reason
(``config_refused``), ``shaobao_config_reloads_total{result="refused"}`` counts it and
``shaobao_config_refused`` stays 1 until a later edit is valid; the service keeps running
on its last good set. A refused set is not retried until the files change again.

Start-up is different on purpose: there is no last good set, so a bad file stops the
process (``RuleSet.load`` and friends raise) and the orchestrator shows why.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

import structlog
from prometheus_client import Counter, Gauge

from shared.domain.errors import ConfigError

T = TypeVar("T")

RELOADS = Counter(
    "shaobao_config_reloads_total",
    "Changed operator files (rules, owners, calendar) taken or refused while running",
    ["config", "result"],
)
REFUSED = Gauge(
    "shaobao_config_refused",
    "1 while the files on disk are refused and the last good configuration is in force",
    ["config"],
)
log = structlog.get_logger(__name__)


def fingerprint(paths: Iterable[Path]) -> str:
    """A hash of the files' names and bytes (a directory: its ``*.yaml`` files)."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f).encode() + b"\0")
            try:
                digest.update(f.read_bytes())
            except OSError:
                digest.update(b"<missing>")
    return digest.hexdigest()


class ConfigWatch(Generic[T]):
    """Reload ``load()`` into ``apply`` when ``paths`` change; keep the last good on error."""

    def __init__(
        self,
        name: str,
        *,
        paths: list[Path],
        load: Callable[[], T],
        apply: Callable[[T], None],
        describe: Callable[[T], dict[str, str]],
        interval: float = 2.0,
        seen: str | None = None,
    ) -> None:
        """``seen``: the fingerprint of the set in force (taken before it was loaded)."""
        self.name = name
        self.paths = paths
        self._load = load
        self._apply = apply
        self._describe = describe
        self.interval = interval
        self._seen = seen if seen is not None else fingerprint(paths)
        REFUSED.labels(name).set(0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

    async def check(self) -> bool | None:
        """None: nothing changed; True: the new set is in force; False: it was refused."""
        seen = await asyncio.to_thread(fingerprint, self.paths)
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            loaded = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            self._refuse(exc.problem, file=exc.file, line=exc.line, entry=exc.entry,
                         field=exc.field, error=str(exc))  # fmt: skip
            return False
        except Exception as exc:  # an unreadable file, or a loader bug: still keep running
            self._refuse(repr(exc), error=repr(exc))
            return False
        self._apply(loaded)
        RELOADS.labels(self.name, "ok").inc()
        REFUSED.labels(self.name).set(0)
        log.info("config_reloaded", config=self.name, **self._describe(loaded))
        return True

    def _refuse(self, reason: str, **where: object) -> None:
        RELOADS.labels(self.name, "refused").inc()
        REFUSED.labels(self.name).set(1)
        log.error(
            "config_refused",
            config=self.name,
            reason=reason,
            keeping="last good configuration (上次有效配置继续生效)",
            **where,
        )
