"""ccf core: models, hooks, plugin loading and the sync engine of the ccf connector framework."""

from ccf_core.connector import Connector, EmptyConfig, SyncContext, SyncMode
from ccf_core.content_types import ContentType
from ccf_core.engine import SyncEngine, SyncOptions
from ccf_core.errors import (
    CCFError,
    ConnectorConfigError,
    ConnectorNotFoundError,
    DocumentRejected,
    ErrorBudgetExceeded,
    MassDeleteRefused,
    PluginLoadError,
    SyncAborted,
    SyncCancelled,
)
from ccf_core.hookspecs import PROJECT_NAME, hookimpl
from ccf_core.interface import QBusinessCustomConnectorInterface
from ccf_core.models import (
    AccessControl,
    AccessType,
    AttributeValue,
    Document,
    DocumentFile,
    DocumentMetadata,
    DocumentVersion,
    Group,
    MemberRelation,
    MembershipType,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.ports import BatchLimits, BatchResult, Destination, PreparedDocument, RunInfo, StateStore
from ccf_core.report import Failure, RunStatus, SyncReport

__all__ = [
    "PROJECT_NAME",
    "AccessControl",
    "AccessType",
    "AttributeValue",
    "BatchLimits",
    "BatchResult",
    "CCFError",
    "Connector",
    "ConnectorConfigError",
    "ConnectorNotFoundError",
    "ContentType",
    "Destination",
    "Document",
    "DocumentFile",
    "DocumentMetadata",
    "DocumentRejected",
    "DocumentVersion",
    "EmptyConfig",
    "ErrorBudgetExceeded",
    "Failure",
    "Group",
    "MassDeleteRefused",
    "MemberRelation",
    "MembershipType",
    "PluginLoadError",
    "PreparedDocument",
    "Principal",
    "PrincipalGroup",
    "PrincipalUser",
    "QBusinessCustomConnectorInterface",
    "RunInfo",
    "RunStatus",
    "StateStore",
    "SyncAborted",
    "SyncCancelled",
    "SyncContext",
    "SyncEngine",
    "SyncMode",
    "SyncOptions",
    "SyncReport",
    "hookimpl",
]
