"""Where webhooks may go: an operator's allow-list of hosts, and never a link-local or
cloud-metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254) unless the operator
names that exact host or address.

``allowed`` is the ``SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS`` list: host names, IP
addresses, ``*.suffix`` wildcards, or ``*`` for any host that is not link-local.

Two checks: :func:`host_refusal` on the URL when an endpoint is registered, and
:func:`resolve_checked` right before each delivery (DNS rebinding): the host is checked
again, resolved, and every address it resolves to must pass :func:`address_refusal`; the
sender then connects to the checked address itself, so a second lookup cannot swap it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

_METADATA = {"metadata.google.internal", "metadata", "169.254.169.254", "fd00:ec2::254"}

Resolver = Callable[[str, int], Awaitable[list[str]]]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return ip


def _forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_link_local or ip.is_unspecified or str(ip) in _METADATA


def _link_local(host: str) -> bool:
    ip = _ip(host)
    return host.lower() in _METADATA if ip is None else _forbidden_ip(ip)


def _named(host: str, allowed: list[str]) -> bool:
    return host.lower() in (a.lower() for a in allowed)


def host_refusal(host: str | None, allowed: list[str]) -> str | None:
    """Why a webhook may not go to ``host`` (Chinese first), or None when it may."""
    if not host:
        return "地址缺少主机名 (no host)"
    host = host.lower()
    if _named(host, allowed):
        return None
    if _link_local(host):
        return f"不允许链路本地或云元数据地址 {host} (link-local/metadata refused)"
    if "*" in allowed:
        return None
    if any(a.startswith("*.") and host.endswith(a[1:].lower()) for a in allowed):
        return None
    return f"主机 {host} 不在运维配置的允许列表中 (host not in the allow-list)"


def address_refusal(host: str, address: str, allowed: list[str]) -> str | None:
    """Why a delivery to ``host`` may not connect to ``address`` (one it resolved to)."""
    ip = _ip(address)
    if ip is None:
        return f"主机 {host} 解析出无效地址 {address} (not an IP address)"
    if _forbidden_ip(ip) and not (_named(host, allowed) or _named(str(ip), allowed)):
        return (
            f"主机 {host} 解析到链路本地或云元数据地址 {ip}，拒绝发送"
            " (resolves to a link-local/metadata address: DNS rebinding?)"
        )
    return None


@dataclass(frozen=True)
class Checked:
    """The outcome of the send-time check: the address to connect to, or why not."""

    address: str | None
    refusal: str | None = None
    retry: bool = False  # a failed lookup may pass later; a refused address does not


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str | None, port: int, allowed: list[str], resolve: Resolver = system_resolver
) -> Checked:
    """Check ``host`` against the allow-list again, resolve it, and check every address."""
    refusal = host_refusal(host, allowed)
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
        refusal = address_refusal(host, address, allowed)
        if refusal:
            return Checked(None, refusal)
    return Checked(addresses[0])
