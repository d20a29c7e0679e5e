"""The lifecycle tests' harness for the local executor: a real ``ccf backend serve`` runs the jobs.

Unlike AWS Batch, nothing is handed to the executor by the test: the server watches its own
storage, launches ``ccf-run`` with the launch spec, signals it on a stop and closes the job when
the process ends. So :meth:`LocalHarness.settle` and :meth:`LocalHarness.finish` only wait for the
server to have done so (reading its SQLite file, read-only), and the exit code comes from the last
line the executor writes to every job log.

Secrets: the local executor does not resolve secret references; the token reaches the job as the
server's own ``CCF_LIFENOTES_TOKEN`` (what a developer does on a laptop), so
:attr:`LocalHarness.secret_references` is empty.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.backend.serve_process import Server
from tests.processes import wait_for

_ENDED = ("SUCCEEDED", "FAILED", "STOPPED")
_EXIT = re.compile(r"^\[ccf backend serve\] ccf-run ended with exit code (-?\d+)$", re.M)


@dataclass
class LocalHarness:
    """``ccf backend serve`` with the local executor (see the module docstring)."""

    ccf: Any
    secret_references: dict[str, str]
    server: Server

    def _jobs(self) -> dict[str, dict[str, Any]]:
        uri = f"file:{self.server.data / 'backend.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True) as db:
            rows = db.execute("SELECT job_id, item FROM jobs").fetchall()
        return {job_id: json.loads(item) for job_id, item in rows}

    def _job(self, job_id: str) -> dict[str, Any]:
        return self._jobs()[job_id]

    def settle(self) -> None:
        """Wait until the executor launched (or failed) every started job.

        A stop needs no waiting here: the executor signals a STOPPING job on its next step, and
        :meth:`finish` waits for the end.
        """
        wait_for(
            lambda: all(job["status"] != "STARTED" for job in self._jobs().values()),
            "the local executor to launch the started jobs",
        )

    def begin(self, job_id: str) -> None:
        """Nothing to start by hand: the executor launched it; check it did."""
        assert self._job(job_id)["status"] in ("RUNNING", "STOPPING", *_ENDED)

    def wait_until(self, job_id: str, ready: Path) -> None:
        """Wait for ``ready``; fail if the job ends first."""

        def reached() -> bool:
            if ready.exists():
                return True
            job = self._job(job_id)
            assert job["status"] not in _ENDED, f"the job ended before it was ready: {job}"
            return False

        wait_for(reached, f"{ready} from job {job_id}")

    def finish(self, job_id: str, *, report: bool = True) -> int:
        """Wait until the server closed the job; the exit code its log ends with."""
        assert report, "the local executor always sees its process end (lost jobs: a server restart)"
        job = wait_for(
            lambda: (found := self._job(job_id))["status"] in _ENDED and found, f"job {job_id} to end"
        )
        text = wait_for(lambda: _EXIT.search(self._log(job["connector_id"], job_id)), "the log's last line")
        return int(text.group(1))

    def reap(self, grace_seconds: float, later_by: float = 0.0) -> dict[str, str]:
        """The local executor reaps on restart (tests/backend/test_local_executor.py), not on call."""
        raise AssertionError("the local executor closes lost jobs when the server starts again")

    def _log(self, connector_id: str, job_id: str) -> str:
        path = self.server.data / "jobs" / connector_id / f"{job_id}.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""
