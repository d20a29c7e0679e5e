"""Throttling, server errors and refusals: bounded retries, nothing lost, failures accounted per document."""

from __future__ import annotations

from ccf_core import RunStatus
from tests.qbusiness.conftest import LISTING_SCOPE

PUT = "BatchPutDocument"


def test_throttling_on_30_percent_of_calls_loses_no_document(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs, state
) -> None:
    fake_qbusiness.throttle_rate = 0.3
    docs = make_docs(300)
    destination = make_destination()

    report = run_sync(make_connector(docs), destination=destination)

    assert report.status is RunStatus.SUCCEEDED
    assert report.added == 300 and report.failed == 0
    assert fake_qbusiness.throttled[PUT] > 5
    assert sorted(fake_qbusiness.documents) == sorted(doc.id for doc in docs)
    assert sorted(state.load_checksums(LISTING_SCOPE)) == sorted(doc.id for doc in docs)
    assert destination.stats()["retries"][PUT] == fake_qbusiness.throttled[PUT]


def test_throttling_lowers_the_number_of_calls_in_flight(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.throttle_rate = 0.3
    destination = make_destination()

    run_sync(make_connector(make_docs(200)), destination=destination)

    assert destination.limiter.decreases > 0
    assert destination.limiter.limit < destination.limits.max_in_flight


def test_a_server_error_is_retried(fake_qbusiness, run_sync, make_connector, make_docs) -> None:
    fake_qbusiness.fail_next(PUT, "InternalServerException", times=3)

    report = run_sync(make_connector(make_docs(10)))

    assert report.status is RunStatus.SUCCEEDED
    assert fake_qbusiness.calls[PUT] == 4
    assert len(fake_qbusiness.documents) == 10


def test_throttling_past_the_last_attempt_fails_the_documents_as_throttled(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs, state
) -> None:
    fake_qbusiness.throttle_rate = 1.0
    fake_qbusiness.throttle_operations = frozenset({PUT})

    report = run_sync(make_connector(make_docs(10)), destination=make_destination(max_attempts=3))

    assert fake_qbusiness.calls[PUT] == 3
    assert report.failures_by_reason == {"throttled": 10}
    assert "after 3 attempts: ThrottlingException" in report.failures[0].message
    assert state.load_checksums(LISTING_SCOPE) == {}
    assert fake_qbusiness.running_jobs == []


def test_throttled_documents_go_again_next_run(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs, state
) -> None:
    fake_qbusiness.throttle_rate = 1.0
    fake_qbusiness.throttle_operations = frozenset({PUT})
    run_sync(make_connector(make_docs(10)), destination=make_destination(max_attempts=2))
    fake_qbusiness.throttle_rate = 0.0

    report = run_sync(make_connector(make_docs(10)))

    assert report.added == 10
    assert len(fake_qbusiness.documents) == 10
    assert len(state.load_checksums(LISTING_SCOPE)) == 10


def test_server_errors_past_the_last_attempt_fail_the_documents_as_service_errors(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.fail_next(PUT, "InternalServerException", times=5)

    report = run_sync(make_connector(make_docs(10)), destination=make_destination(max_attempts=2))

    assert report.failures_by_reason["service_error"] >= 10
    assert "InternalServerException" in report.failures[0].message


def test_access_denied_on_upload_fails_the_run_clearly_and_fast(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    """After the first refusal, batches fail without calling the service again."""
    fake_qbusiness.fail_next(
        PUT, "AccessDeniedException", times=1000, message="no qbusiness:BatchPutDocument"
    )

    report = run_sync(make_connector(make_docs(300)))

    assert report.status is RunStatus.FAILED
    assert "AccessDeniedException: no qbusiness:BatchPutDocument" in (report.error or "")
    assert fake_qbusiness.calls[PUT] < 30
    assert fake_qbusiness.running_jobs == []


def test_an_unknown_index_fails_the_run_naming_the_ids_to_check(
    fake_qbusiness, run_sync, make_connector, make_docs, ids
) -> None:
    fake_qbusiness.fail_next(PUT, "ResourceNotFoundException", times=50, message="index not found")

    report = run_sync(make_connector(make_docs(40)))

    assert report.status is RunStatus.FAILED
    assert "ResourceNotFoundException: index not found" in (report.error or "")
    assert ids["index_id"] in (report.error or "")


def test_a_quota_refusal_fails_the_batch_and_the_run_goes_on(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    fake_qbusiness.fail_next(PUT, "ServiceQuotaExceededException", message="index is full")

    report = run_sync(make_connector(make_docs(100)), error_budget=0.5)

    assert report.failures_by_reason == {"quota_exceeded": 10}
    assert report.added == 90
    assert report.status is RunStatus.COMPLETED_WITH_FAILURES


def test_a_rate_limit_loses_no_document_and_throttled_batches_are_retried(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs, state
) -> None:
    """A token bucket of 200 calls/s holding 2: bursts of 16 batches in flight are throttled."""
    fake_qbusiness.rate_limit, fake_qbusiness.rate_burst = 200.0, 2.0
    fake_qbusiness.throttle_operations = frozenset({PUT})
    docs = make_docs(300)
    destination = make_destination()

    report = run_sync(make_connector(docs), destination=destination)

    assert report.status is RunStatus.SUCCEEDED
    assert report.added == 300 and report.failed == 0
    assert fake_qbusiness.throttled[PUT] > 0
    assert sorted(fake_qbusiness.documents) == sorted(doc.id for doc in docs)
    assert sorted(state.load_checksums(LISTING_SCOPE)) == sorted(doc.id for doc in docs)
