"""Pagination tokens: signed, bound to operation, scope and filter, and expiring."""

from __future__ import annotations

import pytest

from ccf_backend.errors import BadRequest
from ccf_backend.tokens import TokenCodec

KEY = {"connector_id": {"S": "cc-0123456789ab"}, "document_key": {"S": "ab"}}


def test_a_token_decodes_to_its_key() -> None:
    codec = TokenCodec(b"k")
    token = codec.encode("ListCustomConnectorDocuments", "cc-0123456789ab", KEY)
    assert codec.decode(token, "ListCustomConnectorDocuments", "cc-0123456789ab") == KEY


@pytest.mark.parametrize(
    ("operation", "scope", "filters", "message"),
    [
        ("ListCustomConnectorJobs", "cc-0123456789ab", "", "another connector or operation"),
        ("ListCustomConnectorDocuments", "cc-ba9876543210", "", "another connector or operation"),
        ("ListCustomConnectorDocuments", "cc-0123456789ab", "FAILED", "other filters"),
    ],
)
def test_a_token_is_bound_to_what_it_was_issued_for(
    operation: str, scope: str, filters: str, message: str
) -> None:
    codec = TokenCodec(b"k")
    token = codec.encode("ListCustomConnectorDocuments", "cc-0123456789ab", KEY)
    with pytest.raises(BadRequest) as caught:
        codec.decode(token, operation, scope, filters)
    assert caught.value.field == "next_token"
    assert message in caught.value.message


def test_a_token_signed_with_another_key_is_rejected() -> None:
    token = TokenCodec(b"other").encode("ListCustomConnectorDocuments", "cc-0123456789ab", KEY)
    with pytest.raises(BadRequest, match="altered"):
        TokenCodec(b"k").decode(token, "ListCustomConnectorDocuments", "cc-0123456789ab")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "!!!.???", "eyJ9.x"])
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(BadRequest):
        TokenCodec(b"k").decode(garbage, "ListCustomConnectorDocuments", "cc-0123456789ab")


def test_tokens_fit_the_spec_length() -> None:
    long_key = {
        "tenant": {"S": "arn:aws:ccf:ap-southeast-2:123456789012"},
        "connector_id": {"S": "cc-0123456789ab"},
        "record": {"S": "connector"},
    }
    assert (
        len(
            TokenCodec(b"k").encode(
                "ListCustomConnectors", "arn:aws:ccf:ap-southeast-2:123456789012", long_key
            )
        )
        < 2048
    )
