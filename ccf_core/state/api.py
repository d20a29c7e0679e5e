"""The state store of a job: checksums and the checkpoint kept in the CCF backend, through its API.

One store serves one backend connector (``cc-...``); the ``connector`` argument of the
:class:`~ccf_core.ports.StateStore` methods (the plugin's name) is not needed to find the state
and is ignored. Documents, groups and the destination's notes share the connector's document
records: a group ``g`` is stored as ``group:g``, a note ``n`` as ``meta:n``, and a document whose
id starts with ``group:``, ``meta:`` or ``doc:`` as ``doc:<id>``, so they never collide. A note is
stored padded to the API's 32-character minimum (:func:`~ccf_core.notes.pad_note`) and read back as
it was given.

The first load lists every record once (1000 per call: 100,000 documents in 100 calls) and keeps
the groups and notes it saw, so the other loads of a run cost no call. The documents met while
loading groups or notes (the engine reads the notes first) are kept for the run's document load:
in memory up to :data:`KEEP_DOCUMENTS`, then in a temporary SQLite file, so that a connector of
millions of documents is listed once per run and never held in memory.
:meth:`ApiStateStore.iter_checksums` streams the documents a page at a time. A job is the only
writer of its connector's state while it runs, so the groups and notes kept stay exact as
:meth:`record` and :meth:`forget` update them (a document write drops the kept documents).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from ccf_core.api.client import CONNECTOR_ID_VARIABLE, CCFClient
from ccf_core.api.models import MAX_LIST_DOCUMENTS
from ccf_core.notes import pad_note, unpad_note
from ccf_core.working_set import WorkingSet

logger = logging.getLogger(__name__)

GROUP_PREFIX = "group:"
META_PREFIX = "meta:"
ESCAPE_PREFIX = "doc:"
DOCUMENT = "document"
GROUP = "group"
META = "meta"
_PREFIXES = {GROUP: GROUP_PREFIX, META: META_PREFIX}

#: Documents listed while loading groups or notes are kept in memory for the run's document load up
#: to this many; past it they move to a temporary SQLite file, so memory stays bounded whatever the
#: connector's size and the documents are still listed once.
KEEP_DOCUMENTS = 20_000


def encode_id(item_id: str, kind: str = DOCUMENT) -> str:
    """The document id a ``kind`` item is stored under."""
    if kind in _PREFIXES:
        return _PREFIXES[kind] + item_id
    if kind != DOCUMENT:
        raise ValueError(f"unknown kind {kind!r} (use 'document', 'group' or 'meta')")
    if item_id.startswith((GROUP_PREFIX, META_PREFIX, ESCAPE_PREFIX)):
        return ESCAPE_PREFIX + item_id
    return item_id


def decode_id(stored_id: str) -> tuple[str, str]:
    """``(kind, id)`` of a stored document id."""
    for kind, prefix in _PREFIXES.items():
        if stored_id.startswith(prefix):
            return kind, stored_id[len(prefix) :]
    if stored_id.startswith(ESCAPE_PREFIX):
        return DOCUMENT, stored_id[len(ESCAPE_PREFIX) :]
    return DOCUMENT, stored_id


class ApiStateStore:
    """A :class:`~ccf_core.ports.StateStore` backed by the CCF API.

    Args:
        client: a :class:`~ccf_core.api.CCFClient`, or a boto3 ``ccf`` client.
        connector_id: the backend connector; taken from ``client`` when it is a CCFClient, else
            from ``connector_id`` or ``CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID``.
        page_size: records per list call (the API's maximum, 1000, unless a test wants more pages).
    """

    name = "api"

    def __init__(
        self, client: CCFClient | Any, connector_id: str | None = None, page_size: int = MAX_LIST_DOCUMENTS
    ) -> None:
        if isinstance(client, CCFClient):
            if connector_id is not None and connector_id != client.connector_id:
                raise ValueError(f"the CCFClient is for {client.connector_id}, not {connector_id}")
            self.ccf = client
        else:
            found = connector_id or os.environ.get(CONNECTOR_ID_VARIABLE)
            if not found:
                raise ValueError(
                    f"give connector_id (or set {CONNECTOR_ID_VARIABLE}) with a boto3 ccf client"
                )
            self.ccf = CCFClient(client, found)
        self.page_size = _page_size(page_size)
        # Groups and notes from the last listing, kept up to date by record() and forget().
        self._kept: dict[str, dict[str, str]] | None = None
        # Documents listed while loading another kind, handed out once to the next document load.
        self._documents: WorkingSet | None = None

    @property
    def connector_id(self) -> str:
        """The backend connector whose state this is."""
        return self.ccf.connector_id

    def describe(self) -> str:
        """Where the state lives, for the runner's first output line."""
        return f"CCF API state of connector {self.connector_id} at {self.ccf.endpoint_url}"

    def load_checksums(self, connector: str, kind: str = DOCUMENT) -> dict[str, str]:
        """Every recorded ``id -> checksum`` of ``kind``."""
        return dict(self.iter_checksums(connector, kind))

    def iter_checksums(
        self, connector: str, kind: str = DOCUMENT, page_size: int | None = None
    ) -> Iterator[tuple[str, str]]:
        """Every recorded ``(id, checksum)`` of ``kind``, listed a page (1000 records) at a time.

        Only the page being read is held (plus the groups and notes met on the way, which are
        few). Documents met while listing another kind are kept for the next document load, on
        disk past :data:`KEEP_DOCUMENTS`, and handed out in id order without a call.
        """
        if kind == DOCUMENT and self._documents is not None:
            handed, self._documents = self._documents, None
            try:
                yield from handed.unseen()
            finally:
                handed.close()
            return
        if kind != DOCUMENT and self._kept is not None:
            yield from dict(self._kept.get(kind, {})).items()
            return
        found: dict[str, dict[str, str]] = {GROUP: {}, META: {}}
        # The working set's layout is what is needed here: a dict that moves to an unlinked
        # SQLite file once large, streamed back a page at a time.
        keep = None if kind == DOCUMENT else WorkingSet(spill_at=KEEP_DOCUMENTS)
        size = self.page_size if page_size is None else _page_size(page_size)
        try:
            for page in self.ccf.iter_checksum_pages(page_size=size):
                documents: list[tuple[str, str]] = []
                for stored_id, checksum in page:
                    item_kind, item_id = decode_id(stored_id)
                    if item_kind != DOCUMENT:
                        found[item_kind][item_id] = checksum
                    elif keep is None:
                        yield item_id, checksum
                    else:
                        documents.append((item_id, checksum))
                if keep is not None:
                    keep.load(documents)
        except BaseException:
            if keep is not None:
                keep.close()
            raise
        found[META] = {key: unpad_note(value) for key, value in found[META].items()}
        self._kept = found
        if keep is not None:
            self._drop_documents()
            self._documents = keep
            yield from dict(found[kind]).items()

    def _drop_documents(self) -> None:
        """Forget the documents kept for the next load (they would no longer be exact)."""
        if self._documents is not None:
            self._documents.close()
            self._documents = None

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = DOCUMENT) -> None:
        """Record ``(id, checksum)`` pairs as synced (1000 per call)."""
        pairs = dict(items)
        if not pairs:
            return
        if kind == DOCUMENT:
            self._drop_documents()
        # The API keeps values of 32 characters or more: a note (often shorter) is padded here.
        pad = pad_note if kind == META else str
        self.ccf.batch_put_documents(
            {encode_id(item_id, kind): pad(value) for item_id, value in pairs.items()}
        )
        if kind != DOCUMENT and self._kept is not None:
            self._kept.setdefault(kind, {}).update(pairs)

    def forget(self, connector: str, ids: Iterable[str], kind: str = DOCUMENT) -> None:
        """Remove ids (1000 per call)."""
        wanted = list(ids)
        if not wanted:
            return
        if kind == DOCUMENT:
            self._drop_documents()
        self.ccf.batch_delete_documents(encode_id(item_id, kind) for item_id in wanted)
        if kind != DOCUMENT and self._kept is not None:
            kept = self._kept.get(kind, {})
            for item_id in wanted:
                kept.pop(item_id, None)

    def get_checkpoint(self, connector: str) -> dict[str, Any] | None:
        """The checkpoint saved by the last completed run, if any."""
        return self.ccf.get_checkpoint()

    def save_checkpoint(self, connector: str, checkpoint: dict[str, Any]) -> None:
        """Save the checkpoint of a run that completed."""
        self.ccf.save_checkpoint(checkpoint)

    def reset(self, connector: str) -> None:
        """Forget every checksum and the checkpoint of the backend connector."""
        self.ccf.delete_checkpoint()
        forgotten = 0
        # A page at a time: the listing goes on after the last key read, so the rows deleted
        # behind it do not move it.
        for page in self.ccf.iter_checksum_pages(page_size=self.page_size):
            self.ccf.batch_delete_documents(stored_id for stored_id, _ in page)
            forgotten += len(page)
        self._kept = {GROUP: {}, META: {}}
        self._drop_documents()
        logger.info("forgot %d records and the checkpoint of connector %s", forgotten, self.connector_id)

    def close(self) -> None:
        """Drop the documents kept for a load that did not come (the boto3 client closes with the process)."""
        self._drop_documents()


def _page_size(size: int) -> int:
    return min(max(size, 1), MAX_LIST_DOCUMENTS)
