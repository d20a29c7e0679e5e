"""The job orchestrator Lambda, on the jobs table's stream: starts and stops jobs' containers.

A record whose job became STARTED submits the job to the executor (AWS Batch) and marks it
RUNNING; one whose job became STOPPING terminates its container. Each record is acted on from the
job as it is now (a consistent read), not from the record's image, and every transition is
conditional, so a duplicate or retried record does nothing twice. A record that fails (throttling,
Batch unavailable) is reported with ``batchItemFailures``: the stream retries from it, in order.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ccf_backend import executors, logs
from ccf_core.api.models import JobStatus

logger = logging.getLogger(__name__)

_ACTIONS = (JobStatus.STARTED, JobStatus.STOPPING)


class _Attribute(BaseModel):
    model_config = ConfigDict(extra="ignore")

    S: str | None = None


class _Image(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connector_id: _Attribute = Field(default_factory=_Attribute)
    job_id: _Attribute = Field(default_factory=_Attribute)
    status: _Attribute = Field(default_factory=_Attribute)


class _Change(BaseModel):
    model_config = ConfigDict(extra="ignore")

    SequenceNumber: str = ""
    Keys: _Image = Field(default_factory=_Image)
    NewImage: _Image | None = None
    OldImage: _Image | None = None


class StreamRecord(BaseModel):
    """One DynamoDB stream record of the jobs table (the fields the orchestrator reads)."""

    model_config = ConfigDict(extra="ignore")

    eventID: str = ""
    eventName: str = ""
    dynamodb: _Change = Field(default_factory=_Change)

    @property
    def job_key(self) -> tuple[str, str] | None:
        """``(connector_id, job_id)`` of the record's job."""
        keys = self.dynamodb.Keys
        if keys.connector_id.S and keys.job_id.S:
            return keys.connector_id.S, keys.job_id.S
        return None

    @property
    def action(self) -> JobStatus | None:
        """STARTED or STOPPING when the job just entered that status; None for any other change."""
        new = self.dynamodb.NewImage.status.S if self.dynamodb.NewImage else None
        old = self.dynamodb.OldImage.status.S if self.dynamodb.OldImage else None
        if new is None or new == old:
            return None
        return next((status for status in _ACTIONS if status.value == new), None)


def handle_record(executor: executors.JobExecutor, record: StreamRecord) -> JobStatus | None:
    """Act on one record; the status the job moved to, or None."""
    key = record.job_key
    if record.action is None or key is None:
        return None
    connector_id, job_id = key
    with logs.bound(connector_id=connector_id, job_id=job_id):
        job = executors.current_job(connector_id, job_id)
        return None if job is None else executors.dispatch_job(executor, job)


def handle_event(executor: executors.JobExecutor, event: dict[str, Any]) -> dict[str, Any]:
    """Act on every record of a stream event, in order; stop at the first failure and report it."""
    for raw in event.get("Records", []):
        record = StreamRecord.model_validate(raw)
        try:
            handle_record(executor, record)
        except Exception:
            logger.exception("stream record %s failed; the stream will retry from it", record.eventID)
            return {"batchItemFailures": [{"itemIdentifier": record.dynamodb.SequenceNumber}]}
    return {"batchItemFailures": []}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Start or stop the containers of the jobs changed in a jobs-table stream event."""
    logs.configure()
    with logs.bound(operation="OrchestrateJobs"):
        return handle_event(executors.get_executor(), event)
