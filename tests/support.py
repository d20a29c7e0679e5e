"""Test doubles shared by the suites and the benchmarks: connectors over a list or a count, a document."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ccf_core import Connector, Document, DocumentMetadata, Group, SyncContext, SyncMode


class ListConnector(Connector):
    """A connector over a list the test controls; it can fail, cancel, report deletions and groups."""

    name = "listing"

    def __init__(
        self,
        docs: Iterable[Document] = (),
        *,
        mode: SyncMode = SyncMode.FULL,
        deleted: Iterable[str] = (),
        groups: Iterable[Group] | None = None,
        checkpoint: dict[str, Any] | None = None,
        fail_after: int | None = None,
        cancel_after: int | None = None,
    ) -> None:
        super().__init__()
        self.docs = list(docs)
        self.sync_mode = mode  # type: ignore[misc]
        self.deleted = list(deleted)
        self.group_list = None if groups is None else list(groups)
        self.checkpoint = checkpoint
        self.fail_after = fail_after
        self.cancel_after = cancel_after
        self.contexts: list[SyncContext] = []

    def documents(self, context: SyncContext) -> Iterator[Document]:
        self.contexts.append(context)
        for position, doc in enumerate(self.docs):
            if position == self.fail_after:
                raise RuntimeError(f"source went away after {position} documents")
            if position == self.cancel_after:
                context.cancel()
            yield doc
        if self.checkpoint is not None:
            context.set_checkpoint(self.checkpoint)

    def deleted_document_ids(self, context: SyncContext) -> Iterable[str]:
        return list(self.deleted)

    def groups(self, context: SyncContext) -> Iterable[Group] | None:
        return self.group_list


class NumberedDocuments(Connector):
    """``count`` documents, ``make(0)`` to ``make(count - 1)``, each made when the engine reads it.

    Nothing is held in memory, so it serves runs of a million documents (``bench/scale.py``).
    """

    name = "numbered"

    def __init__(self, count: int, make: Callable[[int], Document]) -> None:
        super().__init__()
        self.count = count
        self.make = make

    def documents(self, context: SyncContext) -> Iterator[Document]:
        return map(self.make, range(self.count))


def document(doc_id: str, text: str | bytes | None = None, **metadata: Any) -> Document:
    """A plain-text document whose title and text default to values derived from its id."""
    metadata.setdefault("title", f"Title of {doc_id}")
    return Document(
        id=doc_id,
        content=text if text is not None else f"text of {doc_id}",
        content_type="PLAIN_TEXT",
        metadata=DocumentMetadata(**metadata),
    )
