"""Test doubles for the core tests: a recording destination, a list-backed connector, document makers.

``RecordingDestination`` is a real implementation of the ``Destination`` protocol: it keeps what it
was sent and what it holds, and can be told to reject ids, to ignore ids (answer neither way) or to
raise on given ``put_documents`` calls. The fixtures hand out factories, so test modules need not
import this file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ccf_core import (
    BatchLimits,
    BatchResult,
    Connector,
    Document,
    Failure,
    Group,
    PreparedDocument,
    RunInfo,
    RunStatus,
    SyncEngine,
    SyncOptions,
    SyncReport,
)
from ccf_core.state import MemoryStateStore, SqliteStateStore


class DestinationDown(ConnectionError):
    """What the recording destination raises for a batch it was told to fail."""


class RecordingDestination:
    """A destination that records every call and holds accepted documents in a dict."""

    name = "recording"

    def __init__(self, limits: BatchLimits | None = None) -> None:
        self.limits = limits or BatchLimits()
        self._lock = threading.Lock()
        self.runs: list[RunInfo] = []
        self.closed: list[RunStatus] = []
        self.put_batches: list[list[PreparedDocument]] = []
        self.delete_batches: list[list[str]] = []
        self.group_puts: list[list[Group]] = []
        self.group_deletes: list[list[str]] = []
        self.documents: dict[str, Document] = {}
        self.groups: dict[str, Group] = {}
        self._rejections: dict[str, Failure] = {}
        self._ignored: set[str] = set()
        self._raise_on_puts: set[int] = set()

    # configuring behaviour ---------------------------------------------------------------------

    def reject(self, doc_id: str, reason: str = "access_denied", message: str = "refused by test") -> None:
        """Answer every later put of ``doc_id`` with a per-document failure."""
        self._rejections[doc_id] = Failure(doc_id, reason, message)

    def ignore(self, doc_id: str) -> None:
        """Leave ``doc_id`` out of the answer: neither accepted nor rejected."""
        self._ignored.add(doc_id)

    def raise_on_puts(self, *call_numbers: int) -> None:
        """Raise ``DestinationDown`` on these ``put_documents`` calls (1-based, counted over its life)."""
        self._raise_on_puts.update(call_numbers)

    def behave(self) -> None:
        """Forget every rejection, ignore and raise rule."""
        self._rejections.clear()
        self._ignored.clear()
        self._raise_on_puts.clear()

    # what it saw -------------------------------------------------------------------------------

    @property
    def sent_ids(self) -> list[str]:
        """Every id sent with ``put_documents``, in call order (attempts that raised included)."""
        return [prepared.id for batch in self.put_batches for prepared in batch]

    @property
    def deleted_ids(self) -> list[str]:
        """Every id sent with ``delete_documents``."""
        return [doc_id for batch in self.delete_batches for doc_id in batch]

    @property
    def document_calls(self) -> int:
        """How many ``put_documents`` and ``delete_documents`` calls were made."""
        return len(self.put_batches) + len(self.delete_batches)

    def forget_calls(self) -> None:
        """Clear the call log (what it holds stays)."""
        self.put_batches.clear()
        self.delete_batches.clear()
        self.group_puts.clear()
        self.group_deletes.clear()

    # the Destination protocol ------------------------------------------------------------------

    def open(self, run: RunInfo) -> None:
        self.runs.append(run)

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        with self._lock:
            self.put_batches.append(list(batch))
            if len(self.put_batches) in self._raise_on_puts:
                raise DestinationDown(f"put call {len(self.put_batches)} failed on purpose")
            result = BatchResult()
            for prepared in batch:
                if prepared.id in self._rejections:
                    result.failures.append(self._rejections[prepared.id])
                elif prepared.id not in self._ignored:
                    self.documents[prepared.id] = prepared.document
                    result.accepted.append(prepared.id)
            return result

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        with self._lock:
            self.delete_batches.append(list(document_ids))
            for doc_id in document_ids:
                self.documents.pop(doc_id, None)
            return BatchResult(accepted=list(document_ids))

    def put_groups(self, groups: Sequence[Group]) -> BatchResult:
        self.group_puts.append(list(groups))
        self.groups.update({group.name: group for group in groups})
        return BatchResult(accepted=[group.name for group in groups])

    def delete_groups(self, names: Sequence[str]) -> BatchResult:
        self.group_deletes.append(list(names))
        for name in names:
            self.groups.pop(name, None)
        return BatchResult(accepted=list(names))

    def close(self, status: RunStatus) -> None:
        self.closed.append(status)


@pytest.fixture
def destination() -> RecordingDestination:
    return RecordingDestination()


@pytest.fixture
def make_destination() -> type[RecordingDestination]:
    return RecordingDestination


@pytest.fixture
def memory_state() -> MemoryStateStore:
    return MemoryStateStore()


@pytest.fixture
def run_sync(destination: RecordingDestination, state: SqliteStateStore) -> Callable[..., SyncReport]:
    """Run a connector once through a new engine on the test's destination and state store.

    Keyword arguments become ``SyncOptions``; ``destination=`` and ``state=`` override the fixtures.
    """

    def run(connector: Connector, **options: Any) -> SyncReport:
        dest = options.pop("destination", destination)
        store = options.pop("state", state)
        return SyncEngine(dest, store, SyncOptions(**options)).run(connector)

    return run


@pytest.fixture(params=["memory", "disk"])
def working_set_layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with the run's working set in a dict, then in its SQLite file from the first id."""
    if request.param == "disk":
        monkeypatch.setattr("ccf_core.working_set.SPILL_AT", 0)
    return str(request.param)
