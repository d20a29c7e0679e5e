"""Check documents against the rules of the Q Business API model that ships with botocore.

The limits are read from botocore's ``qbusiness`` service model the first time they are needed, so
they follow the API as botocore describes it. A document that breaks a rule is rejected alone, with
a message naming the document and the rule; the rest of the run goes on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from ccf_core.content_types import ContentType
from ccf_core.models.document import Document

#: Attributes ccf sends on its own for every document (from the metadata fields).
RESERVED_ATTRIBUTES = ("_source_uri", "_created_at", "_last_updated_at")


@dataclass(frozen=True)
class QBusinessLimits:
    """The document rules of the Q Business ``BatchPutDocument`` operation."""

    id_min: int
    id_max: int
    title_min: int
    title_max: int
    attribute_name_max: int
    attribute_name_pattern: str
    attributes_max: int
    string_value_max: int
    principal_max: int
    content_types: frozenset[str]

    @property
    def attribute_name_re(self) -> re.Pattern[str]:
        """The attribute-name pattern, anchored."""
        return _compiled(self.attribute_name_pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:{pattern})\\Z")


@cache
def qbusiness_limits() -> QBusinessLimits:
    """Read the limits from botocore's ``qbusiness`` model (cached for the process)."""
    import botocore.loaders

    # The raw model, without building a botocore session: a third of the start-up cost.
    shapes: dict[str, dict[str, Any]] = botocore.loaders.create_loader().load_service_model(
        "qbusiness", "service-2"
    )["shapes"]

    def member(shape: str, name: str) -> dict[str, Any]:
        return shapes[shapes[shape]["members"][name]["shape"]]

    document = shapes[member("BatchPutDocumentRequest", "documents")["member"]["shape"]]
    members = {name: shapes[ref["shape"]] for name, ref in document["members"].items()}
    attributes = members["attributes"]
    attribute = attributes["member"]["shape"]
    name = member(attribute, "name")
    value_shape = shapes[attribute]["members"]["value"]["shape"]
    string_value = member(value_shape, "stringValue")
    principal_user = shapes[shapes[shapes["Principal"]["members"]["user"]["shape"]]["members"]["id"]["shape"]]
    return QBusinessLimits(
        id_min=members["id"]["min"],
        id_max=members["id"]["max"],
        title_min=members["title"]["min"],
        title_max=members["title"]["max"],
        attribute_name_max=name["max"],
        attribute_name_pattern=name["pattern"],
        attributes_max=attributes["max"],
        string_value_max=string_value["max"],
        principal_max=principal_user["max"],
        content_types=frozenset(members["contentType"]["enum"]),
    )


def _has_control_characters(value: str) -> bool:
    """True when ``value`` breaks the API's ``\\P{C}*`` pattern (control, format, unassigned...)."""
    if value.isprintable():
        return False
    return any(unicodedata.category(ch).startswith("C") for ch in value)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _undecodable_bytes(value: str) -> str:
    """The bytes Python kept as lone surrogates (``os.fsdecode`` of a non-UTF-8 name), as ``0xE9, ...``."""
    if not _SURROGATES.search(value):
        return ""
    found = [f"0x{ord(ch) - 0xDC00:02X}" for ch in value if "\udc80" <= ch <= "\udcff"]
    return ", ".join(dict.fromkeys(found))


def escape_undecodable(value: str) -> str:
    """``value`` with bytes that are not UTF-8 (kept as lone surrogates) written as ``\\xE9``.

    A file name in another encoding reaches Python as such surrogates; printed as they are they
    become raw bytes on a terminal, or an encoding error.
    """
    if not _SURROGATES.search(value):
        return value
    return "".join(_escaped_character(ch) for ch in value)


def _escaped_character(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":
        return f"\\x{ord(ch) - 0xDC00:02x}"
    if "\ud800" <= ch <= "\udfff":
        return f"\\u{ord(ch):04x}"
    return ch


def document_problems(document: Document, content_type: ContentType | None = None) -> list[str]:
    """Every rule the document breaks, as ``rule: explanation`` strings (empty when valid).

    ``content_type`` is the document's resolved content type when the caller already has it.
    """
    limits = qbusiness_limits()
    problems: list[str] = []
    _check_id_and_title(document, limits, problems)
    _check_content_type(document, content_type or document.resolved_content_type(), limits, problems)
    _check_attributes(document, limits, problems)
    _check_acl(document, limits, problems)
    return problems


def _check_id_and_title(document: Document, limits: QBusinessLimits, problems: list[str]) -> None:
    doc_id = document.id
    undecodable = _undecodable_bytes(doc_id)
    if undecodable:
        problems.append(
            f"id characters: not valid UTF-8 text (bytes {undecodable} in '{escape_undecodable(doc_id)}'); "
            "a file name in another encoding? Rename the file, or build the id from text"
        )
    elif not limits.id_min <= len(doc_id) <= limits.id_max:
        problems.append(f"id length: must be {limits.id_min}-{limits.id_max} characters, is {len(doc_id)}")
    elif _has_control_characters(doc_id):
        problems.append("id characters: must not contain control or format characters")
    title = document.metadata.title
    if not limits.title_min <= len(title) <= limits.title_max:
        problems.append(
            f"title length: must be {limits.title_min}-{limits.title_max} characters, is {len(title)}"
        )


def _check_content_type(
    document: Document, content_type: ContentType | None, limits: QBusinessLimits, problems: list[str]
) -> None:
    if content_type is None:
        where = f"file {document.file.path.name!r}" if document.file else "in-memory content"
        choices = ", ".join(sorted(ContentType))
        problems.append(f"content type: cannot infer one for {where}; set content_type= to one of {choices}")
    elif content_type.value not in limits.content_types:
        problems.append(f"content type: {content_type.value} is not accepted by Q Business")


def _check_attributes(document: Document, limits: QBusinessLimits, problems: list[str]) -> None:
    meta = document.metadata
    attributes = meta.attributes
    # The reserved attributes that will be sent (an empty source URI is left out).
    reserved = bool(meta.source_uri) + (meta.created_at is not None) + (meta.last_updated_at is not None)
    count = len(attributes) + reserved
    if count > limits.attributes_max:
        problems.append(f"attribute count: at most {limits.attributes_max} attributes, has {count}")
    string_max = limits.string_value_max
    for name, value in attributes.items():
        kind = type(value)
        # The common types first, by identity: this runs for every attribute of every document sent.
        if kind is str:
            longest = len(value)
        elif kind is int or kind is datetime:
            longest = 0
        elif not _is_attribute_value(value):
            problems.append(
                f"attribute {name!r} type: {type(value).__name__} is not a Q Business attribute type; "
                "use str, list[str], int or datetime"
            )
            continue
        elif isinstance(value, list):
            longest = max(map(len, value), default=0)
        else:
            longest = len(value) if isinstance(value, str) else 0
        if name not in _GOOD_NAMES:
            _check_attribute_name(name, limits, problems)
        if longest > string_max:
            problems.append(f"attribute {name!r} value length: at most {string_max} characters, is {longest}")
    if meta.source_uri is not None and len(meta.source_uri) > string_max:
        problems.append(f"source_uri length: at most {string_max} characters")


#: Attribute names found valid: a connector uses a handful of names on millions of documents.
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 10_000


def _check_attribute_name(name: str, limits: QBusinessLimits, problems: list[str]) -> None:
    if name in RESERVED_ATTRIBUTES:
        problems.append(f"attribute {name!r}: reserved; set it through DocumentMetadata instead")
    elif len(name) > limits.attribute_name_max or not limits.attribute_name_re.match(name):
        problems.append(
            f"attribute name {name!r}: must match {limits.attribute_name_pattern} and be at most "
            f"{limits.attribute_name_max} characters"
        )
    elif len(_GOOD_NAMES) < _GOOD_NAMES_MAX:
        _GOOD_NAMES.add(name)


def _is_attribute_value(value: object) -> bool:
    if isinstance(value, (str, datetime)):  # a tuple: faster than a union
        return True
    if isinstance(value, int):
        return not isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_acl(document: Document, limits: QBusinessLimits, problems: list[str]) -> None:
    for control in document.metadata.access_control_list:
        if not control.principals:
            problems.append("access control: an AccessControl needs at least one principal")
        for principal in control.principals:
            key = principal.user.id if principal.user else principal.group.name if principal.group else ""
            if not 1 <= len(key) <= limits.principal_max or _has_control_characters(key):
                problems.append(
                    f"principal {key[:40]!r}: must be 1-{limits.principal_max} printable characters"
                )
