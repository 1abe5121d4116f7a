"""How a background poller (outbox relay, deadline scanner, delivery worker) waits.

Each pass that finds work is followed at once by the next (the caller loops) or, when it
found less than a full batch, by a wait of ``floor``. Each pass that finds nothing doubles
the wait, up to ``ceiling``; a wake (:meth:`IdlePoll.wake`: a commit that staged work, a
test clock that moved) ends the wait at once and starts again from the floor. An idle
service then makes about one pass a ``ceiling`` instead of one a ``floor``: the four
services' idle CPU was ≈ 20 % of a core, most of it empty polls (docs/benchmarks.md).

A wake that arrives during a pass is kept: :meth:`IdlePoll.begin` clears the wake before
the pass reads, so work committed after that read ends the next wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib


class IdlePoll:
    def __init__(self, floor: float, ceiling: float | None = None) -> None:
        """``ceiling`` None (or below the floor): the wait never grows past ``floor``."""
        if floor <= 0:
            raise ValueError("floor must be > 0")
        self.floor = floor
        self.ceiling = max(ceiling or floor, floor)
        self._next = floor
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """End the current (or next) wait now; the wait after it is the floor again."""
        self._wakeup.set()

    def begin(self) -> None:
        """Call before each pass reads: a wake from here on ends the wait after it."""
        self._wakeup.clear()

    @property
    def next_wait(self) -> float:
        return self._next

    async def wait(self, *, found: bool) -> None:
        """Wait after a pass; ``found``: it found work (the wait is the floor again)."""
        if found:
            self._next = self.floor
        delay = self._next
        if not self._wakeup.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
        woken = self._wakeup.is_set()
        self._next = self.floor if (found or woken) else min(self._next * 2, self.ceiling)
