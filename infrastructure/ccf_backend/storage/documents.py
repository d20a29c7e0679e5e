"""Document checksums in the documents table, keyed by connector and a hash of the document id.

The public functions are the DynamoDB implementation of
:class:`~ccf_backend.storage.interface.Storage`; after ``use_storage`` they run on another one.

Ids may be 1825 characters, more than DynamoDB's 1024-byte sort key holds, so the sort key is
the SHA-256 of the id and the id is an attribute. Two connectors never share a row, and a
batch delete can only touch rows of the connector in the path (the reference's documents table
keyed rows by account and id only).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from ccf_backend.settings import get_settings
from ccf_backend.storage import codec
from ccf_backend.storage.base import (
    dynamodb,
    get_batches,
    now_iso,
    query_page,
    translate_throttling,
    write_batches,
)
from ccf_backend.storage.interface import dispatch


def _table() -> str:
    return get_settings().documents_table


def document_key(document_id: str) -> str:
    """The sort key of a document: the SHA-256 hex digest of its id."""
    return hashlib.sha256(document_id.encode("utf-8")).hexdigest()


def _key(connector_id: str, document_id: str) -> dict[str, Any]:
    return {"connector_id": {"S": connector_id}, "document_key": {"S": document_key(document_id)}}


@dispatch
def put_documents(connector_id: str, documents: Sequence[tuple[str, str]]) -> None:
    """Record ``(document_id, checksum)`` pairs; ``created_at`` is kept for documents already known."""
    keys = [_key(connector_id, document_id) for document_id, _ in documents]
    known = {
        raw["document_key"]["S"]: raw["created_at"]["S"]
        for raw in get_batches(_table(), keys, "document_key, created_at")
        if "created_at" in raw
    }
    now = now_iso()
    requests = []
    for (document_id, checksum), key in zip(documents, keys, strict=True):
        record = {
            **key,
            "document_id": {"S": document_id},
            "checksum": {"S": checksum},
            "created_at": {"S": known.get(key["document_key"]["S"], now)},
            "updated_at": {"S": now},
        }
        requests.append({"PutRequest": {"Item": record}})
    write_batches(_table(), requests)


@dispatch
def delete_documents(connector_id: str, document_ids: Sequence[str]) -> None:
    """Forget documents of this connector (ids it does not have are ignored)."""
    write_batches(
        _table(),
        [{"DeleteRequest": {"Key": _key(connector_id, document_id)}} for document_id in document_ids],
    )


@dispatch
def list_documents(
    connector_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of a connector's documents (strongly consistent) and the key to continue after."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "connector_id = :id",
        "ExpressionAttributeValues": {":id": {"S": connector_id}},
        "ProjectionExpression": "document_id, checksum, created_at, updated_at",
        "ConsistentRead": True,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    items, last = query_page(request, limit, lambda raw: _key(connector_id, raw["document_id"]["S"]))
    return [codec.plain(raw) for raw in items], last


@dispatch
def purge_documents(connector_id: str, deadline: float) -> bool:
    """Delete a deleted connector's documents until ``deadline`` (monotonic); True when done."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "connector_id = :id",
        "ExpressionAttributeValues": {":id": {"S": connector_id}},
        "ProjectionExpression": "connector_id, document_key",
    }
    while time.monotonic() < deadline:
        with translate_throttling():
            response = dynamodb().query(**request)
        write_batches(_table(), [{"DeleteRequest": {"Key": key}} for key in response.get("Items", [])])
        if not response.get("LastEvaluatedKey"):
            return True
    return False
