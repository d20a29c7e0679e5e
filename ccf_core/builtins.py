"""The built-in plugin: registers ccf's own destinations through the public hooks."""

from __future__ import annotations

from typing import Any

from ccf_core.hookspecs import hookimpl
from ccf_core.ports import Destination
from ccf_core.registry import DestinationRegistry


def _local_index(**options: Any) -> Destination:
    from ccf_core.destinations.local_index import LocalIndex

    return LocalIndex(**options)


def _qbusiness(**options: Any) -> Destination:
    from ccf_core.destinations.qbusiness import QBusinessDestination

    return QBusinessDestination(**options)


@hookimpl
def ccf_register_destinations(registry: DestinationRegistry) -> None:
    """Register the embedded local index and Amazon Q Business."""
    registry.register(
        "local",
        _local_index,
        description="SQLite + FTS5 index on this machine that stores what Q Business would receive",
    )
    registry.register(
        "qbusiness",
        _qbusiness,
        description="Amazon Q Business data source (application_id, index_id, data_source_id; "
        "optional region, endpoint_url, s3_bucket, role_arn, max_in_flight)",
    )
