"""The AWS Batch executor: a job's container as a Fargate job on the backend's job queue.

What Batch does not let a submission override (the image, the roles, the secrets, the platform)
lives in a job definition. One is registered per distinct content, named by a hash of it
(``<prefix>-<hash>``), found again with DescribeJobDefinitions before registering (so Lambda
instances share them) and cached in the process. What varies per job (environment, command,
vCPUs, memory, timeout) goes in the submission's overrides. The subnets and security groups of a
Fargate job come from the compute environment of the queue, not from the job.

Batch job names carry the connector and job ids (``ccf-<connector id>-<job id>``), and so do its
tags, so a "Batch Job State Change" event names the job it is about.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from typing import Any

from botocore.exceptions import ClientError

from ccf_backend.clients import get_client
from ccf_backend.executors import ExternalState, ExternalStatus
from ccf_backend.launch import LaunchSpec
from ccf_backend.settings import get_settings

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^ccf-(?P<connector_id>cc-[0-9a-f]{12})-(?P<job_id>ccj-[0-9a-f]{12})$")
_STATES = {
    "SUBMITTED": ExternalState.PENDING,
    "PENDING": ExternalState.PENDING,
    "RUNNABLE": ExternalState.PENDING,
    "STARTING": ExternalState.PENDING,
    "RUNNING": ExternalState.RUNNING,
    "SUCCEEDED": ExternalState.SUCCEEDED,
    "FAILED": ExternalState.FAILED,
}
STOP_REASON = "stopped through the CCF API (StopCustomConnectorJob)"


def batch_job_name(connector_id: str, job_id: str) -> str:
    """The Batch job name of a CCF job."""
    return f"ccf-{connector_id}-{job_id}"


def ids_from_batch_job(detail: dict[str, Any]) -> tuple[str, str] | None:
    """``(connector_id, job_id)`` of a Batch job (a DescribeJobs entry or an event's detail), or None."""
    found = _NAME.match(str(detail.get("jobName", "")))
    if found:
        return found["connector_id"], found["job_id"]
    tags = detail.get("tags") or {}
    if tags.get("ccf:connector-id") and tags.get("ccf:job-id"):
        return str(tags["ccf:connector-id"]), str(tags["ccf:job-id"])
    return None


def batch_status(detail: dict[str, Any]) -> ExternalStatus | None:
    """The state of a Batch job as the executor reports it; None for a status it does not know."""
    state = _STATES.get(str(detail.get("status", "")))
    if state is None:
        return None
    return ExternalStatus(state, batch_reason(detail) if state is ExternalState.FAILED else None)


def batch_reason(detail: dict[str, Any]) -> str:
    """Why a Batch job failed, in Batch's words: its status reason, the container's reason and exit code."""
    parts = [str(detail["statusReason"])] if detail.get("statusReason") else []
    container = detail.get("container") or {}
    if container.get("reason") and container["reason"] not in parts:
        parts.append(str(container["reason"]))
    text = "; ".join(parts) or "the AWS Batch job failed"
    if container.get("exitCode") is not None:
        text += f" (exit code {container['exitCode']})"
    return text


def container_command(spec: LaunchSpec) -> list[str]:
    """The command Batch gives the runner image: the arguments after its ``ccf-run`` entrypoint.

    A Batch job's command replaces the image's CMD, never its ENTRYPOINT (``ccf-run``), so the
    launch spec's leading ``ccf-run`` is left out; the local executor runs the spec's command whole.
    """
    command = list(spec.command)
    if not command or command[0] != "ccf-run":
        raise ValueError(f"a job's command must start with ccf-run, not {command[:1]}")
    return command[1:]


def job_definition(spec: LaunchSpec, prefix: str, assign_public_ip: str) -> dict[str, Any]:
    """The RegisterJobDefinition request for ``spec`` (its name is a hash of the rest)."""
    body: dict[str, Any] = {
        "type": "container",
        "platformCapabilities": ["FARGATE"],
        "containerProperties": {
            "image": spec.image,
            "command": container_command(spec),
            "jobRoleArn": spec.job_role_arn,
            "executionRoleArn": spec.execution_role_arn,
            "resourceRequirements": _resources(spec),
            "secrets": [{"name": name, "valueFrom": arn} for name, arn in sorted(spec.secrets.items())],
            "networkConfiguration": {"assignPublicIp": assign_public_ip},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        },
        "retryStrategy": {"attempts": 1},
        "propagateTags": True,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    return {"jobDefinitionName": f"{prefix}-{digest}", **body}


def _resources(spec: LaunchSpec) -> list[dict[str, str]]:
    return [
        {"type": "VCPU", "value": f"{spec.vcpus:g}"},
        {"type": "MEMORY", "value": str(spec.memory_mib)},
    ]


class BatchExecutor:
    """Runs jobs on AWS Batch (Fargate); the queue and prefix come from the settings by default."""

    def __init__(
        self,
        job_queue: str | None = None,
        job_definition_prefix: str | None = None,
        assign_public_ip: str | None = None,
    ) -> None:
        settings = get_settings()
        self.job_queue = job_queue or settings.job_queue
        self.job_definition_prefix = job_definition_prefix or settings.job_definition_prefix
        self.assign_public_ip = assign_public_ip or settings.assign_public_ip
        self._definitions: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The Batch client (created on first use by :mod:`ccf_backend.clients`)."""
        return get_client("batch")

    def submit(self, spec: LaunchSpec, connector_id: str, job_id: str) -> str:
        """Submit the job; its Batch job id.

        Raises:
            ValueError: no job queue is configured.
            botocore.exceptions.ClientError: Batch refused the definition or the submission.
        """
        if not self.job_queue:
            raise ValueError("the backend has no AWS Batch job queue: set CCF_JOB_QUEUE")
        request: dict[str, Any] = {
            "jobName": batch_job_name(connector_id, job_id),
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition_arn(spec),
            "containerOverrides": {
                "command": container_command(spec),
                "environment": [{"name": name, "value": value} for name, value in spec.environment.items()],
                "resourceRequirements": _resources(spec),
            },
            "tags": dict(spec.labels),
            "propagateTags": True,
        }
        if spec.timeout_seconds is not None:
            request["timeout"] = {"attemptDurationSeconds": spec.timeout_seconds}
        response = self.client.submit_job(**request)
        return str(response["jobId"])

    def job_definition_arn(self, spec: LaunchSpec) -> str:
        """The ARN of the job definition for ``spec``: cached, found, or registered now."""
        request = job_definition(spec, self.job_definition_prefix, self.assign_public_ip)
        name = request["jobDefinitionName"]
        with self._lock:
            cached = self._definitions.get(name)
        if cached:
            return cached
        found = self.client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        definitions = sorted(found.get("jobDefinitions", []), key=lambda item: int(item.get("revision", 0)))
        if definitions:
            arn = str(definitions[-1]["jobDefinitionArn"])
        else:
            arn = str(self.client.register_job_definition(**request)["jobDefinitionArn"])
            logger.info("registered job definition %s", arn)
        with self._lock:
            self._definitions[name] = arn
        return arn

    def stop(self, external_id: str) -> None:
        """TerminateJob (CancelJob would not stop a job that already runs)."""
        try:
            self.client.terminate_job(jobId=external_id, reason=STOP_REASON)
        except ClientError as err:
            # An id Batch does not know: nothing to stop; the reaper closes the job.
            logger.warning("could not terminate Batch job %s: %s", external_id, err)

    def status(self, external_id: str) -> ExternalStatus | None:
        """The Batch job's state; None when Batch no longer knows it."""
        jobs = self.client.describe_jobs(jobs=[external_id]).get("jobs", [])
        return batch_status(jobs[0]) if jobs else None
