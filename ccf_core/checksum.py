"""Checksums that tell whether a document changed since it was last synced.

The checksum covers the id, the content type, the title, the source URI, the typed attributes,
the access controls and the content. Timestamps are left out, so a source that only touches
``last_updated_at`` does not cause an upload. The encoding is canonical JSON, so the value is
the same in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ccf_core.content_types import ContentType
from ccf_core.models.acl import AccessControl, Group
from ccf_core.models.document import AttributeValue, Document

#: Bumped when the encoding changes, so that old checksums never match new ones by accident.
CHECKSUM_VERSION = 1


def _attribute(value: AttributeValue) -> list[Any]:
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, list):
        return ["l", value]
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    return ["n", value]


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
    """The canonical encoding of everything but the content and the timestamps."""
    meta = document.metadata
    if content_type is None:
        content_type = document.resolved_content_type()
    payload = [
        CHECKSUM_VERSION,
        document.id,
        content_type.value if content_type else None,
        meta.title,
        meta.source_uri,
        sorted([name, *_attribute(value)] for name, value in meta.attributes.items()),
        meta.access_control_relation.value,
        _acl(meta.access_control_list),
    ]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def document_checksum(document: Document, content_type: ContentType | None = None) -> tuple[str, int]:
    """Return ``(sha256 hex digest, content size in bytes)``; the content is read once, in chunks.

    ``content_type`` is the document's resolved content type when the caller already has it.
    """
    digest = hashlib.sha256(metadata_fingerprint(document, content_type))
    digest.update(b"\x00")
    size = 0
    for chunk in document.iter_content():
        size += len(chunk)
        digest.update(chunk)
    return digest.hexdigest(), size


def group_checksum(group: Group) -> str:
    """A checksum of a group's name and members (order-insensitive)."""
    payload = [CHECKSUM_VERSION, group.name, sorted(set(group.users)), sorted(set(group.groups))]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode("utf-8")).hexdigest()
