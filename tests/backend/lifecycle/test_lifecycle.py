"""A job's whole life, through the API, an executor and a real ``ccf-run``, for every executor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.backend.lifecycle.harness import (
    BatchHarness,
    Harness,
    assert_ended,
    assert_succeeded_with_metrics,
    connector_status,
    job_of,
)
from tests.fakes.qbusiness_server import FakeQBusiness


def test_started_job_runs_and_succeeds_with_its_metrics(
    harness: Harness,
    make_lifenotes: Callable[..., str],
    start_job: Callable[..., str],
    fake_qbusiness: FakeQBusiness,
) -> None:
    ccf = harness.ccf
    connector_id = make_lifenotes(count=7)
    job_id = start_job(connector_id)
    assert connector_status(ccf, connector_id) == "IN_USE"

    harness.settle()
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"

    harness.begin(job_id)
    assert harness.finish(job_id) == 0

    assert_succeeded_with_metrics(ccf, connector_id, job_id, documents=7)
    assert sorted(fake_qbusiness.documents) == [f"note-{number:03d}" for number in range(7)]


def test_job_stopped_while_running_ends_stopped(
    harness: Harness,
    make_lifenotes: Callable[..., str],
    start_job: Callable[..., str],
    tmp_path: Path,
) -> None:
    ccf = harness.ccf
    ready = tmp_path / "holding"
    connector_id = make_lifenotes(count=3, hold_file=str(ready))
    job_id = start_job(connector_id)
    harness.settle()
    harness.begin(job_id)
    harness.wait_until(job_id, ready)

    assert (
        ccf.stop_custom_connector_job(connector_id=connector_id, job_id=job_id)["job"]["status"] == "STOPPING"
    )
    harness.settle()

    assert harness.finish(job_id) != 0
    job = assert_ended(ccf, connector_id, job_id, "STOPPED")
    assert "failure_reason" not in job


def test_job_whose_runner_fails_ends_failed_with_the_reason(
    harness: Harness, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    ccf = harness.ccf
    connector_id = make_lifenotes(fail=True)
    job_id = start_job(connector_id)
    harness.settle()
    harness.begin(job_id)

    assert harness.finish(job_id) != 0

    job = assert_ended(ccf, connector_id, job_id, "FAILED")
    assert "exit code" in job["failure_reason"]


def test_connector_is_free_for_the_next_job_after_one_ended(
    harness: Harness, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    ccf = harness.ccf
    connector_id = make_lifenotes(count=2)
    first = start_job(connector_id)
    harness.settle()
    harness.begin(first)
    harness.finish(first)

    second = start_job(connector_id)
    harness.settle()
    harness.begin(second)
    assert harness.finish(second) == 0

    job = assert_ended(ccf, connector_id, second, "SUCCEEDED")
    assert (job["metrics"]["added"], job["metrics"]["unchanged"]) == (0, 2)


def test_reaper_closes_a_job_whose_end_was_never_reported(
    batch_harness: BatchHarness, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    """AWS Batch only: the local executor always sees its process end; it reaps lost jobs on a restart
    (tests/backend/test_local_executor.py)."""
    harness = batch_harness
    ccf = harness.ccf
    connector_id = make_lifenotes(count=2)
    job_id = start_job(connector_id)
    harness.settle()
    harness.begin(job_id)
    assert harness.finish(job_id, report=False) == 0
    assert job_of(ccf, connector_id, job_id)["status"] == "RUNNING"

    closed = harness.reap(grace_seconds=900)

    assert closed[job_id] == "SUCCEEDED"
    assert_ended(ccf, connector_id, job_id, "SUCCEEDED")
