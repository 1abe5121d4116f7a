"""The folder store (shared.attachments.store.FolderStore): one copy per content, written
whole or not at all, and only valid ids become paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.attachments.store import FolderStore, StoreUnavailable, make_store
from shared.domain.attachments import attachment_id
from shared.settings import Settings

DATA = b"%PDF-1.7 evidence"


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


AID = attachment_id(DATA)


async def test_bytes_are_stored_once_under_their_hash(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    assert await store.put(AID, DATA, "application/pdf") is True
    assert await store.put(AID, DATA, "application/pdf") is False
    assert await store.get(AID) == DATA
    assert files_in(tmp_path) == [tmp_path / AID[:2] / AID[2:4] / AID]


async def test_an_unknown_id_reads_as_none(tmp_path: Path) -> None:
    assert await FolderStore(tmp_path).get("0" * 64) is None


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "0" * 63, "0" * 63 + "/"])
async def test_only_valid_ids_become_paths(tmp_path: Path, bad: str) -> None:
    store = FolderStore(tmp_path)
    with pytest.raises(ValueError):
        await store.put(bad, DATA, "application/pdf")
    with pytest.raises(ValueError):
        await store.get(bad)


async def test_a_failed_write_leaves_no_file_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    store = FolderStore(tmp_path)
    with pytest.raises(StoreUnavailable):
        await store.put(AID, DATA, "application/pdf")
    assert await store.get(AID) is None
    assert files_in(tmp_path) == []  # the temp file is gone too


def test_the_folder_defaults_to_the_state_dir(tmp_path: Path) -> None:
    settings = Settings(environment="test", state_dir=tmp_path)
    store = make_store(settings)
    assert isinstance(store, FolderStore) and store.root == tmp_path / "attachments"
    own = make_store(Settings(environment="test", attachments_dir=tmp_path / "x"))
    assert isinstance(own, FolderStore) and own.root == tmp_path / "x"
