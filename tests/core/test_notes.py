"""Destination notes: padded for the CCF API by its store only, and read back as they were given."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ccf_core import Document, DocumentMetadata, SyncEngine, SyncReport
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.engine import state_scope
from ccf_core.notes import GENERATION_NOTE, NOTE, load_notes, pad_note, unpad_note
from ccf_core.state import SqliteStateStore
from ccf_core.state.api import ApiStateStore
from tests.support import ListConnector


def _sync(tmp: Path) -> tuple[SyncReport, str, str]:
    """One run to a local index with SQLite state: its report, state scope and index generation."""
    connector = ListConnector([Document(id="a", content="text", metadata=DocumentMetadata(title="a"))])
    with LocalIndex(tmp / "index.db") as index, SqliteStateStore(tmp / "state.db") as state:
        report = SyncEngine(index, state).run(connector)
        return report, state_scope(connector.name, index), index.generation


def _stored_notes(tmp: Path) -> dict[str, str]:
    with sqlite3.connect(tmp / "state.db") as db:
        return dict(db.execute("SELECT item_id, checksum FROM synced WHERE kind = ?", (NOTE,)).fetchall())


def test_a_sqlite_state_keeps_notes_as_they_are(tmp_path: Path) -> None:
    _, _, generation = _sync(tmp_path)

    assert _stored_notes(tmp_path) == {GENERATION_NOTE: generation}


def test_a_note_padded_by_an_earlier_release_is_read_as_the_value_it_holds(tmp_path: Path) -> None:
    _, scope, generation = _sync(tmp_path)
    with SqliteStateStore(tmp_path / "state.db") as state:
        state.record(scope, [(GENERATION_NOTE, pad_note(generation))], kind=NOTE)
        assert load_notes(state, scope) == {GENERATION_NOTE: generation}

    report, _, _ = _sync(tmp_path)

    assert report.reconciled is None  # the padded generation still names this index
    assert report.unchanged == 1


def test_only_the_exact_padded_form_is_unpadded() -> None:
    for value in ("job-1", "a|b", "x" * 40, "ends-with-bar|", "g" * 31):
        assert unpad_note(pad_note(value)) == value
    for value in ("a|b", "ends-with-bar|", "short|---", "c" * 64, "x|" + "-" * 30 + "y"):
        assert unpad_note(value) == value


class _Api:
    """The CCF API's document calls, keeping what was put."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}

    def batch_put_custom_connector_documents(
        self, connector_id: str, documents: list[dict[str, str]]
    ) -> dict:
        self.stored.update((item["document_id"], item["checksum"]) for item in documents)
        return {}

    def list_custom_connector_documents(self, connector_id: str, **params: Any) -> dict[str, Any]:
        return {
            "documents": [
                {"document_id": key, "checksum": value, "created_at": "t", "updated_at": "t"}
                for key, value in sorted(self.stored.items())
            ]
        }


def test_the_api_state_store_pads_notes_for_the_api_and_reads_them_back_unpadded() -> None:
    api = _Api()
    ApiStateStore(api, connector_id="cc-0123456789abcdef").record("any", [("job", "e-1")], kind=NOTE)

    assert api.stored == {"meta:job": pad_note("e-1")}
    assert len(api.stored["meta:job"]) >= 32
    fresh = ApiStateStore(api, connector_id="cc-0123456789abcdef")
    assert fresh.load_checksums("any", kind=NOTE) == {"job": "e-1"}
