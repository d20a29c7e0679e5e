"""Unit tests of the document mapping: request measurement and staging keys."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from ccf_core.destinations.qbusiness_mapping import attribute_value, base64_length, request_shape, s3_key


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
