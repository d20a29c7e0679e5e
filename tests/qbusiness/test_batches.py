"""Batches: at most 10 documents, requests under the limit once encoded, failures accounted per document."""

from __future__ import annotations

from ccf_core import RunStatus, SyncMode
from tests.qbusiness.conftest import LISTING_SCOPE


def put_sizes(fake) -> list[int]:
    return [len(params["documents"]) for params in fake.successful_params("BatchPutDocument")]


def test_a_put_call_carries_at_most_ten_documents(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    report = run_sync(make_connector(make_docs(25)))

    assert report.added == 25
    assert sorted(put_sizes(fake_qbusiness)) == [5, 10, 10]
    assert len(fake_qbusiness.documents) == 25


def test_requests_stay_under_the_limit_measured_on_the_encoded_request(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc
) -> None:
    """Small contents with large metadata: the raw size fits one batch, the encoded request does not."""
    limit = 20_000
    docs = [make_doc(f"meta-{n}", "x" * 100, attributes={"notes": ["y" * 2000] * 3}) for n in range(10)]

    report = run_sync(make_connector(docs), destination=make_destination(max_request_bytes=limit))

    assert report.added == 10
    bodies = [call.body_bytes for call in fake_qbusiness.calls_of("BatchPutDocument")]
    assert len(bodies) > 1
    assert max(bodies) <= limit
    assert len(fake_qbusiness.documents) == 10


def test_a_document_the_model_refuses_is_rejected_alone(
    fake_qbusiness, run_sync, make_connector, make_docs, make_doc, state
) -> None:
    """An empty string in a string list passes the engine's checks but breaks botocore's model."""
    bad = make_doc("bad", attributes={"tags": ["fine", ""]})
    docs = [*make_docs(4), bad, *make_docs(5, prefix="more")]

    report = run_sync(make_connector(docs))

    assert report.added == 9
    assert report.failures_by_reason == {"invalid_document": 1}
    (failure,) = report.failures
    assert failure.document_id == "bad"
    assert "attribute 'tags'" in failure.message and "min length: 1" in failure.message
    assert sorted(fake_qbusiness.documents) == sorted(doc.id for doc in docs if doc.id != "bad")
    assert "bad" not in state.load_checksums(LISTING_SCOPE)


def test_a_batch_the_service_refuses_is_split_to_find_the_bad_document(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    fake_qbusiness.refuse_requests_with("doc-006")

    report = run_sync(make_connector(make_docs(10)))

    assert report.added == 9
    assert report.failures_by_reason == {"invalid_document": 1}
    assert report.failures[0].document_id == "doc-006"
    assert "breaks a service rule" in report.failures[0].message
    assert "doc-006" not in fake_qbusiness.documents
    assert len(fake_qbusiness.documents) == 9


def test_failed_documents_are_reported_with_the_service_error_code(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    fake_qbusiness.fail_documents({"doc-003": "InvalidRequest"}, message="unsupported encoding")

    report = run_sync(make_connector(make_docs(10)))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert report.added == 9
    assert report.failures_by_reason == {"InvalidRequest": 1}
    assert report.failures[0].document_id == "doc-003"
    assert "unsupported encoding" in report.failures[0].message


def test_failed_documents_are_not_recorded_and_go_again_next_run(
    fake_qbusiness, run_sync, make_connector, make_docs, state
) -> None:
    fake_qbusiness.fail_documents({"doc-003": "InternalError"})
    run_sync(make_connector(make_docs(10)))
    assert "doc-003" not in state.load_checksums(LISTING_SCOPE)
    fake_qbusiness.clear_document_failures()

    report = run_sync(make_connector(make_docs(10)))

    assert report.added == 1 and report.unchanged == 9
    assert put_sizes(fake_qbusiness)[-1] == 1
    assert "doc-003" in fake_qbusiness.documents
    assert "doc-003" in state.load_checksums(LISTING_SCOPE)


def test_deletions_go_in_batches_of_ten_with_failures_per_id(
    fake_qbusiness, run_sync, make_connector, make_docs, state
) -> None:
    run_sync(make_connector(make_docs(25)))
    fake_qbusiness.fail_documents({"doc-007": "InternalError"}, message="try later")
    deleted = [doc.id for doc in make_docs(25)]

    report = run_sync(make_connector([], mode=SyncMode.INCREMENTAL, deleted=deleted), allow_mass_delete=True)

    sizes = [len(params["documents"]) for params in fake_qbusiness.successful_params("BatchDeleteDocument")]
    assert sorted(sizes) == [5, 10, 10]
    assert report.deleted == 24
    assert report.failures_by_reason == {"InternalError": 1}
    assert list(fake_qbusiness.documents) == ["doc-007"]
    assert list(state.load_checksums(LISTING_SCOPE)) == ["doc-007"]
