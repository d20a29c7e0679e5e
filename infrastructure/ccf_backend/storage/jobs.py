"""Jobs in the jobs table, and the transitions that keep "one job at a time per connector".

The public functions are the DynamoDB implementation of
:class:`~ccf_backend.storage.interface.Storage`; after ``use_storage`` they run on another one
(the SQLite store keeps the same transitions in SQL transactions).

Every transition is one conditional write (or one transaction), never read-then-write:

- start: the job's insert and the connector's AVAILABLE -> IN_USE in one TransactWriteItems,
  conditioned on the connector being AVAILABLE, so of many concurrent starts exactly one wins;
- stop: STARTED | RUNNING | STOPPING -> STOPPING (the stop request is recorded even before the
  orchestrator submitted the job, and ``stop_requested_at`` keeps its first value);
- running: STARTED -> RUNNING only while STARTED, so a stop requested meanwhile is not lost;
- finish: a non-terminal status -> SUCCEEDED | FAILED | STOPPED with a numeric TTL, freeing the
  connector only if this job is the one holding it.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from ccf_backend.errors import Conflict, NotFound
from ccf_backend.settings import get_settings
from ccf_backend.storage import codec
from ccf_backend.storage.base import (
    backoff,
    cancellation_codes,
    dynamodb,
    error_code,
    now_iso,
    query_page,
    translate_throttling,
    write_batches,
)
from ccf_backend.storage.connectors import not_found as connector_not_found
from ccf_backend.storage.interface import dispatch
from ccf_backend.storage.tables import CONNECTOR_RECORD, CREATED_INDEX, TTL_ATTRIBUTE
from ccf_core.api.models import STOPPABLE_JOB_STATUSES, TERMINAL_JOB_STATUSES, ConnectorStatus, JobStatus

_START_ATTEMPTS = 6
_TERMINAL_VALUES = {":terminal0": "SUCCEEDED", ":terminal1": "FAILED", ":terminal2": "STOPPED"}


def _table() -> str:
    return get_settings().jobs_table


def _key(connector_id: str, job_id: str) -> dict[str, Any]:
    return {"connector_id": {"S": connector_id}, "job_id": {"S": job_id}}


def job_not_found(connector_id: str, job_id: str) -> NotFound:
    """The 404 for a job that does not exist under this connector."""
    return NotFound(f"job {job_id} not found for connector {connector_id}")


def _busy(connector_id: str, connector: dict[str, Any] | None) -> Conflict:
    job = (connector or {}).get("current_job_id", {}).get("S", "another job")
    return Conflict(
        f"connector {connector_id} is IN_USE: job {job} is running; stop it or wait for it to end",
        field="connector_id",
    )


@dispatch
def start_job(tenant: str, job: dict[str, Any]) -> str:
    """Insert ``job`` (status STARTED) and mark its connector IN_USE, atomically.

    With a ``client_token`` in ``job``, the connector remembers it (and the job it started) in the
    same transaction; a later start with the token of the connector's latest start starts nothing.

    Returns:
        The id of the job the start stands for: ``job["job_id"]``, or the earlier job's id when
        ``job["client_token"]`` is the token of the connector's latest start.

    Raises:
        NotFound: the connector does not exist.
        Conflict: the connector is IN_USE (another job runs or is being started).
    """
    settings = get_settings()
    connector_id = job["connector_id"]
    token = job.get("client_token")
    update = "SET #status = :in_use, current_job_id = :job"
    condition = "attribute_exists(connector_id) AND tenant = :tenant AND #status = :available"
    values: dict[str, Any] = {
        ":in_use": {"S": ConnectorStatus.IN_USE.value},
        ":available": {"S": ConnectorStatus.AVAILABLE.value},
        ":job": {"S": job["job_id"]},
        ":tenant": {"S": tenant},
    }
    if token:
        update += ", last_client_token = :token, last_client_token_job_id = :job"
        condition += " AND (attribute_not_exists(last_client_token) OR last_client_token <> :token)"
        values[":token"] = {"S": token}
    items = [
        {
            "Update": {
                "TableName": settings.connectors_table,
                "Key": {"connector_id": {"S": connector_id}, "record": {"S": CONNECTOR_RECORD}},
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Put": {
                "TableName": _table(),
                "Item": codec.item(job),
                "ConditionExpression": "attribute_not_exists(job_id)",
            }
        },
    ]
    client = dynamodb()
    for attempt in range(_START_ATTEMPTS):
        try:
            with translate_throttling():
                client.transact_write_items(TransactItems=items)
            return str(job["job_id"])
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            codes = cancellation_codes(err)
            if codes[:1] == ["ConditionalCheckFailed"]:
                old = (err.response.get("CancellationReasons") or [{}])[0].get("Item")
                if not old or old.get("tenant", {}).get("S") != tenant:
                    raise connector_not_found(connector_id) from err
                if token and old.get("last_client_token", {}).get("S") == token:
                    return str(old["last_client_token_job_id"]["S"])
                raise _busy(connector_id, old) from err
            if "TransactionConflict" in codes and attempt < _START_ATTEMPTS - 1:
                # Another transaction is on the connector right now: once it lands, our
                # condition decides (AVAILABLE again, or a 409).
                backoff(attempt)
                continue
            if "TransactionConflict" in codes:
                raise _busy(connector_id, None) from err
            raise
    raise _busy(connector_id, None)


@dispatch
def get_job(connector_id: str, job_id: str) -> dict[str, Any]:
    """The job (strongly consistent read), or a 404."""
    with translate_throttling():
        response = dynamodb().get_item(
            TableName=_table(), Key=_key(connector_id, job_id), ConsistentRead=True
        )
    if "Item" not in response:
        raise job_not_found(connector_id, job_id)
    return codec.plain(response["Item"])


@dispatch
def list_jobs(
    connector_id: str, status: JobStatus | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of a connector's jobs, newest first, optionally of one status only."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": CREATED_INDEX,
        "KeyConditionExpression": "connector_id = :id",
        "ExpressionAttributeValues": {":id": {"S": connector_id}},
        "ScanIndexForward": False,
        "ConsistentRead": True,
    }
    if status is not None:
        request["FilterExpression"] = "#status = :status"
        request["ExpressionAttributeNames"] = {"#status": "status"}
        request["ExpressionAttributeValues"][":status"] = {"S": status.value}
    if start_key:
        request["ExclusiveStartKey"] = start_key
    items, last = query_page(
        request, limit, lambda raw: {name: raw[name] for name in ("connector_id", "job_id", "created_at")}
    )
    return [codec.plain(raw) for raw in items], last


@dispatch
def list_active_jobs() -> list[dict[str, Any]]:
    """Every job that is STARTED, RUNNING or STOPPING, of every connector (for the reaper).

    A filtered scan: the reaper runs every few minutes and the table holds finished jobs only
    for their retention period, so this stays small.
    """
    active = (JobStatus.STARTED, JobStatus.RUNNING, JobStatus.STOPPING)
    values = {f":a{index}": {"S": status.value} for index, status in enumerate(active)}
    request: dict[str, Any] = {
        "TableName": _table(),
        "FilterExpression": f"#status IN ({', '.join(values)})",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }
    found: list[dict[str, Any]] = []
    client = dynamodb()
    while True:
        with translate_throttling():
            response = client.scan(**request)
        found.extend(codec.plain(raw) for raw in response.get("Items", []))
        if not response.get("LastEvaluatedKey"):
            return found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dispatch
def request_stop(connector_id: str, job_id: str) -> dict[str, Any]:
    """Record a stop request (-> STOPPING); idempotent while STOPPING; 404 or 409 otherwise."""
    values = {
        f":s{index}": {"S": status.value} for index, status in enumerate(sorted(STOPPABLE_JOB_STATUSES))
    }
    now = now_iso()
    try:
        with translate_throttling():
            response = dynamodb().update_item(
                TableName=_table(),
                Key=_key(connector_id, job_id),
                UpdateExpression="SET #status = :stopping, updated_at = :now, "
                "stop_requested_at = if_not_exists(stop_requested_at, :now)",
                ConditionExpression=f"attribute_exists(job_id) AND #status IN ({', '.join(values)})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    **values,
                    ":stopping": {"S": JobStatus.STOPPING.value},
                    ":now": {"S": now},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item")
        if not old:
            raise job_not_found(connector_id, job_id) from err
        status = old.get("status", {}).get("S")
        raise Conflict(
            f"job {job_id} is already {status}: only a STARTED or RUNNING job can be stopped", field="job_id"
        ) from err
    return codec.plain(response["Attributes"])


@dispatch
def put_metrics(connector_id: str, job_id: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """Store the metrics the runner reported for a job (replacing earlier ones); 404 if no job."""
    try:
        with translate_throttling():
            response = dynamodb().update_item(
                TableName=_table(),
                Key=_key(connector_id, job_id),
                UpdateExpression="SET #metrics = :metrics, updated_at = :now",
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames={"#metrics": "metrics"},
                ExpressionAttributeValues={":metrics": codec.attr(metrics), ":now": {"S": now_iso()}},
                ReturnValues="ALL_NEW",
            )
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            raise job_not_found(connector_id, job_id) from err
        raise
    return codec.plain(response["Attributes"])


@dispatch
def mark_running(connector_id: str, job_id: str, batch_job_id: str) -> bool:
    """STARTED -> RUNNING with the Batch job id; False if the job is no longer STARTED.

    False means a stop was requested (or the job ended) meanwhile: the orchestrator must then
    terminate the Batch job it just submitted instead of letting it run.
    """
    try:
        with translate_throttling():
            dynamodb().update_item(
                TableName=_table(),
                Key=_key(connector_id, job_id),
                UpdateExpression="SET #status = :running, batch_job_id = :batch, updated_at = :now",
                ConditionExpression="#status = :started",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": {"S": JobStatus.RUNNING.value},
                    ":started": {"S": JobStatus.STARTED.value},
                    ":batch": {"S": batch_job_id},
                    ":now": {"S": now_iso()},
                },
            )
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            return False
        raise
    return True


@dispatch
def finish_job(connector_id: str, job_id: str, status: JobStatus, failure_reason: str | None = None) -> bool:
    """End a job (SUCCEEDED, FAILED or STOPPED) and free its connector; False if already ended.

    The connector goes back to AVAILABLE only if this job is the one holding it, so a late
    event about an old job never frees a connector another job is using. The job gets a numeric
    ``ttl`` (epoch seconds) so DynamoDB removes it after the retention period.
    """
    if status not in TERMINAL_JOB_STATUSES:
        raise ValueError(f"{status} is not a terminal status")
    settings = get_settings()
    now = now_iso()
    expires = int(time.time()) + settings.job_retention_days * 86_400
    job_update: dict[str, Any] = {
        "TableName": _table(),
        "Key": _key(connector_id, job_id),
        "UpdateExpression": "SET #status = :status, completed_at = :now, updated_at = :now, #ttl = :ttl"
        + (", failure_reason = :reason" if failure_reason else ""),
        "ConditionExpression": "attribute_exists(job_id) "
        "AND NOT #status IN (:terminal0, :terminal1, :terminal2)",
        "ExpressionAttributeNames": {"#status": "status", "#ttl": TTL_ATTRIBUTE},
        "ExpressionAttributeValues": {
            ":status": {"S": status.value},
            ":now": {"S": now},
            ":ttl": {"N": str(expires)},
            **{name: {"S": value} for name, value in _TERMINAL_VALUES.items()},
            **({":reason": {"S": failure_reason[:1024]}} if failure_reason else {}),
        },
    }
    connector_update = {
        "TableName": settings.connectors_table,
        "Key": {"connector_id": {"S": connector_id}, "record": {"S": CONNECTOR_RECORD}},
        "UpdateExpression": "SET #status = :available REMOVE current_job_id",
        "ConditionExpression": "current_job_id = :job",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":available": {"S": ConnectorStatus.AVAILABLE.value},
            ":job": {"S": job_id},
        },
    }
    client = dynamodb()
    try:
        with translate_throttling():
            client.transact_write_items(TransactItems=[{"Update": job_update}, {"Update": connector_update}])
        return True
    except ClientError as err:
        if error_code(err) != "TransactionCanceledException":
            raise
        codes = cancellation_codes(err)
        if codes[:1] == ["ConditionalCheckFailed"]:
            return False
        if codes[1:2] != ["ConditionalCheckFailed"]:
            raise
    # The connector is held by another job (or gone): end this job without touching it.
    try:
        with translate_throttling():
            client.update_item(**job_update)
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            return False
        raise
    return True


@dispatch
def purge_jobs(connector_id: str, deadline: float) -> bool:
    """Delete a deleted connector's jobs until ``deadline`` (monotonic); True when none are left."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "connector_id = :id",
        "ExpressionAttributeValues": {":id": {"S": connector_id}},
        "ProjectionExpression": "connector_id, job_id",
    }
    while time.monotonic() < deadline:
        with translate_throttling():
            response = dynamodb().query(**request)
        keys = response.get("Items", [])
        write_batches(_table(), [{"DeleteRequest": {"Key": key}} for key in keys])
        if not response.get("LastEvaluatedKey"):
            return True
    return False
