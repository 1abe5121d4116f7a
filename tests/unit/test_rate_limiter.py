"""The per-key token bucket: one token a request, one per case of a batch."""

from __future__ import annotations

import pytest
from starlette.requests import Request

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


def test_waiting_says_how_long_without_taking_a_token(clock: _Clock) -> None:
    limiter = RateLimiter(per_second=1, burst=1)
    assert limiter.waiting("a") == 0.0
    assert limiter.waiting("a") == 0.0  # nothing taken
    assert limiter.retry_after("a") == 0.0
    assert limiter.waiting("a") == pytest.approx(1.0)


def test_the_limiter_forgets_full_buckets_first_to_stay_within_its_bound(clock: _Clock) -> None:
    limiter = RateLimiter(per_second=1, burst=2, max_keys=3)
    for who in ("a", "b", "c"):
        limiter.retry_after(who)
    clock.t += 5  # a, b and c are full again: the same as never seen
    limiter.retry_after("d")
    assert len(limiter._buckets) == 1
    for who in ("e", "f", "g"):  # all in use: the bound wins, it starts over
        limiter.retry_after(who)
    assert len(limiter._buckets) <= 3


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # one host holds a whole /64
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("testclient", "testclient"),
    ],
)
def test_a_client_is_counted_by_its_address_and_ipv6_by_its_64(host: str, counted_as: str) -> None:
    request = Request({"type": "http", "client": (host, 5000), "headers": []})
    assert dependency.client_address(request) == counted_as
