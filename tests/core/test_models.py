"""Documents, metadata and ACL models: content sources, typed attributes, aliases, content types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from ccf_core import (
    AccessControl,
    AccessType,
    ContentType,
    Document,
    DocumentFile,
    DocumentMetadata,
    MemberRelation,
    MembershipType,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.validation import document_problems


def meta(**fields: object) -> DocumentMetadata:
    fields.setdefault("title", "A title")
    return DocumentMetadata(**fields)  # type: ignore[arg-type]


# -- content -----------------------------------------------------------------------------------


def test_document_from_file_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"file body")

    doc = Document(id="d", file=DocumentFile(path), metadata=meta())

    assert doc.read_bytes() == b"file body"
    assert b"".join(doc.iter_content()) == b"file body"
    assert doc.size() == 9


def test_document_from_bytes_keeps_the_bytes_and_has_no_type_by_default() -> None:
    doc = Document(id="d", content=b"\x00\x01binary", metadata=meta())

    assert doc.read_bytes() == b"\x00\x01binary"
    assert doc.content_type is None


def test_document_from_str_is_utf8_plain_text() -> None:
    doc = Document(id="d", content="grüße", metadata=meta())

    assert doc.content == "grüße".encode()
    assert doc.content_type is ContentType.PLAIN_TEXT


def test_document_from_str_keeps_an_explicit_content_type() -> None:
    doc = Document(id="d", content="# heading", content_type=ContentType.MD, metadata=meta())

    assert doc.content_type is ContentType.MD


def test_document_needs_file_or_content(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of file= or content="):
        Document(id="d", metadata=meta())


def test_document_refuses_both_file_and_content(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of file= or content="):
        Document(id="d", file=DocumentFile(tmp_path / "a.txt"), content=b"x", metadata=meta())


# -- attributes --------------------------------------------------------------------------------


def test_attributes_keep_string_list_and_int_types() -> None:
    attributes = meta(attributes={"team": "search", "tags": ["a", "b"], "pages": 42}).attributes

    assert attributes == {"team": "search", "tags": ["a", "b"], "pages": 42}
    assert type(attributes["pages"]) is int


def test_int_attribute_is_not_coerced_to_string() -> None:
    assert meta(attributes={"n": "1"}).attributes["n"] == "1"
    assert meta(attributes={"n": 1}).attributes["n"] == 1


def test_aware_datetime_attribute_is_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))

    value = meta(attributes={"when": datetime(2024, 5, 1, 14, 0, tzinfo=paris)}).attributes["when"]

    assert value == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def test_naive_datetime_attribute_is_taken_as_utc() -> None:
    value = meta(attributes={"when": datetime(2024, 5, 1, 12, 0)}).attributes["when"]

    assert value == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_date_attribute_becomes_utc_midnight_datetime() -> None:
    value = meta(attributes={"day": date(2024, 5, 1)}).attributes["day"]

    assert value == datetime(2024, 5, 1, tzinfo=UTC)
    assert isinstance(value, datetime)


def test_none_attribute_is_dropped() -> None:
    assert meta(attributes={"kept": "x", "dropped": None}).attributes == {"kept": "x"}


@pytest.mark.parametrize("value", [1.5, 2.0, True, {"nested": "dict"}, [1, 2]])
def test_attribute_of_unsupported_type_is_rejected_by_validation_not_construction(value: object) -> None:
    """A bad value must not raise inside the connector's generator: the one document is rejected."""
    doc = Document(id="d", content="x", metadata=meta(attributes={"bad": value}))
    problems = document_problems(doc)
    assert len(problems) == 1
    assert problems[0].startswith("attribute 'bad' type:")


def test_timestamps_are_stored_in_utc() -> None:
    created = meta(created_at=datetime(2024, 1, 1, 9, 0)).created_at

    assert created == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


# -- ACLs --------------------------------------------------------------------------------------


def test_principal_needs_a_user_or_a_group() -> None:
    with pytest.raises(ValidationError, match="exactly one of user= or group="):
        Principal()


def test_principal_refuses_both_user_and_group() -> None:
    with pytest.raises(ValidationError, match="exactly one of user= or group="):
        Principal(user=PrincipalUser(id="a@example.com"), group=PrincipalGroup(name="g"))


def test_principal_access_comes_from_its_member() -> None:
    denied = Principal(group=PrincipalGroup(name="g", access=AccessType.DENY))

    assert denied.access is AccessType.DENY


def test_camel_case_aliases_are_accepted() -> None:
    control = AccessControl(
        memberRelation=MemberRelation.AND,
        principals=[Principal(user=PrincipalUser(id="a@example.com", membershipType=MembershipType.INDEX))],
    )

    assert control.member_relation is MemberRelation.AND
    assert control.principals[0].user is not None
    assert control.principals[0].user.membership_type is MembershipType.INDEX


def test_snake_case_names_are_accepted() -> None:
    control = AccessControl(
        member_relation=MemberRelation.AND,
        principals=[Principal(group=PrincipalGroup(name="g", membership_type=MembershipType.DATASOURCE))],
    )

    assert control.member_relation is MemberRelation.AND
    assert control.principals[0].group is not None
    assert control.principals[0].group.membership_type is MembershipType.DATASOURCE


def test_access_control_serialises_with_api_names() -> None:
    control = AccessControl(
        principals=[Principal(user=PrincipalUser(id="a@example.com", membership_type=MembershipType.INDEX))]
    )

    assert control.to_api() == {
        "memberRelation": "OR",
        "principals": [{"user": {"id": "a@example.com", "access": "ALLOW", "membershipType": "INDEX"}}],
    }


def test_unknown_acl_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        PrincipalUser(id="a@example.com", role="admin")  # type: ignore[call-arg]


# -- content types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("readme.md", ContentType.MD), ("page.html", ContentType.HTML), ("paper.PDF", ContentType.PDF)],
)
def test_content_type_is_inferred_from_the_file_name(
    tmp_path: Path, name: str, expected: ContentType
) -> None:
    doc = Document(id="d", file=DocumentFile(tmp_path / name), metadata=meta())

    assert doc.resolved_content_type() is expected


def test_unknown_extension_has_no_content_type(tmp_path: Path) -> None:
    doc = Document(id="d", file=DocumentFile(tmp_path / "blob.unknownext"), metadata=meta())

    assert doc.resolved_content_type() is None


def test_content_type_falls_back_to_the_source_uri() -> None:
    doc = Document(
        id="d", content=b"<p>hi</p>", metadata=meta(source_uri="https://example.com/a/page.html?v=2")
    )

    assert doc.resolved_content_type() is ContentType.HTML


def test_content_type_from_a_source_uri_with_a_fragment() -> None:
    doc = Document(
        id="d", content=b"%PDF-1.7", metadata=meta(source_uri="https://example.com/report.pdf#page=2")
    )

    assert doc.resolved_content_type() is ContentType.PDF


def test_file_name_wins_over_the_source_uri(tmp_path: Path) -> None:
    doc = Document(
        id="d", file=DocumentFile(tmp_path / "a.md"), metadata=meta(source_uri="https://example.com/a.pdf")
    )

    assert doc.resolved_content_type() is ContentType.MD


def test_declared_content_type_wins_over_inference(tmp_path: Path) -> None:
    doc = Document(
        id="d", file=DocumentFile(tmp_path / "a.md"), content_type=ContentType.PLAIN_TEXT, metadata=meta()
    )

    assert doc.resolved_content_type() is ContentType.PLAIN_TEXT
