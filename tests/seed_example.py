# The example of the seed developer guide ("Role of the builder"), kept as written there except:
# the import lines name ccf_core, and the principals are written as the Q Business API defines them
# (a user principal for the user, a group principal for the group, INDEX/DATASOURCE membership).
# The tests point FAKE_FILE_PATH at a file they write, since the guide assumes one exists.
# ruff: noqa
# mypy: ignore-errors
import boto3
import os
from ccf_core import QBusinessCustomConnectorInterface
from ccf_core import Document, DocumentFile, DocumentMetadata
from ccf_core import (AccessControl, AccessType,
                      MemberRelation, MembershipType,
                      Principal, PrincipalGroup, PrincipalUser)
from typing import Iterator

FAKE_FILE_PATH = "/path/to/fake/file.txt"


class MyCustomConnector(QBusinessCustomConnectorInterface):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def get_documents_to_add(self) -> Iterator[Document]:
        # (Optional) Access controls are optional to implement. 
        access_control = AccessControl(
            memberRelation=MemberRelation.OR,
            principals=[
                Principal(
                    user=PrincipalUser(
                        id="jon.doe@example.com",
                        access=AccessType.ALLOW,
                        membershipType=MembershipType.INDEX
                    )
                ),
                Principal(
                    group=PrincipalGroup(
                        name="example-group",
                        access=AccessType.ALLOW,
                        membershipType=MembershipType.DATASOURCE
                    )
                )
            ]
        )

        

        fake_doc = Document(
            id="fake-document-id-1",
            file=DocumentFile(FAKE_FILE_PATH), # Assume the file was already written to the file system
            metadata=DocumentMetadata(
                title="Fake Document Title",
                source_uri="https://example.com/fake-document",
                attributes={
                    "author": "Custom Connector Framework",
                },
                access_control_list=[access_control]
            )
        )
        yield fake_doc

    def get_documents_to_delete(self) -> Iterator[str]:
        return iter(["fake-document-id-2"])

def main():
    qbusiness_app_id = os.environ['Q_BUSINESS_APP_ID']
    qbusiness_index_id = os.environ['Q_BUSINESS_INDEX_ID']
    qbusiness_data_source_id = os.environ['Q_BUSINESS_DATA_SOURCE_ID']

    qbusiness_client = boto3.client('qbusiness')

    connector = MyCustomConnector(
        qbusiness_client=qbusiness_client,
        qbusiness_app_id=qbusiness_app_id,
        qbusiness_index_id=qbusiness_index_id,
        qbusiness_data_source_id=qbusiness_data_source_id
    )

    connector.sync()

if __name__ == "__main__":
    main()
