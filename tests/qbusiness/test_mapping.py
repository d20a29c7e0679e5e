"""Unit tests of the document mapping: request measurement and staging keys."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ccf_core import (
    AccessControl,
    AccessType,
    ContentType,
    Document,
    DocumentMetadata,
    MembershipType,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.checksum import metadata_fingerprint
from ccf_core.destinations.qbusiness_mapping import (
    MAX_DOCUMENT_BYTES,
    MeasuredDocument,
    attribute_value,
    base64_length,
    measure_document,
    request_shape,
    s3_key,
)


def structure(doc_id: str, blob: bytes) -> dict:
    return {
        "id": doc_id,
        "title": "Tïtle ✓",
        "contentType": "PLAIN_TEXT",
        "content": {"blob": blob},
        "attributes": [{"name": "tags", "value": {"stringListValue": ["a", "b"]}}],
    }


def test_base64_length_matches_the_encoder() -> None:
    for size in (0, 1, 2, 3, 4, 1000, 7_500_001):
        assert base64_length(size) == len(base64.b64encode(b"x" * size))


def test_measured_request_size_is_the_size_botocore_sends() -> None:
    """Sizes measured with empty blobs add up to the real body, to the separator between documents."""
    shape = request_shape()
    blobs = [b"a" * 1000, b"\x00\xff" * 333, b""]
    overhead = shape.body_size({"documents": [], "dataSourceSyncId": "s" * 36})
    measured = overhead + sum(
        shape.document_size(structure(f"d{n}", b""), len(blob)) for n, blob in enumerate(blobs)
    )

    actual = shape.body_size(
        {
            "documents": [structure(f"d{n}", blob) for n, blob in enumerate(blobs)],
            "dataSourceSyncId": "s" * 36,
        }
    )

    assert actual <= measured <= actual + 2


def test_a_date_attribute_is_measured_at_least_as_large_as_botocore_sends_it() -> None:
    shape = request_shape()
    dated = structure("d", b"")
    dated["attributes"] = [{"name": "_created_at", "value": {"dateValue": datetime(2026, 1, 2, tzinfo=UTC)}}]
    overhead = shape.body_size({"documents": [], "dataSourceSyncId": "s" * 36})

    actual = shape.body_size({"documents": [dated], "dataSourceSyncId": "s" * 36})

    assert overhead + shape.document_size(dated, 0) >= actual


def test_staging_key_is_prefix_connector_and_sha256_of_the_id() -> None:
    key = s3_key("ccf", "wiki/../crawler", "https://example.com/a?b=1")

    prefix, connector, digest = key.split("/")
    assert (prefix, connector) == ("ccf", "wiki_.._crawler")
    assert len(digest) == 64
    assert s3_key("ccf", "wiki/../crawler", "https://example.com/a?b=2") != key


def test_a_bool_is_not_taken_for_a_long() -> None:
    with pytest.raises(TypeError):
        attribute_value(True)  # type: ignore[arg-type]


_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=400),
    # Two bytes in UTF-8 and six in botocore's JSON: the most a byte of the fingerprint grows.
    st.text(st.characters(min_codepoint=0x80, max_codepoint=0x7FF), min_size=1, max_size=400),
)
_value = st.one_of(
    _text,
    st.lists(_text, max_size=4),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive: taken as UTC
    st.dates(),
)
_membership = st.sampled_from([None, *MembershipType])
_principal = st.one_of(
    st.builds(
        lambda name, kind: Principal(user=PrincipalUser(id=name, membershipType=kind)), _text, _membership
    ),
    st.builds(
        lambda name, kind: Principal(
            group=PrincipalGroup(name=name, access=AccessType.DENY, membershipType=kind)
        ),
        _text,
        _membership,
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    title=_text,
    source_uri=st.one_of(st.none(), _text),
    created_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    attributes=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), _value, max_size=6),
    principals=st.lists(_principal, max_size=3),
    size=st.integers(min_value=0, max_value=10_000),
)
# The worst case, whatever examples hypothesis draws: text of two-byte characters only.
@example(title="é" * 300, source_uri=None, created_at=None, attributes={}, principals=[], size=0)
def test_the_size_bound_from_the_fingerprint_is_never_under_the_encoded_size(
    title, source_uri, created_at, attributes, principals, size
) -> None:
    """A batch cut on the bound never goes over the request limit: the bound covers any text."""
    metadata = DocumentMetadata(
        title=title,
        source_uri=source_uri,
        created_at=created_at,
        last_updated_at=created_at,
        attributes=attributes,
        access_control_list=[AccessControl(principals=principals)] if principals else [],
    )
    document = Document(id=f"doc {title}", content=b"", metadata=metadata)
    fingerprint = metadata_fingerprint(document, ContentType.PLAIN_TEXT)

    bounded = measure_document(document, MAX_DOCUMENT_BYTES, size, ContentType.PLAIN_TEXT, len(fingerprint))
    assert isinstance(bounded, MeasuredDocument)
    # What botocore sends for it: the request's body with its real content, less the empty request.
    shape, sync_id = request_shape(), "s" * 36
    sent = {**bounded.structure, "content": {"blob": b"\xff" * size}}
    overhead = shape.body_size({"documents": [], "dataSourceSyncId": sync_id})
    actual = shape.body_size({"documents": [sent], "dataSourceSyncId": sync_id}) - overhead

    assert bounded.encoded_size >= actual
