"""Documents too large to send inline: staged in S3 (under moto), or rejected with a reason that says why."""

from __future__ import annotations

import hashlib

from ccf_core import Document, DocumentFile, DocumentMetadata, RunStatus, SyncMode
from tests.qbusiness.conftest import LISTING_SCOPE

MB = 1024 * 1024


def staged_key(connector: str, doc_id: str) -> str:
    return f"ccf/{connector}/{hashlib.sha256(doc_id.encode()).hexdigest()}"


def big_file(tmp_path, name: str, size: int) -> DocumentFile:
    """A sparse file: its size costs no disk space or memory."""
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(size)
    return DocumentFile(path)


def test_a_12_mb_document_is_staged_in_s3_and_sent_as_a_reference_with_the_role(
    fake_qbusiness, run_sync, make_destination, make_connector, s3, ids, tmp_path
) -> None:
    s3_client, bucket = s3
    path = tmp_path / "big.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"x" * (12 * MB))
    doc = Document(id="big", file=DocumentFile(path), metadata=DocumentMetadata(title="Big"))
    destination = make_destination(s3_client=s3_client, s3_bucket=bucket, role_arn=ids["role_arn"])

    report = run_sync(make_connector([doc]), destination=destination)

    assert report.status is RunStatus.SUCCEEDED
    key = staged_key("listing", "big")
    staged = s3_client.get_object(Bucket=bucket, Key=key)
    assert staged["ContentLength"] == path.stat().st_size
    stored = fake_qbusiness.documents["big"]
    assert stored.s3 == {"bucket": bucket, "key": key}
    assert stored.content is None
    assert stored.role_arn == ids["role_arn"]


def test_the_staging_key_is_a_hash_of_the_id_never_the_id(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc, s3, ids
) -> None:
    s3_client, bucket = s3
    doc_id = "https://wiki.example.com/a b/../../etc?x=1"
    destination = make_destination(
        s3_client=s3_client, s3_bucket=bucket, role_arn=ids["role_arn"], max_request_bytes=4000
    )

    run_sync(make_connector([make_doc(doc_id, "z" * 5000)]), destination=destination)

    (listed,) = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
    assert listed["Key"] == staged_key("listing", doc_id)
    assert fake_qbusiness.documents[doc_id].s3 == {"bucket": bucket, "key": listed["Key"]}


def test_only_requests_with_a_staged_document_carry_the_role(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc, s3, ids
) -> None:
    s3_client, bucket = s3
    destination = make_destination(
        s3_client=s3_client, s3_bucket=bucket, role_arn=ids["role_arn"], max_request_bytes=4000
    )

    run_sync(make_connector([make_doc("small"), make_doc("large", "z" * 5000)]), destination=destination)

    role_by_id = {
        document["id"]: params.get("roleArn")
        for params in fake_qbusiness.successful_params("BatchPutDocument")
        for document in params["documents"]
    }
    assert role_by_id == {"small": None, "large": ids["role_arn"]}


def test_a_large_document_without_s3_fails_with_needs_s3_and_how_to_configure_it(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc, state
) -> None:
    """7.6 MB raw is more than 10 MB once base64-encoded: it cannot go inline."""
    docs = [make_doc("large", "z" * (7_600_000)), make_doc("small")]

    report = run_sync(make_connector(docs), destination=make_destination())

    assert report.added == 1
    assert report.failures_by_reason == {"needs_s3": 1}
    message = report.failures[0].message
    assert report.failures[0].document_id == "large"
    assert "s3_bucket" in message and "role_arn" in message
    assert "large" not in fake_qbusiness.documents
    assert "large" not in state.load_checksums(LISTING_SCOPE)


def test_a_bucket_without_a_role_still_fails_with_needs_s3_naming_the_role(
    run_sync, make_destination, make_connector, make_doc, s3
) -> None:
    s3_client, bucket = s3
    destination = make_destination(s3_client=s3_client, s3_bucket=bucket, max_request_bytes=4000)

    report = run_sync(make_connector([make_doc("large", "z" * 5000)]), destination=destination)

    assert report.failures_by_reason == {"needs_s3": 1}
    assert "role_arn is missing" in report.failures[0].message
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_document_over_50_mb_fails_with_too_large(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc, s3, ids, tmp_path
) -> None:
    s3_client, bucket = s3
    huge = Document(
        id="huge", file=big_file(tmp_path, "huge.pdf", 51 * MB), metadata=DocumentMetadata(title="H")
    )
    destination = make_destination(s3_client=s3_client, s3_bucket=bucket, role_arn=ids["role_arn"])

    report = run_sync(make_connector([huge, make_doc("small")]), destination=destination)

    assert report.added == 1
    assert report.failures_by_reason == {"too_large": 1}
    assert str(50 * MB) in report.failures[0].message
    assert "huge" not in fake_qbusiness.documents
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_deleting_a_staged_document_removes_its_s3_copy(
    fake_qbusiness, run_sync, make_destination, make_connector, make_doc, s3, ids
) -> None:
    s3_client, bucket = s3

    options = {
        "s3_client": s3_client,
        "s3_bucket": bucket,
        "role_arn": ids["role_arn"],
        "max_request_bytes": 4000,
    }
    staged = [make_doc("large", "z" * 5000), make_doc("kept")]
    run_sync(make_connector(staged), destination=make_destination(**options))
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 1

    gone = make_connector([], mode=SyncMode.INCREMENTAL, deleted=["large"])
    report = run_sync(gone, destination=make_destination(**options))

    assert report.deleted == 1
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_document_near_the_request_limit_is_measured_exactly_and_sent_inline(
    fake_qbusiness, run_sync, make_destination, make_connector, s3, ids
) -> None:
    """The engine's size bound is loose (3x the metadata); near the limit the exact size decides."""
    s3_client, bucket = s3
    destination = make_destination(
        s3_client=s3_client, s3_bucket=bucket, role_arn=ids["role_arn"], max_request_bytes=4000
    )
    doc = Document(id="near", content="z" * 2000, metadata=DocumentMetadata(title="T" * 500))

    report = run_sync(make_connector([doc]), destination=destination)

    assert report.added == 1
    assert fake_qbusiness.documents["near"].s3 is None
    assert fake_qbusiness.documents["near"].content == b"z" * 2000
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
