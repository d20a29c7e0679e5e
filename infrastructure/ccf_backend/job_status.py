"""The job-status Lambda, on EventBridge "Batch Job State Change": ends jobs whose container ended.

A SUCCEEDED Batch job makes its job SUCCEEDED; a FAILED one makes it FAILED with Batch's status
reason, or STOPPED when a stop was requested; the connector becomes AVAILABLE again. Events about
a job that already ended, about a Batch job that is not the one recorded for the job, or about a
state before the end change nothing, so duplicate and out-of-order events are harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ccf_backend import executors, logs
from ccf_backend.batch_executor import batch_status, ids_from_batch_job
from ccf_core.api.models import JobStatus

logger = logging.getLogger(__name__)

DETAIL_TYPE = "Batch Job State Change"


class BatchJobStateChange(BaseModel):
    """The EventBridge event (its ``detail`` is a DescribeJobs entry: jobId, jobName, status...)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    detail_type: str = Field(default="", alias="detail-type")
    source: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


def handle_event(event: BatchJobStateChange) -> JobStatus | None:
    """End the job the event is about if its Batch job ended; the status it moved to, or None."""
    if event.detail_type != DETAIL_TYPE:
        return None
    ids = ids_from_batch_job(event.detail)
    external = batch_status(event.detail)
    if ids is None or external is None or not external.is_terminal:
        return None
    connector_id, job_id = ids
    with logs.bound(connector_id=connector_id, job_id=job_id):
        job = executors.current_job(connector_id, job_id)
        if job is None:
            return None
        recorded = job.get(executors.EXTERNAL_ID)
        if recorded and recorded != event.detail.get("jobId"):
            logger.info("ignoring Batch job %s: the job runs as %s", event.detail.get("jobId"), recorded)
            return None
        return executors.finish_from_external(connector_id, job_id, JobStatus(job["status"]), external)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """End the job of a "Batch Job State Change" event when its Batch job SUCCEEDED or FAILED."""
    logs.configure()
    with logs.bound(operation="BatchJobStateChange"):
        moved = handle_event(BatchJobStateChange.model_validate(event))
    return {"status": moved.value if moved else None}
