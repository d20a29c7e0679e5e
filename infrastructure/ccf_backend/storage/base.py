"""What every DAO shares: the DynamoDB client, error translation and key-based paging."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ccf_backend.clients import get_client
from ccf_backend.errors import Throttled

THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def dynamodb() -> Any:
    """The DynamoDB client (low-level; items are in attribute-value form)."""
    return get_client("dynamodb")


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds (``2025-06-01T12:00:00.000+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def error_code(err: ClientError) -> str:
    """The error code of a botocore ClientError."""
    return str(err.response.get("Error", {}).get("Code", ""))


def cancellation_codes(err: ClientError) -> list[str]:
    """The per-item reasons of a cancelled transaction ('None' for items that were fine)."""
    reasons = err.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


@contextmanager
def translate_throttling() -> Iterator[None]:
    """Turn DynamoDB throttling into a 429 the client retries; other errors pass through."""
    try:
        yield
    except ClientError as err:
        if error_code(err) in THROTTLING_CODES:
            raise Throttled("the service is busy; retry with backoff") from err
        raise


def backoff(attempt: int, base: float = 0.02, cap: float = 1.0) -> None:
    """Sleep with full jitter before retry number ``attempt`` (0-based)."""
    time.sleep(random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311 - jitter, not crypto


def query_page(
    request: dict[str, Any], limit: int, key_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` items of a Query, and the key to continue after (None on the last page).

    Asks for one item more than it returns, so the last page never comes with a token that leads
    to an empty page, and keeps querying when a filter or the 1 MB cap made a page short. The
    continuation key is the key of the last item returned, so nothing is skipped.
    """
    client = dynamodb()
    items: list[dict[str, Any]] = []
    params = dict(request)
    while True:
        params["Limit"] = limit + 1 - len(items)
        with translate_throttling():
            response = client.query(**params)
        items.extend(response.get("Items", []))
        if len(items) > limit:
            return items[:limit], key_of(items[limit - 1])
        last = response.get("LastEvaluatedKey")
        if not last:
            return items, None
        params["ExclusiveStartKey"] = last


def write_batches(table: str, requests: list[dict[str, Any]], attempts: int = 8) -> None:
    """BatchWriteItem in groups of 25, retrying unprocessed items with backoff."""
    client = dynamodb()
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[start : start + 25]}
        for attempt in range(attempts):
            with translate_throttling():
                response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            backoff(attempt)
        else:
            raise Throttled("the service is busy; retry with backoff")


def get_batches(
    table: str, keys: list[dict[str, Any]], projection: str, attempts: int = 8
) -> list[dict[str, Any]]:
    """BatchGetItem in groups of 100 (consistent reads), retrying unprocessed keys with backoff."""
    client = dynamodb()
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {
            table: {
                "Keys": keys[start : start + 100],
                "ConsistentRead": True,
                "ProjectionExpression": projection,
            }
        }
        for attempt in range(attempts):
            with translate_throttling():
                response = client.batch_get_item(RequestItems=pending)
            found.extend(response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            backoff(attempt)
        else:
            raise Throttled("the service is busy; retry with backoff")
    return found
