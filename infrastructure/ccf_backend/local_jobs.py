"""Fake jobs for ``ccf backend serve --fake-jobs SECONDS``: state changes, nothing runs.

The local executor (:mod:`ccf_backend.local_executor`) runs jobs for real; this thread is for
exploring the API or a client without a plugin. It moves jobs through the same conditional
transitions the orchestrator and the job-status function use (:mod:`ccf_backend.storage.jobs`):
a STARTED job becomes RUNNING, a RUNNING job SUCCEEDED after ``job_seconds``, and a STOPPING job
STOPPED, freeing its connector.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from ccf_backend.storage import jobs as jobs_dao
from ccf_core.api.models import JobStatus

logger = logging.getLogger(__name__)


def _age_seconds(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    return time.time() - datetime.fromisoformat(timestamp).timestamp()


def advance(job: dict[str, Any], job_seconds: float) -> JobStatus | None:
    """Move one job a step if it is due; the status it moved to, or None."""
    connector_id, job_id = job["connector_id"], job["job_id"]
    status = JobStatus(job["status"])
    if status is JobStatus.STARTED:
        if jobs_dao.mark_running(connector_id, job_id, f"local-{job_id}"):
            return JobStatus.RUNNING
        return None
    if status is JobStatus.STOPPING:
        return JobStatus.STOPPED if jobs_dao.finish_job(connector_id, job_id, JobStatus.STOPPED) else None
    if status is JobStatus.RUNNING and _age_seconds(job.get("updated_at")) >= job_seconds:
        return JobStatus.SUCCEEDED if jobs_dao.finish_job(connector_id, job_id, JobStatus.SUCCEEDED) else None
    return None


class LocalJobRunner:
    """A daemon thread that advances the local backend's jobs every ``interval`` seconds."""

    def __init__(self, job_seconds: float, interval: float = 0.5) -> None:
        self.job_seconds = job_seconds
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ccf-local-jobs", daemon=True)

    def start(self) -> LocalJobRunner:
        """Start advancing jobs."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for job in jobs_dao.list_active_jobs():
                    moved = advance(job, self.job_seconds)
                    if moved is not None:
                        logger.info(
                            "local job %s of %s is now %s", job["job_id"], job["connector_id"], moved.value
                        )
            except Exception:
                logger.exception("the local job runner failed; it will try again")
