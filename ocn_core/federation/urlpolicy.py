"""Outbound URL policy for URLs the node did not choose (node URLs from the registry, party URLs
from credentials).

http(s) only; loopback only when ``Settings.allow_loopback_urls`` (a development setting) or
when the node's own public URL is on loopback (a development node nobody else can reach);
private, link-local (cloud metadata), unspecified, multicast and reserved addresses only when
``Settings.allow_private_urls``. Host names are resolved (asynchronously, cached for a minute)
and every address they resolve to must pass.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from ocn_core.config import Settings
from ocn_core.errors import UrlRefused

_TTL = 60.0
_resolved: dict[str, tuple[float, tuple[str, ...]]] = {}
_allowed: dict[tuple[str, bool, bool, str], float] = {}  # (url, settings) -> valid until


def _verdict(address: str, settings: Settings) -> str | None:
    """Why ``address`` is refused, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if settings.allow_loopback_urls or _development(settings) else "loopback"
    if ip.is_link_local:
        return None if settings.allow_private_urls else "link-local (metadata)"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "unspecified, multicast or reserved"
    if ip.is_private or not ip.is_global:
        return None if settings.allow_private_urls else "private"
    return None


def _development(settings: Settings) -> bool:
    """Whether the node itself serves on loopback only (its public URL is a loopback one)."""
    host = urlsplit(settings.public_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _addresses(host: str) -> tuple[str, ...]:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return (host,)
    except ValueError:
        pass
    now = time.monotonic()
    cached = _resolved.get(host)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UrlRefused(f"Cannot resolve {host}: {exc}") from None
    found = tuple(sorted({str(info[4][0]) for info in infos}))
    if len(_resolved) > 1024:
        _resolved.clear()
    _resolved[host] = (now + _TTL, found)
    return found


async def check_url(url: str, settings: Settings) -> None:
    """Raise :class:`UrlRefused` unless the node may send requests to ``url``.

    An allowed URL is remembered for a minute (the per-message path is one dict lookup).
    """
    key = (url, settings.allow_loopback_urls, settings.allow_private_urls, settings.public_url)
    now = time.monotonic()
    if _allowed.get(key, 0.0) > now:
        return
    await _check(url, settings)
    if len(_allowed) > 1024:
        _allowed.clear()
    _allowed[key] = now + _TTL


async def _check(url: str, settings: Settings) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError:
        raise UrlRefused(f"Invalid URL {url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UrlRefused(f"Refused URL {url!r}: http(s) URLs only")
    for address in await _addresses(host):
        why = _verdict(address, settings)
        if why is not None:
            raise UrlRefused(f"Refused URL {url!r}: {host} is a {why} address")
