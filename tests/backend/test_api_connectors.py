"""Connector operations through the generated boto3 client, real HTTP, the handler and DynamoDB."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ccf_backend.local_server import LocalBackend

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")

APPLICATION = "a" * 36
INDEX = "b" * 36
DATA_SOURCE = "c" * 36
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitlab-token-AbCdEf"


def test_create_returns_an_available_connector_with_upstream_id_and_arn(
    make_connector: Callable[..., dict[str, Any]],
) -> None:
    connector = make_connector(name="my-connector", description="syncs the wiki")
    assert re.fullmatch(r"cc-[0-9a-f]{12}", connector["connector_id"])
    assert (
        connector["arn"] == f"arn:aws:ccf:us-east-1:123456789012:custom-connector/{connector['connector_id']}"
    )
    assert connector["status"] == "AVAILABLE"
    assert connector["name"] == "my-connector"
    assert connector["container_properties"]["resource_requirements"] == {"cpu": 1, "memory": 2048}
    assert connector["container_properties"]["timeout"] == 3600


def test_get_returns_what_create_stored(ccf: Any, make_connector: Callable[..., dict[str, Any]]) -> None:
    created = make_connector(
        connector_type="gitlab",
        configuration={"url": "https://gitlab.example.com", "projects": [1, 2], "ratio": 0.5},
        qbusiness={"application_id": APPLICATION, "index_id": INDEX, "data_source_id": DATA_SOURCE},
        secret_references={"token": SECRET},
    )
    fetched = ccf.get_custom_connector(connector_id=created["connector_id"])["connector"]
    assert fetched == created
    assert fetched["configuration"] == {"url": "https://gitlab.example.com", "projects": [1, 2], "ratio": 0.5}
    assert fetched["secret_references"] == {"token": SECRET}


def test_get_unknown_connector_is_resource_not_found(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException) as caught:
        ccf.get_custom_connector(connector_id="cc-000000000000")
    error = caught.value.response["Error"]
    assert error["Code"] == "ResourceNotFoundException"
    assert "cc-000000000000" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_partial_update_of_nested_objects_merges(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    created = make_connector(
        description="before",
        qbusiness={"application_id": APPLICATION, "index_id": INDEX, "data_source_id": DATA_SOURCE},
        configuration={"url": "https://a.example.com", "depth": 2, "nested": {"x": 1, "y": 2}},
    )
    updated = ccf.update_custom_connector(
        connector_id=created["connector_id"],
        container_properties={"resource_requirements": {"memory": 4096}},
        qbusiness={"index_id": "d" * 36},
        configuration={"depth": None, "nested": {"y": 3}},
    )["connector"]
    properties = updated["container_properties"]
    assert properties["resource_requirements"] == {"cpu": 1, "memory": 4096}
    assert properties["image_uri"] == created["container_properties"]["image_uri"]
    assert properties["execution_role_arn"] == created["container_properties"]["execution_role_arn"]
    assert properties["timeout"] == 3600
    assert updated["qbusiness"] == {
        "application_id": APPLICATION,
        "index_id": "d" * 36,
        "data_source_id": DATA_SOURCE,
    }
    assert updated["configuration"] == {"url": "https://a.example.com", "nested": {"x": 1, "y": 3}}
    assert updated["description"] == "before"
    assert updated["updated_at"] >= created["updated_at"]
    assert ccf.get_custom_connector(connector_id=created["connector_id"])["connector"] == updated


def test_update_of_name_only_keeps_everything_else(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    created = make_connector(description="kept", connector_type="webcrawler")
    updated = ccf.update_custom_connector(connector_id=created["connector_id"], name="renamed")["connector"]
    assert updated["name"] == "renamed"
    assert {k: v for k, v in updated.items() if k not in ("name", "updated_at")} == {
        k: v for k, v in created.items() if k not in ("name", "updated_at")
    }


def test_update_secret_references_adds_and_removes_by_merge_patch(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    created = make_connector(secret_references={"token": SECRET, "other": SECRET})
    updated = ccf.update_custom_connector(
        connector_id=created["connector_id"],
        secret_references={"other": None, "password": SECRET.replace("gitlab", "db")},
    )["connector"]
    assert updated["secret_references"] == {"token": SECRET, "password": SECRET.replace("gitlab", "db")}


def test_update_to_an_invalid_fargate_size_is_rejected(ccf: Any, connector_id: str) -> None:
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.update_custom_connector(
            connector_id=connector_id, container_properties={"resource_requirements": {"cpu": 4}}
        )
    assert "container_properties" in caught.value.response["Error"]["Message"]
    assert "memory 2048 is not valid with cpu 4" in caught.value.response["Error"]["Message"]


def test_updates_are_allowed_while_a_job_runs(ccf: Any, connector_id: str) -> None:
    """As upstream (its custom resource updates connectors in stack updates): applies to the next job."""
    ccf.start_custom_connector_job(connector_id=connector_id)
    updated = ccf.update_custom_connector(
        connector_id=connector_id,
        description="still editable",
        container_properties={"timeout": 600, "resource_requirements": {"cpu": 2, "memory": 4096}},
        configuration={"base_url": "https://example.com"},
        qbusiness={"application_id": "a" * 36, "index_id": "b" * 36, "data_source_id": "c" * 36},
        secret_references={"TOKEN": SECRET},
    )["connector"]
    assert updated["status"] == "IN_USE"
    assert updated["description"] == "still editable"
    assert updated["container_properties"]["timeout"] == 600
    assert updated["configuration"] == {"base_url": "https://example.com"}
    assert updated["secret_references"] == {"TOKEN": SECRET}


def test_connector_type_cannot_change_while_a_job_runs(ccf: Any, make_connector: Any) -> None:
    connector_id = make_connector(connector_type="gitlab")["connector_id"]
    ccf.start_custom_connector_job(connector_id=connector_id)
    with pytest.raises(ccf.exceptions.ConflictException) as caught:
        ccf.update_custom_connector(connector_id=connector_id, connector_type="webcrawler")
    assert "IN_USE" in caught.value.response["Error"]["Message"]
    assert ccf.get_custom_connector(connector_id=connector_id)["connector"]["connector_type"] == "gitlab"


def test_list_pages_through_every_connector(ccf: Any, make_connector: Callable[..., dict[str, Any]]) -> None:
    created = {make_connector(name=f"paged-{number}")["connector_id"] for number in range(7)}
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"max_results": 3}
        if token:
            params["next_token"] = token
        page = ccf.list_custom_connectors(**params)
        assert len(page["connectors"]) <= 3
        seen.extend(connector["connector_id"] for connector in page["connectors"])
        pages += 1
        token = page.get("next_token")
        if not token:
            break
    assert created <= set(seen)
    assert len(seen) == len(set(seen))
    assert pages == -(-len(seen) // 3)


def test_list_paginator_of_the_service_model_walks_all_pages(ccf: Any) -> None:
    total = sum(
        len(page["connectors"])
        for page in ccf.get_paginator("list_custom_connectors").paginate(PaginationConfig={"PageSize": 2})
    )
    assert total == len(list(_all_connectors(ccf)))


def test_delete_removes_the_connector_and_its_data(ccf: Any, connector_id: str) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id, documents=[{"document_id": "doc-1", "checksum": "0" * 64}]
    )
    ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data='{"cursor": 1}')
    response = ccf.delete_custom_connector(connector_id=connector_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.get_custom_connector(connector_id=connector_id)
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.list_custom_connector_documents(connector_id=connector_id)


def test_delete_purges_documents_and_jobs_from_the_tables(
    ccf: Any, connector_id: str, rows_left: Callable[[str], dict[str, int]]
) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{i}", "checksum": "0" * 64} for i in range(30)],
    )
    job = ccf.start_custom_connector_job(connector_id=connector_id)["job"]
    from ccf_backend.storage import jobs

    jobs.finish_job(connector_id, job["job_id"], jobs.JobStatus.SUCCEEDED)
    assert sum(rows_left(connector_id).values()) > 30
    ccf.delete_custom_connector(connector_id=connector_id)
    assert set(rows_left(connector_id).values()) == {0}


def test_delete_is_refused_while_a_job_runs(ccf: Any, connector_id: str) -> None:
    ccf.start_custom_connector_job(connector_id=connector_id)
    with pytest.raises(ClientError) as caught:
        ccf.delete_custom_connector(connector_id=connector_id)
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert ccf.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "IN_USE"


def test_delete_unknown_connector_is_not_found(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.delete_custom_connector(connector_id="cc-0123456789ab")


def test_connectors_of_another_account_are_invisible(backend: LocalBackend, connector_id: str) -> None:
    from ccf_backend.handler import lambda_handler
    from ccf_backend.local_server import proxy_event

    event = proxy_event(
        "GET", f"/api/v1/custom-connectors/{connector_id}", {}, b"", account_id="210987654321"
    )
    assert lambda_handler(event, None)["statusCode"] == 404
    listing = lambda_handler(
        proxy_event("GET", "/api/v1/custom-connectors", {}, b"", account_id="210987654321"), None
    )
    assert connector_id not in listing["body"]


def _all_connectors(ccf: Any) -> Any:
    for page in ccf.get_paginator("list_custom_connectors").paginate():
        yield from page["connectors"]


def test_concurrent_partial_updates_are_not_lost(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    """Each update merges into the latest version (optimistic locking), none overwrites another."""
    from concurrent.futures import ThreadPoolExecutor

    connector_id = make_connector(configuration={})["connector_id"]

    def update(number: int) -> None:
        ccf.update_custom_connector(connector_id=connector_id, configuration={f"key{number}": number})

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(update, range(6)))
    configuration = ccf.get_custom_connector(connector_id=connector_id)["connector"]["configuration"]
    assert configuration == {f"key{number}": number for number in range(6)}
