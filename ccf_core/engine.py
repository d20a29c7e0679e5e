"""The sync engine: one loop from a connector's documents to a destination, with honest accounting.

For every document the engine runs the transform hooks, validates the document against the Q
Business rules, computes its checksum and compares it with the stored one; only new and changed
documents are sent. A document is recorded as synced only after the destination accepted it.
Deletions (explicit, and in full mode everything not seen) and the checkpoint happen only when the
run got through every document. The change decision is :mod:`ccf_core.changes`'s, and the deletion
pass :mod:`ccf_core.deletions`'s.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from ccf_core.changes import ChangeDetector
from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE, SyncRecord, group_checksum
from ccf_core.connector import Connector, SyncContext, SyncMode
from ccf_core.deletions import planned_deletions
from ccf_core.errors import CCFError, ErrorBudgetExceeded, SyncAborted, SyncCancelled
from ccf_core.models.acl import Group
from ccf_core.models.document import Document, DocumentVersion
from ccf_core.notes import (
    GENERATION_NOTE,
    NOTE,
    ListableDestination,
    load_notes,
    reconcile_reason,
)
from ccf_core.options import SyncOptions
from ccf_core.plugins import CCFPluginManager, get_plugin_manager
from ccf_core.ports import Destination, PreparedDocument, RunInfo, StateStore
from ccf_core.report import PlannedChanges, RunStatus, SyncReport
from ccf_core.scope import split_scope, state_scope
from ccf_core.transforms import TransformChain
from ccf_core.upload_worker import WorkerPipeline, worker_factories
from ccf_core.uploader import BatchPipeline
from ccf_core.working_set import SEEN, WorkingSet, filled_working_set, in_pages, stream_checksums

__all__ = ["SyncEngine", "SyncOptions", "split_scope", "state_scope"]

logger = logging.getLogger(__name__)

#: Where prepared documents go: the pipeline in this process, or in a worker process.
Pipeline = BatchPipeline | WorkerPipeline

#: Failure reasons that a retry cannot fix: they do not hold back an incremental checkpoint.
PERMANENT_REASONS = frozenset(
    {"invalid_document", "transform_error", "too_large", "needs_s3", "duplicate_id"}
)


class SyncEngine:
    """Runs connectors against one destination and one state store."""

    def __init__(
        self,
        destination: Destination,
        state: StateStore,
        options: SyncOptions | None = None,
        plugin_manager: CCFPluginManager | None = None,
    ) -> None:
        self.destination = destination
        self.state = state
        self.options = options or SyncOptions()
        self._pm = plugin_manager

    @property
    def plugin_manager(self) -> CCFPluginManager:
        """The plugin manager whose hooks run (the process's one unless given)."""
        if self._pm is None:
            self._pm = get_plugin_manager()
        return self._pm

    def make_context(self, connector: Connector, **extra: Any) -> SyncContext:
        """The context of a new run of ``connector`` (the runner adds its cancel event and logger)."""
        full = connector.sync_mode is SyncMode.FULL or self.options.full
        scope = state_scope(connector.name, self.destination)
        checkpoint = None if self.options.full else self.state.get_checkpoint(scope)
        fields: dict[str, Any] = {
            "connector": connector.name,
            "config": connector.config,
            "mode": SyncMode.FULL if full else SyncMode.INCREMENTAL,
            "checkpoint": checkpoint,
            "logger": logging.getLogger(f"ccf.connector.{connector.name}"),
            "run_id": uuid.uuid4().hex[:12],
        }
        fields.update(extra)
        return SyncContext(**fields)

    def run(self, connector: Connector, context: SyncContext | None = None) -> SyncReport:
        """Sync ``connector`` once and return the report; never raises for a failed run."""
        context = context or self.make_context(connector)
        with _objects_before_the_run_frozen():
            return _Run(self, connector, context).execute()


class _Freezer:
    """How many runs of this process share the freeze of :func:`_objects_before_the_run_frozen`."""

    lock = threading.Lock()
    runs = 0


@contextlib.contextmanager
def _objects_before_the_run_frozen() -> Iterator[None]:
    """Keep the objects that exist before a run out of the garbage collector's passes during it.

    A process that loaded botocore's models and the plugins holds hundreds of thousands of objects,
    and each full collection in a run walked them all: 5% of the CPU of a first sync. Frozen, they
    are skipped; garbage among them is collected after the run, when they are unfrozen. Concurrent
    runs share one freeze, undone when the last ends; a process that froze objects itself (a
    forking server does) is left as it is (objects it freezes during a run are unfrozen with the
    run's).
    """
    ours = False
    try:
        with _Freezer.lock:
            if _Freezer.runs > 0 or gc.get_freeze_count() == 0:
                _Freezer.runs += 1
                ours = True
                if _Freezer.runs == 1:
                    gc.freeze()
        yield
    finally:
        if ours:
            with _Freezer.lock:
                if _Freezer.runs == 1:
                    gc.unfreeze()
                _Freezer.runs -= 1


class _Run:
    """The state of one run; :meth:`execute` is the whole algorithm."""

    def __init__(self, engine: SyncEngine, connector: Connector, context: SyncContext) -> None:
        self.engine = engine
        self.options = engine.options
        self.connector = connector
        self.context = context
        self.name = connector.name
        self.scope = state_scope(connector.name, engine.destination)
        self.status = RunStatus.FAILED
        self.report = SyncReport(
            connector=self.name,
            mode=context.mode.value,
            destination=engine.destination.name,
            dry_run=self.options.dry_run,
        )
        if self.options.dry_run:
            self.report.plan = PlannedChanges()
        self.report.problems = context.problems  # what the connector could not list, as it says so
        hook = engine.plugin_manager.hook.ccf_transform_document
        self.transforms = TransformChain(hook.get_hookimpls(), context)
        self._transforming = bool(self.transforms)
        self._next_progress = 0.0
        # The stored records and the ids this run produced (in memory, or on disk when large).
        self._known = WorkingSet()
        self._notes: dict[str, str] = {}
        self._changes = ChangeDetector(
            self._known, self.report, engine.state, self.scope, self.options.dry_run
        )
        context.version_lookup = self._previous_version

    def _keep_note(self, key: str, value: str | None) -> None:
        """Keep (or forget, for None) a destination's note in the state, durably."""
        if value is None:
            self.engine.state.forget(self.scope, [key], kind=NOTE)
        else:
            self.engine.state.record(self.scope, [(key, value)], kind=NOTE)

    def _previous_version(self, document_id: str) -> str | None:
        value = self._known.get(document_id)
        if not value:
            return None
        return SyncRecord.decode(value).readable_version()

    # the algorithm ---------------------------------------------------------------------------

    def execute(self) -> SyncReport:
        report, context = self.report, self.context
        started = time.perf_counter()
        self._notify("ccf_sync_started", context=context)
        pipeline: Pipeline | None = None
        self._opened = False
        held = contextlib.ExitStack()
        try:
            if not self.options.dry_run:
                pipeline = self._open(held)
            # Read after open(): a destination may wait there for another run to finish.
            known = self._known = self._working_set()
            self._changes.known = known
            self._documents(known, pipeline)
            self._check_error_budget()
            explicit = self.connector.deleted_document_ids(context)
            deletions = planned_deletions(explicit, known, context, report, self.options)
            if pipeline is not None:
                pipeline.delete(deletions)
            self._groups(pipeline)
            if pipeline is not None:
                pipeline.drain()
            self._save_checkpoint()
            incomplete = report.failed or report.problems
            self.status = RunStatus.COMPLETED_WITH_FAILURES if incomplete else RunStatus.SUCCEEDED
        except SyncCancelled:
            self.status = RunStatus.STOPPED
            report.error = "stopped before the end; accepted documents stay recorded, checkpoint not saved"
        except KeyboardInterrupt:
            # The destination is still closed as stopped (the Q Business sync job must end), then
            # the interrupt goes on to the caller.
            self.status = RunStatus.STOPPED
            report.error = "interrupted; accepted documents stay recorded, checkpoint not saved"
            raise
        except SyncAborted as err:
            report.error = f"{err.reason}: {err}"
        except Exception as err:
            # ccf's own errors are sentences already; others need their type to make sense.
            text = str(err) if isinstance(err, CCFError) else f"{type(err).__name__}: {err}"
            logger.error("sync of %s failed: %s", self.name, text)
            logger.debug("traceback of the failed sync of %s", self.name, exc_info=True)
            report.error = text
        finally:
            try:
                self._close_pipeline(pipeline)
            finally:
                self._close_destination(self._opened)
                held.close()
                self._known.close()
                report.duration_seconds = time.perf_counter() - started
                self._notify("ccf_sync_finished", context=context, report=report)
        return report

    def _open(self, held: contextlib.ExitStack) -> Pipeline:
        """Take the state's run lock (when it has one), open the destination, start the pipeline."""
        engine, context = self.engine, self.context
        lock = getattr(engine.state, "lock", None)
        if lock is not None:
            held.enter_context(lock(self.scope))
        self._notes = load_notes(engine.state, self.scope)
        run = RunInfo(
            self.name,
            context.run_id,
            context.full,
            cancel_event=context.cancel_event,
            notes=self._notes,
            remember=self._keep_note,
        )
        self._opened = True
        engine.destination.open(run)
        if self.options.upload_process:
            factories = worker_factories(engine.destination, engine.state)
            if factories is not None:
                try:
                    pipeline = WorkerPipeline(factories, self.scope, self.report, context.cancel_event)
                    self._changes.validates = False  # the worker checks the documents it is handed
                    return pipeline
                except OSError as err:  # no process could be started: the run goes on in this one
                    logger.warning("no upload process could be started (%s): uploading from this one", err)
        return BatchPipeline(engine.destination, engine.state, self.scope, self.report)

    def _working_set(self) -> WorkingSet:
        """The stored records of the scope, streamed from the state (reconciled when needed).

        A destination that can list what it holds (the local index) has a generation, which the
        state notes after each run. When the note is not that generation (the index file was
        deleted or replaced, the state was lost, reset or belongs to another index), the state is
        rewritten from the destination's own listing, every document marked pending: the run then
        sends every document again and, in full mode, deletes what the source no longer has.
        """
        state, destination = self.engine.state, self.engine.destination
        if (
            self.options.dry_run
            or not isinstance(destination, ListableDestination)
            or self._notes.get(GENERATION_NOTE) == destination.generation
        ):
            return filled_working_set(stream_checksums(state, self.scope))
        reason = (
            reconcile_reason(destination, self._notes, self.name) or "the state has no record of this index"
        )
        # Every document the destination holds is marked pending: the run sends each one the
        # source still has again, and deletes the others.
        held = filled_working_set(
            (doc_id, PENDING_UPDATE) for doc_id, _ in destination.list_synced(self.name)
        )
        try:
            with WorkingSet() as stale:
                stale.load(
                    (doc_id, value)
                    for doc_id, value in stream_checksums(state, self.scope)
                    if held.get(doc_id) is None
                )
                recorded = stale.recorded
                if held.recorded or recorded:
                    logger.warning("%s: full reconcile of %s with %s", reason, self.name, destination.name)
                    self.report.reconciled = reason
                    for page in in_pages(doc_id for doc_id, _ in stale.unseen()):
                        state.forget(self.scope, page)
                    for records in in_pages(held.unseen()):
                        state.record(self.scope, records)
        except BaseException:
            held.close()
            raise
        self._keep_note(GENERATION_NOTE, destination.generation)
        return held

    def _close_pipeline(self, pipeline: Pipeline | None) -> None:
        """Record what is still in flight; a failure here fails the run but never escapes it."""
        if pipeline is None:
            return
        try:
            pipeline.close()
        except Exception as err:
            logger.error("recording the last batches of %s failed: %s", self.name, err)
            self.status = RunStatus.FAILED
            self.report.error = self.report.error or f"recording the last batches failed: {err}"

    def _close_destination(self, opened: bool) -> None:
        """Close the destination with the run's outcome (always, once it was opened)."""
        report = self.report
        report.status = self.status
        if not opened:
            return
        try:
            self.engine.destination.close(self.status)
        except Exception as err:
            logger.error("closing destination %s failed: %s", self.engine.destination.name, err)
            report.status = RunStatus.FAILED
            report.error = report.error or f"closing the destination failed: {err}"

    def _documents(self, known: WorkingSet, pipeline: Pipeline | None) -> None:
        report, context, plan = self.report, self.context, self.report.plan
        progress = self.options.progress
        cancelled = context.cancel_event.is_set
        hinted = self._changes.hinted
        for item in self.connector.documents(context):
            if cancelled():
                raise SyncCancelled()
            report.scanned += 1
            if progress is not None and report.scanned % 64 == 0:
                self._progress()
            # A version hint is looked up first: an unchanged one (the common case) goes no further.
            document = hinted(item) if isinstance(item, DocumentVersion) else item
            if document is None:
                continue
            prepared = self._prepare(document, known)
            if prepared is None:
                continue
            if pipeline is not None:
                pipeline.add(prepared)
            elif plan is not None:
                self._plan(plan, prepared)
        if context.cancelled:
            raise SyncCancelled()
        self._changes.flush()
        if pipeline is not None:
            pipeline.flush()
            pipeline.drain()
        if plan is not None:
            plan.unchanged = report.unchanged

    def _prepare(self, item: Document, known: WorkingSet) -> PreparedDocument | None:
        """Transform, validate and checksum one document; None when there is nothing to send.

        ``known`` holds the recorded checksums: each id the run produces is marked seen in it,
        except a document a transform dropped, which full mode then deletes.
        """
        report = self.report
        doc = self._transformed(item, known) if self._transforming else item
        if doc is None:
            return None
        doc_id = doc.id
        previous = known.see(doc_id)
        if previous == SEEN:
            report.fail(doc_id, "duplicate_id", f"document {doc_id!r} was produced twice in this run")
            return None
        if previous == PENDING_DELETE:
            # A deletion was cut short: the destination may still hold the document. It is sent
            # as an update, so a refusal keeps a pending mark (never a state with no record).
            previous = PENDING_UPDATE
        try:
            return self._changes.changed(doc, previous)
        except OSError as err:
            report.fail(doc_id, "content_unreadable", f"document {doc_id!r}: cannot read content: {err}")
            return None

    def _plan(self, plan: PlannedChanges, prepared: PreparedDocument) -> None:
        """Count a change a dry run would make."""
        if prepared.is_new:
            plan.add.append(prepared.id)
            self.report.added += 1
        else:
            plan.update.append(prepared.id)
            self.report.updated += 1
        self.report.bytes += prepared.size

    def _transformed(self, document: Document, known: WorkingSet) -> Document | None:
        """The document after the transform hooks; None when dropped (skipped) or failed."""
        try:
            transformed = self.transforms.apply(document)
        except Exception as err:
            known.see(document.id)
            self.report.fail(document.id, "transform_error", f"document {document.id!r}: {err}")
            return None
        if transformed is None:
            self.report.skipped += 1
        return transformed

    def _groups(self, pipeline: Pipeline | None) -> None:
        groups: Iterable[Group] | None = self.connector.groups(self.context)
        if groups is None:
            return
        state = self.engine.state
        stored = state.load_checksums(self.scope, kind="group")
        changed: list[tuple[Group, str]] = []
        for group in groups:
            checksum = group_checksum(group)
            if stored.pop(group.name, None) != checksum:
                changed.append((group, checksum))
        self.report.groups = len(changed)
        removed = [name for name, value in stored.items() if self.context.full or value == PENDING_DELETE]
        if pipeline is None:
            return
        destination = self.engine.destination
        if changed:
            result = destination.put_groups([group for group, _ in changed])
            accepted = set(result.accepted)
            state.record(self.scope, [(g.name, c) for g, c in changed if g.name in accepted], kind="group")
            for failure in result.failures:
                self.report.fail(failure.document_id, failure.reason, failure.message)
        if removed:
            state.record(self.scope, [(name, PENDING_DELETE) for name in removed], kind="group")
            result = destination.delete_groups(removed)
            state.forget(self.scope, result.accepted, kind="group")
            for failure in result.failures:
                self.report.fail(failure.document_id, failure.reason, failure.message)

    def _check_error_budget(self) -> None:
        report = self.report
        budget = self.options.error_budget
        if report.failed and report.failed > budget * max(report.scanned, 1):
            raise ErrorBudgetExceeded(
                "error_budget",
                f"{report.failed} of {report.scanned} documents failed, more than the error budget "
                f"of {budget:.0%}: the run failed, nothing was deleted and the checkpoint was not saved "
                "(accepted documents stay recorded)",
            )

    def _save_checkpoint(self) -> None:
        checkpoint = self.context.next_checkpoint
        if checkpoint is None or self.options.dry_run:
            return
        retryable = [reason for reason in self.report.failures_by_reason if reason not in PERMANENT_REASONS]
        if not self.context.full and retryable:
            logger.warning(
                "checkpoint of %s not advanced: %d documents failed for reasons a retry may fix (%s); "
                "the next run will list them again",
                self.name,
                self.report.failed,
                ", ".join(sorted(retryable)),
            )
            return
        self.engine.state.save_checkpoint(self.scope, checkpoint)

    # hooks and progress ----------------------------------------------------------------------

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call every observer of a hook, each on its own, so one that raises silences no other."""
        hook = getattr(self.engine.plugin_manager.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            try:
                impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception:
                logger.exception(
                    "the %s hook of plugin %s raised; the run goes on", hook_name, impl.plugin_name
                )

    def _progress(self) -> None:
        now = time.monotonic()
        if now >= self._next_progress and self.options.progress is not None:
            self._next_progress = now + self.options.progress_interval
            self.options.progress(self.report)
