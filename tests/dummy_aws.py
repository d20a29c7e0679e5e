"""Dummy AWS credentials for the local servers and moto: boto3 signs every request, nothing checks it."""

from __future__ import annotations

from typing import Any

#: Keyword arguments of ``boto3.Session`` and ``boto3.client``.
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}
#: The same for a subprocess's environment.
DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",  # the one botocore reads
}


def dummy_session() -> Any:
    """A ``boto3.Session`` with the dummy credentials (none of the machine's own)."""
    import boto3

    return boto3.Session(**DUMMY_CREDENTIALS)
