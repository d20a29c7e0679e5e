"""The state store of a job: checksums and the checkpoint kept in the CCF backend, through its API.

One store serves one backend connector (``cc-...``); the ``connector`` argument of the
:class:`~ccf_core.ports.StateStore` methods (the plugin's name) is not needed to find the state
and is ignored. Documents and groups share the connector's document records: a group ``g`` is
stored as ``group:g``, and a document whose id starts with ``group:`` or ``doc:`` is stored as
``doc:<id>``, so the two never collide.

The first :meth:`ApiStateStore.load_checksums` lists every record once (1000 per call: 100,000
documents in 100 calls) and keeps the groups it saw, so loading the groups afterwards costs no
call. A job is the only writer of its connector's state while it runs, so the kept groups stay
exact as :meth:`record` and :meth:`forget` update them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from ccf_core.api.client import CONNECTOR_ID_VARIABLE, CCFClient

logger = logging.getLogger(__name__)

GROUP_PREFIX = "group:"
ESCAPE_PREFIX = "doc:"
DOCUMENT = "document"
GROUP = "group"


def encode_id(item_id: str, kind: str = DOCUMENT) -> str:
    """The document id a ``kind`` item is stored under."""
    if kind == GROUP:
        return GROUP_PREFIX + item_id
    if kind != DOCUMENT:
        raise ValueError(f"unknown kind {kind!r} (use 'document' or 'group')")
    if item_id.startswith((GROUP_PREFIX, ESCAPE_PREFIX)):
        return ESCAPE_PREFIX + item_id
    return item_id


def decode_id(stored_id: str) -> tuple[str, str]:
    """``(kind, id)`` of a stored document id."""
    if stored_id.startswith(GROUP_PREFIX):
        return GROUP, stored_id[len(GROUP_PREFIX) :]
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
        self._groups: dict[str, str] | None = None

    @property
    def connector_id(self) -> str:
        """The backend connector whose state this is."""
        return self.ccf.connector_id

    def describe(self) -> str:
        """Where the state lives, for the runner's first output line."""
        return f"CCF API state of connector {self.connector_id} at {self.ccf.endpoint_url}"

    def load_checksums(self, connector: str, kind: str = DOCUMENT) -> dict[str, str]:
        """Every recorded ``id -> checksum`` of ``kind``."""
        if kind == GROUP and self._groups is not None:
            return dict(self._groups)
        found: dict[str, dict[str, str]] = {DOCUMENT: {}, GROUP: {}}
        for stored_id, checksum in self.ccf.load_checksums().items():
            item_kind, item_id = decode_id(stored_id)
            found[item_kind][item_id] = checksum
        self._groups = found[GROUP]
        return found[DOCUMENT] if kind == DOCUMENT else dict(found[GROUP])

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = DOCUMENT) -> None:
        """Record ``(id, checksum)`` pairs as synced (1000 per call)."""
        pairs = dict(items)
        if not pairs:
            return
        self.ccf.batch_put_documents(
            {encode_id(item_id, kind): checksum for item_id, checksum in pairs.items()}
        )
        if kind == GROUP and self._groups is not None:
            self._groups.update(pairs)

    def forget(self, connector: str, ids: Iterable[str], kind: str = DOCUMENT) -> None:
        """Remove ids (1000 per call)."""
        wanted = list(ids)
        if not wanted:
            return
        self.ccf.batch_delete_documents(encode_id(item_id, kind) for item_id in wanted)
        if kind == GROUP and self._groups is not None:
            for item_id in wanted:
                self._groups.pop(item_id, None)

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
        self._groups = {}
        logger.info("forgot %d records and the checkpoint of connector %s", len(ids), self.connector_id)

    def close(self) -> None:
        """Nothing to release (the boto3 client closes with the process)."""
