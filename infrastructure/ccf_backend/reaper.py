"""The reaper Lambda (scheduled): closes jobs whose end nobody reported, so no connector stays IN_USE.

A job RUNNING or STOPPING whose Batch job ended (its event was lost) is closed as the job-status
function would; one whose Batch job Batch no longer knows, or a job never submitted, is closed
once ``CCF_REAPER_GRACE_SECONDS`` have passed since its last change (see
:func:`ccf_backend.executors.reap`).
"""

from __future__ import annotations

from typing import Any

from ccf_backend import executors, logs
from ccf_backend.settings import get_settings


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Close the jobs whose container ended or was lost; returns ``{"closed": {job_id: status}}``."""
    logs.configure()
    with logs.bound(operation="ReapJobs"):
        closed = executors.reap(executors.get_executor(), get_settings().reaper_grace_seconds)
    return {"closed": {job_id: status.value for job_id, status in closed.items()}}
