"""Jobs: one at a time per connector (atomically), stop semantics, listing and metrics."""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ccf_backend.storage import jobs as jobs_dao
from ccf_core.api.models import JobStatus

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")


def test_start_creates_a_started_job_and_makes_the_connector_in_use(ccf: Any, connector_id: str) -> None:
    response = ccf.start_custom_connector_job(
        connector_id=connector_id, environment=[{"name": "LOG_LEVEL", "value": "debug"}]
    )
    job = response["job"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"ccj-[0-9a-f]{12}", job["job_id"])
    assert job["status"] == "STARTED"
    assert job["connector_id"] == connector_id
    assert job["environment"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    connector = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert connector["status"] == "IN_USE"
    assert connector["current_job_id"] == job["job_id"]


def test_second_start_while_a_job_runs_is_a_conflict(ccf: Any, connector_id: str) -> None:
    first = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    with pytest.raises(ccf.exceptions.ConflictException) as caught:
        ccf.start_custom_connector_job(connector_id=connector_id)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert first["job_id"] in caught.value.response["Error"]["Message"]


def test_fifty_concurrent_starts_create_exactly_one_job(ccf: Any, connector_id: str) -> None:
    def start(_: int) -> str:
        try:
            ccf.start_custom_connector_job(connector_id=connector_id)
        except ClientError as err:
            return f"{err.response['ResponseMetadata']['HTTPStatusCode']} {err.response['Error']['Code']}"
        return "201"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(start, range(50)))
    assert outcomes == {"201": 1, "409 ConflictException": 49}
    jobs = ccf.list_custom_connector_jobs(connector_id=connector_id)["jobs"]
    assert len(jobs) == 1
    connector = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert connector["current_job_id"] == jobs[0]["job_id"]


def test_start_on_unknown_connector_is_not_found(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException) as caught:
        ccf.start_custom_connector_job(connector_id="cc-0123456789ab")
    assert "cc-0123456789ab" in caught.value.response["Error"]["Message"]


def test_a_new_job_can_start_once_the_previous_one_ended(ccf: Any, connector_id: str) -> None:
    first = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    assert jobs_dao.finish_job(connector_id, first["job_id"], JobStatus.SUCCEEDED)
    second = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    assert second["job_id"] != first["job_id"]


def test_stop_a_started_job_records_the_request(ccf: Any, connector_id: str) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    stopped = ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert stopped["job"]["status"] == "STOPPING"
    assert stopped["job"]["stop_requested_at"]


def test_stop_before_running_is_not_lost(ccf: Any, connector_id: str) -> None:
    """The orchestrator's STARTED -> RUNNING is conditioned on STARTED, so it sees the stop."""
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])
    assert jobs_dao.mark_running(connector_id, job["job_id"], "batch-job-1") is False
    current = ccf.get_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    assert current["status"] == "STOPPING"


def test_stop_a_running_job(ccf: Any, connector_id: str) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    assert jobs_dao.mark_running(connector_id, job["job_id"], "batch-job-1") is True
    stopped = ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    assert stopped["status"] == "STOPPING"


def test_stop_is_idempotent_while_stopping(ccf: Any, connector_id: str) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    first = ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    again = ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    assert again["status"] == "STOPPING"
    assert again["stop_requested_at"] == first["stop_requested_at"]


@pytest.mark.parametrize("terminal", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED])
def test_stop_a_job_in_a_terminal_status_is_a_conflict(
    ccf: Any, connector_id: str, terminal: JobStatus
) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    jobs_dao.finish_job(connector_id, job["job_id"], terminal)
    with pytest.raises(ccf.exceptions.ConflictException) as caught:
        ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])
    assert terminal.value in caught.value.response["Error"]["Message"]
    assert (
        ccf.get_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]["status"]
        == terminal
    )


def test_stop_unknown_job_is_not_found(ccf: Any, connector_id: str) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.stop_custom_connector_job(connector_id=connector_id, job_id="ccj-0123456789ab")


def test_get_job_of_another_connector_is_not_found(ccf: Any, connector_id: str, make_connector: Any) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    other = make_connector()["connector_id"]
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.get_custom_connector_job(connector_id=other, job_id=job["job_id"])


def test_list_jobs_newest_first_with_full_pages_under_a_status_filter(ccf: Any, connector_id: str) -> None:
    started = []
    for number in range(7):
        job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
        status = JobStatus.FAILED if number % 2 else JobStatus.SUCCEEDED
        jobs_dao.finish_job(connector_id, job["job_id"], status)
        started.append((job["job_id"], status))
    listed = [job["job_id"] for page in _pages(ccf, connector_id, max_results=2) for job in page["jobs"]]
    assert listed == [job_id for job_id, _ in reversed(started)]
    pages = list(_pages(ccf, connector_id, max_results=2, status="SUCCEEDED"))
    assert [len(page["jobs"]) for page in pages] == [2, 2]
    assert [job["job_id"] for page in pages for job in page["jobs"]] == [
        job_id for job_id, status in reversed(started) if status == JobStatus.SUCCEEDED
    ]


def test_a_token_issued_for_one_status_filter_is_refused_for_another(ccf: Any, connector_id: str) -> None:
    for _ in range(3):
        job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
        jobs_dao.finish_job(connector_id, job["job_id"], JobStatus.FAILED)
    token = ccf.list_custom_connector_jobs(connector_id=connector_id, max_results=1, status="FAILED")[
        "next_token"
    ]
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.list_custom_connector_jobs(connector_id=connector_id, next_token=token)
    assert caught.value.response["Error"]["Message"].startswith("next_token:")


def test_metrics_reported_by_the_runner_are_on_the_job(ccf: Any, connector_id: str) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    metrics = {"scanned": 10, "added": 4, "updated": 2, "unchanged": 3, "deleted": 1, "failed": 1}
    reported = ccf.put_custom_connector_job_metrics(
        connector_id=connector_id, job_id=job["job_id"], metrics=metrics
    )
    assert reported["job"]["metrics"] == metrics
    fetched = ccf.get_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    assert fetched["metrics"] == metrics
    listed = ccf.list_custom_connector_jobs(connector_id=connector_id)["jobs"][0]
    assert listed["metrics"] == metrics


def test_finished_job_has_a_numeric_ttl_and_completed_at(ccf: Any, connector_id: str) -> None:
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    jobs_dao.finish_job(connector_id, job["job_id"], JobStatus.FAILED, failure_reason="container exited 1")
    stored = jobs_dao.get_job(connector_id, job["job_id"])
    assert isinstance(stored["ttl"], int)
    assert stored["ttl"] > time.time() + 86_400
    fetched = ccf.get_custom_connector_job(connector_id=connector_id, job_id=job["job_id"])["job"]
    assert fetched["failure_reason"] == "container exited 1"
    assert fetched["completed_at"]
    assert ccf.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"


def _pages(ccf: Any, connector_id: str, **params: Any) -> Any:
    token = None
    while True:
        page = ccf.list_custom_connector_jobs(
            connector_id=connector_id, **params, **({"next_token": token} if token else {})
        )
        yield page
        token = page.get("next_token")
        if not token:
            return
