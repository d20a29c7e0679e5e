"""AWS Batch only: replayed records, duplicate and late events, failed submissions, the reaper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ccf_backend import executors, orchestrator, reaper
from ccf_backend.batch_executor import BatchExecutor
from ccf_backend.clients import get_client
from ccf_backend.settings import get_settings, set_settings
from ccf_backend.storage import jobs as jobs_dao
from ccf_backend.storage.base import dynamodb
from ccf_backend.storage.tables import CONNECTOR_RECORD
from tests.backend.lifecycle.conftest import SECRET_VALUE
from tests.backend.lifecycle.harness import (
    BatchHarness,
    assert_ended,
    job_of,
    load_event,
    state_change_event,
)

LOST_BATCH_JOB = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def batch(batch_harness: BatchHarness) -> BatchHarness:
    """The AWS Batch harness (these tests feed its handlers events by hand)."""
    return batch_harness


@pytest.fixture
def other_executor() -> Iterator[Callable[[Any], None]]:
    """Use another executor for the test; the default comes back after it."""
    yield executors.set_executor
    executors.set_executor(None)


def _submitted(job_id: str) -> list[dict[str, Any]]:
    batch = get_client("batch")
    found = []
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        summaries = batch.list_jobs(jobQueue=get_settings().job_queue, jobStatus=status)["jobSummaryList"]
        found.extend(summary for summary in summaries if summary["jobName"].endswith(job_id))
    return found


def test_replayed_stream_records_submit_the_job_once(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.settle()

    result = orchestrator.lambda_handler({"Records": batch.records * 2}, None)

    assert result == {"batchItemFailures": []}
    assert len(_submitted(job_id)) == 1
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"


def test_submitted_job_carries_secret_references_never_secret_values(
    batch: BatchHarness, make_lifenotes: Callable[..., str], start_job: Callable[..., str], secret_arn: str
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.settle()

    submitted = batch.batch_job(job_id)
    definition = get_client("batch").describe_job_definitions(jobDefinitions=[submitted["jobDefinition"]])
    properties = definition["jobDefinitions"][0]["containerProperties"]
    assert properties["secrets"] == [{"name": "CCF_LIFENOTES_TOKEN", "valueFrom": secret_arn}]
    assert definition["jobDefinitions"][0]["platformCapabilities"] == ["FARGATE"]
    assert SECRET_VALUE not in repr(submitted)
    assert SECRET_VALUE not in repr(batch.records)
    environment = {item["name"]: item["value"] for item in submitted["container"]["environment"]}
    assert environment["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"] == connector_id
    assert environment["CUSTOM_CONNECTOR_JOB_ID"] == job_id
    assert environment["CCF_LOAD_PLUGINS"] == "lifenotes"
    assert submitted["container"]["command"] == ["--connector", "lifenotes", "--state", "api"]


def test_jobs_with_the_same_container_share_one_job_definition(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    first, second = make_lifenotes(), make_lifenotes(count=9)
    first_job, second_job = start_job(first), start_job(second)
    batch.settle()
    assert batch.batch_job(first_job)["jobDefinition"] == batch.batch_job(second_job)["jobDefinition"]

    for connector_id, job_id in ((first, first_job), (second, second_job)):
        ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job_id)
    batch.settle()
    for connector_id, job_id in ((first, first_job), (second, second_job)):
        batch.report(state_change_event(batch.batch_job(job_id), 143, terminated=True))
        assert_ended(ccf, connector_id, job_id, "STOPPED")

    ccf.update_custom_connector(
        connector_id=second, container_properties={"resource_requirements": {"cpu": 2, "memory": 4096}}
    )
    third_job = start_job(second)
    batch.settle()
    assert batch.batch_job(third_job)["jobDefinition"] != batch.batch_job(first_job)["jobDefinition"]


def test_duplicate_and_late_events_never_move_a_finished_job(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes(count=2)
    job_id = start_job(connector_id)
    batch.settle()
    batch.begin(job_id)
    batch.finish(job_id)
    ended = assert_ended(ccf, connector_id, job_id, "SUCCEEDED")
    succeeded = batch.events[-1]
    running = load_event("batch_job_state_change_running")
    running["detail"].update({key: succeeded["detail"][key] for key in ("jobId", "jobName", "tags")})
    failed = state_change_event(batch.batch_job(job_id), 1)

    for event in (succeeded, running, failed, succeeded):
        assert batch.report(event) == {"status": None}

    assert job_of(ccf, connector_id, job_id) == ended


def test_event_about_another_batch_job_of_the_same_job_is_ignored(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.settle()
    stray = state_change_event(batch.batch_job(job_id), 1)
    stray["detail"]["jobId"] = LOST_BATCH_JOB

    assert batch.report(stray) == {"status": None}
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"


def test_running_event_before_the_end_changes_nothing(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.settle()
    running = load_event("batch_job_state_change_running")
    submitted = batch.batch_job(job_id)
    running["detail"].update(jobId=submitted["jobId"], jobName=submitted["jobName"])

    assert batch.report(running) == {"status": None}
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"


def test_failed_submission_fails_the_job_and_frees_the_connector(
    batch: BatchHarness,
    ccf: Any,
    make_lifenotes: Callable[..., str],
    start_job: Callable[..., str],
    other_executor: Callable[[Any], None],
) -> None:
    other_executor(BatchExecutor(job_queue="no-such-queue"))
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)

    batch.settle()

    job = assert_ended(ccf, connector_id, job_id, "FAILED")
    assert "could not be started" in job["failure_reason"]
    assert "no-such-queue" in job["failure_reason"]


def test_connector_without_a_type_fails_its_job_saying_so(
    batch: BatchHarness,
    ccf: Any,
    make_connector: Callable[..., dict[str, Any]],
    start_job: Callable[..., str],
) -> None:
    connector_id = make_connector()["connector_id"]
    job_id = start_job(connector_id)

    batch.settle()

    job = assert_ended(ccf, connector_id, job_id, "FAILED")
    assert "connector_type" in job["failure_reason"]


def test_job_stopped_before_it_was_submitted_ends_stopped_without_running(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job_id)

    batch.settle()

    assert_ended(ccf, connector_id, job_id, "STOPPED")
    assert _submitted(job_id) == []


def test_job_whose_connector_was_deleted_before_it_was_submitted_ends_failed_saying_so(
    batch: BatchHarness, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    """The API refuses to delete a connector in use; one removed past it must not leave the job STARTED."""
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    key = {"connector_id": {"S": connector_id}, "record": {"S": CONNECTOR_RECORD}}
    dynamodb().delete_item(TableName=get_settings().connectors_table, Key=key)

    batch.settle()

    job = jobs_dao.get_job(connector_id, job_id)
    assert job["status"] == "FAILED"
    assert job["failure_reason"] == f"connector {connector_id} was deleted before the job could start"
    assert _submitted(job_id) == []


def test_record_that_cannot_be_handled_is_reported_for_retry(
    batch: BatchHarness, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    start_job(make_lifenotes())
    records = batch.stream.read()
    settings = get_settings()
    set_settings(dataclasses.replace(settings, jobs_table="no-such-table"))
    try:
        result = orchestrator.lambda_handler({"Records": records}, None)
    finally:
        set_settings(settings)

    sequence = records[0]["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence}]}
    # The retry, once the table answers, does the work.
    assert orchestrator.lambda_handler({"Records": records}, None) == {"batchItemFailures": []}


def test_reaper_fails_a_running_job_batch_no_longer_knows_after_the_grace_period(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.stream.read()
    assert jobs_dao.mark_running(connector_id, job_id, LOST_BATCH_JOB)

    assert job_id not in batch.reap(grace_seconds=900)
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"

    assert batch.reap(grace_seconds=900, later_by=901)[job_id] == "FAILED"
    job = assert_ended(ccf, connector_id, job_id, "FAILED")
    assert LOST_BATCH_JOB in job["failure_reason"]


def test_reaper_fails_a_job_never_picked_up_and_stops_a_stopping_one(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    never, stopping = make_lifenotes(), make_lifenotes()
    never_job, stopping_job = start_job(never), start_job(stopping)
    batch.stream.read()
    assert jobs_dao.mark_running(stopping, stopping_job, LOST_BATCH_JOB)
    ccf.stop_custom_connector_job(connector_id=stopping, job_id=stopping_job)

    closed = batch.reap(grace_seconds=900, later_by=901)

    assert (closed[never_job], closed[stopping_job]) == ("FAILED", "STOPPED")
    assert "never started" in assert_ended(ccf, never, never_job, "FAILED")["failure_reason"]
    assert_ended(ccf, stopping, stopping_job, "STOPPED")


def test_reaper_handler_closes_lost_jobs_with_the_configured_grace(
    batch: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes()
    job_id = start_job(connector_id)
    batch.stream.read()
    settings = get_settings()
    set_settings(dataclasses.replace(settings, reaper_grace_seconds=0))
    try:
        result = reaper.lambda_handler(load_event("reaper_scheduled"), None)
    finally:
        set_settings(settings)

    assert result["closed"][job_id] == "FAILED"
    assert_ended(ccf, connector_id, job_id, "FAILED")
