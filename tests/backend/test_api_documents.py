"""Document checksums: batch put/delete, listing with pagination, and isolation per connector."""

from __future__ import annotations

from typing import Any

import pytest

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")

CHECKSUM = "a" * 64


def _list_all(ccf: Any, connector_id: str, max_results: int = 1000) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"connector_id": connector_id, "max_results": max_results}
        if token:
            params["next_token"] = token
        page = ccf.list_custom_connector_documents(**params)
        documents.extend(page["documents"])
        token = page.get("next_token")
        if not token:
            return documents


def test_put_then_list_returns_the_checksums(ccf: Any, connector_id: str) -> None:
    response = ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"doc-{n}", "checksum": f"{n:064d}"} for n in range(5)],
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    documents = {doc["document_id"]: doc for doc in _list_all(ccf, connector_id)}
    assert {doc_id: doc["checksum"] for doc_id, doc in documents.items()} == {
        f"doc-{n}": f"{n:064d}" for n in range(5)
    }
    assert all(doc["created_at"] and doc["updated_at"] for doc in documents.values())


def test_put_again_keeps_created_at_and_changes_the_checksum(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id, documents=[{"document_id": "doc", "checksum": CHECKSUM}]
    )
    before = _list_all(ccf, connector_id)[0]
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id, documents=[{"document_id": "doc", "checksum": "b" * 64}]
    )
    after = _list_all(ccf, connector_id)[0]
    assert after["checksum"] == "b" * 64
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] >= before["updated_at"]


def test_delete_forgets_only_the_given_ids(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": CHECKSUM} for n in range(4)],
    )
    response = ccf.batch_delete_custom_connector_documents(
        connector_id=connector_id, document_ids=["d1", "d3", "never-stored"]
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(doc["document_id"] for doc in _list_all(ccf, connector_id)) == ["d0", "d2"]


def test_two_connectors_with_the_same_document_id_do_not_touch_each_other(
    ccf: Any, make_connector: Any
) -> None:
    first, second = make_connector()["connector_id"], make_connector()["connector_id"]
    for connector_id, checksum in ((first, "1" * 64), (second, "2" * 64)):
        ccf.batch_put_custom_connector_documents(
            connector_id=connector_id, documents=[{"document_id": "shared", "checksum": checksum}]
        )
    ccf.batch_delete_custom_connector_documents(connector_id=first, document_ids=["shared"])
    assert _list_all(ccf, first) == []
    assert [doc["checksum"] for doc in _list_all(ccf, second)] == ["2" * 64]


def test_document_ids_of_1825_characters_are_stored(ccf: Any, connector_id: str) -> None:
    long_id = "x" * 1824 + "é"
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id, documents=[{"document_id": long_id, "checksum": CHECKSUM}]
    )
    assert [doc["document_id"] for doc in _list_all(ccf, connector_id)] == [long_id]
    ccf.batch_delete_custom_connector_documents(connector_id=connector_id, document_ids=[long_id])
    assert _list_all(ccf, connector_id) == []


def test_batches_of_1000_are_accepted_and_pages_hold_up_to_1000(ccf: Any, connector_id: str) -> None:
    for start in (0, 1000):
        ccf.batch_put_custom_connector_documents(
            connector_id=connector_id,
            documents=[
                {"document_id": f"doc-{n:05d}", "checksum": CHECKSUM} for n in range(start, start + 1000)
            ],
        )
    first = ccf.list_custom_connector_documents(connector_id=connector_id, max_results=1000)
    assert len(first["documents"]) == 1000
    second = ccf.list_custom_connector_documents(
        connector_id=connector_id, max_results=1000, next_token=first["next_token"]
    )
    assert len(second["documents"]) == 1000
    assert "next_token" not in second
    ids = {doc["document_id"] for doc in first["documents"] + second["documents"]}
    assert len(ids) == 2000


def test_default_page_is_fifty_documents(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": CHECKSUM} for n in range(60)],
    )
    page = ccf.list_custom_connector_documents(connector_id=connector_id)
    assert len(page["documents"]) == 50
    assert page["next_token"]


def test_the_service_model_paginator_walks_documents(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": CHECKSUM} for n in range(25)],
    )
    paginator = ccf.get_paginator("list_custom_connector_documents")
    pages = list(paginator.paginate(connector_id=connector_id, PaginationConfig={"PageSize": 10}))
    assert [len(page["documents"]) for page in pages] == [10, 10, 5]


def test_a_token_from_another_connector_is_rejected(ccf: Any, make_connector: Any) -> None:
    first, second = make_connector()["connector_id"], make_connector()["connector_id"]
    ccf.batch_put_custom_connector_documents(
        connector_id=first, documents=[{"document_id": f"d{n}", "checksum": CHECKSUM} for n in range(3)]
    )
    token = ccf.list_custom_connector_documents(connector_id=first, max_results=1)["next_token"]
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.list_custom_connector_documents(connector_id=second, next_token=token)
    assert (
        caught.value.response["Error"]["Message"]
        == "next_token: was issued for another connector or operation"
    )


def test_a_token_from_another_operation_is_rejected(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": CHECKSUM} for n in range(3)],
    )
    token = ccf.list_custom_connector_documents(connector_id=connector_id, max_results=1)["next_token"]
    with pytest.raises(ccf.exceptions.BadRequestException):
        ccf.list_custom_connector_jobs(connector_id=connector_id, next_token=token)


def test_documents_of_an_unknown_connector_are_not_found(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.batch_put_custom_connector_documents(
            connector_id="cc-0123456789ab", documents=[{"document_id": "d", "checksum": CHECKSUM}]
        )
