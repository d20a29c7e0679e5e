"""The builder-kit style of the seed CCF: subclass, implement two methods, call ``sync()``.

``QBusinessCustomConnectorInterface`` is a thin adapter onto :class:`~ccf_core.engine.SyncEngine`:
the same validation, change detection, batching and failure accounting as every other entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ccf_core.connector import Connector, SyncContext, SyncMode
from ccf_core.engine import SyncEngine, SyncOptions
from ccf_core.models.document import Document
from ccf_core.ports import Destination, StateStore
from ccf_core.report import SyncReport


class _SeedConnector(Connector):
    """Presents a builder-kit object as an incremental connector to the engine."""

    sync_mode = SyncMode.INCREMENTAL

    def __init__(self, owner: QBusinessCustomConnectorInterface) -> None:
        super().__init__()
        self.owner = owner
        self.name = owner.connector_name  # type: ignore[misc]

    def documents(self, context: SyncContext) -> Iterable[Document]:
        return self.owner.get_documents_to_add()

    def deleted_document_ids(self, context: SyncContext) -> Iterable[str]:
        return self.owner.get_documents_to_delete()


class QBusinessCustomConnectorInterface:
    """Subclass this, implement :meth:`get_documents_to_add` (and optionally
    :meth:`get_documents_to_delete`), then call :meth:`sync`.

    Args:
        qbusiness_client: a boto3 ``qbusiness`` client.
        qbusiness_app_id: the Q Business application id.
        qbusiness_index_id: the index id.
        qbusiness_data_source_id: the custom data source id.
        ccf_client: optional CCF API client; when given, checksums and the checkpoint are kept in
            the CCF backend, so unchanged documents are not uploaded again.
        s3_client: optional boto3 S3 client for documents too large to send inline.
        s3_bucket: the bucket for those documents.
        role_arn: the role Q Business assumes to read documents staged in ``s3_bucket``.
        destination: use this destination instead of Q Business (for example the local index).
        state: use this state store instead of the CCF backend or memory.
        options: engine options (dry run, mass-delete guard, error budget).
    """

    def __init__(  # noqa: PLR0917 - the seed's constructor takes these positionally
        self,
        qbusiness_client: Any = None,
        qbusiness_app_id: str | None = None,
        qbusiness_index_id: str | None = None,
        qbusiness_data_source_id: str | None = None,
        ccf_client: Any = None,
        s3_client: Any = None,
        s3_bucket: str | None = None,
        *,
        role_arn: str | None = None,
        destination: Destination | None = None,
        state: StateStore | None = None,
        options: SyncOptions | None = None,
        connector_name: str | None = None,
    ) -> None:
        self.qbusiness_client = qbusiness_client
        self.qbusiness_app_id = qbusiness_app_id
        self.qbusiness_index_id = qbusiness_index_id
        self.qbusiness_data_source_id = qbusiness_data_source_id
        self.ccf_client = ccf_client
        self.s3_client = s3_client
        self.s3_bucket = s3_bucket
        self.role_arn = role_arn
        self.connector_name = connector_name or type(self).__name__
        self._destination = destination
        self._state = state
        self.options = options or SyncOptions()
        self.last_report: SyncReport | None = None
        self._memory_state: StateStore | None = None

    def get_documents_to_add(self) -> Iterator[Document]:
        """Yield the documents to add or update."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement get_documents_to_add()")

    def get_documents_to_delete(self) -> Iterator[str]:
        """Yield ids of documents to delete (optional)."""
        return iter(())

    def _make_destination(self) -> Destination:
        if self._destination is not None:
            return self._destination
        missing = [
            name
            for name in (
                "qbusiness_client",
                "qbusiness_app_id",
                "qbusiness_index_id",
                "qbusiness_data_source_id",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)} (or destination=) to sync")
        from ccf_core.destinations.qbusiness import QBusinessDestination

        return QBusinessDestination(
            client=self.qbusiness_client,
            application_id=str(self.qbusiness_app_id),
            index_id=str(self.qbusiness_index_id),
            data_source_id=str(self.qbusiness_data_source_id),
            s3_client=self.s3_client,
            s3_bucket=self.s3_bucket,
            role_arn=self.role_arn,
        )

    def _make_state(self) -> StateStore:
        if self._state is not None:
            return self._state
        if self.ccf_client is not None:
            from ccf_core.state.api import ApiStateStore

            return ApiStateStore(self.ccf_client)
        if self._memory_state is None:
            # Kept for the life of this object, so a second sync() sends only what changed.
            from ccf_core.state.memory import MemoryStateStore

            self._memory_state = MemoryStateStore()
        return self._memory_state

    def sync(self) -> SyncReport:
        """Run one sync through the engine and return its report.

        Raises:
            SyncAborted: when the run failed (the report is on ``last_report``).
        """
        from ccf_core.errors import SyncAborted
        from ccf_core.report import RunStatus

        engine = SyncEngine(self._make_destination(), self._make_state(), self.options)
        report = engine.run(_SeedConnector(self))
        self.last_report = report
        if report.status in (RunStatus.FAILED, RunStatus.STOPPED):
            raise SyncAborted(report.status.value, report.error or f"sync {report.status.value}")
        return report
