"""The exceptions ccf raises. Everything derives from :class:`CCFError`."""

from __future__ import annotations


class CCFError(Exception):
    """Root of every error ccf raises on purpose."""


class ConnectorConfigError(CCFError):
    """A connector's configuration is invalid; ``problems`` holds ``(field, problem)`` pairs."""

    def __init__(self, connector: str, problems: list[tuple[str, str]]) -> None:
        self.connector = connector
        self.problems = problems
        lines = "\n".join(f"{field}: {problem}" for field, problem in problems)
        super().__init__(f"invalid configuration for connector {connector!r}:\n{lines}")


class ConnectorNotFoundError(CCFError):
    """No installed plugin provides the connector that was asked for."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        listed = ", ".join(sorted(available)) or "none"
        super().__init__(f"no connector named {name!r} is installed (installed connectors: {listed})")


class DestinationNotFoundError(CCFError):
    """No plugin registered the destination that was asked for."""


class PluginLoadError(CCFError):
    """A plugin's entry point could not be imported or registered."""

    def __init__(self, plugin: str, cause: BaseException) -> None:
        self.plugin = plugin
        self.cause = cause
        super().__init__(f"plugin {plugin!r} failed to load: {type(cause).__name__}: {cause}")


class DocumentRejected(CCFError):
    """A single document cannot be synced; the run goes on without it."""

    def __init__(self, document_id: str, reason: str, message: str) -> None:
        self.document_id = document_id
        self.reason = reason
        self.message = message
        super().__init__(f"document {document_id!r} rejected ({reason}): {message}")


class SyncAborted(CCFError):
    """The engine stopped a run on purpose (mass-delete guard, error budget); nothing was deleted."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class MassDeleteRefused(SyncAborted):
    """A run would delete more of the index than allowed; no deletion was made."""


class ErrorBudgetExceeded(SyncAborted):
    """Too many documents were rejected for the run to count as a success."""


class SyncCancelled(CCFError):
    """The run was stopped by a signal or a cancellation request."""


class RunLocked(SyncAborted):
    """Another run of the same connector, on the same state, is under way; this one did nothing."""

    def __init__(self, scope: str, holder: str) -> None:
        self.scope = scope
        self.holder = holder
        super().__init__(
            "locked",
            f"another run of {scope} is under way ({holder}); this run did nothing. Wait for it to "
            "end, or stop it, then run again",
        )
