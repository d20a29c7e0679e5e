"""Fixtures: the generated website on 127.0.0.1 and a second server on another loopback address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ccf_core.testing import ConnectorHarness, ConnectorRun
from ccf_webcrawler import WebCrawlerConnector
from tests.site import Site, serve


@contextmanager
def served(host: str = "127.0.0.1") -> Iterator[Site]:
    site = Site()
    server, thread = serve(site, host=host)
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def settings(site: Site) -> dict[str, Any]:
    """Settings crawling ``site`` quickly (it is on loopback, so that one address is allowed)."""
    return {
        "start_urls": [site.url("/")],
        "allow_private_networks": ["127.0.0.1/32"],
        "retry_backoff_seconds": 0.01,
        "timeout_seconds": 5,
        "max_depth": 8,
    }


@pytest.fixture
def other() -> Iterator[Site]:
    """A second site on 127.0.0.2: a private address the crawler must not reach unless allowed."""
    with served("127.0.0.2") as site:
        yield site


@pytest.fixture
def site(other: Site) -> Iterator[Site]:
    """The generated website (about 300 pages) on a free port of 127.0.0.1."""
    with served() as site:
        site.other_base = other.base
        yield site


@pytest.fixture
def config(site: Site) -> dict[str, Any]:
    return settings(site)


@pytest.fixture
def harness(config: dict[str, Any], tmp_path: Path) -> Iterator[ConnectorHarness]:
    with ConnectorHarness(WebCrawlerConnector, config, directory=tmp_path) as harness:
        yield harness


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, ConnectorRun]]:
    """One crawl of a fresh site with the default test settings, shared by read-only tests."""
    with served("127.0.0.2") as other, served() as site:
        site.other_base = other.base
        directory = tmp_path_factory.mktemp("crawled")
        with ConnectorHarness(WebCrawlerConnector, settings(site), directory=directory) as harness:
            yield site, harness.run()
