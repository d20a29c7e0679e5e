"""The seed guide's example ("Role of the builder"), with ccf imports, against the fake through boto3."""

from __future__ import annotations

import pytest

from tests import seed_example
from tests.qbusiness.conftest import APPLICATION_ID, DATA_SOURCE_ID, INDEX_ID


def test_seed_example_main_syncs_through_a_real_boto3_client(
    fake_qbusiness, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's own main(): ids from the environment, boto3.client('qbusiness'), sync()."""
    path = tmp_path / "file.txt"
    path.write_text("The content of the fake document.")
    monkeypatch.setattr(seed_example, "FAKE_FILE_PATH", str(path))
    for name, value in {
        "Q_BUSINESS_APP_ID": APPLICATION_ID,
        "Q_BUSINESS_INDEX_ID": INDEX_ID,
        "Q_BUSINESS_DATA_SOURCE_ID": DATA_SOURCE_ID,
        "AWS_ENDPOINT_URL_QBUSINESS": fake_qbusiness.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)

    seed_example.main()

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
