"""The seed guide's example ("Role of the builder"), with ccf imports, against the fake through boto3."""

from __future__ import annotations

from collections.abc import Iterator

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
    QBusinessCustomConnectorInterface,
)


class MyCustomConnector(QBusinessCustomConnectorInterface):
    file_path = "/path/to/fake/file.txt"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def get_documents_to_add(self) -> Iterator[Document]:
        # (Optional) Access controls are optional to implement.
        access_control = AccessControl(
            memberRelation=MemberRelation.OR,
            principals=[
                Principal(
                    user=PrincipalUser(
                        id="jon.doe@example.com", access=AccessType.ALLOW, membershipType=MembershipType.INDEX
                    )
                ),
                Principal(
                    group=PrincipalGroup(
                        name="example-group",
                        access=AccessType.ALLOW,
                        membershipType=MembershipType.DATASOURCE,
                    )
                ),
            ],
        )

        fake_doc = Document(
            id="fake-document-id-1",
            file=DocumentFile(self.file_path),  # Assume the file was already written to the file system
            metadata=DocumentMetadata(
                title="Fake Document Title",
                source_uri="https://example.com/fake-document",
                attributes={
                    "author": "Custom Connector Framework",
                },
                access_control_list=[access_control],
            ),
        )
        yield fake_doc

    def get_documents_to_delete(self) -> Iterator[str]:
        return iter(["fake-document-id-2"])


def test_seed_example_syncs_through_a_real_boto3_client(
    fake_qbusiness, qbusiness_client, ids, tmp_path
) -> None:
    path = tmp_path / "file.txt"
    path.write_text("The content of the fake document.")
    connector = MyCustomConnector(
        qbusiness_client=qbusiness_client,
        qbusiness_app_id=ids["application_id"],
        qbusiness_index_id=ids["index_id"],
        qbusiness_data_source_id=ids["data_source_id"],
    )
    connector.file_path = str(path)

    report = connector.sync()

    assert report.added == 1 and report.deleted == 1
    stored = fake_qbusiness.documents["fake-document-id-1"]
    assert stored.title == "Fake Document Title"
    assert stored.content == b"The content of the fake document."
    assert stored.content_type == "PLAIN_TEXT"
    assert stored.attributes == {
        "_source_uri": {"stringValue": "https://example.com/fake-document"},
        "author": {"stringValue": "Custom Connector Framework"},
    }
    assert stored.access_configuration == {
        "accessControls": [
            {
                "principals": [
                    {"user": {"id": "jon.doe@example.com", "access": "ALLOW", "membershipType": "INDEX"}},
                    {"group": {"name": "example-group", "access": "ALLOW", "membershipType": "DATASOURCE"}},
                ],
                "memberRelation": "OR",
            }
        ],
        "memberRelation": "OR",
    }
    assert fake_qbusiness.deleted_ids == ["fake-document-id-2"]
    operations = [call.operation for call in fake_qbusiness.log]
    assert operations[0] == "StartDataSourceSyncJob" and operations[-1] == "StopDataSourceSyncJob"
