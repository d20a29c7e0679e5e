"""The fake Q Business itself: requests held to botocore's model, errors answered as botocore parses them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_request_breaking_a_rule_botocore_does_not_check_is_refused_with_400(qbusiness_client, ids) -> None:
    def call():
        qbusiness_client.batch_put_document(
            applicationId=ids["application_id"],
            indexId=ids["index_id"],
            roleArn="not-an-arn",
            documents=[{"id": "d", "content": {"blob": b"x"}, "contentType": "PLAIN_TEXT"}],
        )

    assert error_of(call) == ("ValidationException", 400)


def test_a_batch_call_needs_a_running_sync_job(qbusiness_client, ids) -> None:
    def call():
        qbusiness_client.batch_delete_document(
            applicationId=ids["application_id"],
            indexId=ids["index_id"],
            dataSourceSyncId="f" * 36,
            documents=[{"documentId": "d"}],
        )

    assert error_of(call) == ("ValidationException", 400)


def test_injected_errors_carry_the_status_of_their_model_shape(fake_qbusiness, qbusiness_client, ids) -> None:
    params = {
        "applicationId": ids["application_id"],
        "indexId": ids["index_id"],
        "dataSourceId": ids["data_source_id"],
    }
    fake_qbusiness.fail_next("StartDataSourceSyncJob", "ThrottlingException")
    fake_qbusiness.fail_next("StartDataSourceSyncJob", "InternalServerException")

    assert error_of(lambda: qbusiness_client.start_data_source_sync_job(**params)) == (
        "ThrottlingException",
        429,
    )
    assert error_of(lambda: qbusiness_client.start_data_source_sync_job(**params)) == (
        "InternalServerException",
        500,
    )
    qbusiness_client.start_data_source_sync_job(**params)
    assert error_of(lambda: qbusiness_client.start_data_source_sync_job(**params)) == (
        "ConflictException",
        409,
    )


def test_blobs_are_stored_decoded(fake_qbusiness, qbusiness_client, ids) -> None:
    qbusiness_client.batch_put_document(
        applicationId=ids["application_id"],
        indexId=ids["index_id"],
        documents=[{"id": "raw", "content": {"blob": b"\x00\x01binary"}, "contentType": "PDF"}],
    )

    assert fake_qbusiness.documents["raw"].content == b"\x00\x01binary"
