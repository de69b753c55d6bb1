"""Outbound URL policy for node URLs read from the registry (issue 12.8)."""

from __future__ import annotations

import pytest

from ocn_core.config import Settings
from ocn_core.errors import UrlRefused
from ocn_core.federation.urlpolicy import check_url

PUBLIC_NODE = Settings(public_url="https://node.example.com")

REFUSED = [
    ("ftp://93.184.216.34/x", "URLs only"),
    ("file:///etc/passwd", "URLs only"),
    ("http://127.0.0.1:8080", "loopback"),
    ("http://[::1]:8080", "loopback"),
    ("http://localhost:8080", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://10.1.2.3", "private"),
    ("http://192.168.0.10:9000", "private"),
    ("http://172.16.5.5", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://0.0.0.0:80", "unspecified"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://224.0.0.1/", "multicast"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
async def test_refused_by_default(url: str, why: str) -> None:
    with pytest.raises(UrlRefused, match=why):
        await check_url(url, PUBLIC_NODE)


async def test_public_https_allowed() -> None:
    await check_url("https://93.184.216.34:443/ocn", PUBLIC_NODE)


async def test_loopback_only_with_the_development_setting() -> None:
    dev = Settings(public_url="https://node.example.com", allow_loopback_urls=True)
    await check_url("http://127.0.0.1:8080", dev)
    with pytest.raises(UrlRefused):
        await check_url("http://10.1.2.3", dev)


async def test_a_node_serving_on_loopback_is_a_development_node() -> None:
    await check_url("http://127.0.0.1:9000", Settings(public_url="http://127.0.0.1:8080"))
    await check_url("http://localhost:9000", Settings(public_url="http://localhost:8080"))
    with pytest.raises(UrlRefused, match="private"):
        await check_url("http://10.1.2.3", Settings(public_url="http://127.0.0.1:8080"))


async def test_private_and_link_local_only_when_allowed() -> None:
    allowed = Settings(public_url="https://node.example.com", allow_private_urls=True)
    await check_url("http://10.1.2.3", allowed)
    await check_url("http://169.254.169.254/", allowed)
    with pytest.raises(UrlRefused, match="loopback"):
        await check_url("http://127.0.0.1", allowed)
