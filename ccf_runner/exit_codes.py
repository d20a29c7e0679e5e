"""The exit codes of ``ccf-run``, and the text that documents them in ``ccf-run --help``."""

from __future__ import annotations

#: The run completed and every document was synced.
SUCCESS = 0
#: The run failed (error budget exceeded, mass delete refused, destination down, a plugin failed to load).
FAILED = 1
#: The command line was wrong (click's own usage errors).
USAGE = 2
#: The run completed, but some documents were rejected or some of the source could not be listed; both
#: are listed in the report, and retried next run.
COMPLETED_WITH_REJECTED_DOCUMENTS = 3
#: The configuration is invalid (connector settings, destination or state options); nothing was done.
BAD_CONFIGURATION = 4
#: No installed plugin provides the connector that was asked for.
CONNECTOR_NOT_FOUND = 5
#: Another run of the same connector on the same state was under way; this one did nothing.
LOCKED = 6
#: The run was stopped by SIGINT or SIGTERM; accepted documents stay recorded, the checkpoint is not saved.
STOPPED = 130

#: The epilog of ``ccf-run --help`` (``\b`` keeps click from re-wrapping the lines).
EXIT_CODES_HELP = f"""\b
Exit codes:
  {SUCCESS:<4} succeeded: every document was synced
  {FAILED:<4} failed: nothing deleted, checkpoint not saved (see the report's error)
  {USAGE:<4} wrong command line
  {COMPLETED_WITH_REJECTED_DOCUMENTS:<4} completed, but documents were rejected or parts of the source
       could not be listed (both named in the report)
  {BAD_CONFIGURATION:<4} invalid configuration: nothing was done
  {CONNECTOR_NOT_FOUND:<4} no such connector installed (see --list)
  {LOCKED:<4} another run of this connector on the same state is under way: nothing done
  {STOPPED:<4} stopped by SIGINT/SIGTERM: accepted documents stay recorded
"""
