"""An idle poller backs off and a wake brings it back at once (shared.polling.IdlePoll)."""

from __future__ import annotations

import asyncio

import pytest

from shared.polling import IdlePoll


async def test_empty_passes_double_the_wait_up_to_the_ceiling() -> None:
    poll = IdlePoll(0.01, 0.05)
    waits = []
    for _ in range(5):
        waits.append(poll.next_wait)
        poll.begin()
        await poll.wait(found=False)
    assert waits == [0.01, 0.02, 0.04, 0.05, 0.05]


async def test_a_pass_that_finds_work_is_followed_by_the_floor() -> None:
    poll = IdlePoll(0.01, 0.05)
    for _ in range(2):
        poll.begin()
        await poll.wait(found=False)
    assert poll.next_wait == 0.04
    poll.begin()
    await poll.wait(found=True)
    assert poll.next_wait == 0.01


async def test_a_wake_during_the_wait_ends_it_and_resets_the_wait() -> None:
    poll = IdlePoll(30.0, 60.0)  # a wait that would outlast the test
    poll.begin()
    waiting = asyncio.create_task(poll.wait(found=False))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    poll.wake()
    await asyncio.wait_for(waiting, timeout=5)
    assert poll.next_wait == 30.0


async def test_a_wake_during_the_pass_is_not_lost() -> None:
    """Work committed after the pass read (and its wake) must not wait out the backoff."""
    poll = IdlePoll(30.0, 60.0)
    poll.begin()
    poll.wake()  # while the pass was reading
    await asyncio.wait_for(poll.wait(found=False), timeout=5)


async def test_a_wake_before_begin_is_for_the_pass_that_begins() -> None:
    poll = IdlePoll(30.0, 60.0)
    poll.wake()
    poll.begin()  # the pass about to read sees that work: no reason to skip the wait after
    waiting = asyncio.create_task(poll.wait(found=False))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_floor_must_be_positive() -> None:
    with pytest.raises(ValueError, match="floor"):
        IdlePoll(0, 1)
