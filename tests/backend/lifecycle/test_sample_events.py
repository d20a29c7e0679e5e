"""The handlers read the sample events of ``tests/events`` (the shapes AWS sends)."""

from __future__ import annotations

from typing import Any

from ccf_backend import job_status, orchestrator
from ccf_backend.batch_executor import batch_reason, batch_status, ids_from_batch_job
from ccf_backend.executors import ExternalState
from ccf_core.api.models import JobStatus
from tests.backend.lifecycle.harness import load_event


def test_stream_records_name_their_job_and_the_change_to_act_on() -> None:
    records = [
        orchestrator.StreamRecord.model_validate(raw)
        for raw in load_event("jobs_stream_start_and_stop")["Records"]
    ]

    assert [record.action for record in records] == [JobStatus.STARTED, None, JobStatus.STOPPING]
    assert {record.job_key for record in records} == {("cc-0123456789ab", "ccj-0123456789ab")}


def test_records_of_a_job_that_does_not_exist_do_nothing(backend: Any) -> None:
    result = orchestrator.lambda_handler(load_event("jobs_stream_start_and_stop"), None)

    assert result == {"batchItemFailures": []}


def test_failed_event_gives_batch_reason_container_reason_and_exit_code() -> None:
    detail = load_event("batch_job_state_change_failed")["detail"]

    status = batch_status(detail)

    assert status is not None
    assert status.state is ExternalState.FAILED
    assert (
        batch_reason(detail)
        == "Essential container in task exited; ccf-run: the connector failed (exit code 1)"
    )


def test_event_names_its_job_by_tags_when_the_name_is_not_ours() -> None:
    detail = load_event("batch_job_state_change_succeeded")["detail"]
    detail["jobName"] = "renamed-by-someone"

    assert ids_from_batch_job(detail) == ("cc-0123456789ab", "ccj-0123456789ab")


def test_event_about_an_unknown_job_changes_nothing(backend: Any) -> None:
    assert job_status.lambda_handler(load_event("batch_job_state_change_failed"), None) == {"status": None}


def test_event_of_another_kind_is_ignored(backend: Any) -> None:
    event = load_event("batch_job_state_change_succeeded")
    event["detail-type"] = "Batch Job Queue Blocked"

    assert job_status.lambda_handler(event, None) == {"status": None}
