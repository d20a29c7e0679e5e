"""What a document looks like when it reaches Q Business: content, typed and reserved attributes, ACL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ccf_core import (
    AccessControl,
    AccessType,
    Document,
    DocumentFile,
    DocumentMetadata,
    MemberRelation,
    MembershipType,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)


def test_content_arrives_decoded_with_its_content_type(
    fake_qbusiness, run_sync, make_connector, make_doc
) -> None:
    payload = bytes(range(256)) * 4
    doc = Document(
        id="binary", content=payload, content_type="PDF", metadata=DocumentMetadata(title="Binary")
    )

    run_sync(make_connector([doc, make_doc("text", "héllo wörld")]))

    assert fake_qbusiness.documents["binary"].content == payload
    assert fake_qbusiness.documents["binary"].content_type == "PDF"
    assert fake_qbusiness.documents["text"].content == "héllo wörld".encode()
    assert fake_qbusiness.documents["text"].title == "Title of text"


def test_file_content_is_read_from_disk(fake_qbusiness, run_sync, make_connector, tmp_path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<h1>On disk</h1>")
    doc = Document(id="page", file=DocumentFile(path), metadata=DocumentMetadata(title="Page"))

    run_sync(make_connector([doc]))

    assert fake_qbusiness.documents["page"].content == b"<h1>On disk</h1>"
    assert fake_qbusiness.documents["page"].content_type == "HTML"


def test_attributes_arrive_with_their_q_business_types(
    fake_qbusiness, run_sync, make_connector, make_doc
) -> None:
    attributes = {
        "author": "Ada",
        "tags": ["red", "blue"],
        "stars": 42,
        "published": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "due": date(2024, 12, 24),
    }

    run_sync(make_connector([make_doc("typed", attributes=attributes)]))

    assert fake_qbusiness.documents["typed"].attributes == {
        "author": {"stringValue": "Ada"},
        "tags": {"stringListValue": ["red", "blue"]},
        "stars": {"longValue": 42},
        "published": {"dateValue": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)},
        "due": {"dateValue": datetime(2024, 12, 24, tzinfo=UTC)},
    }


def test_reserved_attributes_come_from_the_metadata(
    fake_qbusiness, run_sync, make_connector, make_doc
) -> None:
    doc = make_doc(
        "reserved",
        source_uri="https://example.com/reserved",
        created_at=datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC),
        last_updated_at=datetime(2024, 6, 7, 8, 9, 10, tzinfo=UTC),
    )

    run_sync(make_connector([doc]))

    attributes = fake_qbusiness.documents["reserved"].attributes
    assert attributes["_source_uri"] == {"stringValue": "https://example.com/reserved"}
    assert attributes["_created_at"] == {"dateValue": datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)}
    assert attributes["_last_updated_at"] == {"dateValue": datetime(2024, 6, 7, 8, 9, 10, tzinfo=UTC)}


def test_unset_reserved_attributes_are_left_out(fake_qbusiness, run_sync, make_connector, make_doc) -> None:
    run_sync(
        make_connector([make_doc("bare"), make_doc("dated", created_at=datetime(2024, 1, 1, tzinfo=UTC))])
    )

    sent = {
        document["id"]: document
        for params in fake_qbusiness.successful_params("BatchPutDocument")
        for document in params["documents"]
    }
    assert "attributes" not in sent["bare"]
    assert [attribute["name"] for attribute in sent["dated"]["attributes"]] == ["_created_at"]


def test_access_control_list_arrives_as_access_configuration(
    fake_qbusiness, run_sync, make_connector, make_doc
) -> None:
    allow = AccessControl(
        principals=[
            Principal(user=PrincipalUser(id="ada@example.com", membershipType=MembershipType.INDEX)),
            Principal(group=PrincipalGroup(name="engineering", membershipType=MembershipType.DATASOURCE)),
        ],
        memberRelation=MemberRelation.OR,
    )
    deny = AccessControl(
        principals=[Principal(user=PrincipalUser(id="eve@example.com", access=AccessType.DENY))]
    )
    doc = make_doc("secret", access_control_list=[allow, deny], access_control_relation=MemberRelation.AND)

    run_sync(make_connector([doc]))

    assert fake_qbusiness.documents["secret"].access_configuration == {
        "accessControls": [
            {
                "principals": [
                    {"user": {"id": "ada@example.com", "access": "ALLOW", "membershipType": "INDEX"}},
                    {"group": {"name": "engineering", "access": "ALLOW", "membershipType": "DATASOURCE"}},
                ],
                "memberRelation": "OR",
            },
            {"principals": [{"user": {"id": "eve@example.com", "access": "DENY"}}], "memberRelation": "OR"},
        ],
        "memberRelation": "AND",
    }


def test_a_document_without_acl_has_no_access_configuration(
    fake_qbusiness, run_sync, make_connector, make_doc
) -> None:
    run_sync(make_connector([make_doc("public")]))

    (params,) = fake_qbusiness.successful_params("BatchPutDocument")
    assert "accessConfiguration" not in params["documents"][0]
    assert fake_qbusiness.documents["public"].access_configuration is None


def test_the_bytes_the_engine_kept_are_sent_and_a_document_without_them_is_read_as_it_is_sent(
    fake_qbusiness, make_destination, tmp_path
) -> None:
    """A kept content goes into the request as it is (the file is not read again, here it is gone);
    one the engine did not keep (a file of several chunks) is read when its batch is sent."""
    from ccf_core.ports import PreparedDocument, RunInfo
    from ccf_core.report import RunStatus

    gone, on_disk = tmp_path / "gone.txt", tmp_path / "disk.txt"
    on_disk.write_bytes(b"read at send time")

    def prepared(doc_id: str, path, content: bytes | None) -> PreparedDocument:
        doc = Document(id=doc_id, file=DocumentFile(path), metadata=DocumentMetadata(title=doc_id))
        return PreparedDocument(doc, "c" * 64, 17, True, content=content, fingerprint_size=60)

    destination = make_destination()
    destination.open(RunInfo("listing", "run", True))
    result = destination.put_documents(
        [
            prepared("kept", gone, b"kept by the engine"),
            prepared("read", on_disk, None),
            prepared("lost", gone, None),
        ]
    )
    destination.close(RunStatus.SUCCEEDED)

    assert result.accepted == ["kept", "read"]
    assert [(failure.document_id, failure.reason) for failure in result.failures] == [
        ("lost", "content_unreadable")
    ]
    assert fake_qbusiness.documents["kept"].content == b"kept by the engine"
    assert fake_qbusiness.documents["read"].content == b"read at send time"
