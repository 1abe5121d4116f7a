"""``--since 90d``: how far back a command looks (``rules simulate``, ``triage train``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from shared.domain.durations import Duration

MAX_SINCE = timedelta(days=36_500)


def parse_since(value: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``: how far back cases are looked at (no working days)."""
    try:
        span = Duration.parse(value).as_timedelta()
    except ValidationError as exc:
        raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    except OverflowError:
        raise ValueError(f"「{value}」：时间跨度过大 (too large)") from None
    if span is None:
        raise ValueError(f"「{value}」：请用自然时间 m / h / d / w，不用工作日 (no wd here)")
    if span > MAX_SINCE:
        raise ValueError(f"「{value}」：时间跨度过大，最多 {MAX_SINCE.days}d (too large)")
    return span
