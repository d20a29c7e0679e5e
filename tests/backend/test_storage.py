"""The DAOs' transitions used by the orchestrator and status functions, and the local job runner."""

from __future__ import annotations

from typing import Any

import pytest

from ccf_backend.errors import Conflict
from ccf_backend.local_jobs import advance
from ccf_backend.settings import get_settings
from ccf_backend.storage import connectors, jobs
from ccf_backend.storage.base import dynamodb
from ccf_core.api.models import JobStatus

TENANT = "arn:aws:ccf:us-east-1:123456789012"


def _start(ccf: Any, connector_id: str) -> str:
    return str(ccf.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"])


def test_mark_running_only_from_started(ccf: Any, connector_id: str) -> None:
    job_id = _start(ccf, connector_id)
    assert jobs.mark_running(connector_id, job_id, "batch-1") is True
    assert jobs.mark_running(connector_id, job_id, "batch-2") is False
    assert jobs.get_job(connector_id, job_id)["batch_job_id"] == "batch-1"


def test_finish_is_idempotent(ccf: Any, connector_id: str) -> None:
    job_id = _start(ccf, connector_id)
    assert jobs.finish_job(connector_id, job_id, JobStatus.SUCCEEDED) is True
    assert jobs.finish_job(connector_id, job_id, JobStatus.FAILED) is False
    assert jobs.get_job(connector_id, job_id)["status"] == "SUCCEEDED"


def test_a_late_finish_of_an_old_job_does_not_free_the_connector(ccf: Any, connector_id: str) -> None:
    old = _start(ccf, connector_id)
    assert jobs.finish_job(connector_id, old, JobStatus.SUCCEEDED)
    current = _start(ccf, connector_id)
    dynamodb().update_item(  # the old job somehow still looks unfinished (a duplicate event)
        TableName=get_settings().jobs_table,
        Key={"connector_id": {"S": connector_id}, "job_id": {"S": old}},
        UpdateExpression="SET #s = :running",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":running": {"S": "RUNNING"}},
    )
    assert jobs.finish_job(connector_id, old, JobStatus.FAILED) is True
    connector = connectors.get_connector(TENANT, connector_id)
    assert connector["status"] == "IN_USE"
    assert connector["current_job_id"] == current


def test_finish_rejects_a_non_terminal_status(connector_id: str) -> None:
    with pytest.raises(ValueError, match="terminal"):
        jobs.finish_job(connector_id, "ccj-0123456789ab", JobStatus.RUNNING)


def test_a_torn_checkpoint_read_is_retried_then_a_conflict(
    connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connectors.put_checkpoint(TENANT, connector_id, '{"a": 1}')
    original = connectors._read_partition

    def torn(cid: str) -> dict[str, dict[str, Any]]:
        records = original(cid)
        records[connectors.chunk_record(0)]["generation"] = "another-write"
        return records

    monkeypatch.setattr(connectors, "_read_partition", torn)
    monkeypatch.setattr(connectors, "backoff", lambda attempt: None)
    with pytest.raises(Conflict, match="being written"):
        connectors.get_checkpoint(TENANT, connector_id)


def test_local_job_runner_steps(ccf: Any, connector_id: str) -> None:
    job_id = _start(ccf, connector_id)
    assert advance(jobs.get_job(connector_id, job_id), job_seconds=0) is JobStatus.RUNNING
    assert advance(jobs.get_job(connector_id, job_id), job_seconds=3600) is None
    assert advance(jobs.get_job(connector_id, job_id), job_seconds=0) is JobStatus.SUCCEEDED
    stopped = _start(ccf, connector_id)
    ccf.stop_custom_connector_job(connector_id=connector_id, job_id=stopped)
    assert advance(jobs.get_job(connector_id, stopped), job_seconds=0) is JobStatus.STOPPED
    assert ccf.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"
