"""Connectors and their checkpoints in the connectors table.

The public functions are the DynamoDB implementation of
:class:`~ccf_backend.storage.interface.Storage`; after ``use_storage`` they run on another one.

A connector is the item ``(connector_id, "connector")``. Its checkpoint (up to 1 MiB, more than a
DynamoDB item holds) is stored zlib-compressed in up to four chunk items
``(connector_id, "checkpoint#NN")`` that carry the generation written in the connector item;
writes replace every chunk and the connector item in one transaction, and a reader that sees
chunks of another generation (a write landed between its reads) reads again.

Every read and write is scoped to the caller's tenant (``arn:aws:ccf:{region}:{account}``): a
connector of another tenant is "not found".
"""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

from botocore.exceptions import ClientError

from ccf_backend.errors import Conflict, NotFound
from ccf_backend.settings import get_settings
from ccf_backend.storage import codec
from ccf_backend.storage.base import (
    backoff,
    cancellation_codes,
    dynamodb,
    error_code,
    now_iso,
    query_page,
    translate_throttling,
)
from ccf_backend.storage.interface import dispatch
from ccf_backend.storage.tables import CONNECTOR_RECORD, TENANT_INDEX
from ccf_core.api.models import ConnectorStatus

CHECKPOINT_CHUNK_BYTES = 350_000
MAX_CHECKPOINT_CHUNKS = 4
_CHECKPOINT_ATTRIBUTES = (
    "checkpoint_generation",
    "checkpoint_chunks",
    "checkpoint_size",
    "checkpoint_created_at",
    "checkpoint_updated_at",
)
_TRANSACTION_ATTEMPTS = 5


class VersionChanged(Exception):
    """The connector changed between the read and the conditional write; read and merge again."""


def _table() -> str:
    return get_settings().connectors_table


def _key(connector_id: str, record: str = CONNECTOR_RECORD) -> dict[str, Any]:
    return {"connector_id": {"S": connector_id}, "record": {"S": record}}


def chunk_record(index: int) -> str:
    """The sort key of checkpoint chunk ``index``."""
    return f"checkpoint#{index:02d}"


def not_found(connector_id: str) -> NotFound:
    """The 404 for a connector that does not exist (or belongs to another tenant)."""
    return NotFound(f"connector {connector_id} not found")


def decode_connector(raw: dict[str, Any]) -> dict[str, Any]:
    """A connector item as a plain dict, ``configuration`` parsed back from its JSON text."""
    found = codec.plain(raw)
    configuration = found.get("configuration")
    if isinstance(configuration, str):
        found["configuration"] = json.loads(configuration)
    return found


def encode_connector(values: dict[str, Any]) -> dict[str, Any]:
    """Attribute values of connector fields (``configuration`` kept as exact JSON text)."""
    prepared = dict(values)
    if prepared.get("configuration") is not None:
        prepared["configuration"] = json.dumps(prepared["configuration"], separators=(",", ":"))
    return codec.item(prepared)


@dispatch
def create_connector(connector: dict[str, Any]) -> None:
    """Insert a new connector item; a 409 if the id exists (practically never: ids are random)."""
    try:
        with translate_throttling():
            dynamodb().put_item(
                TableName=_table(),
                Item={**encode_connector(connector), "record": {"S": CONNECTOR_RECORD}},
                ConditionExpression="attribute_not_exists(connector_id)",
            )
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            raise Conflict(f"connector {connector['connector_id']} already exists") from err
        raise


@dispatch
def get_connector(tenant: str, connector_id: str) -> dict[str, Any]:
    """The connector (strongly consistent read), or a 404."""
    with translate_throttling():
        response = dynamodb().get_item(TableName=_table(), Key=_key(connector_id), ConsistentRead=True)
    raw = response.get("Item")
    if raw is None or raw.get("tenant", {}).get("S") != tenant:
        raise not_found(connector_id)
    return decode_connector(raw)


@dispatch
def find_connector(connector_id: str) -> dict[str, Any] | None:
    """The connector whatever its tenant, or None: for the job functions, which act for no caller."""
    with translate_throttling():
        response = dynamodb().get_item(TableName=_table(), Key=_key(connector_id), ConsistentRead=True)
    raw = response.get("Item")
    return None if raw is None else decode_connector(raw)


@dispatch
def list_connectors(
    tenant: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the tenant's connectors (ordered by id) and the key to continue after."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": TENANT_INDEX,
        "KeyConditionExpression": "tenant = :tenant",
        "ExpressionAttributeValues": {":tenant": {"S": tenant}},
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    items, last = query_page(
        request,
        limit,
        lambda raw: {name: raw[name] for name in ("tenant", "connector_id", "record")},
    )
    return [decode_connector(raw) for raw in items], last


@dispatch
def update_connector(
    tenant: str,
    connector_id: str,
    changes: dict[str, Any],
    expected_version: int,
    *,
    require_available: bool,
) -> dict[str, Any]:
    """Write the changed fields if the connector still has ``expected_version``; the new item.

    Raises:
        NotFound: the connector is gone.
        Conflict: ``require_available`` and a job is running.
        VersionChanged: someone else updated it since it was read.
    """
    names = {"#version": "version", "#updated": "updated_at"}
    values: dict[str, Any] = {
        ":tenant": {"S": tenant},
        ":version": {"N": str(expected_version)},
        ":one": {"N": "1"},
        ":now": {"S": now_iso()},
    }
    assignments = ["#version = #version + :one", "#updated = :now"]
    for position, (name, attribute) in enumerate(encode_connector(changes).items()):
        names[f"#f{position}"] = name
        values[f":f{position}"] = attribute
        assignments.append(f"#f{position} = :f{position}")
    condition = "attribute_exists(connector_id) AND tenant = :tenant AND #version = :version"
    if require_available:
        condition += " AND #status = :available"
        names["#status"] = "status"
        values[":available"] = {"S": ConnectorStatus.AVAILABLE.value}
    try:
        with translate_throttling():
            response = dynamodb().update_item(
                TableName=_table(),
                Key=_key(connector_id),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item")
        if not old or old.get("tenant", {}).get("S") != tenant:
            raise not_found(connector_id) from err
        if require_available and old.get("status", {}).get("S") != ConnectorStatus.AVAILABLE.value:
            job = old.get("current_job_id", {}).get("S", "a job")
            raise Conflict(
                f"connector {connector_id} is IN_USE (running {job}); stop the job or wait for it "
                "to end before changing how the connector runs",
                field="connector_id",
            ) from err
        raise VersionChanged(connector_id) from err
    return decode_connector(response["Attributes"])


@dispatch
def delete_connector(tenant: str, connector_id: str) -> None:
    """Delete an AVAILABLE connector and its checkpoint in one transaction; 404 or 409 otherwise."""
    items: list[dict[str, Any]] = [
        {
            "Delete": {
                "TableName": _table(),
                "Key": _key(connector_id),
                "ConditionExpression": "attribute_exists(connector_id) AND tenant = :tenant "
                "AND #status <> :in_use",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":tenant": {"S": tenant},
                    ":in_use": {"S": ConnectorStatus.IN_USE.value},
                },
            }
        },
        *_delete_chunks(connector_id, first=0),
    ]
    try:
        _transact(items)
    except ClientError as err:
        if error_code(err) != "TransactionCanceledException":
            raise
        connector = get_connector(tenant, connector_id)
        raise Conflict(
            f"connector {connector_id} is IN_USE (running {connector.get('current_job_id', 'a job')}); "
            "stop the job or wait for it to end before deleting the connector",
            field="connector_id",
        ) from err


# -- checkpoint --------------------------------------------------------------------------------


def _delete_chunks(connector_id: str, first: int) -> list[dict[str, Any]]:
    return [
        {"Delete": {"TableName": _table(), "Key": _key(connector_id, chunk_record(index))}}
        for index in range(first, MAX_CHECKPOINT_CHUNKS)
    ]


def _transact(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, retried with backoff while it conflicts with another transaction."""
    client = dynamodb()
    for attempt in range(_TRANSACTION_ATTEMPTS):
        try:
            with translate_throttling():
                client.transact_write_items(TransactItems=items)
            return
        except ClientError as err:
            codes = cancellation_codes(err) if error_code(err) == "TransactionCanceledException" else []
            if "TransactionConflict" not in codes or attempt == _TRANSACTION_ATTEMPTS - 1:
                raise
            backoff(attempt)


@dispatch
def put_checkpoint(tenant: str, connector_id: str, data: str) -> None:
    """Replace the connector's checkpoint (``data`` at most 1 MiB of UTF-8)."""
    compressed = zlib.compress(data.encode("utf-8"))
    chunks = [
        compressed[start : start + CHECKPOINT_CHUNK_BYTES]
        for start in range(0, len(compressed), CHECKPOINT_CHUNK_BYTES)
    ]
    if len(chunks) > MAX_CHECKPOINT_CHUNKS:  # pragma: no cover - the 1 MiB limit makes this impossible
        raise ValueError("checkpoint too large")
    generation = uuid.uuid4().hex
    now = now_iso()
    items: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": _key(connector_id),
                "UpdateExpression": "SET checkpoint_generation = :generation, checkpoint_chunks = :chunks, "
                "checkpoint_size = :size, checkpoint_updated_at = :now, "
                "checkpoint_created_at = if_not_exists(checkpoint_created_at, :now)",
                "ConditionExpression": "attribute_exists(connector_id) AND tenant = :tenant",
                "ExpressionAttributeValues": {
                    ":generation": {"S": generation},
                    ":chunks": {"N": str(len(chunks))},
                    ":size": {"N": str(len(data.encode("utf-8")))},
                    ":now": {"S": now},
                    ":tenant": {"S": tenant},
                },
            }
        }
    ]
    for index, chunk in enumerate(chunks):
        items.append(
            {
                "Put": {
                    "TableName": _table(),
                    "Item": {
                        **_key(connector_id, chunk_record(index)),
                        "generation": {"S": generation},
                        "data": {"B": chunk},
                    },
                }
            }
        )
    items.extend(_delete_chunks(connector_id, first=len(chunks)))
    try:
        _transact(items)
    except ClientError as err:
        if error_code(err) == "TransactionCanceledException" and cancellation_codes(err)[:1] == [
            "ConditionalCheckFailed"
        ]:
            raise not_found(connector_id) from err
        raise


@dispatch
def get_checkpoint(tenant: str, connector_id: str, attempts: int = 3) -> dict[str, Any]:
    """``{checkpoint_data, created_at, updated_at}``, or a 404 (no connector, or no checkpoint)."""
    for attempt in range(attempts):
        records = _read_partition(connector_id)
        connector = records.get(CONNECTOR_RECORD)
        if connector is None or connector.get("tenant") != tenant:
            raise not_found(connector_id)
        generation = connector.get("checkpoint_generation")
        if generation is None:
            raise NotFound(f"connector {connector_id} has no checkpoint")
        count = int(connector["checkpoint_chunks"])
        chunks = [records.get(chunk_record(index)) for index in range(count)]
        if all(chunk is not None and chunk.get("generation") == generation for chunk in chunks):
            compressed = b"".join(bytes(chunk["data"]) for chunk in chunks if chunk is not None)
            return {
                "checkpoint_data": zlib.decompress(compressed).decode("utf-8"),
                "created_at": connector.get("checkpoint_created_at"),
                "updated_at": connector.get("checkpoint_updated_at"),
            }
        backoff(attempt)
    raise Conflict(f"the checkpoint of connector {connector_id} is being written; retry")


def _read_partition(connector_id: str) -> dict[str, dict[str, Any]]:
    client = dynamodb()
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "connector_id = :id",
        "ExpressionAttributeValues": {":id": {"S": connector_id}},
        "ConsistentRead": True,
    }
    records: dict[str, dict[str, Any]] = {}
    while True:
        with translate_throttling():
            response = client.query(**request)
        for raw in response.get("Items", []):
            records[raw["record"]["S"]] = codec.plain(raw)
        if not response.get("LastEvaluatedKey"):
            return records
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dispatch
def delete_checkpoint(tenant: str, connector_id: str) -> None:
    """Remove the checkpoint; a 404 when the connector or its checkpoint does not exist."""
    items: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": _key(connector_id),
                "UpdateExpression": "REMOVE " + ", ".join(_CHECKPOINT_ATTRIBUTES),
                "ConditionExpression": "attribute_exists(checkpoint_generation) AND tenant = :tenant",
                "ExpressionAttributeValues": {":tenant": {"S": tenant}},
            }
        },
        *_delete_chunks(connector_id, first=0),
    ]
    try:
        _transact(items)
    except ClientError as err:
        if error_code(err) != "TransactionCanceledException":
            raise
        get_connector(tenant, connector_id)
        raise NotFound(f"connector {connector_id} has no checkpoint") from err
