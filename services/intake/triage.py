"""Intake's triage desk (分诊): decides the matter and the place a submission left out.

Before a submission runs (:mod:`services.intake.submissions`), :meth:`TriageDesk.apply`
fills in the category and the location of a free-text work order — the model's
suggestion for the matter, the gazetteer's match for the place — and records how on the
submission (``body._triage``), which ``case.received`` carries to the router: a case that
may route by itself routes with the explanation; any other waits in the dispatchers'
queue (:mod:`shared.domain.triage_rules` decides which).

The model is the newest file in ``settings.triage_models`` (written by ``shaobao triage
train``). :meth:`TriageDesk.watch` looks for a newer one every few seconds and swaps it in
without a restart; a file that fails to load is logged and the model in force stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog
from prometheus_client import Counter, Gauge

from services.intake.schemas import CaseCreate, LocationIn
from shared.contracts.events import PlaceFound
from shared.domain.places import Gazetteer
from shared.domain.rules import TriagePolicy
from shared.domain.triage_rules import decide
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.triage.model import Suggestion

log = structlog.get_logger(__name__)
DECISIONS = Counter(
    "shaobao_triage_decisions_total",
    "Free-text submissions by what triage decided (auto: routed by itself; queued: a person)",
    ["outcome"],
)
_AUTO, _QUEUED = DECISIONS.labels("auto"), DECISIONS.labels("queued")
MODEL_LOADS = Counter(
    "shaobao_triage_model_loads_total", "Triage model files taken or refused", ["result"]
)
MODEL_INFO = Gauge("shaobao_triage_model", "The triage model in force (1)", ["version"])


class Suggester(Protocol):
    """What intake needs of a model (:class:`shared.triage.model.Model`)."""

    version: str

    def suggest(self, text: str) -> Suggestion: ...

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]: ...


def _text(body: CaseCreate) -> str:
    """What the model and, when no address names a place, the gazetteer read."""
    return f"{body.title}\n{body.description}"


class Places(Protocol):
    """What intake needs of the gazetteer: the place an address, a point or the text names,
    and its levels; None when nothing is named."""

    def find(
        self, *, address: str | None, point: tuple[float, float] | None, text: str
    ) -> tuple[PlaceFound, Mapping[str, str | None]] | None: ...


class TriageDesk:
    def __init__(
        self,
        policy: TriagePolicy,
        categories: Mapping[str, str],
        *,
        models: Path | None = None,
        places: Places | None = None,
    ) -> None:
        self.policy = policy
        self.categories = dict(categories)
        self.models = models
        self.places = places
        self.model: Suggester | None = None  # a shared.triage Model
        self._path: Path | None = None  # the file in force
        self._refused: set[Path] = set()  # files that failed to load (not tried again)

    def configure(self, policy: TriagePolicy, categories: Mapping[str, str]) -> None:
        self.policy, self.categories = policy, dict(categories)

    def apply(self, body: CaseCreate) -> None:
        """Fill in what the submission left out (nothing when it gave both codes)."""
        self.apply_many([body])

    def apply_many(self, bodies: Sequence[CaseCreate]) -> None:
        """``apply`` for the submissions of one request: the model reads their texts at
        once (a batch's numpy work is done once, not per case)."""
        model = self.model
        open_ = [b for b in bodies if b.category is None or b.location is None]
        asked = [b for b in open_ if b.category is None] if model is not None else []
        suggested: dict[int, list[tuple[str, float]]] = {}
        if asked and model is not None:
            texts = [_text(b) for b in asked]  # one alone is cheaper without the batch's matrix
            found = [model.suggest(texts[0])] if len(texts) == 1 else model.suggest_many(texts)
            suggested = {id(b): list(s.top) for b, s in zip(asked, found, strict=True)}
        for body in open_:
            self._decide(body, suggested.get(id(body), []), model)

    def _decide(
        self, body: CaseCreate, top: list[tuple[str, float]], model: Suggester | None
    ) -> None:
        found = None
        if body.location is None and self.places is not None:
            point = (body.point.lat, body.point.lon) if body.point else None
            found = self.places.find(address=body.address, point=point, text=_text(body))
        given = body.location.model_dump() if body.location is not None else None
        decided = decide(
            category=body.category,
            location=given,
            suggestions=top,
            model_version=model.version if model is not None else None,
            place=found[0] if found else None,
            place_levels=found[1] if found else None,
            policy=self.policy,
            categories=self.categories,
        )
        body.category = decided.category
        # unchecked on purpose: an unknown place is no level at all ({}), which the
        # input model refuses; a gazetteer's levels are valid by construction
        body.location = LocationIn.model_construct(None, **decided.location)
        body._triage = decided.info
        if decided.info is not None:
            (_AUTO if decided.info.auto else _QUEUED).inc()

    # -- the model file ---------------------------------------------------------------
    def load_newest(self) -> bool:
        """Take the newest model file when it is not the one in force; True if taken."""
        from shared.triage.errors import TriageDataError
        from shared.triage.model import Model, latest, sidecar_path

        newest = latest(self.models) if self.models is not None else None
        if newest is None or newest == self._path or newest in self._refused:
            return False
        if not sidecar_path(newest).exists():  # still being copied in: look again next time
            return False
        try:
            model = Model.load(newest)
        except (TriageDataError, OSError, ValueError) as exc:
            MODEL_LOADS.labels("refused").inc()
            self._refused.add(newest)  # not retried: a newer file (or its removal) moves on
            log.error("triage_model_refused", path=str(newest), error=str(exc)[:300])
            return False
        unknown = sorted(set(model.classes) - set(self.categories))
        if unknown:
            log.warning("triage_model_labels_unknown", version=model.version, labels=unknown[:10])
        old = self.model.version if self.model is not None else None
        self.model, self._path = model, newest
        MODEL_LOADS.labels("ok").inc()
        if old:
            MODEL_INFO.remove(old)
        MODEL_INFO.labels(model.version).set(1)
        log.info("triage_model_loaded", version=model.version, previous=old, path=str(newest))
        return True

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.load_newest)
            except Exception as exc:  # never let a bad file stop the watcher
                log.error("triage_model_watch_failed", error=repr(exc)[:300])


TEXT_CHARS = 1000  # how much of a complaint is searched for a place when no address names one


class GazetteerPlaces:
    """:class:`Places` from the gazetteer (``shared.domain.places``): the address and the
    point first; when they name nothing, the place the complaint's own text names."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer

    def find(
        self, *, address: str | None, point: tuple[float, float] | None, text: str
    ) -> tuple[PlaceFound, Mapping[str, str | None]] | None:
        match = self.gazetteer.resolve(address, point) if address or point else None
        if match is None or match.path is None:
            in_text = self.gazetteer.resolve_address(text[:TEXT_CHARS])
            if in_text.path is not None:
                match = replace(in_text, explanation=f"取自诉求内容：{in_text.explanation}")
        if match is None or match.path is None:
            return None
        found = PlaceFound(
            path=match.path,
            explanation=match.explanation,
            confident=match.confident,
            candidates=[c.path for c in match.candidates if c.path != match.path],
        )
        return found, match.location


def load_places(settings: Settings) -> Places | None:
    """The gazetteer (``settings.places_file``), None when there is no such file."""
    if not settings.places_file.exists():
        log.warning("gazetteer_missing", path=str(settings.places_file))
        return None
    return GazetteerPlaces(Gazetteer.load(settings.places_file))
