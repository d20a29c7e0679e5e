"""The deletion pass of a run: which ids it deletes, counted before any is deleted.

A run deletes the ids its connector names, the deletions an earlier run started and did not see
through, and, in full mode, every recorded id it did not produce (except the ones the connector
kept). The mass-deletion guard counts them all first; the stored ids are streamed from the working
set each time, never held in a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ccf_core.checksum import PENDING_DELETE
from ccf_core.connector import SyncContext
from ccf_core.errors import MassDeleteRefused, SyncCancelled
from ccf_core.options import SyncOptions
from ccf_core.report import SyncReport
from ccf_core.working_set import SEEN, WorkingSet

_UNFINISHED, _GONE, _KEPT = "unfinished", "gone", "kept"


def planned_deletions(
    named: Iterable[str], known: WorkingSet, context: SyncContext, report: SyncReport, options: SyncOptions
) -> Iterable[str]:
    """Explicit deletions, unfinished ones and, in full mode, every recorded id this run did not produce.

    Args:
        named: the ids the connector says were deleted.
        known: the run's working set (stored records, and which ids the run produced).
        context: the run's context (mode, kept ids and prefixes, cancellation).
        report: the run's report; ``kept`` is counted, and in a dry run ``deleted`` and the plan.
        options: the run's options (the mass-deletion guard).

    Returns:
        The ids to delete, streamed: the explicit ones, then the stored ones in id order.

    Raises:
        MassDeleteRefused: the run would delete more of the index than the options allow.
        SyncCancelled: the run was asked to stop while the connector listed its deletions.
    """
    explicit = list(dict.fromkeys(named))
    if context.cancelled:
        raise SyncCancelled()
    chosen = set(explicit)
    full = context.full
    filtering = bool(context.kept_ids or context.kept_prefixes)

    def recorded() -> Iterator[tuple[str, str]]:
        """``(id, why)`` of each stored id this run did not produce, besides the explicit ones:
        ``unfinished``, ``gone`` (full mode) or ``kept`` (full mode, kept by the connector)."""
        for doc_id, value in known.unseen():
            if doc_id in chosen:
                continue
            if value == PENDING_DELETE:
                # A deletion an earlier run started but did not see through, whatever this
                # run's mode.
                yield doc_id, _UNFINISHED
            elif full:
                yield doc_id, _KEPT if filtering and context.is_kept(doc_id) else _GONE

    # One pass counts everything. Unfinished deletions were allowed by the run that started them:
    # only new ones count against the guard.
    in_index = sum(1 for doc_id in explicit if known.get(doc_id) not in (None, SEEN, PENDING_DELETE))
    total, kept = len(explicit), 0
    for _, why in recorded():
        if why == _KEPT:
            kept += 1
        else:
            total += 1
            in_index += why == _GONE
    if full and filtering:
        report.kept = kept

    def deletions() -> Iterator[str]:
        yield from explicit
        yield from (doc_id for doc_id, why in recorded() if why != _KEPT)

    if report.plan is not None:
        report.plan.delete = list(deletions())
        report.deleted = total
    index_size = known.recorded
    limit = options.max_delete_fraction * index_size
    if index_size and in_index > limit and not options.allow_mass_delete:
        raise MassDeleteRefused(
            "mass_delete",
            f"this run would delete {in_index} of the {index_size} documents in the index "
            f"({in_index / index_size:.0%}, more than the {options.max_delete_fraction:.0%} "
            "allowed); nothing was deleted. If the source really lost that many documents, "
            "run again with --allow-mass-delete",
        )
    return deletions()
