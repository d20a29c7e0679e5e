"""boto3 clients, created lazily by a small factory that tests and the local server can replace."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ccf_backend.settings import get_settings

ClientFactory = Callable[[str], Any]

_lock = threading.Lock()
_factory: ClientFactory | None = None
_clients: dict[str, Any] = {}


def default_factory(service: str) -> Any:
    """A boto3 client for ``service`` in the configured region, with standard retries."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=50)
    return boto3.session.Session().client(service, region_name=get_settings().region, config=config)


def set_client_factory(factory: ClientFactory | None) -> None:
    """Use ``factory`` for new clients (None restores the default) and forget cached clients."""
    global _factory  # noqa: PLW0603 - the overridable factory
    with _lock:
        _factory = factory
        _clients.clear()


def get_client(service: str) -> Any:
    """The cached client for ``service`` (``dynamodb``, ``secretsmanager``), created on first use."""
    with _lock:
        found = _clients.get(service)
        if found is None:
            found = (_factory or default_factory)(service)
            _clients[service] = found
        return found
