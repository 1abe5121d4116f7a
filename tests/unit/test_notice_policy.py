"""What the public notice board may show: the ``notices`` section of the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain.errors import ConfigError
from shared.domain.notices import NoticePolicy
from shared.domain.rules import RuleSet

RULES = Path(__file__).resolve().parents[2] / "config" / "rules.yaml"
PLACE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


def test_the_shipped_rules_never_publish_family_matters() -> None:
    policy = RuleSet.load(RULES).notices
    assert not policy.publishable("family.dispute")
    assert not policy.publishable("family.violence")
    assert policy.publishable("environment.cooking_fume")


def test_a_place_is_published_down_to_the_community_at_most() -> None:
    assert NoticePolicy().public_place(PLACE) == {
        "district": "d01",
        "street": "s01",
        "community": "c01",
    }
    street = NoticePolicy(finest_level="street")
    assert street.public_place(PLACE) == {"district": "d01", "street": "s01"}


@pytest.mark.parametrize("level", ["grid", "compound"])
def test_a_level_finer_than_the_community_is_refused(level: str) -> None:
    text = RULES.read_text(encoding="utf-8").replace(
        "finest_level: community", f"finest_level: {level}"
    )
    with pytest.raises(ConfigError) as err:
        RuleSet.from_text(text, file="rules.yaml")
    assert err.value.entry == "notices"


def test_a_never_published_category_the_taxonomy_lacks_is_refused() -> None:
    text = RULES.read_text(encoding="utf-8").replace(
        "never_publish: [family.*]", "never_publish: [family.*, famliy.violence]"
    )
    with pytest.raises(ConfigError) as err:
        RuleSet.from_text(text, file="rules.yaml")
    assert "famliy.violence" in str(err.value) and err.value.entry == "notices"


def test_the_database_filter_splits_exact_codes_from_prefixes() -> None:
    policy = NoticePolicy(never_publish=("family.*", "neighbour.dispute"))
    assert policy.hidden_prefixes() == (["neighbour.dispute"], ["family."])
