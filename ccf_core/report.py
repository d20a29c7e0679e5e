"""What a sync run did, for people (text) and machines (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Failure:
    """One document (or group, or deletion) that could not be synced."""

    document_id: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"document_id": self.document_id, "reason": self.reason, "message": self.message}


#: The report keeps at most this many failures in full; the counts by reason stay exact.
MAX_LISTED_FAILURES = 1000


@dataclass
class PlannedChanges:
    """What a dry run would do: ids to add, update and delete, and how many are unchanged."""

    add: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "add": self.add,
            "update": self.update,
            "delete": self.delete,
            "counts": {
                "add": len(self.add),
                "update": len(self.update),
                "unchanged": self.unchanged,
                "delete": len(self.delete),
            },
        }


@dataclass
class SyncReport:
    """Counters of one run. ``failed`` counts documents; ``failures`` lists them with reasons."""

    connector: str
    mode: str
    destination: str
    dry_run: bool = False
    status: RunStatus = RunStatus.SUCCEEDED
    scanned: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    kept: int = 0
    bytes: int = 0
    #: Why the state was rebuilt from the destination's own listing at the start, if it was.
    reconciled: str | None = None
    #: Parts of the source the connector could not list (``SyncContext.report_problem``).
    problems: list[Failure] = field(default_factory=list)
    groups: int = 0
    duration_seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    failures_by_reason: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    plan: PlannedChanges | None = None

    def fail(self, document_id: str, reason: str, message: str) -> None:
        """Count a failed document and keep its reason."""
        self.failed += 1
        self.failures_by_reason[reason] += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append(Failure(document_id, reason, message))

    @property
    def uploaded(self) -> int:
        """Documents the destination accepted (added or updated)."""
        return self.added + self.updated

    @property
    def throughput(self) -> float:
        """Documents scanned per second."""
        return self.scanned / self.duration_seconds if self.duration_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON report: stable top-level integer counters, duration and the failure list."""
        data: dict[str, Any] = {
            "connector": self.connector,
            "mode": self.mode,
            "destination": self.destination,
            "status": self.status.value,
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "skipped": self.skipped,
            "kept": self.kept,
            "reconciled": self.reconciled,
            "problems": [problem.as_dict() for problem in self.problems],
            "bytes": self.bytes,
            "groups": self.groups,
            "duration_seconds": round(self.duration_seconds, 3),
            "documents_per_second": round(self.throughput, 1),
            "failures_by_reason": dict(self.failures_by_reason),
            "failures": [failure.as_dict() for failure in self.failures],
            "error": self.error,
        }
        if self.plan is not None:
            data["plan"] = self.plan.as_dict()
        return data

    def to_json(self) -> str:
        """The JSON report as one line."""
        return json.dumps(self.as_dict(), separators=(",", ":"))

    def to_text(self) -> str:
        """A short summary for people."""
        verb = "would be" if self.dry_run else "were"
        lines = [
            f"{self.connector} ({self.mode} sync to {self.destination}): {self.status.value}",
            f"  scanned {self.scanned}, added {self.added}, updated {self.updated}, "
            f"unchanged {self.unchanged}, deleted {self.deleted}, failed {self.failed}, "
            f"skipped {self.skipped}" + (f", kept {self.kept} it could not list" if self.kept else ""),
            f"  {self.bytes} bytes in {self.duration_seconds:.2f}s ({self.throughput:.0f} documents/s)",
        ]
        if self.reconciled:
            lines.append(f"  reconciled with the destination: {self.reconciled}")
        if self.dry_run:
            lines.append(f"  dry run: nothing {verb} written")
        for problem in self.problems[:10]:
            lines.append(f"  could not list {problem.document_id} ({problem.reason}): {problem.message}")
        if len(self.problems) > 10:
            lines.append(
                f"  ... and {len(self.problems) - 10} more parts of the source that could not be listed"
            )
        for reason, count in sorted(self.failures_by_reason.items()):
            lines.append(f"  failed ({reason}): {count}")
        for failure in self.failures[:10]:
            lines.append(f"    {failure.document_id}: {failure.message}")
        if self.failed > 10:
            lines.append(f"    ... and {self.failed - 10} more (see the JSON report)")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
