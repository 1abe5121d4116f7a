"""Several broker nodes and database hosts in one setting each (issue 24): how the settings
read them, and the URL forms SQLAlchemy and asyncpg each get."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from shared.db.dsn import asyncpg_dsn, engine_url
from shared.settings import Settings

NODES = "amqp://u:p@10.0.0.1:5672/shaobao, amqp://u:p@10.0.0.2:5672/shaobao,amqp://u:p@10.0.0.3:5672/shaobao"
MULTI = "postgresql+asyncpg://u:p%40w@10.0.0.1:5432,10.0.0.2:5433/shaobao?target_session_attrs=read-write"


def test_every_broker_node_is_read_in_order_with_the_vhost_they_share() -> None:
    s = Settings(environment="test", amqp_url=NODES)
    assert s.amqp_urls == tuple(f"amqp://u:p@10.0.0.{n}:5672/shaobao" for n in (1, 2, 3))
    assert s.amqp_vhost == "shaobao"


def test_one_broker_url_is_a_cluster_of_one_on_the_default_vhost() -> None:
    s = Settings(environment="test", amqp_url="amqp://u:p@127.0.0.1:55672/")
    assert s.amqp_urls == ("amqp://u:p@127.0.0.1:55672/",)
    assert s.amqp_vhost == "/"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("amqp://u:p@a:5672/x,amqp://u:p@b:5672/y", "同一个 vhost"),
        ("amqp://u:p@a:5672/x,http://b:5672/x", "amqp://"),
        (" , ", "amqp://"),
    ],
)
def test_broker_nodes_on_different_vhosts_or_not_amqp_are_refused(value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(environment="test", amqp_url=value)


def test_libpq_host_list_becomes_sqlalchemy_host_parameters() -> None:
    url = make_url(engine_url(MULTI))
    assert url.query["host"] == ("10.0.0.1:5432", "10.0.0.2:5433")
    assert url.query["target_session_attrs"] == "read-write"
    assert (url.username, url.password, url.database) == ("u", "p@w", "shaobao")
    args = url.get_dialect()().create_connect_args(url)[1]
    assert args["host"] == ["10.0.0.1", "10.0.0.2"] and args["port"] == [5432, 5433]


def test_sqlalchemy_host_parameters_become_a_libpq_host_list_for_asyncpg() -> None:
    assert asyncpg_dsn(engine_url(MULTI)) == (
        "postgresql://u:p%40w@10.0.0.1:5432,10.0.0.2:5433/shaobao?target_session_attrs=read-write"
    )
    assert asyncpg_dsn(MULTI) == asyncpg_dsn(engine_url(MULTI))


def test_one_host_urls_are_left_as_they_are() -> None:
    one = "postgresql+asyncpg://u:p@127.0.0.1:55432/shaobao"
    assert engine_url(one) == one
    assert asyncpg_dsn(one) == "postgresql://u:p@127.0.0.1:55432/shaobao"
