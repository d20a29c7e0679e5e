"""The API's operations as plain functions: validated input in, ``(status, body)`` out.

Each function takes the :class:`Caller` (whose account and region scope every connector) and
the already-validated request model, talks to storage, and returns the HTTP status and the
JSON-ready body. Errors are raised as :mod:`ccf_backend.errors` exceptions.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ccf_backend import logs
from ccf_backend.errors import BadRequest, Conflict
from ccf_backend.settings import get_settings
from ccf_backend.storage import connectors as connectors_dao
from ccf_backend.storage import documents as documents_dao
from ccf_backend.storage import jobs as jobs_dao
from ccf_backend.storage.base import backoff, now_iso
from ccf_backend.tokens import get_codec
from ccf_core.api.models import (
    MAX_CONFIGURATION_BYTES,
    MAX_LIST_CONNECTORS,
    MAX_LIST_DOCUMENTS,
    MAX_LIST_JOBS,
    MAX_SECRET_REFERENCES,
    BatchDeleteCustomConnectorDocumentsRequest,
    BatchPutCustomConnectorDocumentsRequest,
    ConnectorStatus,
    ContainerProperties,
    CreateCustomConnectorRequest,
    JobStatus,
    ListJobsParameters,
    ListParameters,
    PutCustomConnectorCheckpointRequest,
    PutCustomConnectorJobMetricsRequest,
    QBusinessTarget,
    StartCustomConnectorJobRequest,
    UpdateCustomConnectorRequest,
)
from ccf_core.api.secret_values import credential_problem, secret_advice

logger = logging.getLogger(__name__)

Result = tuple[int, dict[str, Any] | None]
_UPDATE_ATTEMPTS = 10
#: Fields that cannot change while a job runs (409 while IN_USE). The running job saves the
#: checkpoint and document checksums of the plugin it runs when it ends; another plugin must not
#: inherit them. Every other field may change at any time and applies to the next job (a running
#: job already has its container, environment and secrets).
_FIXED_WHILE_IN_USE = ("connector_type",)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the AWS account (from the SigV4 identity) and the API's region."""

    account_id: str
    region: str

    @property
    def tenant(self) -> str:
        """The ARN prefix that scopes this caller's connectors."""
        return f"arn:aws:ccf:{self.region}:{self.account_id}"

    def connector_arn(self, connector_id: str) -> str:
        """The ARN of a connector."""
        return f"{self.tenant}:custom-connector/{connector_id}"


def new_connector_id() -> str:
    """``cc-`` + 12 random lowercase hex digits."""
    return "cc-" + secrets.token_hex(6)


def new_job_id() -> str:
    """``ccj-`` + 12 random lowercase hex digits."""
    return "ccj-" + secrets.token_hex(6)


# -- views -------------------------------------------------------------------------------------

_SUMMARY_FIELDS = (
    "connector_id",
    "arn",
    "name",
    "description",
    "status",
    "created_at",
    "updated_at",
    "connector_type",
    "current_job_id",
)
_DETAIL_FIELDS = ("container_properties", "configuration", "qbusiness", "secret_references")
_JOB_FIELDS = (
    "job_id",
    "connector_id",
    "status",
    "created_at",
    "updated_at",
    "completed_at",
    "stop_requested_at",
    "failure_reason",
    "environment",
    "metrics",
)


def connector_summary(item: dict[str, Any]) -> dict[str, Any]:
    """A connector as lists show it (absent optional fields are left out, never null)."""
    return {name: value for name in _SUMMARY_FIELDS if (value := item.get(name)) is not None}


def connector_details(item: dict[str, Any]) -> dict[str, Any]:
    """A connector with its container properties, configuration, target and secret references."""
    details = connector_summary(item)
    details.update({name: value for name in _DETAIL_FIELDS if (value := item.get(name)) is not None})
    return details


def job_detail(item: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it."""
    return {name: value for name in _JOB_FIELDS if (value := item.get(name)) is not None}


def _page(
    operation: str, scope: str, params: ListParameters, maximum: int, filters: str = ""
) -> tuple[dict[str, Any] | None, int]:
    if params.max_results > maximum:
        raise BadRequest("max_results", f"must be between 1 and {maximum}")
    start = get_codec().decode(params.next_token, operation, scope, filters) if params.next_token else None
    return start, params.max_results


def _next_token(operation: str, scope: str, last: dict[str, Any] | None, filters: str = "") -> dict[str, str]:
    return {"next_token": get_codec().encode(operation, scope, last, filters)} if last else {}


# -- connectors --------------------------------------------------------------------------------


def check_roles(container_properties: dict[str, Any]) -> None:
    """Refuse a job or execution role that is not in the backend's allow-lists (400 naming it)."""
    settings = get_settings()
    for name, allowed, variable in (
        ("job_role_arn", settings.allowed_job_role_arns, "CCF_ALLOWED_JOB_ROLE_ARNS"),
        ("execution_role_arn", settings.allowed_execution_role_arns, "CCF_ALLOWED_EXECUTION_ROLE_ARNS"),
    ):
        role = container_properties.get(name)
        if allowed is not None and role not in allowed:
            raise BadRequest(
                f"container_properties.{name}",
                f"{role} is not a role this backend may pass to jobs; use one of "
                f"{', '.join(allowed) or '(none configured)'}, or ask the backend's operator to add it "
                f"({variable})",
            )


def create_connector(caller: Caller, request: CreateCustomConnectorRequest) -> Result:
    """CreateCustomConnector: a new AVAILABLE connector."""
    check_roles(request.container_properties.model_dump())
    now = now_iso()
    connector_id = new_connector_id()
    logs.bind(connector_id=connector_id)
    check_no_secrets(request.configuration)
    item = {
        "connector_id": connector_id,
        "tenant": caller.tenant,
        "arn": caller.connector_arn(connector_id),
        "status": ConnectorStatus.AVAILABLE.value,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **request.model_dump(exclude_none=True, mode="json"),
    }
    connectors_dao.create_connector(item)
    stored = connectors_dao.decode_connector(connectors_dao.encode_connector(item))
    return 201, {"connector": connector_details(stored)}


def get_connector(caller: Caller, connector_id: str) -> Result:
    """GetCustomConnector."""
    return 200, {"connector": connector_details(connectors_dao.get_connector(caller.tenant, connector_id))}


def list_connectors(caller: Caller, params: ListParameters) -> Result:
    """ListCustomConnectors: the caller's connectors, a page at a time."""
    operation = "ListCustomConnectors"
    start, limit = _page(operation, caller.tenant, params, MAX_LIST_CONNECTORS)
    items, last = connectors_dao.list_connectors(caller.tenant, limit, start)
    return 200, {
        "connectors": [connector_summary(item) for item in items],
        **_next_token(operation, caller.tenant, last),
    }


def update_connector(caller: Caller, connector_id: str, request: UpdateCustomConnectorRequest) -> Result:
    """UpdateCustomConnector: merge the given fields; absent fields keep their value.

    Allowed while a job runs (the change applies to the next job), except for the fields in
    ``_FIXED_WHILE_IN_USE``.
    """
    for attempt in range(_UPDATE_ATTEMPTS):
        current = connectors_dao.get_connector(caller.tenant, connector_id)
        changes = merge_update(current, request)
        if not changes:
            return 200, {"connector": connector_details(current)}
        try:
            updated = connectors_dao.update_connector(
                caller.tenant,
                connector_id,
                changes,
                int(current["version"]),
                require_available=any(name in changes for name in _FIXED_WHILE_IN_USE),
            )
        except connectors_dao.VersionChanged:
            backoff(attempt)
            continue
        return 200, {"connector": connector_details(updated)}
    raise Conflict(
        f"connector {connector_id} is being changed by other requests; retry", field="connector_id"
    )


def merge_update(current: dict[str, Any], request: UpdateCustomConnectorRequest) -> dict[str, Any]:
    """The fields whose value changes when ``request`` is applied to ``current`` (merged, validated)."""
    given = request.model_dump(exclude_unset=True, mode="json")
    wanted: dict[str, Any] = {}
    for name in ("name", "description", "connector_type"):
        if given.get(name) is not None:
            wanted[name] = given[name]
    if given.get("container_properties") is not None:
        merged = _deep_merge(current.get("container_properties") or {}, given["container_properties"])
        wanted["container_properties"] = _validated(ContainerProperties, merged, "container_properties")
        check_roles(wanted["container_properties"])
    if given.get("qbusiness") is not None:
        merged = _deep_merge(current.get("qbusiness") or {}, given["qbusiness"])
        wanted["qbusiness"] = _validated(QBusinessTarget, merged, "qbusiness")
    if given.get("configuration") is not None:
        check_no_secrets(given["configuration"])
        configuration = merge_patch(current.get("configuration") or {}, given["configuration"])
        _check_size(configuration)
        wanted["configuration"] = configuration
    if given.get("secret_references") is not None:
        references = merge_patch(current.get("secret_references") or {}, given["secret_references"])
        if len(references) > MAX_SECRET_REFERENCES:
            raise BadRequest("secret_references", f"at most {MAX_SECRET_REFERENCES} secret references")
        wanted["secret_references"] = references
    return {name: value for name, value in wanted.items() if current.get(name) != value}


def check_no_secrets(configuration: dict[str, Any] | None) -> None:
    """Refuse a configuration holding a credential (same rule as a job's environment variables).

    Raises:
        BadRequest: naming the key path (``configuration.auth.password``), never the value.
    """
    for path, name, value in _strings(configuration or {}, "", ""):
        problem = credential_problem(name, value)
        if problem:
            advice = secret_advice(path)
            raise BadRequest(f"configuration.{path}", f"looks like a secret ({problem}): {advice}")


def _strings(value: Any, path: str, name: str) -> Iterator[tuple[str, str, str]]:
    """Every string in ``value`` with its key path and the key it is under (list items: the list's)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, f"{path}.{key}" if path else str(key), str(key))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            yield from _strings(child, f"{path}[{position}]", name)
    elif isinstance(value, str):
        yield path, name, value


def _deep_merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``current``; nested objects merge, None leaves the current value alone."""
    merged = dict(current)
    for name, value in update.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = _deep_merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7386): objects merge recursively, a null removes a key."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def _validated(
    model: type[ContainerProperties] | type[QBusinessTarget], data: Any, field: str
) -> dict[str, Any]:
    try:
        return model.model_validate(data).model_dump(mode="json")
    except ValidationError as err:
        raise BadRequest.from_validation(err, prefix=field) from err


def _check_size(configuration: dict[str, Any]) -> None:
    size = len(json.dumps(configuration, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_CONFIGURATION_BYTES:
        raise BadRequest("configuration", f"is {size} bytes as JSON; the limit is {MAX_CONFIGURATION_BYTES}")


def delete_connector(caller: Caller, connector_id: str) -> Result:
    """DeleteCustomConnector: only when no job runs; its checkpoint, documents and jobs go too."""
    connectors_dao.delete_connector(caller.tenant, connector_id)
    purge_connector_data(connector_id, get_settings().purge_seconds)
    return 204, None


def purge_connector_data(connector_id: str, seconds: float) -> bool:
    """Delete a deleted connector's documents and jobs for up to ``seconds``; True when all gone."""
    deadline = time.monotonic() + seconds
    done = documents_dao.purge_documents(connector_id, deadline) and jobs_dao.purge_jobs(
        connector_id, deadline
    )
    if not done:
        logger.info("connector %s: documents or jobs left for the cleanup function", connector_id)
    return done


# -- jobs --------------------------------------------------------------------------------------


def start_job(caller: Caller, connector_id: str, request: StartCustomConnectorJobRequest) -> Result:
    """StartCustomConnectorJob: one job at a time per connector (409 while one runs).

    With a ``client_token``, a retry of the connector's latest start returns the job that start
    created (whatever its status now) instead of a 409.
    """
    now = now_iso()
    job = {
        "job_id": new_job_id(),
        "connector_id": connector_id,
        "status": JobStatus.STARTED.value,
        "created_at": now,
        "updated_at": now,
        "environment": [variable.model_dump() for variable in request.environment],
        "client_token": request.client_token,
    }
    logs.bind(job_id=job["job_id"])
    started = jobs_dao.start_job(caller.tenant, job)
    if started == job["job_id"]:
        return 201, {"job": job_detail(job)}
    earlier = jobs_dao.get_job(connector_id, started)
    if earlier.get("environment", []) != job["environment"]:
        raise Conflict(
            f"client_token was used for job {started} with another environment; "
            "use a new token for a new start",
            field="client_token",
        )
    logs.bind(job_id=started)
    return 201, {"job": job_detail(earlier)}


def stop_job(caller: Caller, connector_id: str, job_id: str) -> Result:
    """StopCustomConnectorJob: STARTED or RUNNING -> STOPPING (again while STOPPING is fine)."""
    connectors_dao.get_connector(caller.tenant, connector_id)
    return 200, {"job": job_detail(jobs_dao.request_stop(connector_id, job_id))}


def get_job(caller: Caller, connector_id: str, job_id: str) -> Result:
    """GetCustomConnectorJob."""
    connectors_dao.get_connector(caller.tenant, connector_id)
    return 200, {"job": job_detail(jobs_dao.get_job(connector_id, job_id))}


def list_jobs(caller: Caller, connector_id: str, params: ListJobsParameters) -> Result:
    """ListCustomConnectorJobs: newest first, optionally one status only."""
    operation = "ListCustomConnectorJobs"
    filters = params.status.value if params.status else ""
    start, limit = _page(operation, connector_id, params, MAX_LIST_JOBS, filters)
    connectors_dao.get_connector(caller.tenant, connector_id)
    items, last = jobs_dao.list_jobs(connector_id, params.status, limit, start)
    return 200, {
        "jobs": [job_detail(item) for item in items],
        **_next_token(operation, connector_id, last, filters),
    }


def put_job_metrics(
    caller: Caller, connector_id: str, job_id: str, request: PutCustomConnectorJobMetricsRequest
) -> Result:
    """PutCustomConnectorJobMetrics: what the run did, reported by the runner at its end."""
    connectors_dao.get_connector(caller.tenant, connector_id)
    metrics = request.metrics.model_dump(exclude_none=True)
    return 200, {"job": job_detail(jobs_dao.put_metrics(connector_id, job_id, metrics))}


# -- documents ---------------------------------------------------------------------------------


def batch_put_documents(
    caller: Caller, connector_id: str, request: BatchPutCustomConnectorDocumentsRequest
) -> Result:
    """BatchPutCustomConnectorDocuments: record up to 1000 checksums."""
    connectors_dao.get_connector(caller.tenant, connector_id)
    documents_dao.put_documents(connector_id, [(doc.document_id, doc.checksum) for doc in request.documents])
    return 200, {}


def batch_delete_documents(
    caller: Caller, connector_id: str, request: BatchDeleteCustomConnectorDocumentsRequest
) -> Result:
    """BatchDeleteCustomConnectorDocuments: forget up to 1000 documents."""
    connectors_dao.get_connector(caller.tenant, connector_id)
    documents_dao.delete_documents(connector_id, request.document_ids)
    return 200, {}


def list_documents(caller: Caller, connector_id: str, params: ListParameters) -> Result:
    """ListCustomConnectorDocuments: up to 1000 per page."""
    operation = "ListCustomConnectorDocuments"
    start, limit = _page(operation, connector_id, params, MAX_LIST_DOCUMENTS)
    connectors_dao.get_connector(caller.tenant, connector_id)
    items, last = documents_dao.list_documents(connector_id, limit, start)
    documents = [
        {name: item[name] for name in ("document_id", "checksum", "created_at", "updated_at")}
        for item in items
    ]
    return 200, {"documents": documents, **_next_token(operation, connector_id, last)}


# -- checkpoint --------------------------------------------------------------------------------


def put_checkpoint(caller: Caller, connector_id: str, request: PutCustomConnectorCheckpointRequest) -> Result:
    """PutCustomConnectorCheckpoint: replace the checkpoint (a JSON string of at most 1 MiB)."""
    connectors_dao.put_checkpoint(caller.tenant, connector_id, request.checkpoint_data)
    return 202, {}


def get_checkpoint(caller: Caller, connector_id: str) -> Result:
    """GetCustomConnectorCheckpoint."""
    checkpoint = connectors_dao.get_checkpoint(caller.tenant, connector_id)
    return 200, {"checkpoint": {"connector_id": connector_id, **checkpoint}}


def delete_checkpoint(caller: Caller, connector_id: str) -> Result:
    """DeleteCustomConnectorCheckpoint."""
    connectors_dao.delete_checkpoint(caller.tenant, connector_id)
    return 204, None
