"""Every kind of bad input is a 400 BadRequestException that names the field (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from ccf_core.api.models import MAX_CHECKPOINT_BYTES

BASE = "/api/v1/custom-connectors"
CONTAINER = {
    "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf:latest",
    "job_role_arn": "arn:aws:iam::123456789012:role/job",
}
DOC = {"document_id": "d", "checksum": "0" * 64}
METRICS = BASE + "/{c}/jobs/{j}/metrics"
NESTED: dict[str, Any] = {}
for _ in range(300):
    NESTED = {"a": NESTED}

#: (case id, method, path with {c} for a real connector id and {j} for a job id, body or raw text, field)
CASES: list[tuple[str, str, str, Any, str]] = [
    ("connector id too short", "GET", BASE + "/cc-12", None, "connector_id"),
    ("connector id upper case", "GET", BASE + "/cc-ABCDEF012345", None, "connector_id"),
    ("connector id 11 hex (upstream schema)", "GET", BASE + "/cc-0123456789a", None, "connector_id"),
    ("connector id wrong prefix", "DELETE", BASE + "/ccj-0123456789ab", None, "connector_id"),
    ("job id wrong format", "POST", BASE + "/{c}/jobs/ccj-123/stop", None, "job_id"),
    ("job id of a connector", "GET", BASE + "/{c}/jobs/cc-0123456789ab", None, "job_id"),
    ("name with a space", "POST", BASE, {"name": "bad name", "container_properties": CONTAINER}, "name"),
    ("name too short", "POST", BASE, {"name": "ab", "container_properties": CONTAINER}, "name"),
    ("name too long", "POST", BASE, {"name": "a" * 129, "container_properties": CONTAINER}, "name"),
    ("name missing", "POST", BASE, {"container_properties": CONTAINER}, "name"),
    ("container missing", "POST", BASE, {"name": "abc"}, "container_properties"),
    (
        "image not in ECR",
        "POST",
        BASE,
        {"name": "abc", "container_properties": {**CONTAINER, "image_uri": "docker.io/library/python:3"}},
        "container_properties.image_uri",
    ),
    (
        "role not a role",
        "POST",
        BASE,
        {
            "name": "abc",
            "container_properties": {**CONTAINER, "job_role_arn": "arn:aws:iam::123456789012:user/x"},
        },
        "container_properties.job_role_arn",
    ),
    (
        "timeout below Batch minimum",
        "POST",
        BASE,
        {"name": "abc", "container_properties": {**CONTAINER, "timeout": 1}},
        "container_properties.timeout",
    ),
    (
        "cpu above 16",
        "POST",
        BASE,
        {"name": "abc", "container_properties": {**CONTAINER, "resource_requirements": {"cpu": 32}}},
        "container_properties.resource_requirements.cpu",
    ),
    (
        "unknown top-level field",
        "POST",
        BASE,
        {"name": "abc", "container_properties": CONTAINER, "colour": "red"},
        "colour",
    ),
    (
        "unknown nested field",
        "POST",
        BASE,
        {"name": "abc", "container_properties": {**CONTAINER, "environment": []}},
        "container_properties.environment",
    ),
    (
        "secret value instead of a reference",
        "POST",
        BASE,
        {"name": "abc", "container_properties": CONTAINER, "secret_references": {"token": "glpat-123"}},
        "secret_references.token",
    ),
    (
        "bad Q Business id",
        "POST",
        BASE,
        {
            "name": "abc",
            "container_properties": CONTAINER,
            "qbusiness": {"application_id": "x", "index_id": "b" * 36, "data_source_id": "c" * 36},
        },
        "qbusiness.application_id",
    ),
    (
        "configuration not an object",
        "POST",
        BASE,
        {"name": "abc", "container_properties": CONTAINER, "configuration": [1, 2]},
        "configuration",
    ),
    ("malformed JSON", "POST", BASE, "{not json", "body"),
    ("JSON array body", "POST", BASE, "[1, 2]", "body"),
    ("update with unknown field", "PUT", BASE + "/{c}", {"nme": "typo"}, "nme"),
    (
        "update container with unknown field",
        "PUT",
        BASE + "/{c}",
        {"container_properties": {"memry": 4096}},
        "container_properties.memry",
    ),
    ("update name outside pattern", "PUT", BASE + "/{c}", {"name": "under_score"}, "name"),
    (
        "environment name invalid",
        "POST",
        BASE + "/{c}/jobs",
        {"environment": [{"name": "1BAD", "value": "x"}]},
        "environment[0].name",
    ),
    (
        "environment credential value",
        "POST",
        BASE + "/{c}/jobs",
        {"environment": [{"name": "GITLAB_TOKEN", "value": "not-a-reference"}]},
        "environment",
    ),
    (
        "environment too many",
        "POST",
        BASE + "/{c}/jobs",
        {"environment": [{"name": f"V{n}", "value": "x"} for n in range(51)]},
        "environment",
    ),
    (
        "metrics negative",
        "PUT",
        METRICS,
        {"metrics": {"scanned": -1}},
        "metrics.scanned",
    ),
    (
        "metrics unknown counter",
        "PUT",
        METRICS,
        {"metrics": {"scaned": 1}},
        "metrics.scaned",
    ),
    ("empty put batch", "POST", BASE + "/{c}/documents", {"documents": []}, "documents"),
    (
        "oversized put batch",
        "POST",
        BASE + "/{c}/documents",
        {"documents": [{"document_id": f"d{n}", "checksum": "0" * 64} for n in range(1001)]},
        "documents",
    ),
    ("duplicate ids in a put batch", "POST", BASE + "/{c}/documents", {"documents": [DOC, DOC]}, "documents"),
    (
        "checksum too short",
        "POST",
        BASE + "/{c}/documents",
        {"documents": [{"document_id": "d", "checksum": "abc"}]},
        "documents[0].checksum",
    ),
    (
        "document id too long",
        "POST",
        BASE + "/{c}/documents",
        {"documents": [{"document_id": "x" * 1826, "checksum": "0" * 64}]},
        "documents[0].document_id",
    ),
    (
        "unknown field in a document",
        "POST",
        BASE + "/{c}/documents",
        {"documents": [{**DOC, "title": "t"}]},
        "documents[0].title",
    ),
    ("empty delete batch", "DELETE", BASE + "/{c}/documents", {"document_ids": []}, "document_ids"),
    (
        "oversized delete batch",
        "DELETE",
        BASE + "/{c}/documents",
        {"document_ids": [f"d{n}" for n in range(1001)]},
        "document_ids",
    ),
    (
        "empty document id to delete",
        "DELETE",
        BASE + "/{c}/documents",
        {"document_ids": [""]},
        "document_ids[0]",
    ),
    (
        "checkpoint over 1 MiB",
        "PUT",
        BASE + "/{c}/checkpoint",
        {"checkpoint_data": "x" * (MAX_CHECKPOINT_BYTES + 1)},
        "checkpoint_data",
    ),
    ("checkpoint empty", "PUT", BASE + "/{c}/checkpoint", {"checkpoint_data": ""}, "checkpoint_data"),
    (
        "checkpoint as an object",
        "PUT",
        BASE + "/{c}/checkpoint",
        {"checkpoint_data": {"cursor": 1}},
        "checkpoint_data",
    ),
    ("checkpoint missing", "PUT", BASE + "/{c}/checkpoint", {}, "checkpoint_data"),
    ("max_results zero", "GET", BASE + "?max_results=0", None, "max_results"),
    ("max_results not a number", "GET", BASE + "/{c}/documents?max_results=ten", None, "max_results"),
    (
        "max_results above the documents limit",
        "GET",
        BASE + "/{c}/documents?max_results=1001",
        None,
        "max_results",
    ),
    ("max_results above the connectors limit", "GET", BASE + "?max_results=101", None, "max_results"),
    ("max_results above the jobs limit", "GET", BASE + "/{c}/jobs?max_results=101", None, "max_results"),
    ("unknown status filter", "GET", BASE + "/{c}/jobs?status=COMPLETED", None, "status"),
    ("unknown query parameter", "GET", BASE + "/{c}/documents?limit=5", None, "limit"),
    ("garbage token", "GET", BASE + "/{c}/documents?next_token=abc", None, "next_token"),
    (
        "metric infinite",
        "PUT",
        METRICS,
        '{"metrics": {"scanned": 1, "duration_seconds": Infinity}}',
        "body",
    ),
    (
        "metric too large for DynamoDB",
        "PUT",
        METRICS,
        {"metrics": {"scanned": 10**41}},
        "metrics.scanned",
    ),
    (
        "metric as a bool",
        "PUT",
        METRICS,
        {"metrics": {"scanned": True}},
        "metrics.scanned",
    ),
    (
        "metric as a string",
        "PUT",
        METRICS,
        {"metrics": {"added": "5"}},
        "metrics.added",
    ),
    ("body nested past the parser", "POST", BASE, "[" * 100_000, "body"),
    (
        "configuration nested too deeply",
        "POST",
        BASE,
        {"name": "deep", "container_properties": CONTAINER, "configuration": NESTED},
        "configuration",
    ),
    ("NaN in a body", "PUT", BASE + "/{c}", '{"configuration": {"x": NaN}}', "body"),
    (
        "secret in a job's plain environment",
        "POST",
        BASE + "/{c}/jobs",
        {"environment": [{"name": "GITLAB_TOKEN", "value": "glpat-123"}]},
        "environment",
    ),
]


@pytest.fixture(scope="module")
def ids(backend: Any, http: Any) -> dict[str, str]:
    status, _, body = http.request("POST", BASE, {"name": "bad-input", "container_properties": CONTAINER})
    assert status == 201
    connector_id = body["connector"]["connector_id"]
    status, _, body = http.request("POST", f"{BASE}/{connector_id}/jobs", {})
    assert status == 201
    return {"c": connector_id, "j": body["job"]["job_id"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_is_a_400_naming_the_field(
    http: Any, ids: dict[str, str], method: str, path: str, body: Any, field: str
) -> None:
    path = path.replace("{c}", ids["c"]).replace("{j}", ids["j"])
    if isinstance(body, str):
        status, headers, answer = http.request(method, path, raw=body)
    else:
        status, headers, answer = http.request(method, path, body)
    assert status == 400, answer
    assert answer["errorType"] == "BadRequestException"
    assert answer["__type"] == "BadRequestException"
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    assert answer["field"] == field
    assert answer["message"].startswith(f"{field}: ") or f"; {field}: " in answer["message"]
    assert len(answer["message"]) <= 1024


def test_a_tampered_token_is_rejected(ccf: Any, connector_id: str, http: Any) -> None:
    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": "0" * 64} for n in range(3)],
    )
    token = ccf.list_custom_connector_documents(connector_id=connector_id, max_results=1)["next_token"]
    payload, signature = token.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    status, _, answer = http.request("GET", f"{BASE}/{connector_id}/documents?next_token={tampered}")
    assert status == 400
    assert answer["field"] == "next_token"


def test_an_expired_token_is_rejected(ccf: Any, connector_id: str) -> None:
    from ccf_backend import tokens

    ccf.batch_put_custom_connector_documents(
        connector_id=connector_id,
        documents=[{"document_id": f"d{n}", "checksum": "0" * 64} for n in range(3)],
    )
    codec = tokens.get_codec()
    token = codec.encode(
        "ListCustomConnectorDocuments",
        connector_id,
        {"connector_id": {"S": connector_id}, "document_key": {"S": "0"}},
    )
    codec.lifetime_seconds, saved = -10, codec.lifetime_seconds
    try:
        expired = codec.encode(
            "ListCustomConnectorDocuments",
            connector_id,
            {"connector_id": {"S": connector_id}, "document_key": {"S": "0"}},
        )
    finally:
        codec.lifetime_seconds = saved
    assert (
        ccf.list_custom_connector_documents(connector_id=connector_id, next_token=token)["documents"]
        is not None
    )
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.list_custom_connector_documents(connector_id=connector_id, next_token=expired)
    assert "expired" in caught.value.response["Error"]["Message"]


def test_the_boto3_client_reports_the_field_in_the_error(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.create_custom_connector(name="bad name", container_properties=CONTAINER)
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    assert caught.value.response["Error"]["Message"].startswith("name: ")
