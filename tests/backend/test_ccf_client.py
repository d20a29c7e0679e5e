"""CCFClient, the thick client: all pages, batches cut to the limits, checkpoint as a dict."""

from __future__ import annotations

from typing import Any

import pytest

from ccf_core.api import ApiConflict, ApiRequestInvalid, ApiResourceNotFound, CCFApiError, CCFClient
from ccf_core.api.client import CONNECTOR_ID_VARIABLE, ENDPOINT_VARIABLE, JOB_ID_VARIABLE
from ccf_core.api.models import JobStatus
from ccf_core.report import SyncReport


@pytest.fixture
def client(ccf: Any, connector_id: str) -> CCFClient:
    return CCFClient(ccf, connector_id)


def test_documents_round_trip_across_pages_and_batches(client: CCFClient) -> None:
    documents = {f"doc-{n}": f"{n:064x}" for n in range(2500)}
    client.batch_put_documents(documents)
    assert client.load_checksums() == documents
    listed = client.list_documents()
    assert set(listed.documents) == set(documents)
    assert listed.documents["doc-7"].checksum == documents["doc-7"]
    client.batch_delete_documents([f"doc-{n}" for n in range(1200)])
    assert len(client.load_checksums()) == 1300


def test_checkpoint_is_a_dict_in_and_out(client: CCFClient) -> None:
    assert client.get_checkpoint() is None
    client.save_checkpoint({"cursor": "2025-06-01", "pages": [1, 2], "nested": {"a": None}})
    assert client.get_checkpoint() == {"cursor": "2025-06-01", "pages": [1, 2], "nested": {"a": None}}
    assert client.delete_checkpoint() is True
    assert client.delete_checkpoint() is False
    assert client.get_checkpoint() is None


def test_jobs_start_stop_get_list_and_metrics(client: CCFClient) -> None:
    job = client.start_job({"MODE": "full"})
    assert job.status is JobStatus.STARTED
    with pytest.raises(ApiConflict):
        client.start_job()
    bound = CCFClient(client.client, client.connector_id, job_id=job.job_id)
    report = SyncReport(connector="hello", mode="full", destination="local", scanned=9, added=3, unchanged=6)
    reported = bound.report_job_metrics(report)
    assert reported.metrics is not None and reported.metrics["scanned"] == 9
    assert bound.get_job().metrics == reported.metrics
    assert bound.stop_job().status is JobStatus.STOPPING
    assert [listed.job_id for listed in client.list_jobs()] == [job.job_id]
    assert list(client.list_jobs(status="RUNNING")) == []


def test_errors_become_ccf_exceptions(ccf: Any) -> None:
    missing = CCFClient(ccf, "cc-0123456789ab")
    with pytest.raises(ApiResourceNotFound) as caught:
        missing.get_connector()
    assert caught.value.status == 404
    with pytest.raises(ApiResourceNotFound):
        missing.get_checkpoint()
    with pytest.raises(ApiRequestInvalid) as invalid:
        CCFClient(ccf, "cc-0123456789ab").batch_put_documents({"d": "short"})
    assert "checksum" in invalid.value.message
    with pytest.raises(ApiRequestInvalid) as rejected:
        CCFClient(ccf, "cc-0123456789ab").batch_put_documents({"x" * 1826: "0" * 64})
    assert rejected.value.code == "BadRequestException"
    assert rejected.value.status == 400


def test_from_environment_builds_a_client_for_the_job(
    backend: Any, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_VARIABLE, backend.endpoint_url)
    monkeypatch.setenv(CONNECTOR_ID_VARIABLE, connector_id)
    monkeypatch.setenv(JOB_ID_VARIABLE, "ccj-0123456789ab")
    client = CCFClient.from_environment()
    assert client.connector_id == connector_id
    assert client.job_id == "ccj-0123456789ab"
    assert client.get_connector().connector_id == connector_id


def test_from_environment_names_missing_variables() -> None:
    with pytest.raises(Exception, match=ENDPOINT_VARIABLE):
        CCFClient.from_environment({})


def test_checksum_pages_list_what_the_models_list(client: CCFClient) -> None:
    documents = {f"doc-{n}": f"{n:064x}" for n in range(2500)}
    client.batch_put_documents(documents)
    pages = list(client.iter_checksum_pages(page_size=1000))
    assert [len(page) for page in pages] == [1000, 1000, 500]
    assert dict(pair for page in pages for pair in page) == documents
    assert {document.document_id: document.checksum for document in client.iter_documents()} == documents


def test_checksum_pages_of_a_missing_connector_raise_the_api_error(ccf: Any) -> None:
    with pytest.raises(ApiResourceNotFound) as caught:
        list(CCFClient(ccf, "cc-0123456789ab").iter_checksum_pages())
    assert caught.value.status == 404


def test_checksum_pages_refuse_a_listing_botocore_lost(
    ccf: Any, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were botocore to stop merging the documents set aside, the run must stop, not see an empty state."""
    from ccf_core.api import client as client_module

    real = client_module._set_documents_aside

    def set_aside_and_lose(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **kw: Any
    ) -> None:
        real(response_dict, customized_response_dict, **kw)
        customized_response_dict.clear()

    monkeypatch.setattr(client_module, "_set_documents_aside", set_aside_and_lose)
    client = CCFClient(ccf, connector_id)
    client.batch_put_documents({"doc-1": "1" * 64})
    ccf.meta.events.unregister(client_module._RAW_LIST_EVENT, unique_id="ccf-checksum-pages")
    with pytest.raises(CCFApiError, match="lost on the way through botocore"):
        list(client.iter_checksum_pages())
