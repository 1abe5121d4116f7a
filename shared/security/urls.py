"""Where webhooks may go: public addresses on the operator's allow-list, never an address
inside the machine or the network (loopback, private, shared, link-local, cloud metadata,
unspecified, multicast, reserved) unless the operator names that host or address, and
never a URL that carries credentials (``user:pass@``).

``allowed`` is the ``SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS`` list: host names, IP
addresses, ``*.suffix`` wildcards, or ``*`` for any host with a public address. An entry
may name a port (``127.0.0.1:8010``, ``[::1]:8010``, ``hooks.lan:8443``): it admits that
host on that port only. Naming is the only way to an internal address: ``*`` and
``*.suffix`` never admit one.

Two checks, the same rules: :func:`resolve_checked` when an endpoint is registered and
again right before each delivery (DNS rebinding): the host is checked, resolved, and every
address it resolves to must pass :func:`address_refusal`; the sender then connects to the
checked address itself, so a second lookup cannot swap it. :func:`credentials_refusal`
and :func:`length_refusal` look at the URL itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

_METADATA = {"metadata.google.internal", "metadata", "169.254.169.254", "fd00:ec2::254"}
MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], Awaitable[list[str]]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(value: str) -> IP | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        return _embedded_ipv4(ip) or ip
    return ip


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches: mapped (::ffff:a.b.c.d), 6to4 (2002::/16),
    Teredo (the client), NAT64 (64:ff9b::/96) or the old compatible form (::a.b.c.d) — so
    ``64:ff9b::a9fe:a9fe`` is judged as 169.254.169.254, not as a global IPv6 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def internal_kind(ip: IP) -> str | None:
    """What kind of internal address ``ip`` is (Chinese, then English), None when public."""
    if ip.is_link_local or str(ip) in _METADATA:
        return "链路本地或云元数据 (link-local/metadata)"
    if ip.is_loopback:
        return "本机回环 (loopback)"
    if ip.is_unspecified:
        return "未指定 (unspecified)"
    if ip.is_multicast:
        return "组播 (multicast)"
    if not ip.is_global or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "内网或保留 (private/reserved)"
    return None


def _refused_kind(host: str, kind: str) -> str:
    cn, _, en = kind.partition(" ")
    return f"不允许{cn}地址 {host} {en[:-1]} refused)"


def _names(host: str, port: int | None) -> set[str]:
    host = host.lower().strip("[]")
    shown = f"[{host}]" if ":" in host else host
    return {host, shown} | ({f"{shown}:{port}"} if port is not None else set())


def _named(host: str, port: int | None, allowed: list[str]) -> bool:
    return not _names(host, port).isdisjoint(a.lower() for a in allowed)


def host_refusal(host: str | None, allowed: list[str], port: int | None = None) -> str | None:
    """Why a webhook may not go to ``host`` by its name or literal address (Chinese first),
    or None when it may (its resolved addresses are checked by :func:`resolve_checked`)."""
    if not host:
        return "地址缺少主机名 (no host)"
    host = host.lower()
    if _named(host, port, allowed):
        return None
    ip = _ip(host)
    kind = internal_kind(ip) if ip is not None else None
    if kind is None and host in _METADATA:
        kind = internal_kind(ipaddress.ip_address("169.254.169.254"))
    if kind is not None:
        return _refused_kind(host, kind)
    if "*" in allowed:
        return None
    if any(a.startswith("*.") and host.endswith(a[1:].lower()) for a in allowed):
        return None
    return f"主机 {host} 不在运维配置的允许列表中 (host not in the allow-list)"


def address_refusal(
    host: str, address: str, allowed: list[str], port: int | None = None
) -> str | None:
    """Why a delivery to ``host`` may not connect to ``address`` (one it resolved to)."""
    ip = _ip(address)
    if ip is None:
        return f"主机 {host} 解析出无效地址 {address} (not an IP address)"
    kind = internal_kind(ip)
    if kind is None or _named(host, port, allowed) or _named(str(ip), port, allowed):
        return None
    cn, _, en = kind.partition(" ")
    return (
        f"主机 {host} 解析到{cn}地址 {ip}，拒绝发送"
        f" (resolves to a {en.strip('()')} address: DNS rebinding?)"
    )


def credentials_refusal(url: str) -> str | None:
    """A URL with a user name or password is refused: the notifier never logs in anywhere."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "地址格式不正确 (malformed URL)"
    if parts.username is not None or parts.password is not None:
        return "地址不能包含用户名或密码 (credentials in the URL refused)"
    return None


def length_refusal(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return f"地址过长：最多 {MAX_URL_LENGTH} 个字符 (URL longer than {MAX_URL_LENGTH})"
    return None


@dataclass(frozen=True)
class Checked:
    """The outcome of the check: the address to connect to, or why not."""

    address: str | None
    refusal: str | None = None
    retry: bool = False  # a failed lookup may pass later; a refused address does not


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str | None, port: int, allowed: list[str], resolve: Resolver = system_resolver
) -> Checked:
    """Check ``host`` against the allow-list, resolve it, and check every address."""
    refusal = host_refusal(host, allowed, port)
    if refusal or host is None:
        return Checked(None, refusal or "地址缺少主机名 (no host)")
    if _ip(host) is not None:
        addresses = [host.strip("[]")]
    else:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            return Checked(None, f"无法解析主机 {host} (DNS lookup failed: {exc})", retry=True)
    if not addresses:
        return Checked(None, f"无法解析主机 {host} (no address)", retry=True)
    for address in addresses:
        refusal = address_refusal(host, address, allowed, port)
        if refusal:
            return Checked(None, refusal)
    return Checked(addresses[0])
