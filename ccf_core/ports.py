"""The two ports of the sync engine: where documents go and where sync state is kept.

A destination receives prepared batches and says, per document, what it accepted; the engine
records a document as synced only after that. A state store keeps the checksum of every synced
document and the connector's checkpoint, and survives a crash in the middle of a run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ccf_core.content_types import ContentType
from ccf_core.models.acl import Group
from ccf_core.models.document import Document
from ccf_core.report import Failure, RunStatus


@dataclass(slots=True)
class PreparedDocument:
    """A document that passed validation, with its checksum, size and whether it is new.

    ``content_type`` is the document's resolved content type, and ``content`` the bytes the checksum
    was computed from when the engine read them in one piece (small files), so a destination sends
    what was checksummed without reading or inferring again. Both are optional: a destination
    falls back to the document's own. ``fingerprint_size`` is the length of the document's
    metadata fingerprint, which lets a destination bound its request size without encoding it.
    """

    document: Document
    checksum: str
    size: int
    is_new: bool
    content_type: ContentType | None = None
    content: bytes | None = None
    fingerprint_size: int | None = None

    @property
    def id(self) -> str:
        """The document's id."""
        return self.document.id

    def resolved_content_type(self) -> ContentType | None:
        """The content type the engine resolved, else the document's own."""
        return self.content_type if self.content_type is not None else self.document.resolved_content_type()

    def read_bytes(self) -> bytes:
        """The content that was checksummed, when the engine kept it; else the document's, read now."""
        return self.content if self.content is not None else self.document.read_bytes()


@dataclass
class BatchResult:
    """What a destination did with a batch: the ids it accepted and the ones it rejected."""

    accepted: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class BatchLimits:
    """How a destination wants its batches cut."""

    max_documents: int = 10
    max_bytes: int = 10 * 1024 * 1024
    max_delete_ids: int = 10
    max_in_flight: int = 1


@dataclass(frozen=True)
class RunInfo:
    """What a destination is told when a run starts.

    ``cancel_event`` is set when the run is asked to stop: a destination that waits (for a sync
    job to end, between retries) should wait on it and give up when it is set.

    ``notes`` are small values the destination asked the state to keep in earlier runs (for
    example the id of the sync job it started), and ``remember(key, value)`` keeps one durably
    (``None`` forgets it), so a run killed in the middle leaves the next one what it needs to
    clean up.
    """

    connector: str
    run_id: str
    full: bool
    dry_run: bool = False
    cancel_event: threading.Event | None = field(default=None, compare=False)
    notes: Mapping[str, str] = field(default_factory=dict, compare=False)
    remember: Callable[[str, str | None], None] = field(default=lambda _key, _value: None, compare=False)


@runtime_checkable
class Destination(Protocol):
    """Where documents go: the local index, Amazon Q Business, or a plugin's own.

    ``put_documents`` and ``delete_documents`` may be called from worker threads, up to
    ``limits.max_in_flight`` at once; ``open`` and ``close`` are called on the engine's thread.
    An optional ``identity`` attribute names the destination among others of its kind (e.g.
    ``local:/path/index.db``); the engine keeps state per connector and identity (``name`` when
    there is none).
    """

    name: str
    limits: BatchLimits

    def open(self, run: RunInfo) -> None:
        """Called once before any upload (Q Business starts its data source sync job here)."""

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        """Add or update a batch; report each document as accepted or failed."""
        ...

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        """Delete a batch of ids; report each as accepted or failed."""
        ...

    def put_groups(self, groups: Sequence[Group]) -> BatchResult:
        """Create or replace groups (their direct members); ids in the result are group names."""
        ...

    def delete_groups(self, names: Sequence[str]) -> BatchResult:
        """Remove groups a connector no longer reports."""
        ...

    def close(self, status: RunStatus) -> None:
        """Called once in every outcome, even after an exception or a signal."""


@runtime_checkable
class StateStore(Protocol):
    """Checksums of synced documents and groups, and the connector's checkpoint.

    A store may also offer ``lock(connector)``, a context manager held for the length of a run
    that raises :class:`~ccf_core.errors.RunLocked` when another run holds it; the engine uses it
    when present (the SQLite store has one; the CCF API allows one job per connector anyway).

    A store should also offer ``iter_checksums(connector, kind="document", page_size=...)``, the
    pairs of :meth:`load_checksums` read a page at a time (see :class:`StreamingStateStore`): the
    engine streams them into its working set, so a connector of millions of documents never has
    them all in memory at once. Without it the engine falls back to :meth:`load_checksums`.
    """

    name: str

    def load_checksums(self, connector: str, kind: str = "document") -> dict[str, str]:
        """Every recorded ``id -> checksum`` of a connector (``kind`` is "document" or "group")."""
        ...

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        """Record ``(id, checksum)`` pairs as synced, durably, in one transaction."""
        ...

    def forget(self, connector: str, ids: Iterable[str], kind: str = "document") -> None:
        """Remove ids (deleted from the destination) in one transaction."""
        ...

    def get_checkpoint(self, connector: str) -> dict[str, object] | None:
        """The checkpoint saved by the last completed run, if any."""
        ...

    def save_checkpoint(self, connector: str, checkpoint: dict[str, object]) -> None:
        """Save the checkpoint of a run that completed."""
        ...

    def reset(self, connector: str) -> None:
        """Forget everything about a connector (checksums and checkpoint)."""
        ...

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class StreamingStateStore(StateStore, Protocol):
    """A state store that can stream its records (all the stores of ccf do)."""

    def iter_checksums(
        self, connector: str, kind: str = "document", page_size: int = 5_000
    ) -> Iterator[tuple[str, str]]:
        """Every recorded ``(id, checksum)`` of ``kind``, read ``page_size`` at a time.

        Only a bounded number of pages may be held at once; the order is the store's own.
        """
        ...
