"""Where webhooks may go: an operator's allow-list of hosts, and never a link-local or
cloud-metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254) unless the operator
names that exact host.

``allowed`` is the ``SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS`` list: host names, IP
addresses, ``*.suffix`` wildcards, or ``*`` for any host that is not link-local. The
check is on the registered URL; resolving names at send time (DNS rebinding) is not
re-checked yet.
"""

from __future__ import annotations

import ipaddress

_METADATA = {"metadata.google.internal", "metadata", "169.254.169.254", "fd00:ec2::254"}


def _link_local(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() in _METADATA
    return ip.is_link_local or str(ip) in _METADATA


def host_refusal(host: str | None, allowed: list[str]) -> str | None:
    """Why a webhook may not go to ``host`` (Chinese first), or None when it may."""
    if not host:
        return "地址缺少主机名 (no host)"
    host = host.lower()
    if host in (a.lower() for a in allowed):
        return None
    if _link_local(host):
        return f"不允许链路本地或云元数据地址 {host} (link-local/metadata refused)"
    if "*" in allowed:
        return None
    if any(a.startswith("*.") and host.endswith(a[1:].lower()) for a in allowed):
        return None
    return f"主机 {host} 不在运维配置的允许列表中 (host not in the allow-list)"
