"""The three tables' keys, indexes, stream and TTL, for creating them locally and under moto.

``infrastructure/template.yaml`` declares the same tables for AWS; a test checks the two agree.

- connectors: ``connector_id`` + ``record`` (``connector`` for the connector, ``checkpoint#NN``
  for the chunks of its checkpoint); sparse index ``tenant-index`` (``tenant``, ``connector_id``)
  lists a tenant's connectors; stream NEW_AND_OLD_IMAGES feeds the cleanup function.
- jobs: ``connector_id`` + ``job_id``; local index ``created-index`` (``connector_id``,
  ``created_at``) lists jobs newest first; stream NEW_AND_OLD_IMAGES feeds the orchestrator;
  TTL on the numeric ``ttl`` attribute, set when a job ends.
- documents: ``connector_id`` + ``document_key`` (SHA-256 of the document id, because ids of up
  to 1825 characters do not fit DynamoDB's 1024-byte sort key); the id itself is an attribute.
"""

from __future__ import annotations

from typing import Any

from ccf_backend.settings import Settings

CONNECTOR_RECORD = "connector"
TENANT_INDEX = "tenant-index"
CREATED_INDEX = "created-index"
TTL_ATTRIBUTE = "ttl"
_STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def table_definitions(settings: Settings) -> list[dict[str, Any]]:
    """``CreateTable`` arguments for the three tables (on-demand billing)."""
    return [
        {
            "TableName": settings.connectors_table,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "connector_id", "AttributeType": "S"},
                {"AttributeName": "record", "AttributeType": "S"},
                {"AttributeName": "tenant", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "connector_id", "KeyType": "HASH"},
                {"AttributeName": "record", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": TENANT_INDEX,
                    "KeySchema": [
                        {"AttributeName": "tenant", "KeyType": "HASH"},
                        {"AttributeName": "connector_id", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "StreamSpecification": _STREAM,
        },
        {
            "TableName": settings.jobs_table,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "connector_id", "AttributeType": "S"},
                {"AttributeName": "job_id", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "connector_id", "KeyType": "HASH"},
                {"AttributeName": "job_id", "KeyType": "RANGE"},
            ],
            "LocalSecondaryIndexes": [
                {
                    "IndexName": CREATED_INDEX,
                    "KeySchema": [
                        {"AttributeName": "connector_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "StreamSpecification": _STREAM,
        },
        {
            "TableName": settings.documents_table,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "connector_id", "AttributeType": "S"},
                {"AttributeName": "document_key", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "connector_id", "KeyType": "HASH"},
                {"AttributeName": "document_key", "KeyType": "RANGE"},
            ],
        },
    ]


def create_tables(client: Any, settings: Settings) -> None:
    """Create the tables that do not exist yet, wait for them, and enable TTL on the jobs table."""
    existing = set(client.list_tables().get("TableNames", []))
    for definition in table_definitions(settings):
        if definition["TableName"] in existing:
            continue
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=definition["TableName"])
    ttl = client.describe_time_to_live(TableName=settings.jobs_table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(
            TableName=settings.jobs_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
