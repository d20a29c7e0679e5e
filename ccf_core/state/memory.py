"""A state store that lives in memory: nothing survives the process (tests, one-off runs)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any


class MemoryStateStore:
    """A :class:`~ccf_core.ports.StateStore` kept in dictionaries."""

    name = "memory"

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, str]] = {}
        self.checkpoints: dict[str, dict[str, Any]] = {}

    def describe(self) -> str:
        """Where the state lives."""
        return "in-memory state (not kept after this process)"

    def load_checksums(self, connector: str, kind: str = "document") -> dict[str, str]:
        """A copy of the recorded checksums."""
        return dict(self.items.get((connector, kind), {}))

    def iter_checksums(
        self, connector: str, kind: str = "document", page_size: int = 5_000
    ) -> Iterator[tuple[str, str]]:
        """The recorded ``(id, checksum)`` pairs, from a copy taken a page at a time."""
        stored = self.items.get((connector, kind), {})
        ids = sorted(stored)
        for start in range(0, len(ids), page_size):
            page = [
                (item_id, stored[item_id]) for item_id in ids[start : start + page_size] if item_id in stored
            ]
            yield from page

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        """Record synced ids."""
        self.items.setdefault((connector, kind), {}).update(items)

    def forget(self, connector: str, ids: Iterable[str], kind: str = "document") -> None:
        """Remove ids."""
        stored = self.items.get((connector, kind), {})
        for item_id in ids:
            stored.pop(item_id, None)

    def get_checkpoint(self, connector: str) -> dict[str, Any] | None:
        """The saved checkpoint."""
        found = self.checkpoints.get(connector)
        return copy.deepcopy(found) if found is not None else None

    def save_checkpoint(self, connector: str, checkpoint: dict[str, Any]) -> None:
        """Save a checkpoint."""
        self.checkpoints[connector] = copy.deepcopy(checkpoint)

    def reset(self, connector: str) -> None:
        """Forget a connector."""
        for key in [key for key in self.items if key[0] == connector]:
            del self.items[key]
        self.checkpoints.pop(connector, None)

    def close(self) -> None:
        """Nothing to release."""
