"""The document a connector yields: content (a file or bytes in memory), metadata and ACLs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ccf_core.content_types import ContentType, content_type_from_path
from ccf_core.models.acl import AccessControl, MemberRelation

CHUNK_SIZE = 1 << 20

#: An attribute value keeps its Q Business type: string, string list, long or date. Other types are
#: reported per document by validation (the document is rejected, the run goes on).
AttributeValue = str | list[str] | int | datetime


class DocumentFile:
    """Document content stored in a file on disk. The file is read when the document is synced."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Path(path) parses a Path again; connectors that already hold one keep it as it is.
        self.path = path if isinstance(path, Path) else Path(path)

    def __repr__(self) -> str:
        return f"DocumentFile({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentFile) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def infer_content_type(self) -> ContentType | None:
        """The content type implied by the file's extension, if any."""
        return content_type_from_path(self.path)

    def size(self) -> int:
        """The file's size in bytes."""
        return self.path.stat().st_size

    def version(self) -> str:
        """A cheap version of the file: its size and modification time (no read)."""
        return self.version_of(os.stat(self.path))

    @staticmethod
    def version_of(stat: os.stat_result) -> str:
        """The :meth:`version` of a file whose status is ``stat``."""
        return f"{stat.st_size}-{stat.st_mtime_ns}"


def _as_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: A datetime put in UTC (naive ones taken as UTC); the validator runs for set values only.
_UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


#: Attribute value types the normalisation keeps as they are.
_KEPT_AS_THEY_ARE = frozenset({str, int, list})


class DocumentMetadata(BaseModel):
    """What Q Business stores beside the content.

    Attributes keep their type: ``str`` is a string, ``list[str]`` a string list, ``int`` a long and a
    ``datetime`` or ``date`` a date (naive values are taken as UTC). ``None`` values are dropped. A
    value of any other type does not stop the connector: validation rejects that one document.
    ``access_control_relation`` says how the entries of ``access_control_list`` combine.
    """

    model_config = ConfigDict(extra="forbid")

    title: str
    source_uri: str | None = None
    created_at: _UtcDatetime | None = None
    last_updated_at: _UtcDatetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    access_control_list: list[AccessControl] = Field(default_factory=list)
    access_control_relation: MemberRelation = MemberRelation.OR

    @field_validator("attributes", mode="before")
    @classmethod
    def _normalise_attributes(cls, value: Any) -> Any:
        """Drop ``None`` values, put dates in UTC, turn tuples into lists; types are checked later."""
        if type(value) is dict and _KEPT_AS_THEY_ARE.issuperset(map(type, value.values())):
            return value  # the common case, checked without a loop in Python (pydantic copies it)
        if not isinstance(value, Mapping):
            return value
        normalised: dict[Any, Any] = {}
        for name, item in value.items():
            kind = type(item)
            if kind is str or kind is int or kind is list:  # the common types, kept as they are
                normalised[name] = item
            elif isinstance(item, date):
                normalised[name] = _as_utc(item)
            elif isinstance(item, tuple):
                normalised[name] = list(item)
            elif item is not None:
                normalised[name] = item
        return normalised


class Document(BaseModel):
    """One document to add or update.

    Give the content as ``file=DocumentFile(path)`` or as ``content=`` bytes or text (text is
    stored as UTF-8 and is plain text unless ``content_type`` says otherwise). ``content_type`` is
    inferred from the file name, then from ``metadata.source_uri``, when not given.

    ``version`` is an optional cheap version of the item (an ETag, a blob SHA, an updated-at): when
    the version and the metadata are the ones last synced, the engine counts the document unchanged
    without reading its content. A ``DocumentFile`` without a version uses its size and mtime.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    id: str
    metadata: DocumentMetadata
    file: DocumentFile | None = None
    content: bytes | None = None
    content_type: ContentType | None = None
    version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_content(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            data = dict(data)
            data["content"] = data["content"].encode("utf-8")
            if data.get("content_type") is None:
                data["content_type"] = ContentType.PLAIN_TEXT
        return data

    @model_validator(mode="after")
    def _one_content(self) -> Document:
        if (self.file is None) == (self.content is None):
            raise ValueError(f"document {self.id!r}: give exactly one of file= or content=")
        return self

    def resolved_content_type(self) -> ContentType | None:
        """The declared content type, else the one the file name or source URI implies."""
        if self.content_type is not None:
            return self.content_type
        if self.file is not None:
            found = self.file.infer_content_type()
            if found is not None:
                return found
        if self.metadata.source_uri:
            return content_type_from_path(urlsplit(self.metadata.source_uri).path)
        return None

    def iter_content(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The content in chunks, without holding a whole file in memory."""
        if self.content is not None:
            yield self.content
            return
        assert self.file is not None
        # os.read on a raw descriptor costs half of a buffered open() for the many small files
        # a typical connector yields.
        descriptor = os.open(self.file.path, os.O_RDONLY)
        try:
            while chunk := os.read(descriptor, chunk_size):
                yield chunk
        finally:
            os.close(descriptor)

    def read_bytes(self) -> bytes:
        """The whole content. Destinations that must send it in one piece use this."""
        if self.content is not None:
            return self.content
        assert self.file is not None
        return self.file.path.read_bytes()

    def size(self) -> int:
        """The content's size in bytes."""
        if self.content is not None:
            return len(self.content)
        assert self.file is not None
        return self.file.size()


class DocumentVersion(NamedTuple):
    """A document known only by its id and cheap version; loaded only when it changed.

    Yield it from ``documents()`` in place of a :class:`Document` to skip a download: when the
    version recorded for ``id`` by an earlier run equals ``version``, the document counts as
    unchanged and ``load`` is never called. Otherwise the engine calls ``load()`` once; it returns
    the :class:`Document` (whose ``version`` defaults to this one), or ``None`` when the item is
    gone (a full run then deletes it like any id it did not list).

    (A named tuple: a connector makes one for every item of every run, at a third of the cost of a
    frozen dataclass.)
    """

    id: str
    version: str
    load: Callable[[], Document | None]
