"""How a sync run behaves: the options of the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ccf_core.report import SyncReport


@dataclass(frozen=True)
class SyncOptions:
    """How a run behaves.

    Attributes:
        full: force a full pass for an incremental connector (ignore the checkpoint, find deletions).
        dry_run: compute the plan without writing to the destination or the state.
        allow_mass_delete: allow a run to delete more than ``max_delete_fraction`` of the index.
        max_delete_fraction: the share of the index a run may delete without ``allow_mass_delete``.
        error_budget: the share of scanned documents that may fail before the run counts as failed.
        progress: called with the report now and then during the run (for progress displays).
        progress_interval: seconds between two progress calls.
        upload_process: run the upload pipeline (batches, the destination's calls, the state's
            writes) in a second process, when the destination and the state store can be built
            there (see :mod:`ccf_core.upload_worker`): a second core takes a third of a CPU-bound
            sync's work. Otherwise, or with False, it runs in the engine's process.
    """

    full: bool = False
    dry_run: bool = False
    allow_mass_delete: bool = False
    max_delete_fraction: float = 0.5
    error_budget: float = 0.1
    progress: Callable[[SyncReport], None] | None = None
    progress_interval: float = 0.25
    upload_process: bool = False
