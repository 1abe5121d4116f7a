"""The bucket store (shared.attachments.store.BucketStore) against an S3 server over HTTP.

No real S3-compatible server can run here: MinIO's server is not packaged on PyPI or in
Debian (the ``minio`` package on PyPI is only the client). So this runs the same contract
as the folder store against moto's S3 emulation (``moto[server]``, a dev dependency)
served on a loopback port, through the real MinIO client: signing, put, stat, get and the
"no such key" answers travel as HTTP. What it cannot prove is the behaviour of a real
server (consistency, multipart limits, bucket policies); see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from shared.attachments.store import BucketStore, StoreUnavailable, make_store
from shared.domain.attachments import attachment_id
from shared.settings import Settings
from tests.support.services import free_port

DATA = b"\xff\xd8\xff\xe0 a photo"
AID = attachment_id(DATA)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def store(endpoint: str) -> BucketStore:
    settings = Settings(
        environment="test",
        attachments_s3_endpoint=endpoint,
        attachments_s3_secure=False,
        attachments_s3_region="us-east-1",
        attachments_s3_bucket="shaobao-test",
        attachments_s3_access_key="test-access",
        attachments_s3_secret_key="test-secret",
    )
    made = make_store(settings)
    assert isinstance(made, BucketStore)
    if not made.client.bucket_exists("shaobao-test"):
        made.client.make_bucket("shaobao-test")
    return made


async def test_bytes_are_stored_once_under_their_hash(store: BucketStore) -> None:
    assert await store.put(AID, DATA, "image/jpeg") in (True, False)
    assert await store.put(AID, DATA, "image/jpeg") is False
    assert await store.get(AID) == DATA
    stat = store.client.stat_object("shaobao-test", f"attachments/{AID}")
    assert stat.size == len(DATA) and stat.content_type == "image/jpeg"


async def test_an_unknown_id_reads_as_none(store: BucketStore) -> None:
    assert await store.get("0" * 64) is None


async def test_only_valid_ids_become_object_names(store: BucketStore) -> None:
    with pytest.raises(ValueError):
        await store.put("../" + AID[3:], DATA, "image/jpeg")


async def test_an_unreachable_server_raises_for_the_route_to_answer_503() -> None:
    client = Minio(f"127.0.0.1:{free_port()}", "a", "b", secure=False, region="us-east-1")
    with pytest.raises(StoreUnavailable):
        await BucketStore(client, "shaobao-none").get(AID)
