"""Everything the CLIs show a person or a program: reports, progress, tables and JSON.

Rich output (tables, the progress display) is used only on a terminal; piped or captured output
is plain text, so scripts and logs never see colour codes or redrawn lines.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ccf_core.report import Failure, RunStatus, SyncReport
from ccf_core.validation import escape_undecodable
from ccf_runner.logs import mask_secrets, mask_value

#: How many ids of each kind a dry run lists in the text report (the JSON report has them all).
PLAN_IDS_SHOWN = 20


def is_terminal(stream: IO[Any] | None) -> bool:
    """True when ``stream`` is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


# -- reports ----------------------------------------------------------------------------------


def masked_report(report: SyncReport) -> SyncReport:
    """A copy of ``report`` whose error and failure messages have every registered secret masked.

    Connectors quote URLs and exceptions, which may carry a token; both renderers below go
    through this, so neither the text nor the JSON report shows one. Ids and messages holding
    bytes that are not UTF-8 (a file name in another encoding) show them escaped (``\\xe9``).
    """
    plan = report.plan
    if plan is not None:
        plan = replace(
            plan,
            add=[escape_undecodable(doc_id) for doc_id in plan.add],
            update=[escape_undecodable(doc_id) for doc_id in plan.update],
            delete=[escape_undecodable(doc_id) for doc_id in plan.delete],
        )
    return replace(
        report,
        error=None if report.error is None else _readable(mask_secrets(report.error)),
        failures=[
            Failure(
                escape_undecodable(failure.document_id),
                failure.reason,
                _readable(mask_secrets(failure.message)),
            )
            for failure in report.failures
        ],
        problems=[
            Failure(problem.document_id, problem.reason, _readable(mask_secrets(problem.message)))
            for problem in report.problems
        ],
        plan=plan,
    )


_REPR_OF_UNDECODABLE = re.compile(r"\\udc([89a-f][0-9a-f])")


def _readable(message: str) -> str:
    """A message with undecodable bytes escaped, also where ``repr()`` already wrote them as ``\\udcXX``."""
    return _REPR_OF_UNDECODABLE.sub(r"\\x\1", escape_undecodable(message))


def report_text(report: SyncReport) -> str:
    """The report for people, secrets masked; a dry run adds its plan (counts, first ids of each kind)."""
    report = masked_report(report)
    text = report.to_text()
    if report.dry_run:
        text = "\n".join(
            _dry_run_counts(report) if line.startswith("  scanned ") else line for line in text.splitlines()
        )
    plan = report.plan
    if plan is None:
        return text
    lines = [text, f"  plan: add {len(plan.add)}, update {len(plan.update)}, delete {len(plan.delete)}"]
    for label, ids in (("add", plan.add), ("update", plan.update), ("delete", plan.delete)):
        if not ids:
            continue
        lines.append(f"  would {label}:")
        lines.extend(f"    {doc_id}" for doc_id in ids[:PLAN_IDS_SHOWN])
        if len(ids) > PLAN_IDS_SHOWN:
            lines.append(f"    ... and {len(ids) - PLAN_IDS_SHOWN} more (see --report-json)")
    return "\n".join(lines)


def _dry_run_counts(report: SyncReport) -> str:
    """The counters line of a dry run, in the conditional: nothing was added, it would be."""
    return (
        f"  scanned {report.scanned}, would add {report.added}, would update {report.updated}, "
        f"unchanged {report.unchanged}, would delete {report.deleted}, failed {report.failed}, "
        f"skipped {report.skipped}"
    )


def partial_report(connector: str, destination: str, error: str, *, dry_run: bool) -> dict[str, Any]:
    """The JSON report of a stopped run the engine returned no report for (a second signal).

    It has no counters: they went with the interrupted engine, and zeros would be wrong. Automation
    reading ``--report-json`` still finds a report, with ``status`` and ``error``.
    """
    return {
        "connector": connector,
        "destination": destination,
        "status": RunStatus.STOPPED.value,
        "dry_run": dry_run,
        "error": error,
    }


def partial_report_text(report: Mapping[str, Any]) -> str:
    """The text form of :func:`partial_report`."""
    return (
        f"{report['connector']} (sync to {report['destination']}): {report['status']}\n"
        f"  error: {mask_secrets(report['error'])}"
    )


def write_report_json(report: SyncReport | Mapping[str, Any], path: str) -> None:
    """Write the JSON report, secrets masked, to ``path`` (``-`` is stdout), creating the folder if needed.

    ``report`` may also be a ready dict, for a run that ended before the engine could return one.
    """
    data = masked_report(report).as_dict() if isinstance(report, SyncReport) else mask_value(report)
    payload = json.dumps(data, indent=2) + "\n"
    if path == "-":
        click.echo(payload, nl=False)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(payload, encoding="utf-8")


# -- progress ---------------------------------------------------------------------------------


class ProgressDisplay:
    """A live line on stderr (scanned, documents/s, uploaded, failed) while a run goes on.

    Use as a context manager; :attr:`callback` is what ``SyncOptions.progress`` takes. When
    ``enabled`` is false (stderr is not a terminal) it does nothing and ``callback`` is None.
    """

    def __init__(self, enabled: bool, connector: str) -> None:
        self.enabled = enabled
        self.connector = connector
        self._progress: Progress | None = None
        self._task: Any = None
        self._started = time.monotonic()

    @property
    def callback(self) -> Callable[[SyncReport], None] | None:
        """The progress callback for the engine, or None when the display is off."""
        return self.update if self.enabled else None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(f"{self.connector}: starting", total=None)
            self._started = time.monotonic()
        return self

    def update(self, report: SyncReport) -> None:
        """Show the counters of ``report``."""
        if self._progress is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self._progress.update(
            self._task,
            description=(
                f"{self.connector}: scanned {report.scanned} ({report.scanned / elapsed:.0f}/s), "
                f"uploaded {report.uploaded}, failed {report.failed}"
            ),
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


# -- tables and JSON for the ccf commands -----------------------------------------------------


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None, err: bool = False
) -> None:
    """Print rows under headers: a rich table on a terminal, aligned plain columns otherwise."""
    stream = sys.stderr if err else sys.stdout
    cells = [["-" if value is None else str(value) for value in row] for row in rows]
    if is_terminal(stream):
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in cells:
            table.add_row(*row)
        Console(file=stream).print(table)
        return
    if title:
        click.echo(title, err=err)
    click.echo(plain_table(headers, cells), err=err)


def plain_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows under headers as aligned plain-text columns (no trailing spaces)."""
    cells = [["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *cells]
    ]
    return "\n".join(lines)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (dates and other values as strings)."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
