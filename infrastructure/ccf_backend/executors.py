"""The executor interface, and the job transitions every executor shares.

An executor runs a job's container somewhere: :class:`ccf_backend.batch_executor.BatchExecutor`
on AWS Batch, the local executor as a subprocess of ``ccf backend serve``. It knows nothing of
jobs tables; the functions here move a job through its states with the conditional transitions of
:mod:`ccf_backend.storage.jobs`, so the lifecycle is the same whichever executor runs it:

- :func:`dispatch_job`: what the orchestrator (on the jobs stream) and the local executor (on
  each step) do with an active job: start a STARTED one, stop a STOPPING one; a STARTED job whose
  connector was deleted ends FAILED, saying so.
- :func:`start_job`: a STARTED job is submitted and becomes RUNNING with the executor's id; a job
  that cannot be submitted becomes FAILED with the reason, and its connector AVAILABLE again.
- :func:`stop_job`: a STOPPING job's container is told to stop.
- :func:`finish_from_external`: the container ended; the job becomes SUCCEEDED, FAILED with the
  reason, or STOPPED when a stop was asked for.
- :func:`reap`: jobs whose container ended (or was lost) without anyone being told are closed.

Every function may be called again with the same input (a retried stream record, a duplicate
event): a transition that already happened is a no-op, and a terminal job never changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ccf_backend import logs
from ccf_backend.errors import NotFound
from ccf_backend.launch import LaunchError, LaunchSpec, build_launch
from ccf_backend.settings import get_settings
from ccf_backend.storage import connectors as connectors_dao
from ccf_backend.storage import jobs as jobs_dao
from ccf_core.api.models import JobStatus

logger = logging.getLogger(__name__)

#: The job attribute that holds the executor's id of the job's container (the Batch job id).
EXTERNAL_ID = "batch_job_id"


class ExternalState(StrEnum):
    """Where a container is, as the executor sees it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ExternalStatus:
    """A container's state and, when it failed, why (the executor's own words)."""

    state: ExternalState
    reason: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the container has ended."""
        return self.state in (ExternalState.SUCCEEDED, ExternalState.FAILED)


class JobExecutor(Protocol):
    """Runs job containers; implemented by the AWS Batch and the local executors."""

    def submit(self, spec: LaunchSpec, connector_id: str, job_id: str) -> str:
        """Start the container ``spec`` describes; its external id (Batch job id, local handle).

        Raises:
            Exception: any error means nothing was started; its message becomes the job's reason.
        """
        ...

    def stop(self, external_id: str) -> None:
        """Ask the container to stop (SIGTERM, then SIGKILL after the executor's grace period)."""
        ...

    def status(self, external_id: str) -> ExternalStatus | None:
        """The container's state, or None when the executor does not know it (any more)."""
        ...


_executor: JobExecutor | None = None


def get_executor() -> JobExecutor:
    """The executor the job functions use: AWS Batch unless :func:`set_executor` chose another."""
    global _executor  # noqa: PLW0603 - a lazily built process-wide value
    if _executor is None:
        from ccf_backend.batch_executor import BatchExecutor

        _executor = BatchExecutor()
    return _executor


def set_executor(executor: JobExecutor | None) -> None:
    """Use ``executor`` (tests, the local server); None goes back to AWS Batch on next use."""
    global _executor  # noqa: PLW0603
    _executor = executor


def current_job(connector_id: str, job_id: str) -> dict[str, Any] | None:
    """The job as stored now (a consistent read); None if it is gone with its deleted connector."""
    try:
        return jobs_dao.get_job(connector_id, job_id)
    except NotFound:
        return None


def dispatch_job(
    executor: JobExecutor, job: dict[str, Any], *, api_endpoint: str | None = None
) -> JobStatus | None:
    """Act on an active job as it is now: submit a STARTED job, stop a STOPPING one.

    A STARTED job whose connector is gone (deleted while the job waited) cannot run: its settings
    went with the connector. It ends FAILED with that reason at once, rather than being left
    STARTED until the reaper gives up on it.

    Args:
        executor: where the job runs.
        job: the stored job, as read now (not from an old stream image).
        api_endpoint: the API URL the job calls back; default ``CCF_API_ENDPOINT``.

    Returns:
        The status the job moved to, or None if its record did not change.
    """
    status = JobStatus(job["status"])
    if status is JobStatus.STOPPING:
        return stop_job(executor, job)
    if status is not JobStatus.STARTED:
        return None
    connector_id = str(job["connector_id"])
    connector = connectors_dao.find_connector(connector_id)
    if connector is None:
        reason = f"connector {connector_id} was deleted before the job could start"
        logger.warning("job %s of %s: %s", job["job_id"], connector_id, reason)
        return _finish(connector_id, str(job["job_id"]), JobStatus.FAILED, reason)
    return start_job(executor, connector, job, api_endpoint=api_endpoint)


def start_job(
    executor: JobExecutor, connector: dict[str, Any], job: dict[str, Any], *, api_endpoint: str | None = None
) -> JobStatus | None:
    """Submit a STARTED job and mark it RUNNING; the status it moved to, or None if nothing changed.

    Args:
        executor: where the job runs.
        connector: the stored connector (see :func:`ccf_backend.launch.build_launch`).
        job: the stored job, as read now (not from an old stream image).
        api_endpoint: the API URL the job calls back; default ``CCF_API_ENDPOINT``.
    """
    connector_id, job_id = str(job["connector_id"]), str(job["job_id"])
    status = JobStatus(job["status"])
    if status is JobStatus.STOPPING and not job.get(EXTERNAL_ID):
        # Stopped before it was submitted: there is nothing to run or to wait for.
        return _finish(connector_id, job_id, JobStatus.STOPPED, None)
    if status is not JobStatus.STARTED:
        return None
    endpoint = api_endpoint if api_endpoint is not None else get_settings().api_endpoint
    try:
        if not endpoint:
            raise LaunchError("the backend has no API endpoint for jobs to call back: set CCF_API_ENDPOINT")
        spec = build_launch(connector, job, endpoint)
        external_id = executor.submit(spec, connector_id, job_id)
    except Exception as err:  # any failure to submit ends the job, with its reason
        reason = f"the job could not be started: {_describe(err)}"
        logger.warning("job %s of %s: %s", job_id, connector_id, reason)
        return _finish(connector_id, job_id, JobStatus.FAILED, reason)
    try:
        running = jobs_dao.mark_running(connector_id, job_id, external_id)
    except Exception:
        # A retry would submit again: stop this one so two containers never run one job.
        executor.stop(external_id)
        raise
    if running:
        logger.info("job %s of %s is RUNNING as %s", job_id, connector_id, external_id)
        return JobStatus.RUNNING
    # A stop was requested (or the job ended) while it was being submitted.
    executor.stop(external_id)
    current = jobs_dao.get_job(connector_id, job_id)
    if JobStatus(current["status"]) is JobStatus.STOPPING:
        return _finish(connector_id, job_id, JobStatus.STOPPED, None)
    return None


def stop_job(executor: JobExecutor, job: dict[str, Any]) -> JobStatus | None:
    """Stop a STOPPING job's container (again, if asked again); the status it moved to, or None.

    A STOPPING job with no container (stopped before it was submitted) becomes STOPPED at once;
    otherwise it stays STOPPING until the executor reports the container's end.
    """
    if JobStatus(job["status"]) is not JobStatus.STOPPING:
        return None
    external_id = job.get(EXTERNAL_ID)
    if not external_id:
        return _finish(str(job["connector_id"]), str(job["job_id"]), JobStatus.STOPPED, None)
    executor.stop(str(external_id))
    logger.info("job %s of %s: asked %s to stop", job["job_id"], job["connector_id"], external_id)
    return None


def outcome(job_status: JobStatus, external: ExternalStatus) -> tuple[JobStatus, str | None]:
    """The terminal status (and reason) of a job whose container ended as ``external``.

    A container that ended while the job was STOPPING makes it STOPPED, unless it succeeded: then
    the run completed (every document and the checkpoint were saved) before the stop took effect,
    and SUCCEEDED says so.
    """
    if external.state is ExternalState.SUCCEEDED:
        return JobStatus.SUCCEEDED, None
    if job_status is JobStatus.STOPPING:
        return JobStatus.STOPPED, None
    return JobStatus.FAILED, external.reason or "the job's container failed"


def finish_from_external(
    connector_id: str, job_id: str, job_status: JobStatus, external: ExternalStatus
) -> JobStatus | None:
    """End a job whose container ended; the status it moved to, or None (already terminal)."""
    if not external.is_terminal or job_status.is_terminal:
        return None
    status, reason = outcome(job_status, external)
    return _finish(connector_id, job_id, status, reason)


def reap(
    executor: JobExecutor,
    grace_seconds: float,
    now: float | None = None,
    *,
    jobs: Iterable[dict[str, Any]] | None = None,
) -> dict[str, JobStatus]:
    """Close jobs whose container ended, or was lost, without the job being told.

    - STARTED for longer than the grace period: never submitted (the orchestrator missed it): FAILED.
    - RUNNING or STOPPING whose container ended: closed as :func:`finish_from_external` would.
    - RUNNING or STOPPING whose container the executor does not know, past the grace period:
      FAILED (lost), or STOPPED if it was stopping.
    - STOPPING whose container still runs past the grace period: asked to stop again.

    The grace period counts from the job's last change (``updated_at``). ``jobs`` are the active
    jobs to look at, as the caller just listed them (default: every active job, listed now).

    Returns:
        ``job_id -> new status`` of every job closed.
    """
    now = time.time() if now is None else now
    closed: dict[str, JobStatus] = {}
    for job in jobs_dao.list_active_jobs() if jobs is None else jobs:
        try:
            with logs.bound(connector_id=job.get("connector_id"), job_id=job.get("job_id")):
                moved = reap_job(executor, job, grace_seconds, now)
        except Exception:
            # One bad job must not keep the others open; the next run tries it again.
            logger.exception("job %s of %s could not be reaped", job.get("job_id"), job.get("connector_id"))
            continue
        if moved is not None:
            closed[str(job["job_id"])] = moved
    return closed


def reap_job(
    executor: JobExecutor, job: dict[str, Any], grace_seconds: float, now: float
) -> JobStatus | None:
    """Close one active job if its container ended or was lost (see :func:`reap`)."""
    connector_id, job_id = str(job["connector_id"]), str(job["job_id"])
    status = JobStatus(job["status"])
    external_id = job.get(EXTERNAL_ID)
    submitted = bool(external_id) and status is not JobStatus.STARTED
    external = executor.status(str(external_id)) if submitted else None
    if external is not None and external.is_terminal:
        return finish_from_external(connector_id, job_id, status, external)
    if now - _timestamp(job.get("updated_at") or job.get("created_at")) <= grace_seconds:
        return None
    if external is not None:
        # Still running: a STOPPING job is told again (the first TerminateJob may have been lost).
        if status is JobStatus.STOPPING:
            executor.stop(str(external_id))
        return None
    if status is JobStatus.STOPPING:
        return _finish(connector_id, job_id, JobStatus.STOPPED, None)
    if submitted:
        reason = f"the job's container {external_id} was lost: the executor no longer knows it"
    else:
        reason = f"the job was not picked up for {grace_seconds:g} seconds and was never started"
    return _finish(connector_id, job_id, JobStatus.FAILED, reason)


def _finish(connector_id: str, job_id: str, status: JobStatus, reason: str | None) -> JobStatus | None:
    if jobs_dao.finish_job(connector_id, job_id, status, reason):
        logger.info("job %s of %s ended %s (%s)", job_id, connector_id, status.value, reason or "no reason")
        return status
    return None


def _timestamp(value: Any) -> float:
    if not value:
        return 0.0
    return datetime.fromisoformat(str(value)).timestamp()


def _describe(err: Exception) -> str:
    text = str(err).strip()
    return text or type(err).__name__
