"""The hooks a ccf plugin can implement. These docstrings are the plugin author's reference.

A plugin is a module (or object) with functions marked ``@hookimpl``, published through an entry
point in the ``ccf`` group::

    [project.entry-points.ccf]
    hello = "hello_connector.plugin"

Every hook name starts with ``ccf_``; a misspelled hook makes loading fail loudly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ccf_core.connector import SyncContext
    from ccf_core.models.document import Document
    from ccf_core.registry import ConnectorRegistry, DestinationRegistry
    from ccf_core.report import SyncReport

#: The one name of the project: entry-point group, plugin manager and hook markers.
PROJECT_NAME = "ccf"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ccf_register_connectors(registry: ConnectorRegistry) -> None:
    """Register connector classes.

    Called once per plugin when the plugin manager is built, before any run.

    Args:
        registry: call ``registry.register(MyConnector)`` for each connector class the plugin
            provides. The connector's ``name`` must equal the plugin's entry-point name.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def ccf_register_destinations(registry: DestinationRegistry) -> None:
    """Register destinations documents can be synced to.

    Called once per plugin when the plugin manager is built. The built-in ``local`` index and the
    ``qbusiness`` destination register through this same hook.

    Args:
        registry: call ``registry.register(name, factory, description=...)``; ``factory`` is called
            with keyword options (such as ``path=`` or ``app_id=``) and returns a ``Destination``.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def ccf_transform_document(document: Document, context: SyncContext) -> Document | None:
    """Change or drop a document before change detection (enrichment, redaction).

    Called for every document a connector yields, before it is validated and checksummed, so a
    change made here is detected as a change. Plugins are called in turn, each receiving the
    result of the previous one.

    Args:
        document: the document as the connector (or the previous plugin) produced it.
        context: the run's context (connector name, config, logger).

    Returns:
        A changed document (for example ``document.model_copy(update=...)``), the same document,
        or ``None`` to drop it: a dropped document is counted as skipped and is not uploaded.
    """


@hookspec
def ccf_sync_started(context: SyncContext) -> None:
    """Observe the start of a run (metrics, alerts).

    Called once, after the connector and its config are ready and before the first document is
    read. An exception raised here is logged and does not stop the run.

    Args:
        context: the run's context.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def ccf_sync_finished(context: SyncContext, report: SyncReport) -> None:
    """Observe the end of a run, in every outcome (succeeded, failed, stopped).

    An exception raised here is logged and does not change the run's outcome.

    Args:
        context: the run's context.
        report: the final report (counters, failures, status).

    Returns:
        Nothing; the return value is ignored.
    """
