"""Checksums that tell whether a document changed since it was last synced.

The checksum covers the id, the content type, the title, the source URI, the typed attributes,
the access controls and the content. Timestamps are left out, so a source that only touches
``last_updated_at`` does not cause an upload. The encoding is canonical JSON, so the value is
the same in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any, NamedTuple

from ccf_core.content_types import ContentType
from ccf_core.models.acl import AccessControl, Group
from ccf_core.models.document import CHUNK_SIZE, AttributeValue, Document, DocumentFile

#: Bumped when the encoding changes, so that old checksums never match new ones by accident.
CHECKSUM_VERSION = 1


#: The type tag of each attribute value in the fingerprint (part of every stored checksum).
_STRING, _LIST, _DATE, _NUMBER = "s", "l", "d", "n"

#: A string as JSON writes it, non-ASCII kept (json's C function when it has one).
_quote: Callable[[str], str] = encode_basestring
#: The tags of the common types as JSON, for the fingerprint's inline path.
_STRING_JSON, _NUMBER_JSON = _quote(_STRING), _quote(_NUMBER)


def _attribute(value: AttributeValue) -> list[Any]:
    if isinstance(value, str):
        return [_STRING, value]
    if isinstance(value, list):
        return [_LIST, value]
    if isinstance(value, datetime):
        return [_DATE, value.isoformat()]
    return [_NUMBER, value]


def _acl(controls: list[AccessControl]) -> list[Any]:
    encoded: list[Any] = []
    for control in controls:
        principals = []
        for principal in control.principals:
            if principal.user is not None:
                member = principal.user
                principals.append(["u", member.id, member.access.value, member.membership_type])
            elif principal.group is not None:
                group = principal.group
                principals.append(["g", group.name, group.access.value, group.membership_type])
        encoded.append([control.member_relation.value, principals])
    return encoded


def metadata_fingerprint(document: Document, content_type: ContentType | None = None) -> bytes:
    """The canonical encoding of everything but the content and the timestamps.

    Compact UTF-8 JSON of ``[CHECKSUM_VERSION, id, content type, title, source URI, attributes,
    access control relation, ACL]``, the attributes as ``[name, type tag, value]`` sorted by name.
    It is written here directly, each string escaped by ``json``'s own function, in the bytes a
    JSON encoder writes (a test holds the two equal): an encoder's walk of the payload cost a fifth
    of an unchanged document's time. Uncommon values (lists, dates, ACLs) go through the encoder.
    """
    meta = document.metadata
    if content_type is None:
        content_type = document.resolved_content_type()
    attributes = meta.attributes
    controls = meta.access_control_list
    uri = meta.source_uri
    # String enums (content type, relation) are strings: JSON writes their value.
    return (
        f"[{CHECKSUM_VERSION},{_quote(document.id)},"
        f"{'null' if content_type is None else _quote(content_type)},{_quote(meta.title)},"
        f"{'null' if uri is None else _quote(uri)},[{_attributes_json(attributes) if attributes else ''}],"
        f"{_quote(meta.access_control_relation)},{_encode_fingerprint(_acl(controls)) if controls else '[]'}]"
    ).encode()


def _attributes_json(attributes: dict[str, Any]) -> str:
    """The attributes of a fingerprint, without their brackets: ``[name, tag, value]`` by name."""
    encoded = []
    for name in sorted(attributes):
        value = attributes[name]
        kind = type(value)  # exact types: a subclass (bool is one of int) goes through _attribute
        if kind is str:
            encoded.append(f"[{_quote(name)},{_STRING_JSON},{_quote(value)}]")
        elif kind is int:
            encoded.append(f"[{_quote(name)},{_NUMBER_JSON},{value}]")
        else:
            encoded.append(_encode_fingerprint([name, *_attribute(value)]))
    return ",".join(encoded)


def prebuilt_json_encoder(
    default: Callable[[Any], Any], *, ensure_ascii: bool, separators: tuple[str, str]
) -> Callable[[Any], str]:
    """``json.JSONEncoder(...).encode`` with these options, its C encoder built once.

    ``JSONEncoder.encode`` builds the C encoder anew on each call; the same encoder, built once,
    writes the same text in a fraction of the time. No circular check: the values encoded are
    built fresh for each call (a self-containing list fails as a RecursionError).
    """
    item_separator, key_separator = separators
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators, default=default).encode
    escape = encode_basestring_ascii if ensure_ascii else encode_basestring
    make = c_make_encoder(None, default, escape, None, key_separator, item_separator, False, False, True)

    def encode(value: Any) -> str:
        return "".join(make(value, 0))

    return encode


#: Compact JSON of a fingerprint payload, non-ASCII kept, unknown types as ``str()``.
_encode_fingerprint = prebuilt_json_encoder(str, ensure_ascii=False, separators=(",", ":"))


def document_checksum(
    document: Document, content_type: ContentType | None = None, fingerprint: bytes | None = None
) -> tuple[str, int]:
    """Return ``(sha256 hex digest, content size in bytes)``; the content is read once, in chunks.

    ``content_type`` is the document's resolved content type and ``fingerprint`` its
    :func:`metadata_fingerprint`, when the caller already has them.
    """
    checksum, size, _ = checksum_and_content(document, content_type, fingerprint)
    return checksum, size


def checksum_and_content(
    document: Document, content_type: ContentType | None = None, fingerprint: bytes | None = None
) -> tuple[str, int, bytes | None]:
    """:func:`document_checksum`, plus the content when it was read in one chunk (else None).

    A destination can send those bytes instead of reading the file again; a larger content is
    never held whole.
    """
    if fingerprint is None:
        fingerprint = metadata_fingerprint(document, content_type)
    digest = _started_digest(fingerprint)
    if document.content is not None:
        content = document.content
        digest.update(content)
        return digest.hexdigest(), len(content), content
    if reads_its_file(document):
        assert document.file is not None
        descriptor = os.open(document.file.path, os.O_RDONLY)
        try:
            return _read_into(digest, descriptor)
        finally:
            os.close(descriptor)
    size = chunks = 0
    content = b""
    for chunk in document.iter_content():
        chunks += 1
        content = chunk
        size += len(chunk)
        digest.update(chunk)
    return digest.hexdigest(), size, content if chunks <= 1 else None


def reads_its_file(document: Document) -> bool:
    """Whether the document's content is its file as it is (the engine may open it itself)."""
    return document.file is not None and type(document).iter_content is Document.iter_content


def file_checksum_and_version(document: Document, fingerprint: bytes) -> tuple[str, int, bytes | None, str]:
    """:func:`checksum_and_content` of a document that :func:`reads_its_file`, and the file's
    :meth:`~ccf_core.models.document.DocumentFile.version`, from the file it read.

    One open instead of a ``stat`` of the path then an open: for a new file both are needed. The
    version is taken before the read: a file written meanwhile is read again by the next run.
    """
    assert document.file is not None
    descriptor = os.open(document.file.path, os.O_RDONLY)
    try:
        status = os.fstat(descriptor)
        digest = _started_digest(fingerprint)
        return *_read_into(digest, descriptor, status.st_size), DocumentFile.version_of(status)
    finally:
        os.close(descriptor)


def _started_digest(fingerprint: bytes) -> Any:
    """The SHA-256 of a checksum, fed the metadata and the separator; the content comes next."""
    return hashlib.sha256(fingerprint + b"\x00")


def _read_into(digest: Any, descriptor: int, expected: int = -1) -> tuple[str, int, bytes | None]:
    """Read an open file with ``os.read`` into ``digest``: the checksum, size and (one chunk) content.

    ``expected`` is the file's size when the caller took it (``fstat``, with the version): the first
    read asks for that many bytes (for a small file, a buffer of its size rather than of a 1 MiB
    chunk), and one that gets them is taken as the whole file, without a read that finds the end.
    A file that grows meanwhile has a new size and mtime, so the next run reads it again; a size of
    0 is never trusted (files of ``/proc`` say 0).
    """
    content = os.read(descriptor, expected if 0 < expected <= CHUNK_SIZE else CHUNK_SIZE)
    digest.update(content)
    size = len(content)
    whole: bytes | None = content
    if size == expected and size > 0:
        return digest.hexdigest(), size, whole
    while chunk := os.read(descriptor, CHUNK_SIZE):
        whole = None
        size += len(chunk)
        digest.update(chunk)
    return digest.hexdigest(), size, whole


def group_checksum(group: Group) -> str:
    """A checksum of a group's name and members (order-insensitive)."""
    payload = [CHECKSUM_VERSION, group.name, sorted(set(group.users)), sorted(set(group.groups))]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode("utf-8")).hexdigest()


#: What the state holds for an id while its deletion is under way: written before the destination
#: is asked to delete, removed once it did. A run killed in between finds it and deletes again, or
#: sends the document again if the source still has it, so the state never claims a document the
#: destination may have lost. (64 characters: the CCF API wants checksums of 32 or more.)
PENDING_DELETE = "pending-delete-" + "0" * 49

#: What the state holds for a document while a new version of it is being sent: the destination
#: may hold either version until the batch is recorded, so a run killed in between makes the next
#: run send it again, whatever the source then says.
PENDING_UPDATE = "pending-update-" + "0" * 49

#: Versions longer than this are stored as a hash (the CCF API keeps at most 512 characters).
MAX_STORED_VERSION = 300
_HASHED_VERSION = "~sha256:"


def metadata_key(fingerprint: bytes) -> str:
    """A short hash of a :func:`metadata_fingerprint`, stored beside a version."""
    return hashlib.sha256(fingerprint).hexdigest()[:16]


def stored_version(version: str) -> str:
    """The form a connector's version is stored and compared in (long ones hashed)."""
    if len(version) <= MAX_STORED_VERSION and not version.startswith(_HASHED_VERSION):
        return version
    return _HASHED_VERSION + hashlib.sha256(version.encode("utf-8")).hexdigest()


def _same_version(stored: str, version: str) -> bool:
    """Whether ``stored`` is :func:`stored_version` of ``version`` (without hashing a short one)."""
    if stored == version:  # the common case: a short version, stored as it is
        return len(version) <= MAX_STORED_VERSION and not version.startswith(_HASHED_VERSION)
    return stored.startswith(_HASHED_VERSION) and stored == stored_version(version)


class SyncRecord(NamedTuple):
    """What the state keeps for a synced document.

    ``checksum`` covers metadata and content; ``metadata`` (a :func:`metadata_key`) and ``version``
    are there only for a document that had a version, so the next run can count it unchanged
    without reading its content. (A named tuple: one is decoded for every document of every run.)
    """

    checksum: str
    metadata: str | None = None
    version: str | None = None

    def encode(self) -> str:
        """``checksum`` alone, or ``checksum:metadata:version``."""
        if self.version is None or self.metadata is None:
            return self.checksum
        return f"{self.checksum}:{self.metadata}:{stored_version(self.version)}"

    @classmethod
    def decode(cls, value: str) -> SyncRecord:
        """Read a stored value (a bare checksum from earlier releases is a record without version)."""
        checksum, separator, rest = value.partition(":")
        if not separator:
            return cls(value)
        metadata, _, version = rest.partition(":")
        return cls(checksum, metadata, version)

    @staticmethod
    def matches(value: str, metadata: str, version: str) -> bool:
        """Whether the encoded record ``value`` holds this metadata key and (stored) version.

        Compared without decoding: this runs for every versioned document of every run.
        """
        _, separator, rest = value.partition(":")
        if not separator:
            return False
        stored_metadata, _, stored = rest.partition(":")
        return stored_metadata == metadata and _same_version(stored, version)

    @staticmethod
    def checksum_of(value: str) -> str:
        """The checksum of an encoded record, without decoding the rest."""
        return value.partition(":")[0]

    @staticmethod
    def has_version(value: str, version: str) -> bool:
        """Whether the encoded record ``value`` holds ``version``, without decoding it."""
        _, separator, rest = value.partition(":")
        return bool(separator) and _same_version(rest.partition(":")[2], version)

    def readable_version(self) -> str | None:
        """The connector's version as given (None when absent or stored as a hash)."""
        if self.version is None or self.version.startswith(_HASHED_VERSION):
            return None
        return self.version
