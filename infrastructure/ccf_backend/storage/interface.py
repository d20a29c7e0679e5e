"""The storage interface, and which implementation the module-level functions use.

The API, the orchestrator and the local executor call the functions of
:mod:`ccf_backend.storage.connectors`, :mod:`~ccf_backend.storage.jobs` and
:mod:`~ccf_backend.storage.documents`. Those functions are the DynamoDB implementation; each is
wrapped by :func:`dispatch`, so after :func:`use_storage` they run on another implementation of
:class:`Storage` instead (the local server's :class:`~ccf_backend.storage.sqlite.SqliteStorage`).
The choice is made once per process: the Lambda functions never call :func:`use_storage`.

Every implementation keeps the same contract: the same conditional transitions (atomic start,
stop, running, finish), the same errors (:class:`~ccf_backend.errors.NotFound`,
:class:`~ccf_backend.errors.Conflict`, ``VersionChanged``), and continuation keys that are plain
JSON objects (the pagination tokens carry them).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from ccf_core.api.models import JobStatus

F = TypeVar("F", bound=Callable[..., Any])
Page = tuple[list[dict[str, Any]], dict[str, Any] | None]


@runtime_checkable
class Storage(Protocol):
    """Connectors, checkpoints, jobs and documents: what every storage implementation offers."""

    # connectors
    def create_connector(self, connector: dict[str, Any]) -> None: ...
    def get_connector(self, tenant: str, connector_id: str) -> dict[str, Any]: ...
    def find_connector(self, connector_id: str) -> dict[str, Any] | None: ...
    def list_connectors(self, tenant: str, limit: int, start_key: dict[str, Any] | None) -> Page: ...
    def update_connector(
        self,
        tenant: str,
        connector_id: str,
        changes: dict[str, Any],
        expected_version: int,
        *,
        require_available: bool,
    ) -> dict[str, Any]: ...
    def delete_connector(self, tenant: str, connector_id: str) -> None: ...
    def put_checkpoint(self, tenant: str, connector_id: str, data: str) -> None: ...
    def get_checkpoint(self, tenant: str, connector_id: str) -> dict[str, Any]: ...
    def delete_checkpoint(self, tenant: str, connector_id: str) -> None: ...

    # jobs
    def start_job(self, tenant: str, job: dict[str, Any]) -> str: ...
    def get_job(self, connector_id: str, job_id: str) -> dict[str, Any]: ...
    def list_jobs(
        self, connector_id: str, status: JobStatus | None, limit: int, start_key: dict[str, Any] | None
    ) -> Page: ...
    def request_stop(self, connector_id: str, job_id: str) -> dict[str, Any]: ...
    def put_metrics(self, connector_id: str, job_id: str, metrics: dict[str, Any]) -> dict[str, Any]: ...
    def mark_running(self, connector_id: str, job_id: str, batch_job_id: str) -> bool: ...
    def finish_job(
        self, connector_id: str, job_id: str, status: JobStatus, failure_reason: str | None = None
    ) -> bool: ...
    def purge_jobs(self, connector_id: str, deadline: float) -> bool: ...
    def list_active_jobs(self) -> list[dict[str, Any]]: ...

    # documents
    def put_documents(self, connector_id: str, documents: Sequence[tuple[str, str]]) -> None: ...
    def delete_documents(self, connector_id: str, document_ids: Sequence[str]) -> None: ...
    def list_documents(self, connector_id: str, limit: int, start_key: dict[str, Any] | None) -> Page: ...
    def purge_documents(self, connector_id: str, deadline: float) -> bool: ...


_lock = threading.Lock()
_active: Storage | None = None


def use_storage(storage: Storage | None) -> None:
    """Route the storage functions to ``storage`` (None: back to DynamoDB)."""
    global _active  # noqa: PLW0603 - one storage per process, chosen at start
    with _lock:
        _active = storage


def active_storage() -> Storage | None:
    """The storage the functions are routed to, or None for DynamoDB."""
    return _active


def dispatch(func: F) -> F:
    """Run ``func`` (the DynamoDB implementation) unless another storage is in use.

    The undecorated DynamoDB function stays reachable as ``func.__wrapped__``.
    """
    name = func.__name__

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        other = _active
        if other is not None:
            return getattr(other, name)(*args, **kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class DynamoDbStorage:
    """The DynamoDB implementation as a :class:`Storage` object (the module functions, undispatched).

    The module-level functions already use DynamoDB by default; this object exists so both
    implementations can be passed around, and checked against :class:`Storage`, the same way.
    """

    def __getattr__(self, name: str) -> Any:
        from ccf_backend.storage import connectors, documents, jobs

        for module in (connectors, jobs, documents):
            found = getattr(module, name, None)
            if found is not None and hasattr(found, "__wrapped__") and name in STORAGE_METHODS:
                return found.__wrapped__
        raise AttributeError(name)


#: The names every implementation defines (the dispatched functions of the three modules).
STORAGE_METHODS = frozenset(
    name for name in dir(Storage) if not name.startswith("_") and callable(getattr(Storage, name))
)
