"""What a run keeps beside its records: a destination's notes, and when state and index disagree.

A destination may ask the state to keep small values across runs (``RunInfo.notes`` and
``remember``): the Q Business destination keeps the sync job it started, so a run killed in the
middle leaves the next one what it needs to stop it. A destination that can list what it holds
(the local index) has a generation, kept as a note after each run: when the note and the
destination disagree, the engine reconciles the state with the destination's own listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from ccf_core.ports import StateStore

#: The state kind of a destination's notes (see ``RunInfo.notes``).
NOTE = "meta"

#: The note holding the generation of the destination the state was last synced with.
GENERATION_NOTE = "destination.generation"


@runtime_checkable
class ListableDestination(Protocol):
    """A destination that can list what it holds, with a generation that changes when it is replaced."""

    name: str
    generation: str

    def list_synced(self, connector: str) -> Iterable[tuple[str, str]]:
        """``(id, checksum)`` of every document of ``connector`` it holds."""
        ...

    def count(self, connector: str | None = None) -> int:
        """How many documents it holds (of ``connector``)."""
        ...


def load_notes(state: StateStore, scope: str) -> dict[str, str]:
    """The destination notes kept in ``state`` for ``scope``.

    Earlier releases padded every note in every store (only the CCF API needs it, and its store now
    pads its own): a padded note still in a SQLite state is read as the value it holds.
    """
    return {key: unpad_note(value) for key, value in state.load_checksums(scope, kind=NOTE).items()}


def reconcile_reason(
    destination: ListableDestination, notes: Mapping[str, str], connector: str
) -> str | None:
    """Why the state and ``destination`` may disagree, or None when they were last synced together."""
    noted = notes.get(GENERATION_NOTE)
    if noted == destination.generation:
        return None
    if noted is not None:
        return "the state was written for another index (it was deleted or replaced)"
    if destination.count(connector):
        return "the index holds documents the state has no record of (the state was lost or reset)"
    return None


def pad_note(value: str) -> str:
    """A note as the CCF API can keep it: values of 32 to 512 characters, where notes are often shorter."""
    return f"{value}|".ljust(32, "-")


def unpad_note(value: str) -> str:
    """The note a :func:`pad_note` value holds; any other value as it is."""
    head, bar, _ = value.rpartition("|")
    return head if bar and pad_note(head) == value else value
