"""Fixtures for the backend tests: the API on a local HTTP server, on DynamoDB (moto) or SQLite.

``backend`` (one per test module) is :class:`ccf_backend.local_server.LocalBackend`: the Lambda
handler behind ``http.server``, fed API Gateway proxy events, with moto's DynamoDB in-process, or
the SQLite storage in a temporary folder. A module that sets ``STORAGES = ("dynamodb", "sqlite")``
runs every test against both implementations (the storage contract); others use DynamoDB.
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
from tests.dummy_aws import dummy_session

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ROOT / "infrastructure"
EVENTS = ROOT / "tests" / "events"

ROLE = "arn:aws:iam::123456789012:role/ccf-job"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ccf-execution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:latest"
CONTAINER = {"execution_role_arn": EXECUTION_ROLE, "image_uri": IMAGE, "job_role_arn": ROLE}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a module's backend tests on every storage its ``STORAGES`` names (DynamoDB by default)."""
    storages = getattr(metafunc.module, "STORAGES", None)
    if storages and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", storages, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalBackend]:
    """The API on 127.0.0.1 with fresh tables (moto) or a fresh SQLite file, for one test module.

    Its JSON logs go to the real stderr (whatever other tests did to logging), so the output
    CliRunner captures from the ``ccf`` commands holds only what the commands print.
    """
    backend_logger = logging.getLogger("ccf_backend")
    for handler in list(backend_logger.handlers):
        backend_logger.removeHandler(handler)
    logs.configure(stream=sys.__stderr__)
    storage = getattr(request, "param", "dynamodb")
    data_dir = tmp_path_factory.mktemp("backend") if storage == "sqlite" else None
    with LocalBackend(data_dir=data_dir) as running:
        yield running


@pytest.fixture
def storage_kind(backend: LocalBackend) -> str:
    """``sqlite`` or ``dynamodb``: which storage the module's backend runs on."""
    return "sqlite" if backend.data_dir is not None else "dynamodb"


@pytest.fixture
def rows_left(backend: LocalBackend) -> Callable[[str], dict[str, int]]:
    """How many rows each table still holds for a connector, read past the API."""

    def count(connector_id: str) -> dict[str, int]:
        if backend.storage is not None:
            db = backend.storage._db
            return {
                table: db.execute(
                    f"SELECT count(*) FROM {table} WHERE connector_id = ?", (connector_id,)
                ).fetchone()[0]
                for table in ("connectors", "checkpoints", "jobs", "documents")
            }
        from ccf_backend.settings import get_settings
        from ccf_backend.storage.base import dynamodb

        settings = get_settings()
        found = {}
        for table in (settings.connectors_table, settings.jobs_table, settings.documents_table):
            response = dynamodb().query(
                TableName=table,
                KeyConditionExpression="connector_id = :id",
                ExpressionAttributeValues={":id": {"S": connector_id}},
            )
            found[table] = len(response["Items"])
        return found

    return count


@pytest.fixture(scope="module")
def ccf(backend: LocalBackend) -> Any:
    """The generated boto3 ``ccf`` client for the local backend (dummy credentials)."""
    from botocore.config import Config

    from ccf_core.api import create_client

    return create_client(
        backend.endpoint_url,
        session=dummy_session(),
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
