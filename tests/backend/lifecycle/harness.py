"""Drive a job's life through one executor, and the checks every executor must pass.

A harness plays the parts of the world around the API for one executor: it hands the executor
what the API changed, and it runs the job's container to its end. The lifecycle tests talk to the
API through the real ``ccf`` client and to the executor only through a harness, so each executor
(AWS Batch here; the local executor of ``ccf backend serve`` at merge) runs the same tests.

:class:`BatchHarness` is AWS in one process: the orchestrator Lambda handler is fed the records
read from moto's DynamoDB Streams; its Batch submission goes to moto's Batch. moto does not run
containers (its Docker-free backend marks a job SUCCEEDED at once), so the harness plays Batch's
runtime: it reads the submitted job back (DescribeJobs, DescribeJobDefinitions), resolves its
secrets from moto's Secrets Manager as Batch would, runs the exact command and environment as a
real ``ccf-run`` subprocess, sends it SIGTERM when TerminateJob was called, and hands the job-status
Lambda handler the "Batch Job State Change" event of the real outcome.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ccf_backend import job_status, orchestrator
from ccf_backend.batch_executor import STOP_REASON
from ccf_backend.clients import get_client
from tests.dummy_aws import DUMMY_ENVIRONMENT
from tests.processes import WAIT_SECONDS, console_script, wait_for_file

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from ``tests/events/<name>.json``."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


class Harness(Protocol):
    """What the lifecycle tests need from an executor's surroundings.

    Attributes:
        ccf: the boto3 ``ccf`` client of the API this executor serves.
        secret_references: the connector's ``secret_references`` that give it the test token
            (the value ``conftest.SECRET_VALUE``) the way this executor resolves secrets.
    """

    ccf: Any
    secret_references: dict[str, str]

    def settle(self) -> None:
        """Let the executor act on every change the API made (start, stop) so far."""

    def begin(self, job_id: str) -> None:
        """Start the job's container (after :meth:`settle` submitted it); do not wait for it."""

    def wait_until(self, job_id: str, ready: Path) -> None:
        """Wait until the job's container created ``ready`` (it reached the point a test needs)."""

    def finish(self, job_id: str, *, report: bool = True) -> int:
        """Wait for the job's container to end and (unless ``report`` is false) report its end.

        Returns the container's exit code.
        """

    def reap(self, grace_seconds: float, later_by: float = 0.0) -> dict[str, str]:
        """Run the reaper as if ``later_by`` seconds had passed; ``job_id -> status`` closed."""


class JobsStream:
    """Reads the jobs table's stream from moto's DynamoDB Streams, from where it was opened."""

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        # botocore sends calls that name a stream ARN to an account-based endpoint
        # (<account>.streams-ddb.<region>.amazonaws.com) that moto does not intercept; the classic
        # endpoint is the same API.
        streams = boto3.client(
            "dynamodbstreams", region_name="us-east-1", config=Config(account_id_endpoint_mode="disabled")
        )
        arn = get_client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self._client = streams
        self._iterators = [
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for shard in shards
        ]

    def read(self) -> list[dict[str, Any]]:
        """The records written since the last read, in order."""
        records: list[dict[str, Any]] = []
        for index, iterator in enumerate(self._iterators):
            response = self._client.get_records(ShardIterator=iterator)
            records.extend(response.get("Records", []))
            self._iterators[index] = response["NextShardIterator"]
        return records


@dataclass
class Container:
    """A job's container as the harness runs it."""

    batch_job: dict[str, Any]
    process: subprocess.Popen[str]
    terminated: bool = False


@dataclass
class BatchHarness:
    """AWS Batch, in one process: see the module docstring."""

    ccf: Any
    secret_references: dict[str, str]
    stream: JobsStream
    base_environment: dict[str, str]
    workdir: Path
    containers: dict[str, Container] = field(default_factory=dict)
    #: Every record and event handed to the handlers, for tests that replay them.
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: What the last container that ended wrote to stderr (its log).
    last_stderr: str = ""

    def settle(self) -> None:
        """Feed the orchestrator the new stream records; deliver SIGTERM where TerminateJob was called."""
        records = self.stream.read()
        self.records.extend(records)
        if records:
            result = orchestrator.lambda_handler({"Records": records}, None)
            assert result == {"batchItemFailures": []}
        for container in self.containers.values():
            self._deliver_termination(container)

    def batch_job(self, job_id: str) -> dict[str, Any]:
        """The Batch job submitted for ``job_id`` (DescribeJobs), found by its name."""
        batch = get_client("batch")
        for summary in _all_batch_jobs(batch):
            if summary["jobName"].endswith(job_id):
                described: dict[str, Any] = batch.describe_jobs(jobs=[summary["jobId"]])["jobs"][0]
                return described
        raise AssertionError(f"no Batch job was submitted for {job_id}")

    def launch_environment(self, batch_job: dict[str, Any]) -> dict[str, str]:
        """The container's environment as Batch builds it: overrides, then secrets resolved."""
        environment = {item["name"]: item["value"] for item in batch_job["container"]["environment"]}
        definition = get_client("batch").describe_job_definitions(jobDefinitions=[batch_job["jobDefinition"]])
        properties = definition["jobDefinitions"][0]["containerProperties"]
        secrets = get_client("secretsmanager")
        for secret in properties.get("secrets", []):
            environment[secret["name"]] = secrets.get_secret_value(SecretId=secret["valueFrom"])[
                "SecretString"
            ]
        return environment

    def begin(self, job_id: str) -> None:
        """Run the submitted command with the submitted environment as a ``ccf-run`` subprocess."""
        batch_job = self.batch_job(job_id)
        # The runner image's ENTRYPOINT is ccf-run; Batch's command is its arguments.
        command = list(batch_job["container"]["command"])
        assert command[0] != "ccf-run"
        environment = {**self.base_environment, **self.launch_environment(batch_job)}
        process = subprocess.Popen(
            [console_script(), *command, "--log-format", "text"],
            cwd=self.workdir,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.containers[job_id] = Container(batch_job, process)

    def wait_until(self, job_id: str, ready: Path) -> None:
        """Poll for ``ready``; fail if the container ends first or hangs."""
        process = self.containers[job_id].process
        wait_for_file(ready, process, lambda: process.stderr.read() if process.stderr else "")

    def finish(self, job_id: str, *, report: bool = True) -> int:
        """Wait for the subprocess; hand the job-status handler the Batch event of its end."""
        container = self.containers[job_id]
        try:
            _, stderr = container.process.communicate(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            container.process.kill()
            raise
        code = container.process.returncode
        self.last_stderr = stderr
        if report:
            self.report(state_change_event(container.batch_job, code, container.terminated))
        return code

    def report(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hand one event to the job-status handler."""
        self.events.append(copy.deepcopy(event))
        result: dict[str, Any] = job_status.lambda_handler(event, None)
        return result

    def reap(self, grace_seconds: float, later_by: float = 0.0) -> dict[str, str]:
        """Run :func:`ccf_backend.executors.reap` with the Batch executor, ``later_by`` seconds on."""
        from ccf_backend import executors

        closed = executors.reap(executors.get_executor(), grace_seconds, now=time.time() + later_by)
        return {job_id: status.value for job_id, status in closed.items()}

    def _deliver_termination(self, container: Container) -> None:
        if container.terminated or container.process.poll() is not None:
            return
        batch_job = get_client("batch").describe_jobs(jobs=[container.batch_job["jobId"]])["jobs"][0]
        if batch_job.get("statusReason") == STOP_REASON:
            container.terminated = True
            container.process.send_signal(signal.SIGTERM)

    def close(self) -> None:
        """Kill any container still running."""
        for container in self.containers.values():
            if container.process.poll() is None:
                container.process.kill()
                container.process.communicate()


def _all_batch_jobs(batch: Any) -> list[dict[str, Any]]:
    queue = get_client("batch").describe_job_queues()["jobQueues"][0]["jobQueueName"]
    found: list[dict[str, Any]] = []
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        found.extend(batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"])
    return found


def state_change_event(batch_job: dict[str, Any], exit_code: int, terminated: bool = False) -> dict[str, Any]:
    """The "Batch Job State Change" event for ``batch_job`` ending with ``exit_code``.

    Built on the sample event (``tests/events/batch_job_state_change_succeeded.json``), with the
    job's id, name and tags, and the status and reason Batch gives an ended job.
    """
    event = load_event("batch_job_state_change_succeeded")
    detail = event["detail"]
    detail.update(
        jobId=batch_job["jobId"],
        jobArn=batch_job.get("jobArn", detail["jobArn"]),
        jobName=batch_job["jobName"],
        tags=batch_job.get("tags", {}),
    )
    detail["container"]["exitCode"] = exit_code
    if exit_code == 0:
        detail["status"] = "SUCCEEDED"
        detail["statusReason"] = "Essential container in task exited"
    else:
        detail["status"] = "FAILED"
        detail["statusReason"] = STOP_REASON if terminated else "Essential container in task exited"
    return event


# -- checks shared by every executor ----------------------------------------------------------


def job_of(ccf: Any, connector_id: str, job_id: str) -> dict[str, Any]:
    """The job as the API shows it."""
    job: dict[str, Any] = ccf.get_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]
    return job


def connector_status(ccf: Any, connector_id: str) -> str:
    """The connector's status as the API shows it."""
    return str(ccf.get_custom_connector(connector_id=connector_id)["connector"]["status"])


def assert_ended(ccf: Any, connector_id: str, job_id: str, status: str) -> dict[str, Any]:
    """The job ended ``status`` and its connector is AVAILABLE again; the job."""
    job = job_of(ccf, connector_id, job_id)
    assert job["status"] == status, job
    assert "completed_at" in job
    assert connector_status(ccf, connector_id) == "AVAILABLE"
    return job


def assert_succeeded_with_metrics(ccf: Any, connector_id: str, job_id: str, documents: int) -> None:
    """The job SUCCEEDED with the runner's metrics and every document recorded in the API."""
    job = assert_ended(ccf, connector_id, job_id, "SUCCEEDED")
    assert job["metrics"]["scanned"] == documents
    assert job["metrics"]["added"] == documents
    assert job["metrics"]["failed"] == 0
    assert "failure_reason" not in job
    listed = ccf.list_custom_connector_documents(connector_id=connector_id, max_results=1000)["documents"]
    assert len(listed) == documents


def subprocess_environment(site: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What the container's image and task provide around the job's own environment."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("CCF_", "Q_BUSINESS_"))
    }
    environment.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
            **DUMMY_ENVIRONMENT,
        }
    )
    environment.update(extra or {})
    return environment
