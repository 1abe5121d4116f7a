"""Settings refuse unsafe production values; key scopes fit their roles."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.auth.keys import Role, hash_secret, split_key, validate_scope
from shared.settings import Settings


def test_production_refuses_the_test_clock() -> None:
    with pytest.raises(ValidationError, match="test clock"):
        Settings(
            environment="production",
            test_clock=True,
            pii_key="a" * 43 + "=",
            pseudonym_key="x",
            key_pepper="y",
        )


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="default secret"):
        Settings(environment="production")


def test_development_accepts_the_test_clock() -> None:
    assert Settings(environment="development", test_clock=True).test_clock


@pytest.mark.parametrize(
    ("role", "channel", "owner"),
    [
        (Role.CHANNEL, "no_such_channel", None),
        (Role.CHANNEL, None, None),
        (Role.DEPARTMENT, None, None),
        (Role.SUPERVISOR, "wechat", "street-01"),
        (Role.OPS, None, "street-01"),
    ],
)
def test_a_key_scope_that_does_not_fit_its_role_is_refused(
    role: Role, channel: str | None, owner: str | None
) -> None:
    with pytest.raises(ValueError):
        validate_scope(role, channel, owner)


def test_key_format_is_checked_before_any_lookup() -> None:
    assert split_key("sbk_abc_def") == ("abc", "def")
    assert split_key("Bearer nonsense") is None
    assert split_key("sbk__x") is None


def test_the_stored_hash_depends_on_the_pepper() -> None:
    assert hash_secret("p1", "s") != hash_secret("p2", "s")
