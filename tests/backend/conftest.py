"""Fixtures for the backend tests: the API on a local HTTP server, DynamoDB under moto.

``backend`` (one per test module) is :class:`ccf_backend.local_server.LocalBackend`: the Lambda
handler behind ``http.server``, fed API Gateway proxy events, with moto's DynamoDB in-process.
``ccf`` is the generated boto3 ``ccf`` client pointed at it with dummy credentials, so every test
goes through the service model, real HTTP, the handler and the storage together.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ccf_backend import logs
from ccf_backend.local_server import LocalBackend

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ROOT / "infrastructure"
EVENTS = ROOT / "tests" / "events"

ROLE = "arn:aws:iam::123456789012:role/ccf-job"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ccf-execution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:latest"
CONTAINER = {"execution_role_arn": EXECUTION_ROLE, "image_uri": IMAGE, "job_role_arn": ROLE}


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    """The API on 127.0.0.1 with fresh in-memory tables, for one test module.

    Its JSON logs go to the real stderr (whatever other tests did to logging), so the output
    CliRunner captures from the ``ccf`` commands holds only what the commands print.
    """
    backend_logger = logging.getLogger("ccf_backend")
    for handler in list(backend_logger.handlers):
        backend_logger.removeHandler(handler)
    logs.configure(stream=sys.__stderr__)
    with LocalBackend() as running:
        yield running


@pytest.fixture(scope="module")
def ccf(backend: LocalBackend) -> Any:
    """The generated boto3 ``ccf`` client for the local backend (dummy credentials)."""
    import boto3
    from botocore.config import Config

    from ccf_core.api import create_client

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return create_client(
        backend.endpoint_url,
        session=session,
        config=Config(retries={"mode": "standard", "max_attempts": 2}, max_pool_connections=60),
    )


@pytest.fixture
def make_connector(ccf: Any) -> Callable[..., dict[str, Any]]:
    """Create a connector through the API; keyword arguments override the request's fields."""

    def make(**fields: Any) -> dict[str, Any]:
        request: dict[str, Any] = {"name": "test-connector", "container_properties": dict(CONTAINER)}
        request.update(fields)
        connector: dict[str, Any] = ccf.create_custom_connector(**request)["connector"]
        return connector

    return make


@pytest.fixture
def connector_id(make_connector: Callable[..., dict[str, Any]]) -> str:
    """The id of a new connector."""
    return str(make_connector()["connector_id"])


class RawHttp:
    """Plain HTTP calls to the backend, for requests the boto3 client would refuse to send."""

    def __init__(self, endpoint_url: str) -> None:
        self.host = urlsplit(endpoint_url).netloc

    def request(
        self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        """``(status, headers, parsed JSON body or None)``; ``raw`` is sent as is."""
        connection = HTTPConnection(self.host, timeout=30)
        data: bytes | None
        if raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        else:
            data = None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8")
            return response.status, dict(response.getheaders()), json.loads(text) if text else None
        finally:
            connection.close()


@pytest.fixture(scope="module")
def http(backend: LocalBackend) -> RawHttp:
    """Raw HTTP to the local backend."""
    return RawHttp(backend.endpoint_url)


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Load a sample API Gateway event from ``tests/events/<name>.json``."""

    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
        return event

    return load
