"""The router remembers routing decisions per (category, place, urgency) until a reload."""

from __future__ import annotations

from services.router.deps import RouterDeps
from shared.domain.routing import Location, Urgency, route
from shared.settings import Settings

PLACE = Location(district="d01", street="s01", community="c01", grid="g01", compound="k01")


def test_a_remembered_decision_is_the_one_route_gives_and_a_reload_forgets_it() -> None:
    deps = RouterDeps.load(Settings())
    first = deps.decide(category="property.elevator", location=PLACE, urgency=Urgency.NORMAL)
    assert first == route(
        deps.rules, deps.owners, category="property.elevator", location=PLACE,
        urgency=Urgency.NORMAL,
    )  # fmt: skip
    again = deps.decide(category="property.elevator", location=PLACE, urgency=Urgency.NORMAL)
    assert again is first
    other = deps.decide(category="animal.stray_dog", location=PLACE, urgency=Urgency.NORMAL)
    assert other.category == "animal.stray_dog" and other is not first
    deps.replace(deps.config)  # a reload, even of the same files, starts afresh
    assert (
        deps.decide(category="property.elevator", location=PLACE, urgency=Urgency.NORMAL)
        is not first
    )
