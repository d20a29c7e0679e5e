"""Against Q Business too, a run killed after any one of its writes loses nothing and blocks nothing.

The fake service runs in this process; each killed run is a forked child with its own boto3 client.
A kill right after the sync job started leaves the job running: the next run stops it (its id is a
note in the state) instead of waiting for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE
from ccf_core.destinations.qbusiness import QBusinessDestination
from ccf_core.state import SqliteStateStore
from tests.dummy_aws import DUMMY_CREDENTIALS
from tests.kill_points import run_here, run_in_child, source_versions
from tests.qbusiness.conftest import APPLICATION_ID, DATA_SOURCE_ID, INDEX_ID

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")

SCOPE = f"source@qbusiness:{APPLICATION_ID}/{INDEX_ID}/{DATA_SOURCE_ID}"


def _builder(fake: Any, tmp: Path):
    def build():
        client = boto3.client(
            "qbusiness",
            endpoint_url=fake.endpoint_url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            **DUMMY_CREDENTIALS,
        )
        destination = QBusinessDestination(
            client,
            application_id=APPLICATION_ID,
            index_id=INDEX_ID,
            data_source_id=DATA_SOURCE_ID,
            max_in_flight=1,
            retry_base_delay=0.002,
            retry_max_delay=0.02,
            conflict_wait_seconds=0.3,
            conflict_poll_seconds=0.01,
        )
        return destination, SqliteStateStore(tmp / "state.db")

    return build


def _held(fake: Any) -> dict[str, bytes | None]:
    with fake._lock:
        return {doc_id: doc.content for doc_id, doc in fake.documents.items()}


@pytest.mark.slow
@pytest.mark.parametrize("restore", [False, True], ids=["source-changed", "files-restored"])
def test_a_kill_after_any_write_loses_nothing(fake_qbusiness: Any, tmp_path: Path, restore: bool) -> None:
    before, after = source_versions()
    counting = tmp_path / "count"
    counting.mkdir()
    run_here(_builder(fake_qbusiness, counting), before)
    total = run_in_child(_builder(fake_qbusiness, counting), after, None, counting)
    assert total >= 12
    for kill_after in range(1, total + 1):
        tmp = tmp_path / f"kill-{kill_after}"
        tmp.mkdir()
        with fake_qbusiness._lock:
            fake_qbusiness.documents.clear()
        run_here(_builder(fake_qbusiness, tmp), before)

        run_in_child(_builder(fake_qbusiness, tmp), after, kill_after, tmp)

        held = _held(fake_qbusiness)
        with SqliteStateStore(tmp / "state.db") as state:
            recorded = state.load_checksums(SCOPE)
        for doc_id, value in recorded.items():
            if value not in (PENDING_DELETE, PENDING_UPDATE):
                assert doc_id in held, f"kill after write {kill_after}: state records {doc_id}, index lost it"
        final = before if restore else after
        report = run_here(_builder(fake_qbusiness, tmp), final)
        assert report.error is None, f"kill after write {kill_after}: {report.error}"
        held = _held(fake_qbusiness)
        assert {doc_id: (content or b"").decode() for doc_id, content in held.items()} == final, kill_after
        assert fake_qbusiness.running_jobs == []
