"""Validation against the Q Business API model shipped in botocore."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from ccf_core import AccessControl, ContentType, Document, DocumentMetadata, Principal, PrincipalUser
from ccf_core.validation import document_problems, qbusiness_limits


def doc(doc_id: str = "doc-1", **metadata: Any) -> Document:
    metadata.setdefault("title", "A title")
    return Document(id=doc_id, content="text", metadata=DocumentMetadata(**metadata))


def only_problem(document: Document) -> str:
    problems = document_problems(document)
    assert len(problems) == 1, problems
    return problems[0]


def test_limits_are_read_from_botocore_qbusiness_model() -> None:
    model = botocore.session.get_session().get_service_model("qbusiness")
    shape = model.operation_model("BatchPutDocument").input_shape.members["documents"].member
    attribute = shape.members["attributes"].member

    limits = qbusiness_limits()

    assert (limits.id_min, limits.id_max) == (
        shape.members["id"].metadata["min"],
        shape.members["id"].metadata["max"],
    )
    assert limits.title_max == shape.members["title"].metadata["max"]
    assert limits.attributes_max == shape.members["attributes"].metadata["max"]
    assert limits.attribute_name_max == attribute.members["name"].metadata["max"]
    assert limits.attribute_name_pattern == attribute.members["name"].metadata["pattern"]
    assert limits.string_value_max == attribute.members["value"].members["stringValue"].metadata["max"]
    assert limits.content_types == frozenset(shape.members["contentType"].enum)


def test_limits_match_the_documented_values() -> None:
    limits = qbusiness_limits()

    assert (limits.id_max, limits.title_max, limits.attributes_max, limits.string_value_max) == (
        1825,
        1024,
        500,
        2048,
    )
    assert limits.content_types == {content_type.value for content_type in ContentType}


def test_valid_document_has_no_problems() -> None:
    assert document_problems(doc(attributes={"team": "search", "tags": ["a"], "n": 1})) == []


def test_longest_allowed_id_is_valid() -> None:
    assert document_problems(doc("x" * 1825)) == []


def test_too_long_id_is_rejected() -> None:
    assert only_problem(doc("x" * 1826)).startswith("id length:")


def test_empty_id_is_rejected() -> None:
    assert only_problem(doc("")).startswith("id length:")


@pytest.mark.parametrize("bad", ["a\x01b", "tab\there", "zero\u200bwidth"])
def test_id_with_control_or_format_character_is_rejected(bad: str) -> None:
    assert only_problem(doc(bad)).startswith("id characters:")


def test_id_with_non_ascii_printable_characters_is_valid() -> None:
    assert document_problems(doc("Grüße/日本語 doc")) == []


def test_empty_title_is_rejected() -> None:
    assert only_problem(doc(title="")).startswith("title length:")


def test_title_of_1025_characters_is_rejected() -> None:
    problem = only_problem(doc(title="t" * 1025))

    assert problem.startswith("title length:")
    assert "is 1025" in problem


def test_title_of_1024_characters_is_valid() -> None:
    assert document_problems(doc(title="t" * 1024)) == []


@pytest.mark.parametrize("name", ["has space", "-leading-dash", "dot.ted", "x" * 201])
def test_bad_attribute_name_is_rejected(name: str) -> None:
    assert only_problem(doc(attributes={name: "v"})).startswith("attribute name")


def test_501_attributes_are_rejected() -> None:
    attributes: dict[str, Any] = {f"a{number}": "v" for number in range(501)}

    assert only_problem(doc(attributes=attributes)).startswith("attribute count:")


def test_500_attributes_are_valid() -> None:
    assert document_problems(doc(attributes={f"a{number}": "v" for number in range(500)})) == []


def test_string_value_of_2049_characters_is_rejected() -> None:
    problem = only_problem(doc(attributes={"big": "v" * 2049}))

    assert problem.startswith("attribute 'big' value length:")


def test_long_item_in_string_list_is_rejected() -> None:
    assert "value length" in only_problem(doc(attributes={"tags": ["ok", "v" * 2049]}))


def test_string_value_of_2048_characters_is_valid() -> None:
    assert document_problems(doc(attributes={"big": "v" * 2048})) == []


def test_reserved_attribute_name_is_rejected() -> None:
    problem = only_problem(doc(attributes={"_source_uri": "https://example.com"}))

    assert "'_source_uri'" in problem
    assert "reserved" in problem


def test_unknown_content_type_message_lists_the_choices() -> None:
    untyped = Document(id="d", content=b"\x00", metadata=DocumentMetadata(title="t"))

    problem = only_problem(untyped)

    assert problem.startswith("content type:")
    for choice in ContentType:
        assert choice.value in problem


def test_principal_with_empty_id_is_rejected() -> None:
    acl = [AccessControl(principals=[Principal(user=PrincipalUser(id=""))])]

    assert only_problem(doc(access_control_list=acl)).startswith("principal")


def test_every_broken_rule_is_reported() -> None:
    problems = document_problems(doc("x" * 1826, title="", attributes={"bad name": "v"}))

    assert [problem.split(":")[0].split(" '")[0] for problem in problems] == [
        "id length",
        "title length",
        "attribute name",
    ]
