"""The API contract, checked by a property-based tester: schemathesis against ``openapi.json`` and the
local server, a bounded and repeatable run (fixed seed, derandomized; about 1,100 requests, most
of them the coverage phase's, whose size follows from the spec).

Every operation is generated from the spec: its examples, the coverage phase (boundary values,
missing and invalid fields, methods the path does not have) and a few fuzzed cases, and every
default check runs on the answers (no 5xx, documented statuses, response schemas and headers,
invalid data refused, valid data accepted, JSON 405 with ``Allow`` for undeclared methods).

What is left out, and why:

* SigV4. The spec's ``sigv4`` security scheme is removed before loading: the local server does not
  check signatures (API Gateway does in AWS), so the authentication checks would only report that.
* A few 400s that depend on stored state or on a value's content, which an OpenAPI 3.0 schema
  cannot state; ``valid data accepted`` tolerates exactly these (:data:`STATE_DEPENDENT`), each
  named by the error message, and they are tested on their own elsewhere.

Path ids that match the spec's pattern are replaced by those of real connectors and jobs, so the
cases reach the operations instead of stopping at 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ccf_backend.local_server import LocalBackend
from ccf_core.api.models import CONNECTOR_ID_PATTERN, JOB_ID_PATTERN
from tests.backend.conftest import CONTAINER

SPEC_PATH = Path(__file__).resolve().parents[2] / "infrastructure" / "openapi.json"
SEED = 20251130
#: Fuzzed cases per operation, on top of the examples and the coverage phase.
FUZZED_CASES = 5

UPDATE = "UpdateCustomConnector"
#: 400s for schema-valid requests that the schema cannot foresee: (operations, error message).
STATE_DEPENDENT = {
    # OpenAPI 3.0 has no propertyNames; the pattern is in the description and x-property-names.
    "secret reference names": (
        {"CreateCustomConnector", UPDATE},
        re.compile(r"^secret_references: name .* must match "),
    ),
    # A next_token must be one this API issued (signed, bound to the operation and connector).
    "next_token issued by the API": (
        {"ListCustomConnectors", "ListCustomConnectorJobs", "ListCustomConnectorDocuments"},
        re.compile(r"^next_token: "),
    ),
    # An update's cpu/memory is merged with the stored pair; the result must be a Fargate size.
    "Fargate size after merging": ({UPDATE}, re.compile(r"is not a Fargate size|is not valid with cpu")),
    # An update's secret_references patch is merged with the stored names; at most 50 in the end.
    "secret references after merging": ({UPDATE}, re.compile(r"^secret_references: at most \d+ secret")),
    # An update's qbusiness is merged with the stored target; all three ids are needed in the end.
    "Q Business target after merging": ({UPDATE}, re.compile(r"^qbusiness\.\w+: required field is missing")),
    # Credential-looking strings in the environment or configuration (a rule on content).
    "credential-looking values": (
        {"CreateCustomConnector", UPDATE, "StartCustomConnectorJob"},
        re.compile(r"looks like a secret"),
    ),
    # Unique by a property of the items (JSON Schema's uniqueItems compares whole items).
    "names unique within a list": (
        {"StartCustomConnectorJob", "BatchPutCustomConnectorDocuments"},
        re.compile(r"is given twice|document_id at position \d+ repeats"),
    ),
}


def _spec_without_sigv4() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    spec.get("components", {}).pop("securitySchemes", None)
    spec.pop("security", None)
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return spec


schema = schemathesis.openapi.from_dict(
    _spec_without_sigv4(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": FUZZED_CASES, "deterministic": True},
            # Failures show the request as sent (the values are generated, not secrets).
            "output": {"sanitization": {"enabled": False}},
        }
    ),
)


@schemathesis.check
def valid_data_accepted_unless_state_dependent(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's ``positive_data_acceptance``, except for the 400s in :data:`STATE_DEPENDENT`."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        message = response.json().get("message", "") if response.status_code == 400 else ""
        operation = case.operation.definition.raw.get("operationId")
        if any(operation in where and rule.search(message) for where, rule in STATE_DEPENDENT.values()):
            return None
        raise


class Targets:
    """Real connectors and jobs for the generated cases to act on."""

    def __init__(self, ccf: Any) -> None:
        self.ccf = ccf
        self.shared = self._connector()
        self.job_id = ccf.start_custom_connector_job(connector_id=self.shared)["job"]["job_id"]

    def _connector(self) -> str:
        created = self.ccf.create_custom_connector(name="schemathesis", container_properties=dict(CONTAINER))
        return str(created["connector"]["connector_id"])

    def aim(self, case: Any) -> None:
        """Point ids that match the spec's pattern at real resources.

        A deletion and a job start each get a new connector (the shared one runs a job, so a
        start there could only answer 409).
        """
        parameters = case.path_parameters or {}
        connector_id = parameters.get("connector_id")
        if isinstance(connector_id, str) and re.fullmatch(CONNECTOR_ID_PATTERN, connector_id):
            method = case.method.upper()
            own = (method == "DELETE" and case.path.endswith("{connector_id}")) or (
                method == "POST" and case.path.endswith("/jobs")
            )
            parameters["connector_id"] = self._connector() if own else self.shared
        job_id = parameters.get("job_id")
        if isinstance(job_id, str) and re.fullmatch(JOB_ID_PATTERN, job_id):
            parameters["job_id"] = self.job_id


@pytest.fixture(scope="module")
def targets(ccf: Any) -> Iterator[Targets]:
    yield Targets(ccf)


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_openapi_json(case: Any, backend: LocalBackend, targets: Targets) -> None:
    targets.aim(case)
    case.call_and_validate(
        base_url=backend.endpoint_url,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[valid_data_accepted_unless_state_dependent],
    )
