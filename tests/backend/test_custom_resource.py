"""The connector stack's function against the local API, answering a local stand-in for CloudFormation.

CloudFormation's ``ResponseURL`` is a presigned S3 URL that receives one PUT; here it is a local
HTTP server that records each PUT's body and headers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ccf_backend import custom_resource
from tests.backend.conftest import CONTAINER


class _Recorder(BaseHTTPRequestHandler):
    responses: list[dict[str, Any]]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.failures:  # type: ignore[attr-defined]
            self.server.failures -= 1  # type: ignore[attr-defined]
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.responses.append(
            {"body": json.loads(body), "content_type": self.headers.get("Content-Type")}
        )  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def cloudformation() -> Iterator[ThreadingHTTPServer]:
    """The ResponseURL server; ``.responses`` holds what the function PUT, in order."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.responses = []  # type: ignore[attr-defined]
    server.failures = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function signs with the usual credential chain; dummy keys for the local API."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _request(
    server: ThreadingHTTPServer,
    request_type: str,
    properties: dict[str, Any],
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/response?X-Amz-Signature=abc",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/connector/1",
        "RequestId": f"request-{len(server.responses)}",
        "LogicalResourceId": "Connector",
        "ResourceType": "Custom::CcfConnector",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = old
    custom_resource.lambda_handler(event, None)
    response: dict[str, Any] = server.responses[-1]
    assert response["content_type"] == "", "the presigned URL is signed without a content type"
    body: dict[str, Any] = response["body"]
    assert body["RequestId"] == event["RequestId"]
    assert body["LogicalResourceId"] == "Connector"
    assert body["StackId"] == event["StackId"]
    return body


def _properties(endpoint: str, **connector: Any) -> dict[str, Any]:
    """Resource properties as CloudFormation sends them: every scalar a string."""
    fields: dict[str, Any] = {
        "name": "from-a-stack",
        "connector_type": "webcrawler",
        "container_properties": {
            **CONTAINER,
            "timeout": "1800",
            "resource_requirements": {"cpu": "2", "memory": "4096"},
        },
        "configuration": '{"start_urls": ["https://example.com/"], "max_pages": 10}',
        "secret_references": "{}",
        "description": "",
    }
    fields.update(connector)
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "ApiEndpoint": endpoint,
        "Connector": fields,
    }


def test_create_makes_the_connector_and_reports_its_id(cloudformation: Any, backend: Any, ccf: Any) -> None:
    body = _request(cloudformation, "Create", _properties(backend.endpoint_url))
    assert body["Status"] == "SUCCESS"
    connector_id = body["PhysicalResourceId"]
    stored = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert body["Data"] == {"ConnectorId": connector_id, "Arn": stored["arn"]}
    assert stored["configuration"] == {"start_urls": ["https://example.com/"], "max_pages": 10}
    assert stored["container_properties"]["resource_requirements"] == {"cpu": 2, "memory": 4096}
    assert stored["container_properties"]["timeout"] == 1800


def test_an_answer_cloudformation_did_not_take_is_sent_again_and_the_connector_made_once(
    cloudformation: Any, backend: Any, ccf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(custom_resource, "RESPOND_RETRY_SECONDS", (0.0, 0.0))
    cloudformation.failures = 2  # two 503s, then the PUT goes through
    before = {c["connector_id"] for c in ccf.list_custom_connectors()["connectors"]}

    body = _request(cloudformation, "Create", _properties(backend.endpoint_url))

    assert body["Status"] == "SUCCESS"
    assert len(cloudformation.responses) == 1
    after = {c["connector_id"] for c in ccf.list_custom_connectors()["connectors"]}
    assert after - before == {body["PhysicalResourceId"]}


def test_a_refused_create_fails_the_resource_with_the_api_reason(cloudformation: Any, backend: Any) -> None:
    properties = _properties(backend.endpoint_url)
    properties["Connector"]["container_properties"] = {**CONTAINER, "image_uri": "not an image"}
    body = _request(cloudformation, "Create", properties)
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("Create failed: ")
    assert "image_uri" in body["Reason"]
    assert body["PhysicalResourceId"] == "failed-request-0"


def test_bad_json_in_a_parameter_fails_naming_the_field(cloudformation: Any, backend: Any) -> None:
    body = _request(cloudformation, "Create", _properties(backend.endpoint_url, configuration="{oops"))
    assert body["Status"] == "FAILED"
    assert "Connector.configuration is not valid JSON" in body["Reason"]


def test_update_changes_the_connector_and_removes_dropped_settings(
    cloudformation: Any, backend: Any, ccf: Any
) -> None:
    old = _properties(backend.endpoint_url)
    connector_id = _request(cloudformation, "Create", old)["PhysicalResourceId"]
    new = _properties(
        backend.endpoint_url, name="renamed", configuration='{"start_urls": ["https://example.org/"]}'
    )
    body = _request(cloudformation, "Update", new, physical_id=connector_id, old=old)
    assert body == {**body, "Status": "SUCCESS", "PhysicalResourceId": connector_id}
    stored = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert stored["name"] == "renamed"
    assert stored["configuration"] == {"start_urls": ["https://example.org/"]}, "max_pages was dropped"


def test_update_onto_another_backend_makes_a_new_connector(
    cloudformation: Any, backend: Any, ccf: Any
) -> None:
    old = _properties(backend.endpoint_url.replace("127.0.0.1", "localhost"))
    new = _properties(backend.endpoint_url)
    body = _request(cloudformation, "Update", new, physical_id="cc-000000000000", old=old)
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] != "cc-000000000000"
    ccf.get_custom_connector(connector_id=body["PhysicalResourceId"])


def test_delete_deletes_the_connector_and_a_second_delete_still_succeeds(
    cloudformation: Any, backend: Any, ccf: Any
) -> None:
    properties = _properties(backend.endpoint_url)
    connector_id = _request(cloudformation, "Create", properties)["PhysicalResourceId"]
    for _ in range(2):
        body = _request(cloudformation, "Delete", properties, physical_id=connector_id)
        assert body["Status"] == "SUCCESS"
        assert body["PhysicalResourceId"] == connector_id
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.get_custom_connector(connector_id=connector_id)


def test_deleting_a_resource_whose_create_failed_calls_nothing(cloudformation: Any) -> None:
    body = _request(
        cloudformation, "Delete", _properties("http://127.0.0.1:9"), physical_id="failed-request-0"
    )
    assert body["Status"] == "SUCCESS"


def test_a_delete_the_api_refuses_fails_with_the_reason(cloudformation: Any, backend: Any, ccf: Any) -> None:
    properties = _properties(backend.endpoint_url)
    connector_id = _request(cloudformation, "Create", properties)["PhysicalResourceId"]
    ccf.start_custom_connector_job(connector_id=connector_id)
    body = _request(cloudformation, "Delete", properties, physical_id=connector_id)
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("Delete failed: ")
    assert body["PhysicalResourceId"] == connector_id


def test_the_scheduled_start_starts_one_job_per_scheduled_time(backend: Any, ccf: Any) -> None:
    properties = _properties(backend.endpoint_url)["Connector"]
    connector_id = ccf.create_custom_connector(**custom_resource.connector_request(properties))["connector"][
        "connector_id"
    ]
    event = {
        "action": "start_job",
        "api_endpoint": backend.endpoint_url,
        "connector_id": connector_id,
        "client_token": "2026-11-30T22:00:00Z",
    }
    first = custom_resource.lambda_handler(event, None)
    retried = custom_resource.lambda_handler(event, None)
    assert first["started"] is True
    assert retried == first, "Scheduler's retry of the same scheduled time returns the same job"
    jobs = ccf.list_custom_connector_jobs(connector_id=connector_id)["jobs"]
    assert [job["job_id"] for job in jobs] == [first["job_id"]]


def test_a_scheduled_start_while_a_job_runs_is_skipped(backend: Any, ccf: Any) -> None:
    properties = _properties(backend.endpoint_url)["Connector"]
    connector_id = ccf.create_custom_connector(**custom_resource.connector_request(properties))["connector"][
        "connector_id"
    ]
    running = ccf.start_custom_connector_job(connector_id=connector_id)["job"]["job_id"]
    result = custom_resource.lambda_handler(
        {"action": "start_job", "api_endpoint": backend.endpoint_url, "connector_id": connector_id,
         "client_token": "2026-11-30T23:00:00Z"},
        None,
    )  # fmt: skip
    assert result["started"] is False
    assert f"connector {connector_id} is IN_USE: job {running} is running" in result["reason"]


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action 'nap'"):
        custom_resource.lambda_handler(
            {"action": "nap", "api_endpoint": "http://127.0.0.1:9", "connector_id": "cc-000000000000"}, None
        )
