"""Wire compatibility: every operation of the upstream spec, called with its field names, answers
with its success code and a body valid against its response schema (and against ours).

The upstream spec contradicts itself and its server on a few points; the patches applied to it
here are exactly the choices written down in ``infrastructure/openapi.json``: ids of 12 hex
digits (connector 15 characters, job 16), and the job statuses its server used.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from ccf_core.api.models import CONNECTOR_ARN_PATTERN, CONNECTOR_ID_PATTERN, JobStatus

ROOT = Path(__file__).resolve().parents[2]
#: A copy of the upstream CCF OpenAPI export (the contract clients of the reference were written against).
UPSTREAM_PATH = Path(__file__).resolve().parent / "data" / "ccf-openapi-upstream.json"
SHIPPED = json.loads((ROOT / "infrastructure" / "openapi.json").read_text(encoding="utf-8"))
BASE = "/api/v1/custom-connectors"


def _patch(node: Any) -> Any:
    """The upstream schema with its documented contradictions resolved."""
    if isinstance(node, dict):
        patched = {key: _patch(value) for key, value in node.items()}
        if patched.get("pattern") == "^cc-[0-9a-f]{11}$":
            patched["pattern"] = CONNECTOR_ID_PATTERN
        if patched.get("pattern") == "^ccj-[0-9a-f]{12}$":
            patched["minLength"] = patched["maxLength"] = 16
        if str(patched.get("pattern", "")).startswith("^arn:aws:ccf:"):
            patched["pattern"] = CONNECTOR_ARN_PATTERN
        if patched.get("enum") == ["STARTED", "RUNNING", "COMPLETED", "FAILED", "STOPPED"]:
            patched["enum"] = [*patched["enum"], *(status.value for status in JobStatus)]
        return patched
    if isinstance(node, list):
        return [_patch(item) for item in node]
    return node


def _inline(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(components[schema["$ref"].rsplit("/", 1)[-1]], components)
        return {key: _inline(value, components) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, components) for item in schema]
    return schema


@pytest.fixture(scope="module")
def upstream() -> dict[str, Any]:
    spec: dict[str, Any] = _patch(json.loads(UPSTREAM_PATH.read_text(encoding="utf-8")))
    return spec


def _response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    response = spec["paths"][path][method.lower()]["responses"][str(status)]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return None if schema is None else _inline(schema, spec["components"]["schemas"])


def _check(spec: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    declared = spec["paths"][path][method.lower()]["responses"]
    assert str(status) in declared, f"{method} {path} answered {status}; the spec declares {sorted(declared)}"
    schema = _response_schema(spec, path, method, status)
    if schema is not None and body is not None:
        errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{method} {path} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"


def _request_is_valid(spec: dict[str, Any], path: str, method: str, body: Any) -> None:
    schema = spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    OAS30Validator(_inline(schema, spec["components"]["schemas"])).validate(body)


def test_every_upstream_operation_answers_as_its_spec_says(http: Any, upstream: dict[str, Any]) -> None:
    calls: list[tuple[str, str, str, Any]] = []

    def call(template: str, method: str, concrete: str, body: Any = None) -> Any:
        if body is not None:
            _request_is_valid(upstream, template, method, body)
        status, _, answer = http.request(method, concrete, body)
        for spec in (upstream, SHIPPED):
            _check(spec, template, method, status, answer)
        calls.append((method, template, str(status), answer))
        return answer

    create = {
        "name": "upstream-client",
        "description": "created with the upstream field names",
        "container_properties": {
            "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/connector:1",
            "job_role_arn": "arn:aws:iam::123456789012:role/job",
            "resource_requirements": {"cpu": 2, "memory": 4096},
            "timeout": 7200,
        },
    }
    connector = call(BASE, "POST", BASE, create)["connector"]
    one = f"{BASE}/{{connector_id}}"
    cid = connector["connector_id"]
    call(one, "GET", f"{BASE}/{cid}")
    call(one, "PUT", f"{BASE}/{cid}", {"description": "updated", "container_properties": {"timeout": 600}})
    call(BASE, "GET", BASE)
    job = call(
        f"{one}/jobs", "POST", f"{BASE}/{cid}/jobs", {"environment": [{"name": "MODE", "value": "full"}]}
    )["job"]
    call(f"{one}/jobs", "GET", f"{BASE}/{cid}/jobs")
    call(f"{one}/jobs/{{job_id}}/stop", "POST", f"{BASE}/{cid}/jobs/{job['job_id']}/stop")
    call(
        f"{one}/checkpoint",
        "PUT",
        f"{BASE}/{cid}/checkpoint",
        {"checkpoint_data": json.dumps({"since": "2025-01-01"})},
    )
    call(f"{one}/checkpoint", "GET", f"{BASE}/{cid}/checkpoint")
    call(f"{one}/checkpoint", "DELETE", f"{BASE}/{cid}/checkpoint")
    call(
        f"{one}/documents",
        "POST",
        f"{BASE}/{cid}/documents",
        {"documents": [{"document_id": "doc-1", "checksum": "f" * 32}]},
    )
    call(f"{one}/documents", "GET", f"{BASE}/{cid}/documents")
    call(f"{one}/documents", "DELETE", f"{BASE}/{cid}/documents", {"document_ids": ["doc-1"]})
    from ccf_backend.storage import jobs as jobs_dao

    jobs_dao.finish_job(cid, job["job_id"], JobStatus.STOPPED)
    call(one, "DELETE", f"{BASE}/{cid}")
    operations = {(method, template) for method, template, _, _ in calls}
    upstream_operations = {
        (method.upper(), path)
        for path, item in upstream["paths"].items()
        for method in item
        if method != "options"
    }
    assert operations == upstream_operations


def test_errors_match_the_error_response_model(http: Any, upstream: dict[str, Any]) -> None:
    one = f"{BASE}/{{connector_id}}"
    for method, template, concrete, body in (
        ("GET", one, f"{BASE}/cc-0123456789ab", None),
        ("GET", one, f"{BASE}/not-an-id", None),
        ("POST", BASE, BASE, {"name": "x"}),
    ):
        status, _, answer = http.request(method, concrete, body)
        assert status in (400, 404)
        for spec in (upstream, SHIPPED):
            _check(spec, template, method, status, answer)


def test_every_upstream_path_and_method_is_in_the_shipped_spec(upstream: dict[str, Any]) -> None:
    for path, item in upstream["paths"].items():
        for method in item:
            if method == "options":
                continue
            assert method in SHIPPED["paths"].get(path, {}), (
                f"{method.upper()} {path} missing from openapi.json"
            )


def test_every_upstream_field_is_in_the_shipped_spec(upstream: dict[str, Any]) -> None:
    """Additions only: each property the upstream schemas name still exists where it was."""
    ours = SHIPPED["components"]["schemas"]

    def properties(schema: Any, components: dict[str, Any], prefix: str = "") -> set[str]:
        schema = _inline(schema, components)
        found = set()
        for name, child in schema.get("properties", {}).items():
            found.add(prefix + name)
            target = child.get("items", child)
            found |= properties(target, components, f"{prefix}{name}.")
        return found

    for name, schema in upstream["components"]["schemas"].items():
        if name not in ours:
            continue
        missing = properties(schema, upstream["components"]["schemas"]) - properties(ours[name], ours)
        assert not missing, f"{name} lost {sorted(missing)}"
    assert set(upstream["components"]["schemas"]) <= set(ours)


def test_requests_with_upstream_optional_fields_omitted_still_work(http: Any) -> None:
    status, _, answer = http.request(
        "POST",
        BASE,
        {
            "name": "minimal",
            "container_properties": copy.deepcopy(
                {
                    "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/connector:1",
                    "job_role_arn": "arn:aws:iam::123456789012:role/job",
                }
            ),
        },
    )
    assert status == 201
    cid = answer["connector"]["connector_id"]
    status, _, answer = http.request("POST", f"{BASE}/{cid}/jobs")
    assert status == 201, answer
