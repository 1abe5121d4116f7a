"""A started service freezes what its start built and collects its youngest objects less
often (shared.runtime.settle_heap); an operator can turn either off."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.runtime import settle_heap
from shared.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settled_heap_is_frozen_and_collected_less_often(restored_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    built_at_start = [object() for _ in range(10)]  # noqa: F841 - alive during the call
    settle_heap(Settings(gc_freeze=True, gc_gen0_threshold=30_000))
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (30_000, 20, 20)


def test_operator_keeps_pythons_collector(restored_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    settle_heap(Settings(gc_freeze=False, gc_gen0_threshold=0))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="gc_gen0_threshold"):
        Settings(gc_gen0_threshold=-1)
