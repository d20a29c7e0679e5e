"""Fixtures: the generated website on 127.0.0.1 and a second server on another loopback address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.site import Site, serve


@pytest.fixture
def other() -> Iterator[Site]:
    """A second site on 127.0.0.2: a private address the crawler must not reach unless allowed."""
    site = Site()
    server, thread = serve(site, host="127.0.0.2")
    yield site
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def site(other: Site) -> Iterator[Site]:
    """The generated website (about 300 pages) on a free port of 127.0.0.1."""
    site = Site()
    server, thread = serve(site)
    site.other_base = other.base
    yield site
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def config(site: Site) -> dict[str, Any]:
    """Settings crawling the site quickly (the site is on loopback, so private addresses are allowed)."""
    return {
        "start_urls": [site.url("/")],
        "allow_private_networks": ["127.0.0.1/32"],
        "retry_backoff_seconds": 0.01,
        "timeout_seconds": 5,
        "max_depth": 8,
    }
