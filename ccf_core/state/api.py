"""The state store of a job: checksums and the checkpoint kept in the CCF backend, through its API.

One store serves one backend connector (``cc-...``); the ``connector`` argument of the
:class:`~ccf_core.ports.StateStore` methods (the plugin's name) is not needed to find the state
and is ignored. Documents, groups and the destination's notes share the connector's document
records: a group ``g`` is stored as ``group:g``, a note ``n`` as ``meta:n``, and a document whose
id starts with ``group:``, ``meta:`` or ``doc:`` as ``doc:<id>``, so they never collide.

The first :meth:`ApiStateStore.load_checksums` lists every record once (1000 per call: 100,000
documents in 100 calls) and keeps the groups and notes it saw (and, when a note was asked for
first, the documents until they are asked for), so the other loads of a run cost no call. A job
is the only writer of its connector's state while it runs, so what is kept stays exact as
:meth:`record` and :meth:`forget` update it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from ccf_core.api.client import CONNECTOR_ID_VARIABLE, CCFClient

logger = logging.getLogger(__name__)

GROUP_PREFIX = "group:"
META_PREFIX = "meta:"
ESCAPE_PREFIX = "doc:"
DOCUMENT = "document"
GROUP = "group"
META = "meta"
_PREFIXES = {GROUP: GROUP_PREFIX, META: META_PREFIX}


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
    """

    name = "api"

    def __init__(self, client: CCFClient | Any, connector_id: str | None = None) -> None:
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
        # Groups and notes from the last listing, kept up to date by record() and forget().
        self._kept: dict[str, dict[str, str]] | None = None
        # Documents listed while loading another kind, handed out once to the next document load.
        self._documents: dict[str, str] | None = None

    @property
    def connector_id(self) -> str:
        """The backend connector whose state this is."""
        return self.ccf.connector_id

    def describe(self) -> str:
        """Where the state lives, for the runner's first output line."""
        return f"CCF API state of connector {self.connector_id} at {self.ccf.endpoint_url}"

    def load_checksums(self, connector: str, kind: str = DOCUMENT) -> dict[str, str]:
        """Every recorded ``id -> checksum`` of ``kind``."""
        if kind == DOCUMENT and self._documents is not None:
            documents, self._documents = self._documents, None
            return documents
        if kind != DOCUMENT and self._kept is not None:
            return dict(self._kept.get(kind, {}))
        found: dict[str, dict[str, str]] = {DOCUMENT: {}, GROUP: {}, META: {}}
        for stored_id, checksum in self.ccf.load_checksums().items():
            item_kind, item_id = decode_id(stored_id)
            found[item_kind][item_id] = checksum
        documents = found.pop(DOCUMENT)
        self._kept = found
        if kind == DOCUMENT:
            return documents
        self._documents = documents
        return dict(found[kind])

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = DOCUMENT) -> None:
        """Record ``(id, checksum)`` pairs as synced (1000 per call)."""
        pairs = dict(items)
        if not pairs:
            return
        self.ccf.batch_put_documents(
            {encode_id(item_id, kind): checksum for item_id, checksum in pairs.items()}
        )
        if kind != DOCUMENT and self._kept is not None:
            self._kept.setdefault(kind, {}).update(pairs)

    def forget(self, connector: str, ids: Iterable[str], kind: str = DOCUMENT) -> None:
        """Remove ids (1000 per call)."""
        wanted = list(ids)
        if not wanted:
            return
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
        ids = [document.document_id for document in self.ccf.iter_documents()]
        self.ccf.batch_delete_documents(ids)
        self._kept = {GROUP: {}, META: {}}
        self._documents = None
        logger.info("forgot %d records and the checkpoint of connector %s", len(ids), self.connector_id)

    def close(self) -> None:
        """Nothing to release (the boto3 client closes with the process)."""
