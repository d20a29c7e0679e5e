"""The storage transitions used by the orchestrator, the status functions and the local executors.

Run on both implementations (DynamoDB under moto, SQLite), through the module-level functions
the rest of the backend calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccf_backend.errors import Conflict
from ccf_backend.local_jobs import advance
from ccf_backend.local_server import LocalBackend
from ccf_backend.settings import get_settings
from ccf_backend.storage import connectors, jobs
from ccf_backend.storage.base import dynamodb
from ccf_backend.storage.interface import STORAGE_METHODS, DynamoDbStorage, Storage
from ccf_backend.storage.sqlite import SqliteStorage
from ccf_core.api.models import JobStatus

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")

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


def _force_status(backend: LocalBackend, connector_id: str, job_id: str, status: str) -> None:
    """Write a job's status past every condition (as a duplicate or reordered event would see it)."""
    if backend.storage is not None:
        db = backend.storage._db
        item = json.loads(
            db.execute(
                "SELECT item FROM jobs WHERE connector_id = ? AND job_id = ?", (connector_id, job_id)
            ).fetchone()[0]
        )
        item["status"] = status
        db.execute(
            "UPDATE jobs SET status = ?, item = ? WHERE connector_id = ? AND job_id = ?",
            (status, json.dumps(item), connector_id, job_id),
        )
        return
    dynamodb().update_item(
        TableName=get_settings().jobs_table,
        Key={"connector_id": {"S": connector_id}, "job_id": {"S": job_id}},
        UpdateExpression="SET #s = :status",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":status": {"S": status}},
    )


def test_a_late_finish_of_an_old_job_does_not_free_the_connector(
    backend: LocalBackend, ccf: Any, connector_id: str
) -> None:
    old = _start(ccf, connector_id)
    assert jobs.finish_job(connector_id, old, JobStatus.SUCCEEDED)
    current = _start(ccf, connector_id)
    _force_status(backend, connector_id, old, "RUNNING")  # the old job somehow still looks unfinished
    assert jobs.finish_job(connector_id, old, JobStatus.FAILED) is True
    connector = connectors.get_connector(TENANT, connector_id)
    assert connector["status"] == "IN_USE"
    assert connector["current_job_id"] == current


def test_list_active_jobs_lists_every_unfinished_job(ccf: Any, make_connector: Any) -> None:
    first, second = (make_connector()["connector_id"] for _ in range(2))
    running, stopping = _start(ccf, first), _start(ccf, second)
    jobs.mark_running(first, running, "local-1")
    jobs.request_stop(second, stopping)
    found = {(job["connector_id"], job["job_id"]): job["status"] for job in jobs.list_active_jobs()}
    assert found[(first, running)] == "RUNNING"
    assert found[(second, stopping)] == "STOPPING"
    jobs.finish_job(first, running, JobStatus.SUCCEEDED)
    assert (first, running) not in {(job["connector_id"], job["job_id"]) for job in jobs.list_active_jobs()}


def test_both_implementations_offer_the_whole_interface(tmp_path: Path) -> None:
    sqlite = SqliteStorage(tmp_path / "check.db")
    try:
        for implementation in (DynamoDbStorage(), sqlite):
            assert isinstance(implementation, Storage)
            for name in STORAGE_METHODS:
                assert callable(getattr(implementation, name)), name
    finally:
        sqlite.close()


def test_finish_rejects_a_non_terminal_status(connector_id: str) -> None:
    with pytest.raises(ValueError, match="terminal"):
        jobs.finish_job(connector_id, "ccj-0123456789ab", JobStatus.RUNNING)


def test_a_torn_checkpoint_read_is_retried_then_a_conflict(
    storage_kind: str, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if storage_kind == "sqlite":
        # One row, one transaction: SQLite has no chunks to tear. The checkpoint reads back whole.
        connectors.put_checkpoint(TENANT, connector_id, '{"a": 1}')
        assert connectors.get_checkpoint(TENANT, connector_id)["checkpoint_data"] == '{"a": 1}'
        return
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


#: Module functions that touch no table (key and error helpers, the connector codec).
_PURE_HELPERS = {
    "chunk_record",
    "decode_connector",
    "document_key",
    "encode_connector",
    "job_not_found",
    "not_found",
}


def test_every_storage_function_dispatches_to_the_active_implementation() -> None:
    """A storage function added without ``@dispatch`` would reach DynamoDB from the SQLite server."""
    import inspect

    from ccf_backend.storage import documents

    for module in (connectors, jobs, documents):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_") or name in _PURE_HELPERS:
                continue
            assert hasattr(function, "__wrapped__"), f"{module.__name__}.{name} lacks @dispatch"
            assert name in STORAGE_METHODS, f"{name} is not in the Storage protocol"
            assert callable(getattr(SqliteStorage, name, None)), f"SqliteStorage lacks {name}"
