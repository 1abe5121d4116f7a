"""Settings refuse unsafe values: the built-in secrets outside the test suite, the test
clock in production; key scopes fit their roles; a pseudonym made with a generated key
cannot be reversed with the public default one."""

from __future__ import annotations

import secrets

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared.auth.keys import Role, hash_secret, split_key, validate_scope
from shared.security.pii import PiiVault, mask_phone, petitioner_ref
from shared.settings import DEV_PII_KEY, DEV_SECRET, Settings

GENERATED = {  # what deploy/stack.sh makes: 32 and 48 random bytes, URL-safe base64
    "pii_key": Fernet.generate_key().decode(),
    "pseudonym_key": secrets.token_urlsafe(48),
    "key_pepper": secrets.token_urlsafe(48),
}


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


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize("name", ["pii_key", "pseudonym_key", "key_pepper"])
def test_every_environment_but_test_refuses_each_built_in_secret(
    environment: str, name: str
) -> None:
    default = DEV_PII_KEY if name == "pii_key" else DEV_SECRET
    with pytest.raises(ValidationError, match="default secret refused outside the test suite"):
        Settings(environment=environment, **(GENERATED | {name: default}))  # type: ignore[arg-type]


def test_development_refuses_to_start_on_the_defaults_and_says_how_to_get_secrets() -> None:
    with pytest.raises(ValidationError, match=r"deploy/stack\.sh env"):
        Settings(environment="development")


def test_only_the_test_suite_runs_on_the_built_in_secrets() -> None:
    assert Settings(environment="test").key_pepper.get_secret_value() == DEV_SECRET


def test_generated_secrets_are_accepted_and_a_short_one_is_refused() -> None:
    assert Settings(environment="production", **GENERATED)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="shorter than 32"):
        Settings(environment="development", **(GENERATED | {"key_pepper": "short"}))  # type: ignore[arg-type]


def test_development_accepts_the_test_clock() -> None:
    assert Settings(environment="development", test_clock=True, **GENERATED).test_clock  # type: ignore[arg-type]


def test_a_pseudonym_made_with_a_generated_key_cannot_be_reversed_with_the_default_key() -> None:
    """The attack of issue 17: a masked phone (138****1234) leaves 10,000 candidates; with
    the public default key each candidate's ``petitioner_ref`` is one HMAC away."""
    phone = f"138{secrets.randbelow(10_000):04d}1234"
    masked = mask_phone(phone)
    assert masked == "138****1234"
    candidates = [f"138{n:04d}1234" for n in range(10_000)]

    def reverse(ref: str | None, key: str) -> list[str]:
        return [c for c in candidates if petitioner_ref(key, phone=c, id_number=None) == ref]

    on_default = petitioner_ref(DEV_SECRET, phone=phone, id_number=None)
    assert reverse(on_default, DEV_SECRET) == [phone], "the default key is public: reversible"
    on_generated = petitioner_ref(GENERATED["pseudonym_key"], phone=phone, id_number=None)
    assert on_generated != on_default
    assert reverse(on_generated, DEV_SECRET) == []


def test_the_pii_key_may_list_an_old_key_after_the_new_one_to_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = PiiVault(old).seal("13800001234")
    rotated = PiiVault(f"{new},{old}")
    assert rotated.open(sealed_before) == "13800001234"
    assert PiiVault(new).open(rotated.seal("王女士")) == "王女士", "new data: the new key"


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
