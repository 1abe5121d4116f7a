"""One database URL setting, several hosts: the forms SQLAlchemy and asyncpg each accept.

``SHAOBAO_DATABASE_URL`` names one PostgreSQL or, for a failover-managed group, every node
in libpq's multi-host form::

    postgresql+asyncpg://user:pw@10.0.0.1:5432,10.0.0.2:5432/shaobao?target_session_attrs=read-write

asyncpg takes that form as it is (its DSN parser knows libpq's host lists and
``target_session_attrs``); SQLAlchemy's URL parser does not (it reads ``5432,10.0.0.2`` as
a port), and wants the hosts as ``?host=h:p&host=h:p`` instead (its asyncpg dialect turns
them back into asyncpg's host and port lists). SQLAlchemy's form given to asyncpg is worse:
asyncpg keeps one of the ``host`` parameters and finds no writable node. So the engine gets
:func:`engine_url` and every plain asyncpg connection :func:`asyncpg_dsn`, whichever form
the setting was written in.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def engine_url(url: str) -> str:
    """``url`` for SQLAlchemy: several hosts as ``host=`` query parameters."""
    parts = urlsplit(url)
    userinfo, hosts = _netloc(parts.netloc)
    if len(hosts) < 2:
        return url
    query = [("host", h) for h in hosts] + parse_qsl(parts.query)
    return urlunsplit(parts._replace(netloc=f"{userinfo}", query=urlencode(query, safe=":/")))


def asyncpg_dsn(url: str) -> str:
    """``url`` for ``asyncpg.connect``: scheme ``postgresql``, several hosts in the netloc."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    hosts = [v for k, v in query if k == "host"]
    userinfo, in_netloc = _netloc(parts.netloc)
    netloc = userinfo + ",".join(in_netloc + hosts)
    rest = urlencode([(k, v) for k, v in query if k != "host"], safe=":/")
    return urlunsplit(parts._replace(scheme="postgresql", netloc=netloc, query=rest))


def _netloc(netloc: str) -> tuple[str, list[str]]:
    """``user:pw@`` (or "") and the comma-separated hosts after it."""
    userinfo, _, hosts = netloc.rpartition("@")
    return (f"{userinfo}@" if userinfo else ""), [h for h in hosts.split(",") if h]
