"""The per-key token bucket: one token a request, one per case of a batch."""

from __future__ import annotations

import pytest

from shared.auth import dependency
from shared.auth.dependency import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    monkeypatch.setattr(dependency.time, "monotonic", c.monotonic)
    return c


def test_a_burst_goes_through_then_the_key_waits_for_its_rate(clock: _Clock) -> None:
    limiter = RateLimiter(per_second=10, burst=3)
    assert [limiter.retry_after("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("k") == pytest.approx(0.1)
    clock.t += 0.1
    assert limiter.retry_after("k") == 0.0
    assert limiter.retry_after("other") == 0.0  # buckets are per key


def test_a_batch_costs_one_token_per_case(clock: _Clock) -> None:
    limiter = RateLimiter(per_second=100, burst=300)
    assert limiter.retry_after("k", cost=250) == 0.0
    assert limiter.retry_after("k", cost=100) == pytest.approx(0.5)  # 50 left, 50 short
    clock.t += 0.5
    assert limiter.retry_after("k", cost=100) == 0.0


def test_a_batch_larger_than_the_burst_goes_once_the_bucket_is_full_and_pays_every_case(
    clock: _Clock,
) -> None:
    limiter = RateLimiter(per_second=100, burst=300)
    assert limiter.retry_after("k") == 0.0  # the request's own token (the dependency)
    # the route then takes the other 499, needing no more than the rest of a full bucket
    assert limiter.retry_after("k", cost=499, need=299) == 0.0
    assert limiter.retry_after("k") == pytest.approx(2.01)  # 200 in debt, then 1 more
    clock.t += 2.0
    assert limiter.retry_after("k") > 0  # still paying for the batch
    clock.t += 0.02
    assert limiter.retry_after("k") == 0.0


def test_a_batch_is_refused_while_the_bucket_is_short_and_nothing_is_taken(
    clock: _Clock,
) -> None:
    limiter = RateLimiter(per_second=100, burst=300)
    assert limiter.retry_after("k", cost=200) == 0.0  # 100 left
    assert limiter.retry_after("k", cost=500) == pytest.approx(2.0)  # needs a full bucket
    assert limiter.retry_after("k", cost=100) == 0.0  # the refusal took nothing
