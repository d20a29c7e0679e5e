"""SSRF protection: private, loopback and link-local addresses are refused unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import httpcore
import pytest

from ccf_core.testing import ConnectorHarness
from ccf_webcrawler import WebCrawlerConnector
from ccf_webcrawler.safety import AddressPolicy, AddressRefused, GuardedNetworkBackend
from tests.site import Site


def run(config: dict[str, Any], tmp_path: Path) -> Any:
    return ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path).run()


def test_loopback_start_url_is_refused_by_default(
    site: Site, config: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {**config, "allow_private_networks": False}
    result = run(settings, tmp_path)
    assert result.document_ids() == []
    assert site.requests == []  # not even robots.txt
    assert "127.0.0.1 is a loopback address; set allow_private_networks" in caplog.text


def test_private_address_linked_from_an_allowed_site_is_not_fetched(
    site: Site, other: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    """The site (127.0.0.1, allowed by network) links and redirects to 127.0.0.2 on another port."""
    settings = {**config, "allowed_domains": ["=127.0.0.1", "=127.0.0.2"], "max_depth": 1}
    result = run(settings, tmp_path)
    assert other.requests == []
    assert not any("127.0.0.2" in doc_id for doc_id in result.document_ids())
    assert site.url("/section/0/") in result.document_ids()


def test_private_address_fetched_when_allowed(
    site: Site, other: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    settings = {
        **config,
        "allowed_domains": ["=127.0.0.1", "=127.0.0.2"],
        "allow_private_networks": True,
        "max_depth": 1,
    }
    run(settings, tmp_path)
    assert other.fetched("/direct.html") == 1
    assert other.fetched("/internal.html") == 1  # through the redirect


def test_other_hosts_outside_allowed_domains_are_not_fetched(
    site: Site, other: Site, config: dict[str, Any], tmp_path: Path
) -> None:
    run({**config, "allow_private_networks": True, "max_depth": 1}, tmp_path)
    assert other.requests == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = AddressPolicy(False).refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert f"a {kind} address" in reason


def test_public_address_is_allowed() -> None:
    assert AddressPolicy(False).refusal(ipaddress.ip_address("93.184.215.14")) is None


def test_listed_networks_are_allowed_and_others_still_refused() -> None:
    policy = AddressPolicy(["10.20.0.0/16"])
    assert policy.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("10.21.0.1")) is not None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is not None


def test_host_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(AddressRefused, match="localhost resolves to"):
        asyncio.run(AddressPolicy(False).resolve("localhost", 80))


def test_connections_are_checked_at_connect_time() -> None:
    """The network backend refuses the address itself, whatever a name resolved to before."""
    backend = GuardedNetworkBackend(AddressPolicy(False))
    with pytest.raises(httpcore.ConnectError, match="allow_private_networks"):
        asyncio.run(backend.connect_tcp("localhost", 80))
