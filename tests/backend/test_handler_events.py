"""The Lambda handler fed the sample API Gateway events of ``tests/events`` (no HTTP in between)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ccf_backend import cleanup
from ccf_backend.handler import lambda_handler
from ccf_backend.storage import jobs as jobs_dao
from ccf_core.api.models import JobStatus

PLACEHOLDER_CONNECTOR = "cc-000000000000"
PLACEHOLDER_JOB = "ccj-000000000000"
CONTEXT = SimpleNamespace(
    aws_request_id="11111111-2222-3333-4444-555555555555", get_remaining_time_in_millis=lambda: 60_000
)

Event = Callable[[str], dict[str, Any]]


def _invoke(
    event: dict[str, Any], connector_id: str = PLACEHOLDER_CONNECTOR, job_id: str = PLACEHOLDER_JOB
) -> tuple[int, Any]:
    text = json.dumps(event).replace(PLACEHOLDER_CONNECTOR, connector_id).replace(PLACEHOLDER_JOB, job_id)
    result = lambda_handler(json.loads(text), CONTEXT)
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["headers"]["x-amzn-RequestId"] == CONTEXT.aws_request_id
    return result["statusCode"], json.loads(result["body"]) if result["body"] else None


def test_create_event(backend: Any, load_event: Event) -> None:
    status, body = _invoke(load_event("create_custom_connector"))
    assert status == 201
    assert body["connector"]["connector_type"] == "gitlab"
    assert body["connector"]["secret_references"]["token"].startswith("arn:aws:secretsmanager:")


def test_every_connector_event_in_its_lifecycle(backend: Any, load_event: Event) -> None:
    _, created = _invoke(load_event("create_custom_connector"))
    cid = created["connector"]["connector_id"]
    assert _invoke(load_event("get_custom_connector"), cid)[0] == 200
    status, updated = _invoke(load_event("update_custom_connector"), cid)
    assert status == 200
    assert updated["connector"]["container_properties"]["resource_requirements"]["memory"] == 4096
    assert updated["connector"]["container_properties"]["image_uri"].endswith("ccf-runner:1.0")
    status, started = _invoke(load_event("start_custom_connector_job"), cid)
    assert status == 201
    jid = started["job"]["job_id"]
    assert _invoke(load_event("list_custom_connector_jobs"), cid)[1]["jobs"][0]["job_id"] == jid
    assert (
        _invoke(load_event("put_custom_connector_job_metrics"), cid, jid)[1]["job"]["metrics"]["scanned"]
        == 120
    )
    assert _invoke(load_event("get_custom_connector_job"), cid, jid)[0] == 200
    assert _invoke(load_event("stop_custom_connector_job"), cid, jid)[1]["job"]["status"] == "STOPPING"
    assert _invoke(load_event("batch_put_custom_connector_documents"), cid)[0] == 200
    assert len(_invoke(load_event("list_custom_connector_documents"), cid)[1]["documents"]) == 1
    assert _invoke(load_event("batch_delete_custom_connector_documents"), cid)[0] == 200
    assert _invoke(load_event("put_custom_connector_checkpoint"), cid)[0] == 202
    assert (
        "last_synced_at"
        in _invoke(load_event("get_custom_connector_checkpoint"), cid)[1]["checkpoint"]["checkpoint_data"]
    )
    assert _invoke(load_event("delete_custom_connector_checkpoint"), cid) == (204, None)
    assert _invoke(load_event("delete_custom_connector"), cid)[0] == 409
    jobs_dao.finish_job(cid, jid, JobStatus.STOPPED)
    assert _invoke(load_event("delete_custom_connector"), cid) == (204, None)
    assert _invoke(load_event("get_custom_connector"), cid)[0] == 404


def test_list_event(backend: Any, load_event: Event) -> None:
    status, body = _invoke(load_event("list_custom_connectors"))
    assert status == 200
    assert isinstance(body["connectors"], list)


def test_base64_encoded_body(backend: Any, load_event: Event) -> None:
    status, body = _invoke(load_event("base64_body"))
    assert status == 201
    assert body["connector"]["name"] == "base64-body"


def test_malformed_body(backend: Any, load_event: Event) -> None:
    status, body = _invoke(load_event("malformed_body"))
    assert status == 400
    assert body["field"] == "body"


def test_path_behind_a_stage_or_base_path(backend: Any, load_event: Event) -> None:
    assert _invoke(load_event("stage_prefixed_path"))[0] == 200


@pytest.mark.parametrize(
    "name", ["get_custom_connector", "get_custom_connector_checkpoint", "list_custom_connector_documents"]
)
def test_events_for_an_unknown_connector_are_not_found(backend: Any, load_event: Event, name: str) -> None:
    assert _invoke(load_event(name))[0] == 404


def test_cleanup_reads_only_connector_removals(load_event: Event) -> None:
    assert cleanup.deleted_connector_ids(load_event("connectors_stream_remove")) == [PLACEHOLDER_CONNECTOR]


def test_cleanup_purges_what_delete_left(
    backend: Any, ccf: Any, connector_id: str, load_event: Event
) -> None:
    from ccf_backend.settings import get_settings
    from ccf_backend.storage.base import dynamodb
    from ccf_backend.storage.documents import put_documents

    ccf.delete_custom_connector(connector_id=connector_id)
    put_documents(connector_id, [(f"late-{n}", "0" * 64) for n in range(40)])
    event = json.loads(
        json.dumps(load_event("connectors_stream_remove")).replace(PLACEHOLDER_CONNECTOR, connector_id)
    )
    assert cleanup.lambda_handler(event, CONTEXT) == {"purged": [connector_id]}
    left = dynamodb().query(
        TableName=get_settings().documents_table,
        KeyConditionExpression="connector_id = :id",
        ExpressionAttributeValues={":id": {"S": connector_id}},
    )
    assert left["Items"] == []
