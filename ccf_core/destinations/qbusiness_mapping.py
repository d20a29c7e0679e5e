"""How a ccf document becomes a Q Business ``Document`` structure, and how big its request will be.

Attributes keep their Q Business types, the reserved attributes come from the metadata fields (and
are left out when unset), ACLs become an ``accessConfiguration``. Requests are measured as botocore
will encode them (JSON, blobs in base64), and documents are checked against botocore's model of
the API before they are sent, so one bad document never takes its batch down with it.

botocore is imported on first use only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from ccf_core.checksum import prebuilt_json_encoder
from ccf_core.content_types import ContentType
from ccf_core.models.acl import Group
from ccf_core.models.document import AttributeValue, Document, DocumentMetadata
from ccf_core.report import Failure

#: The largest content Q Business accepts for one document (inline or from S3).
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

#: The largest BatchPutDocument request ccf sends, as encoded on the wire (base64 blobs in JSON).
#: 10 MB read in decimal units, the smaller of the two readings of the service's limit.
MAX_REQUEST_BYTES = 10_000_000

#: PutGroup takes at most this many members inline.
MAX_GROUP_MEMBERS = 1000

#: A ``list[dict]`` in the request becomes ``[a, b]`` with botocore's ``json.dumps``: ", " between items.
_LIST_SEPARATOR = 2

#: Path parameters that let botocore's serializer build a request to measure (they are not in the body).
_MEASURE_PATH = {"applicationId": "a" * 36, "indexId": "i" * 36}

#: What a document adds to a request beside the text of its metadata fingerprint, generously: the
#: keys and punctuation of the ``Document`` frame, and those of each attribute, access control and
#: principal (an attribute's allowance also covers a timestamp, which the fingerprint leaves out).
_FRAME_ALLOWANCE = 256
_ITEM_ALLOWANCE = 128

_ATTRIBUTE_INDEX = re.compile(r"\battributes\[(\d+)\]")
_UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def base64_length(size: int) -> int:
    """How many characters ``size`` bytes take once base64-encoded."""
    return 4 * ((size + 2) // 3)


#: The ``DocumentAttributeValue`` key of the common types (exact types: subclasses go the long way).
_VALUE_KEY_OF_TYPE: dict[type, str] = {str: "stringValue", int: "longValue"}


def attribute_value(value: AttributeValue) -> dict[str, Any]:
    """The ``DocumentAttributeValue`` of a typed attribute value.

    Raises:
        TypeError: for a value of no Q Business type (the document model prevents it).
    """
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"stringListValue": list(value)}
    if isinstance(value, bool):
        raise TypeError("a bool is not a Q Business attribute type; use a string or an int")
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, datetime):
        return {"dateValue": value if value.tzinfo else value.replace(tzinfo=UTC)}
    if isinstance(value, date):
        return {"dateValue": datetime.combine(value, time(), tzinfo=UTC)}
    raise TypeError(f"{type(value).__name__} is not a Q Business attribute type")


def api_attributes(metadata: DocumentMetadata) -> list[dict[str, Any]]:
    """The reserved attributes that are set, then the connector's own, as ``DocumentAttribute``s."""
    attributes: list[dict[str, Any]] = []
    if metadata.source_uri:
        attributes.append({"name": "_source_uri", "value": {"stringValue": metadata.source_uri}})
    if metadata.created_at is not None:
        attributes.append({"name": "_created_at", "value": {"dateValue": metadata.created_at}})
    if metadata.last_updated_at is not None:
        attributes.append({"name": "_last_updated_at", "value": {"dateValue": metadata.last_updated_at}})
    for name, value in metadata.attributes.items():
        # The common types inline: this runs for every attribute of every document sent.
        kind = _VALUE_KEY_OF_TYPE.get(type(value))
        typed = {kind: value} if kind is not None else attribute_value(value)
        attributes.append({"name": name, "value": typed})
    return attributes


def access_configuration(metadata: DocumentMetadata) -> dict[str, Any] | None:
    """The ``accessConfiguration`` of the document's ACL, or None when it has none."""
    if not metadata.access_control_list:
        return None
    return {
        "accessControls": [control.to_api() for control in metadata.access_control_list],
        "memberRelation": metadata.access_control_relation.value,
    }


def api_document(document: Document, content_type: ContentType, content: dict[str, Any]) -> dict[str, Any]:
    """The ``Document`` structure of BatchPutDocument, with ``content`` as given (blob or s3)."""
    metadata = document.metadata
    structure: dict[str, Any] = {
        "id": document.id,
        "title": metadata.title,
        "contentType": content_type.value,
        "content": content,
    }
    attributes = api_attributes(metadata)
    if attributes:
        structure["attributes"] = attributes
    access = access_configuration(metadata)
    if access is not None:
        structure["accessConfiguration"] = access
    return structure


@dataclass(slots=True)  # not frozen: a frozen dataclass costs 1 µs more to make, once per document
class MeasuredDocument:
    """A document checked against the API model, as a ``Document`` structure.

    Attributes:
        structure: the API structure; its blob is the content the caller gave, else empty until
            the document is sent.
        size: the content's size in bytes.
        encoded_size: what it adds to a BatchPutDocument body when its content goes inline.
    """

    structure: dict[str, Any]
    size: int
    encoded_size: int


@dataclass(frozen=True)
class Rejection:
    """Why a document cannot be sent: a failure reason and a message naming the document and rule."""

    reason: str
    message: str


def measure_document(
    document: Document,
    max_document_bytes: int,
    size: int | None = None,
    content_type: ContentType | None = None,
    fingerprint_size: int | None = None,
    *,
    blob: bytes = b"",
) -> MeasuredDocument | Rejection:
    """Check a prepared document against botocore's model and measure its encoded size.

    ccf's own rules (:func:`ccf_core.validation.document_problems`) already ran in the engine: a
    ``PreparedDocument`` passed them. The content is not read: its size is ``size`` (what the
    engine measured), else ``document.size()``; its content type ``content_type``, else resolved.
    With ``fingerprint_size`` (the length of the document's metadata fingerprint) the encoded size
    is :func:`size_bound`, not encoded: exact sizes matter only near the request limit. ``blob``
    is the structure's content when the caller holds it already (else it is left empty).
    """
    doc_id = document.id
    if size is None:
        try:
            size = document.size()
        except OSError as err:
            return Rejection("content_unreadable", f"document {doc_id!r}: cannot read content: {err}")
    if size > max_document_bytes:
        return Rejection(
            "too_large",
            f"document {doc_id!r} is {size} bytes; Q Business accepts at most {max_document_bytes} bytes "
            "per document",
        )
    if content_type is None:
        content_type = document.resolved_content_type()
    if content_type is None:
        return Rejection("invalid_document", f"document {doc_id!r}: content type: cannot infer one")
    structure = api_document(document, content_type, {"blob": blob})
    # botocore validates every request before it is sent; a batch it refuses is split until the
    # document at fault is alone, and named with :meth:`RequestShape.document_problems`.
    if fingerprint_size is not None:
        return MeasuredDocument(structure, size, size_bound(structure, fingerprint_size, size))
    return MeasuredDocument(structure, size, RequestShape.document_size(structure, size))


def size_bound(structure: dict[str, Any], fingerprint_size: int, blob_size: int) -> int:
    """At least :meth:`RequestShape.document_size`, from the size of the document's fingerprint.

    The fingerprint (:func:`ccf_core.checksum.metadata_fingerprint`, compact UTF-8 JSON) holds every
    string of the structure but the timestamps. botocore's JSON escapes non-ASCII text, which takes
    at most 3 bytes for each UTF-8 byte (a 2- or 3-byte character becomes ``\\uXXXX``, a 4-byte
    one two of them); the keys and punctuation around it get an allowance per attribute, access
    control and principal. Encoding each document only to measure it cost more than the rest of
    its way to the request.
    """
    items = len(structure.get("attributes", ()))
    access = structure.get("accessConfiguration")
    if access is not None:
        for control in access["accessControls"]:
            items += 1 + len(control["principals"])
    return (
        3 * fingerprint_size
        + _FRAME_ALLOWANCE
        + _ITEM_ALLOWANCE * items
        + base64_length(blob_size)
        + _LIST_SEPARATOR
    )


def oversized_group(group: Group) -> Failure | None:
    """The failure of a group with more direct members than PutGroup takes inline, if it has."""
    members = len(group.users) + len(group.groups)
    if members <= MAX_GROUP_MEMBERS:
        return None
    return Failure(
        group.name,
        "too_many_members",
        f"group {group.name!r} has {members} direct members; PutGroup takes at most "
        f"{MAX_GROUP_MEMBERS} inline (split it into sub-groups)",
    )


def group_request(group: Group, data_source_id: str) -> dict[str, Any]:
    """The PutGroup parameters (ids of application and index aside) of a data source group.

    Users are members by id; sub-groups are members as data source groups, as ccf puts them.
    """
    members: dict[str, Any] = {}
    if group.users or not group.groups:
        members["memberUsers"] = [{"userId": user} for user in group.users]
    if group.groups:
        members["memberGroups"] = [{"groupName": name, "type": "DATASOURCE"} for name in group.groups]
    return {
        "groupName": group.name,
        "dataSourceId": data_source_id,
        "type": "DATASOURCE",
        "groupMembers": members,
    }


def s3_key(prefix: str, connector: str, document_id: str) -> str:
    """Where a large document is staged: ``<prefix>/<connector>/<sha256 of the id>``.

    The id is hashed, never used raw: ids are URLs and paths that make odd or overlong keys.
    """
    folder = _UNSAFE_KEY_CHARACTERS.sub("_", connector).strip("._") or "connector"
    digest = hashlib.sha256(document_id.encode("utf-8")).hexdigest()
    return f"{prefix.strip('/')}/{folder}/{digest}" if prefix.strip("/") else f"{folder}/{digest}"


@cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("qbusiness")


class RequestShape:
    """Measures and checks BatchPutDocument requests with botocore's own serializer and model."""

    def __init__(self) -> None:
        from botocore.serialize import create_serializer
        from botocore.validate import ParamValidator

        model = _service_model()
        self._operation = model.operation_model("BatchPutDocument")
        self._document_shape = self._operation.input_shape.members["documents"].member
        self._serializer = create_serializer("rest-json", include_validation=False)
        self._validator = ParamValidator()

    def body_size(self, params: dict[str, Any]) -> int:
        """The size in bytes of the JSON body botocore sends for ``params`` (path ids may be left out)."""
        request = self._serializer.serialize_to_request({**_MEASURE_PATH, **params}, self._operation)
        return len(request["body"])

    @staticmethod
    def document_size(structure: dict[str, Any], blob_size: int) -> int:
        """What ``structure`` adds to a request's body: its JSON, with ``blob_size`` bytes as base64.

        ``structure`` carries an empty blob (or an s3 reference): the content is not read to measure
        it. The JSON is encoded as botocore's rest-json serializer encodes it (``json.dumps`` with
        its default separators), except that a date is counted as an ISO string, longer than the
        epoch number botocore sends: the size is exact or a little over, never under.
        """
        encoded = _encode_measured(structure).encode("utf-8")
        return len(encoded) + base64_length(blob_size) + _LIST_SEPARATOR

    def document_problems(self, structure: dict[str, Any]) -> list[str]:
        """What botocore's model finds wrong with one ``Document`` structure, one rule a line."""
        report = self._validator.validate(structure, self._document_shape)
        if not report.has_errors():
            return []
        names = [attribute["name"] for attribute in structure.get("attributes", [])]

        def name_attribute(match: re.Match[str]) -> str:
            position = int(match.group(1))
            return f"attribute {names[position]!r}" if position < len(names) else match.group(0)

        return [_ATTRIBUTE_INDEX.sub(name_attribute, line) for line in report.generate_report().splitlines()]


def _json_placeholder(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return ""  # the blob: its base64 length is added apart
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot measure a {type(value).__name__} in a request")


#: ``json.dumps`` with botocore's settings (ASCII, default separators), built once.
_encode_measured = prebuilt_json_encoder(_json_placeholder, ensure_ascii=True, separators=(", ", ": "))


@cache
def request_shape() -> RequestShape:
    """The process's :class:`RequestShape` (botocore's model is loaded once)."""
    return RequestShape()


def operation_input_problems(operation: str, params: dict[str, Any]) -> list[str]:
    """What botocore's model finds wrong with the input of ``operation`` (e.g. ``PutGroup``)."""
    from botocore.validate import ParamValidator

    shape = _service_model().operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    return report.generate_report().splitlines() if report.has_errors() else []
