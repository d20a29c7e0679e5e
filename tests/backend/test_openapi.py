"""infrastructure/openapi.json: a valid OpenAPI 3 document that agrees with the wire models and routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from ccf_backend.routes import ROUTES
from ccf_core.api import models

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = json.loads((ROOT / "infrastructure" / "openapi.json").read_text(encoding="utf-8"))
SCHEMAS = SPEC["components"]["schemas"]


def test_spec_is_valid_openapi() -> None:
    validate(SPEC)


def test_every_route_is_in_the_spec_and_every_operation_is_routed() -> None:
    in_spec = {
        (method.upper(), path, operation["operationId"])
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
    }
    routed = {
        (route.method, route.pattern.pattern.replace("([^/]+)", "{}"), route.operation) for route in ROUTES
    }
    normalised = {
        (method, "^" + path.replace("{connector_id}", "{}").replace("{job_id}", "{}") + "/?$", op)
        for method, path, op in in_spec
    }
    assert routed == normalised


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (SCHEMAS["ConnectorId"], {"pattern": models.CONNECTOR_ID_PATTERN, "minLength": 15, "maxLength": 15}),
        (SCHEMAS["JobId"], {"pattern": models.JOB_ID_PATTERN, "minLength": 16, "maxLength": 16}),
        (
            SCHEMAS["ConnectorName"],
            {"pattern": models.CONNECTOR_NAME_PATTERN, "minLength": 3, "maxLength": 128},
        ),
        (SCHEMAS["ConnectorType"], {"pattern": models.CONNECTOR_TYPE_PATTERN}),
        (SCHEMAS["RoleArn"], {"pattern": models.ROLE_ARN_PATTERN}),
        (SCHEMAS["ImageUri"], {"pattern": models.IMAGE_URI_PATTERN}),
        (SCHEMAS["QBusinessId"], {"pattern": models.QBUSINESS_ID_PATTERN}),
        (SCHEMAS["SecretReference"], {"pattern": models.SECRET_REFERENCE_PATTERN}),
        (
            SCHEMAS["DocumentChecksum"]["properties"]["document_id"],
            {"maxLength": models.MAX_DOCUMENT_ID_LENGTH},
        ),
        (
            SCHEMAS["DocumentChecksum"]["properties"]["checksum"],
            {"minLength": models.MIN_CHECKSUM_LENGTH, "maxLength": models.MAX_CHECKSUM_LENGTH},
        ),
        (
            SCHEMAS["BatchPutCustomConnectorDocumentsRequestModel"]["properties"]["documents"],
            {"maxItems": models.MAX_BATCH_PUT_DOCUMENTS},
        ),
        (
            SCHEMAS["BatchDeleteCustomConnectorDocumentsRequestModel"]["properties"]["document_ids"],
            {"maxItems": models.MAX_BATCH_DELETE_DOCUMENTS},
        ),
        (
            SCHEMAS["ListCustomConnectorDocumentsResponseModel"]["properties"]["documents"],
            {"maxItems": models.MAX_LIST_DOCUMENTS},
        ),
        (
            SCHEMAS["PutCustomConnectorCheckpointRequestModel"]["properties"]["checkpoint_data"],
            {"maxLength": models.MAX_CHECKPOINT_BYTES},
        ),
        (
            SCHEMAS["StartCustomConnectorJobRequestModel"]["properties"]["environment"],
            {"maxItems": models.MAX_ENVIRONMENT_VARIABLES},
        ),
        (
            SCHEMAS["ContainerProperties"]["properties"]["timeout"],
            {"minimum": models.MIN_TIMEOUT_SECONDS, "maximum": models.MAX_TIMEOUT_SECONDS},
        ),
        (SCHEMAS["JobStatus"], {"enum": [status.value for status in models.JobStatus]}),
        (
            SCHEMAS["ErrorResponseModel"]["properties"]["errorType"],
            {"enum": [error.value for error in models.ErrorType]},
        ),
    ],
)
def test_spec_constraints_match_the_wire_models(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {key: schema.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("path", "maximum"),
    [
        ("/api/v1/custom-connectors", models.MAX_LIST_CONNECTORS),
        ("/api/v1/custom-connectors/{connector_id}/jobs", models.MAX_LIST_JOBS),
        ("/api/v1/custom-connectors/{connector_id}/documents", models.MAX_LIST_DOCUMENTS),
    ],
)
def test_list_page_limits_match_the_service(path: str, maximum: int) -> None:
    parameters = {param["name"]: param for param in SPEC["paths"][path]["get"]["parameters"]}
    assert parameters["max_results"]["schema"]["maximum"] == maximum
    assert parameters["max_results"]["schema"]["default"] == models.DEFAULT_MAX_RESULTS
    assert parameters["next_token"]["schema"]["maxLength"] == models.MAX_NEXT_TOKEN_LENGTH


@pytest.mark.parametrize(
    ("schema_name", "model"),
    [
        ("CreateCustomConnectorRequestModel", models.CreateCustomConnectorRequest),
        ("UpdateCustomConnectorRequestModel", models.UpdateCustomConnectorRequest),
        ("StartCustomConnectorJobRequestModel", models.StartCustomConnectorJobRequest),
        ("BatchPutCustomConnectorDocumentsRequestModel", models.BatchPutCustomConnectorDocumentsRequest),
        (
            "BatchDeleteCustomConnectorDocumentsRequestModel",
            models.BatchDeleteCustomConnectorDocumentsRequest,
        ),
        ("PutCustomConnectorCheckpointRequestModel", models.PutCustomConnectorCheckpointRequest),
        ("PutCustomConnectorJobMetricsRequestModel", models.PutCustomConnectorJobMetricsRequest),
        ("JobMetrics", models.JobMetrics),
        ("ContainerProperties", models.ContainerProperties),
        ("ContainerPropertiesUpdate", models.ContainerPropertiesUpdate),
        ("QBusinessTarget", models.QBusinessTarget),
        ("EnvironmentVariable", models.EnvironmentVariable),
    ],
)
def test_request_schemas_have_the_fields_of_the_models(schema_name: str, model: Any) -> None:
    schema = SCHEMAS[schema_name]
    assert set(schema["properties"]) == set(model.model_fields)
    assert schema.get("additionalProperties") is False
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert set(schema.get("required", [])) == required


def test_description_writes_down_the_choices() -> None:
    text = SPEC["info"]["description"]
    for topic in (
        "12 lowercase hex",
        "next_token",
        "1000",
        "1825",
        "__type",
        "x-amzn-ErrorType",
        "Merge Patch",
    ):
        assert topic in text
