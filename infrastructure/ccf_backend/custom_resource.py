"""The connector stack's Lambda: a CloudFormation custom resource for one connector, and its scheduler.

Two kinds of event reach it (infrastructure/connector-stack.yaml):

- CloudFormation's custom resource requests: Create makes the connector through the CCF API,
  Update changes it (or makes a new one when the stack points it at another backend; CloudFormation
  then deletes the old one), Delete deletes it (one that is already gone counts as deleted). The
  outcome is PUT to the request's ``ResponseURL`` (the cfn-response protocol), SUCCESS with the
  connector id as physical id, or FAILED with the API's reason, so a bad connector fails the stack
  instead of leaving it waiting for an hour.
- ``{"action": "start_job", ...}`` from the EventBridge Scheduler schedule (Scheduler cannot call a
  SigV4 API itself, so it invokes this function): starts a job, with the schedule's time as the
  client token so Scheduler's own retries never start a second job. A connector still busy with the
  previous job is logged and skipped.

Every call to the API is signed with the function's role (SigV4, ``execute-api``) through the
generated ``ccf`` boto3 client.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import urllib.error
import urllib.request
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ccf_backend import logs

logger = logging.getLogger(__name__)

#: CloudFormation passes every scalar as a string; these request fields are numbers in the API.
_NUMBERS = {("resource_requirements", "cpu"): float, ("resource_requirements", "memory"): int}
_INTEGERS_IN_CONTAINER = ("timeout",)
#: Fields whose removal from the template must remove them from the connector (JSON Merge Patch).
_MERGE_PATCHED = ("configuration", "secret_references")
_CONNECTOR_ID = re.compile(r"^cc-[0-9a-f]{12}$")
_API_REGION = re.compile(r"\.execute-api\.([a-z0-9-]+)\.")
#: The cfn-response body must stay under 4096 bytes; the reason is the only open-ended part.
_MAX_REASON = 2000


class CustomResourceRequest(BaseModel):
    """The fields of a CloudFormation custom resource request this function reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    request_type: str = Field(alias="RequestType")
    response_url: str = Field(alias="ResponseURL")
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")
    old_properties: dict[str, Any] | None = Field(default=None, alias="OldResourceProperties")


class StartJobRequest(BaseModel):
    """What the schedule sends: the API, the connector, and a token unique to the scheduled time."""

    model_config = ConfigDict(extra="forbid")

    action: str
    api_endpoint: str
    connector_id: str
    client_token: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)


class ConnectorProperties(BaseModel):
    """The custom resource's properties: where the API is and the connector's request fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_endpoint: str = Field(alias="ApiEndpoint")
    connector: dict[str, Any] = Field(alias="Connector")


@functools.lru_cache(maxsize=8)
def _client(api_endpoint: str) -> Any:
    """The boto3 ``ccf`` client, signing for the API's own region (kept while the Lambda is warm)."""
    from botocore.config import Config

    from ccf_core.api import create_client

    match = _API_REGION.search(api_endpoint)
    return create_client(
        api_endpoint,
        region_name=match.group(1) if match else None,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=30),
    )


def connector_request(fields: dict[str, Any]) -> dict[str, Any]:
    """The API request from the resource's ``Connector`` property (strings made numbers, JSON read).

    ``configuration`` and ``secret_references`` may be objects or JSON text (a template parameter
    can only be text).
    """
    request = {key: value for key, value in fields.items() if value not in (None, "")}
    for key in ("configuration", "secret_references", "qbusiness"):
        if isinstance(request.get(key), str):
            try:
                request[key] = json.loads(request[key])
            except json.JSONDecodeError as err:
                raise ValueError(f"Connector.{key} is not valid JSON: {err.msg} (at {err.pos})") from None
    container = request.get("container_properties")
    if isinstance(container, dict):
        container = dict(container)
        for key in _INTEGERS_IN_CONTAINER:
            if isinstance(container.get(key), str):
                container[key] = _number(f"container_properties.{key}", container[key], int)
        resources = container.get("resource_requirements")
        if isinstance(resources, dict):
            resources = dict(resources)
            for (_, key), kind in _NUMBERS.items():
                if isinstance(resources.get(key), str):
                    name = f"container_properties.resource_requirements.{key}"
                    resources[key] = _number(name, resources[key], kind)
            container["resource_requirements"] = resources
        request["container_properties"] = container
    return request


def _number(name: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"Connector.{name} must be a number, not {text!r}") from None
    return value


def update_request(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The UpdateCustomConnector fields that turn ``old`` into ``new``.

    Keys dropped from ``configuration`` or ``secret_references`` are sent as null (the API merges
    these as JSON Merge Patch, so an absent key would be kept).
    """
    request = dict(new)
    for key in _MERGE_PATCHED:
        before, after = old.get(key) or {}, new.get(key) or {}
        if isinstance(before, dict) and isinstance(after, dict):
            patch = {name: None for name in before if name not in after}
            patch.update(after)
            if patch:
                request[key] = patch
    return request


def _call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """One API call; the API's refusal becomes a CCFApiError with its message."""
    from botocore.exceptions import ClientError, ParamValidationError

    from ccf_core.api.errors import ApiRequestInvalid, from_client_error

    try:
        result: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as err:
        raise from_client_error(err) from err
    except ParamValidationError as err:
        raise ApiRequestInvalid("ParamValidationError", str(err)) from err
    return result


def handle(request: CustomResourceRequest) -> tuple[str, dict[str, str]]:
    """Carry out a Create, Update or Delete; ``(physical id, Data)``. Raises on failure."""
    from ccf_core.api.errors import ApiResourceNotFound

    if request.request_type == "Delete":
        connector_id = request.physical_resource_id or ""
        if not _CONNECTOR_ID.match(connector_id):
            return connector_id, {}  # the Create failed: there is nothing to delete
        api_endpoint = str(request.properties.get("ApiEndpoint", ""))
        try:
            _call(_client(api_endpoint), "delete_custom_connector", connector_id=connector_id)
        except ApiResourceNotFound:
            logger.info("connector %s was already deleted", connector_id)
        return connector_id, {"ConnectorId": connector_id}

    properties = ConnectorProperties.model_validate(request.properties)
    fields = connector_request(properties.connector)
    client = _client(properties.api_endpoint)
    old = ConnectorProperties.model_validate(request.old_properties) if request.old_properties else None
    if request.request_type == "Update" and old and old.api_endpoint == properties.api_endpoint:
        connector_id = str(request.physical_resource_id)
        changes = update_request(fields, connector_request(old.connector))
        updated = _call(client, "update_custom_connector", connector_id=connector_id, **changes)
        connector = updated["connector"]
    else:
        # Create, or an Update onto another backend: a new connector (CloudFormation deletes the old).
        connector = _call(client, "create_custom_connector", **fields)["connector"]
    connector_id = str(connector["connector_id"])
    data = {"ConnectorId": connector_id}
    if connector.get("arn"):
        data["Arn"] = str(connector["arn"])
    return connector_id, data


#: Pauses between the attempts to PUT the answer to CloudFormation.
RESPOND_RETRY_SECONDS = (1.0, 3.0)


def respond(
    request: CustomResourceRequest, status: str, physical_id: str, data: dict[str, str], reason: str = ""
) -> None:
    """PUT the outcome to CloudFormation's presigned ``ResponseURL`` (the cfn-response protocol)."""
    body = {
        "Status": status,
        "Reason": reason[:_MAX_REASON] or f"see the function's log stream (request {request.request_id})",
        "PhysicalResourceId": physical_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": data,
    }
    payload = json.dumps(body).encode("utf-8")
    if not request.response_url.startswith(("https://", "http://")):
        raise ValueError("ResponseURL must be an http(s) URL")
    # The URL is presigned without a content type: sending one would break the signature.
    message = urllib.request.Request(  # noqa: S310 - scheme checked above
        request.response_url,
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    # A lost answer would fail the Lambda, whose retry would run the request again (a second
    # connector nothing deletes): the PUT itself is retried instead.
    for pause in (*RESPOND_RETRY_SECONDS, None):
        try:
            with urllib.request.urlopen(message, timeout=30) as response:  # noqa: S310 - scheme checked
                response.read()
            return
        except urllib.error.HTTPError as err:
            if err.code < 500 or pause is None:
                raise
            logger.warning("answering CloudFormation failed (HTTP %s); trying again", err.code)
        except urllib.error.URLError as err:
            if pause is None:
                raise
            logger.warning("answering CloudFormation failed (%s); trying again", err.reason)
        time.sleep(pause)


def on_custom_resource(request: CustomResourceRequest) -> dict[str, str]:
    """Handle the request and always answer CloudFormation, FAILED with the reason on any error."""
    fallback = request.physical_resource_id or f"failed-{request.request_id}"
    try:
        physical_id, data = handle(request)
    except Exception as err:  # every failure must reach CloudFormation, or the stack hangs for an hour
        reason = getattr(err, "message", None) or str(err) or type(err).__name__
        logger.warning("%s of %s failed: %s", request.request_type, request.logical_resource_id, reason)
        respond(request, "FAILED", fallback, {}, f"{request.request_type} failed: {reason}")
        return {"Status": "FAILED", "PhysicalResourceId": fallback}
    respond(request, "SUCCESS", physical_id, data)
    logger.info("%s of %s: connector %s", request.request_type, request.logical_resource_id, physical_id)
    return {"Status": "SUCCESS", "PhysicalResourceId": physical_id}


def start_job(request: StartJobRequest) -> dict[str, Any]:
    """Start a job of the connector; a connector still busy is skipped (returns ``started: False``)."""
    from ccf_core.api.errors import ApiConflict

    params: dict[str, Any] = {"connector_id": request.connector_id}
    if request.client_token:
        params["client_token"] = re.sub(r"[^A-Za-z0-9._:-]", "-", request.client_token)[:64]
    if request.environment:
        variables = request.environment.items()
        params["environment"] = [{"name": name, "value": value} for name, value in variables]
    try:
        job = _call(_client(request.api_endpoint), "start_custom_connector_job", **params)["job"]
    except ApiConflict as err:
        logger.warning("connector %s not started: %s", request.connector_id, err.message)
        return {"started": False, "reason": err.message}
    logger.info("connector %s: started job %s", request.connector_id, job["job_id"])
    return {"started": True, "job_id": job["job_id"]}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: a custom resource request, or a scheduled ``start_job``."""
    logs.configure()
    if "RequestType" in event:
        try:
            request = CustomResourceRequest.model_validate(event)
        except ValidationError as err:
            logger.error("not a custom resource request: %s", err)
            raise
        with logs.bound(operation=f"CustomResource{request.request_type}"):
            return on_custom_resource(request)
    start = StartJobRequest.model_validate(event)
    if start.action != "start_job":
        raise ValueError(f"unknown action {start.action!r}: expected 'start_job'")
    with logs.bound(operation="ScheduledStartJob", connector_id=start.connector_id):
        return start_job(start)
