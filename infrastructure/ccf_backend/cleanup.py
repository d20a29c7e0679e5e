"""The cleanup Lambda: on the connectors stream, finish deleting a deleted connector's data.

DeleteCustomConnector removes the connector and its checkpoint at once and spends a few seconds
deleting its documents and jobs; a connector with many documents is finished here, where the
function can run for minutes. Idempotent: deleting what is already gone is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from ccf_backend import logs, service
from ccf_backend.storage.tables import CONNECTOR_RECORD

logger = logging.getLogger(__name__)

#: Leave this much of the invocation for the retry to be recorded if the purge is not done.
_MARGIN_MS = 10_000


def deleted_connector_ids(event: dict[str, Any]) -> list[str]:
    """The ids of connectors removed in a DynamoDB stream event."""
    found = []
    for record in event.get("Records", []):
        if record.get("eventName") != "REMOVE":
            continue
        keys = record.get("dynamodb", {}).get("Keys", {})
        if keys.get("record", {}).get("S") == CONNECTOR_RECORD and "connector_id" in keys:
            found.append(keys["connector_id"]["S"])
    return found


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Purge the documents and jobs of every connector removed in ``event``.

    Raises:
        RuntimeError: time ran out before everything was deleted (the stream retries the batch).
    """
    logs.configure()
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else 900_000
    for connector_id in deleted_connector_ids(event):
        with logs.bound(connector_id=connector_id, operation="PurgeDeletedConnector"):
            seconds = max(1.0, (remaining_ms - _MARGIN_MS) / 1000)
            if not service.purge_connector_data(connector_id, seconds):
                raise RuntimeError(f"connector {connector_id}: purge not finished; the stream will retry")
            logger.info("deleted connector's documents and jobs purged")
    return {"purged": deleted_connector_ids(event)}
