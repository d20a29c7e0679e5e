"""Documents too large for an inline request, staged in S3 for Q Business to read with a role.

The S3 client is built on first use (most runs stage nothing). Keys are
``<prefix>/<connector>/<sha256 of the id>`` (:func:`~ccf_core.destinations.qbusiness_mapping.s3_key`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from io import BytesIO
from typing import Any

from ccf_core.destinations.qbusiness_mapping import base64_length, s3_key
from ccf_core.destinations.retry import build_client
from ccf_core.ports import PreparedDocument
from ccf_core.report import Failure

logger = logging.getLogger(__name__)


def needs_s3_message(doc_id: str, size: int, max_request_bytes: int, has_bucket: bool) -> str:
    """Why a document too large for an inline request was not sent, and how to send it."""
    return (
        f"document {doc_id!r} is {size} bytes ({base64_length(size)} once base64-encoded), over the "
        f"{max_request_bytes}-byte limit of an inline request; to send it through S3, set s3_bucket "
        "(a bucket ccf may write to) and role_arn (an IAM role Q Business can assume to read it)"
        + ("; role_arn is missing" if has_bucket else "")
    )


class S3Staging:
    """Uploads and removes the staged copies of large documents in one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any,
        settings: tuple[Any, str | None, str | None],
        count: Callable[[str], None],
    ) -> None:
        """Stage in ``bucket`` under ``prefix``.

        Args:
            bucket: the bucket large documents are staged in.
            prefix: the key prefix of staged documents.
            client: an S3 client; None builds one from ``settings`` on first use.
            settings: ``(session, region, endpoint_url)`` of the client to build.
            count: told of each upload, for the destination's call statistics.
        """
        self.bucket = bucket
        self.prefix = prefix
        self._client = client
        self._settings = settings
        self._count = count
        self._lock = threading.Lock()

    def key(self, connector: str, document_id: str) -> str:
        """Where ``document_id`` of ``connector`` is staged."""
        return s3_key(self.prefix, connector, document_id)

    def upload(self, prepared: PreparedDocument, key: str) -> Failure | None:
        """Stage a document at ``key`` (multipart when big); the failure, if it fails."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        document = prepared.document
        try:
            if document.file is not None:
                self._s3().upload_file(str(document.file.path), self.bucket, key)
            else:
                self._s3().upload_fileobj(BytesIO(prepared.read_bytes()), self.bucket, key)
        except OSError as err:
            return Failure(document.id, "content_unreadable", f"document {document.id!r}: {err}")
        except (boto3.exceptions.S3UploadFailedError, ClientError, BotoCoreError) as err:
            return Failure(
                document.id,
                "s3_upload_failed",
                f"staging document {document.id!r} at s3://{self.bucket}/{key} failed: "
                f"{type(err).__name__}: {err}",
            )
        self._count("S3Upload")
        return None

    def remove(self, connector: str, document_ids: list[str]) -> None:
        """Delete the staged copies of deleted documents (best effort: a lifecycle rule also works)."""
        from botocore.exceptions import BotoCoreError, ClientError

        keys = [{"Key": self.key(connector, doc_id)} for doc_id in document_ids]
        try:
            self._s3().delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not remove staged copies of deleted documents from S3: %s", err)

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                session, region, endpoint_url = self._settings
                self._client = build_client("s3", session, region, endpoint_url, attempts=3)
            return self._client
