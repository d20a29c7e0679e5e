"""Where the spec and the server once disagreed (found by schemathesis): methods a path does not have,
optional bodies, nulls and JSON types."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import CONTAINER

BASE = "/api/v1/custom-connectors"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", BASE, "POST, GET"),
        ("QUERY", BASE + "/cc-0123456789ab/documents", "POST, DELETE, GET"),
        ("OPTIONS", BASE + "/cc-0123456789ab/checkpoint", "PUT, GET, DELETE"),
        ("PATCH", BASE + "/cc-0123456789ab", "GET, PUT, DELETE"),
    ],
)
def test_a_method_the_path_lacks_is_a_json_405_with_allow(
    http: Any, method: str, path: str, allowed: str
) -> None:
    status, headers, body = http.request(method, path)
    assert status == 405
    assert headers["Allow"] == allowed
    assert headers["Content-Type"] == "application/json"
    assert body["errorType"] == "MethodNotAllowedException"
    assert method in body["message"]


def test_an_unknown_path_is_still_a_404(http: Any) -> None:
    status, _, body = http.request("TRACE", "/api/v1/elsewhere")
    assert status == 404
    assert body["errorType"] == "ResourceNotFoundException"


def test_start_without_a_body_starts_a_job(http: Any, connector_id: str) -> None:
    status, _, body = http.request("POST", f"{BASE}/{connector_id}/jobs")
    assert status == 201
    assert body["job"]["environment"] == []


def test_update_without_a_body_changes_nothing(http: Any, ccf: Any, connector_id: str) -> None:
    before = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    status, _, body = http.request("PUT", f"{BASE}/{connector_id}")
    assert status == 200
    assert body["connector"]["updated_at"] == before["updated_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"container_properties": {"timeout": None}}, "container_properties.timeout"),
        (
            {"container_properties": {"resource_requirements": {"cpu": None}}},
            "container_properties.resource_requirements.cpu",
        ),
    ],
)
def test_null_is_refused_outside_configuration_and_secret_references(
    http: Any, connector_id: str, body: dict[str, Any], field: str
) -> None:
    status, _, answer = http.request("PUT", f"{BASE}/{connector_id}", body)
    assert status == 400
    assert answer["field"] == field
    assert "null" in answer["message"]


def test_null_in_a_secret_references_patch_removes_the_name(http: Any, make_connector: Any) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"
    connector_id = make_connector(secret_references={"TOKEN": arn, "OTHER": arn})["connector_id"]
    status, _, answer = http.request("PUT", f"{BASE}/{connector_id}", {"secret_references": {"OTHER": None}})
    assert status == 200
    assert answer["connector"]["secret_references"] == {"TOKEN": arn}


@pytest.mark.parametrize(
    ("resources", "field"),
    [({"cpu": True}, "cpu"), ({"memory": "4096"}, "memory")],
)
def test_numbers_must_be_json_numbers_of_their_type(http: Any, resources: dict[str, Any], field: str) -> None:
    container = dict(CONTAINER, resource_requirements=resources)
    status, _, answer = http.request("POST", BASE, {"name": "typed", "container_properties": container})
    assert status == 400
    assert answer["field"] == f"container_properties.resource_requirements.{field}"
