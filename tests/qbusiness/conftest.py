"""Fixtures for the Q Business destination: the fake service, a real boto3 client, S3 under moto.

The fake (``tests/fakes/qbusiness_server.py``) is a local HTTP server; the client is a real boto3
``qbusiness`` client pointed at it with ``endpoint_url``. Fixtures hand out factories, so test
modules need not import this file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ccf_core import (
    Connector,
    SyncEngine,
    SyncOptions,
    SyncReport,
)
from ccf_core.destinations.qbusiness import QBusinessDestination
from ccf_core.state import SqliteStateStore
from tests.dummy_aws import DUMMY_CREDENTIALS
from tests.fakes.qbusiness_server import FakeQBusiness

APPLICATION_ID = "a1b2c3d4-0000-4000-8000-00000000a001"
INDEX_ID = "a1b2c3d4-0000-4000-8000-00000000b002"
DATA_SOURCE_ID = "a1b2c3d4-0000-4000-8000-00000000c003"
#: Where the engine keeps the ``listing`` connector's state for the fake data source.
LISTING_SCOPE = f"listing@qbusiness:{APPLICATION_ID}/{INDEX_ID}/{DATA_SOURCE_ID}"
ROLE_ARN = "arn:aws:iam::123456789012:role/qbusiness-reads-ccf-staging"


@pytest.fixture
def qbusiness_client(fake_qbusiness: FakeQBusiness) -> Any:
    """A real boto3 qbusiness client on the fake, with botocore's own retries off."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=32)
    return boto3.client(
        "qbusiness", endpoint_url=fake_qbusiness.endpoint_url, config=config, **DUMMY_CREDENTIALS
    )


@pytest.fixture
def make_destination(qbusiness_client: Any) -> Callable[..., QBusinessDestination]:
    """Build a destination on the fake; waits are shortened so retries and conflicts take milliseconds."""

    def make(**options: Any) -> QBusinessDestination:
        options.setdefault("client", qbusiness_client)
        options.setdefault("application_id", APPLICATION_ID)
        options.setdefault("index_id", INDEX_ID)
        options.setdefault("data_source_id", DATA_SOURCE_ID)
        options.setdefault("retry_base_delay", 0.002)
        options.setdefault("retry_max_delay", 0.02)
        options.setdefault("conflict_poll_seconds", 0.01)
        return QBusinessDestination(**options)

    return make


@pytest.fixture
def run_sync(
    make_destination: Callable[..., QBusinessDestination], state: SqliteStateStore
) -> Callable[..., SyncReport]:
    """Run a connector once through a new engine; ``destination=``/``state=`` override the defaults.

    Other keyword arguments become ``SyncOptions``.
    """

    def run(connector: Connector, **options: Any) -> SyncReport:
        destination = options.pop("destination", None) or make_destination()
        store = options.pop("state", state)
        return SyncEngine(destination, store, SyncOptions(**options)).run(connector)

    return run


@pytest.fixture
def ids() -> dict[str, str]:
    """The application, index and data source ids, and the role ARN, the fixtures use."""
    return {
        "application_id": APPLICATION_ID,
        "index_id": INDEX_ID,
        "data_source_id": DATA_SOURCE_ID,
        "role_arn": ROLE_ARN,
    }


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """S3 under moto, as a real HTTP server on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> tuple[Any, str]:
    """A boto3 S3 client on moto and the name of a new, empty bucket."""
    client = boto3.client("s3", endpoint_url=moto_endpoint, **DUMMY_CREDENTIALS)
    bucket = f"ccf-staging-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket
