"""Errors: botocore sees the error type as the code, faults are 500 without internals, throttling is 429."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ccf_backend import service


def test_client_error_code_is_the_exception_name(ccf: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ccf.get_custom_connector(connector_id="cc-0123456789ab")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert isinstance(caught.value, ccf.exceptions.ResourceNotFoundException)


def test_unknown_route_is_not_found(http: Any) -> None:
    status, headers, body = http.request("GET", "/api/v1/custom-connectors/cc-0123456789ab/unknown")
    assert status == 404
    assert body["errorType"] == "ResourceNotFoundException"
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_a_fault_is_a_500_that_does_not_leak_internals(
    http: Any, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail: table arn:aws:dynamodb:...")

    monkeypatch.setattr(service.connectors_dao, "get_connector", explode)
    status, headers, body = http.request("GET", f"/api/v1/custom-connectors/{connector_id}")
    assert status == 500
    assert body["errorType"] == "InternalServerErrorException"
    assert "secret" not in body["message"]
    assert "RuntimeError" not in body["message"]
    assert headers["x-amzn-RequestId"] in body["message"]


def test_dynamodb_throttling_is_a_429_throttling_exception(
    http: Any, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccf_backend.storage import base

    class Throttling:
        def get_item(self, **kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "GetItem",
            )

    monkeypatch.setattr("ccf_backend.storage.connectors.dynamodb", Throttling)
    assert base.THROTTLING_CODES
    status, headers, body = http.request("GET", f"/api/v1/custom-connectors/{connector_id}")
    assert status == 429
    assert body["errorType"] == "ThrottlingException"
    assert headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert "slow down" not in body["message"]


def test_a_request_without_identity_is_unauthorized(load_event: Any, backend: Any) -> None:
    from ccf_backend.handler import lambda_handler

    event = load_event("list_custom_connectors")
    event["requestContext"].pop("identity")
    event["requestContext"].pop("accountId")
    result = lambda_handler(event, None)
    assert result["statusCode"] == 401
    assert result["headers"]["x-amzn-ErrorType"] == "UnauthorizedException"
