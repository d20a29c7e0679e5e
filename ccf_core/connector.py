"""The connector base class and the context a run hands to it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from ccf_core.errors import ConnectorConfigError
from ccf_core.models.acl import Group
from ccf_core.models.document import Document, DocumentVersion
from ccf_core.report import Failure


class SyncMode(StrEnum):
    """How a connector lists its documents.

    ``full``: every run yields every document, so the engine finds deletions itself.
    ``incremental``: a run yields what changed since the checkpoint and reports deletions
    through ``deleted_document_ids``.
    """

    FULL = "full"
    INCREMENTAL = "incremental"


class EmptyConfig(BaseModel):
    """The config of a connector that takes no settings."""

    model_config = ConfigDict(extra="forbid")


def validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(field, problem)`` pairs; input values are never included."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(config)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        problems.append((location, message))
    return problems


@dataclass
class SyncContext:
    """What a connector gets during a run.

    Attributes:
        connector: the connector's name.
        config: the validated config model.
        mode: the mode of this run (``full`` when an incremental connector is forced to a full pass).
        checkpoint: the checkpoint saved by the last completed run (``None`` on a full pass).
        logger: a logger named after the connector.
        run_id: an id unique to this run.
        kept_ids: ids a full run must not delete though it did not list them (see :meth:`keep`).
        kept_prefixes: id prefixes protected the same way (see :meth:`keep_prefix`).
        problems: parts of the source that could not be listed (see :meth:`report_problem`).
    """

    connector: str
    config: BaseModel
    mode: SyncMode
    checkpoint: dict[str, Any] | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("ccf.connector"))
    run_id: str = ""
    cancel_event: threading.Event = field(default_factory=threading.Event)
    next_checkpoint: dict[str, Any] | None = None
    kept_ids: set[str] = field(default_factory=set)
    kept_prefixes: set[str] = field(default_factory=set)
    problems: list[Failure] = field(default_factory=list)
    version_lookup: Callable[[str], str | None] = field(default=lambda _doc_id: None, repr=False)

    @property
    def full(self) -> bool:
        """True when this run lists everything (deletions are then found by the engine)."""
        return self.mode is SyncMode.FULL

    @property
    def cancelled(self) -> bool:
        """True once the run was asked to stop; long loops in a connector should check it."""
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the run to stop at the next document."""
        self.cancel_event.set()

    def previous_version(self, document_id: str) -> str | None:
        """The version an earlier run recorded for ``document_id`` (for conditional requests).

        None when the document was never synced, had no version, or its version was too long to
        store as it is.
        """
        return self.version_lookup(document_id)

    def keep(self, document_id: str) -> None:
        """Protect a previously synced document that this run could not list.

        A full run deletes every recorded id it did not produce, except kept ones: call this for
        an item whose listing failed for a reason that says nothing about whether it still exists
        (a timeout, a 5xx, a 403), so its indexed copy stays.
        """
        self.kept_ids.add(document_id)

    def keep_prefix(self, prefix: str) -> None:
        """Protect every previously synced id that starts with ``prefix`` (a whole scope that failed).

        For example a project that answered 403 keeps all of its documents until it can be listed.
        """
        self.kept_prefixes.add(prefix)

    def report_problem(self, subject: str, reason: str, message: str) -> None:
        """Name a part of the source that could not be listed (a project, a site, a folder) in the report.

        Unlike a failed document it does not count against the error budget; the run ends
        ``completed_with_failures`` (exit code 3) and the report lists it. Pair it with
        :meth:`keep_prefix` or :meth:`keep` so what that part held stays indexed.

        Args:
            subject: what could not be listed, as a person would name it (``acme/platform``).
            reason: a short machine-readable word (``forbidden``, ``unavailable``, ``timeout``).
            message: one line saying what happened and what stays.
        """
        self.problems.append(Failure(subject, reason, message))

    def is_kept(self, document_id: str) -> bool:
        """True when ``document_id`` is protected from deletion by :meth:`keep` or :meth:`keep_prefix`."""
        if document_id in self.kept_ids:
            return True
        return any(document_id.startswith(prefix) for prefix in self.kept_prefixes)

    def set_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        """Set the checkpoint to save when (and only if) this run completes.

        Raises:
            TypeError: when the checkpoint is not JSON (it is stored as JSON, locally or in the
                CCF backend, so a datetime or a set must be turned into a string or a list first).
        """
        try:
            json.dumps(checkpoint, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise TypeError(f"the checkpoint of {self.connector} must be JSON-serialisable: {err}") from None
        self.next_checkpoint = dict(checkpoint)


class Connector:
    """Base class of a connector: implement ``documents`` and, if needed, the optional methods.

    Class attributes:
        name: the connector's name (also its entry-point name and ``ccf-run --connector`` value).
        Config: a pydantic model of its settings; use ``extra="forbid"`` and ``SecretStr`` for secrets.
        sync_mode: ``SyncMode.FULL`` (default) or ``SyncMode.INCREMENTAL``.
        description: one line shown by ``ccf-run --list``.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    sync_mode: ClassVar[SyncMode] = SyncMode.FULL
    description: ClassVar[str] = ""

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Self:
        """Validate raw settings into ``Config`` and build the connector.

        Raises:
            ConnectorConfigError: with one ``(field, problem)`` pair per invalid field.
        """
        try:
            config = cls.Config.model_validate(dict(raw))
        except ValidationError as err:
            raise ConnectorConfigError(cls.name, validation_problems(err)) from None
        return cls(config)

    def documents(self, context: SyncContext) -> Iterable[Document | DocumentVersion]:
        """Yield the documents to add or update (in full mode: every document).

        A :class:`DocumentVersion` stands for a document the engine loads only when its version
        differs from the one last synced.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement documents(context)")

    def deleted_document_ids(self, context: SyncContext) -> Iterable[str]:
        """Yield ids deleted at the source since the checkpoint (incremental connectors)."""
        return ()

    def groups(self, context: SyncContext) -> Iterable[Group] | None:
        """Yield the groups used in ACLs with their members, or ``None`` if not managed."""
        return None
