"""Secret references: read from Secrets Manager or SSM (moto), errors that never show a value."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ccf_core.secrets import SecretReferenceError, is_secret_reference, read_secret_reference


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_references_are_recognised() -> None:
    assert is_secret_reference("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/token-AbCdEf")
    assert is_secret_reference("arn:aws:ssm:eu-west-1:123456789012:parameter/ci/token")
    assert not is_secret_reference("glpat-plain-token")
    assert not is_secret_reference("arn:aws:iam::123456789012:role/job")


def test_a_secret_and_one_json_key_of_it_are_read(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="ci/token", SecretString='{"token": "s3cr3t", "user": "bot"}')["ARN"]

    assert read_secret_reference(f"{arn}#token") == "s3cr3t"
    assert read_secret_reference(arn).startswith("{")


def test_an_ssm_parameter_is_read(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/ci/token", Value="from-ssm", Type="SecureString")

    assert read_secret_reference("arn:aws:ssm:eu-west-1:123456789012:parameter/ci/token") == "from-ssm"


def test_a_missing_secret_names_the_reference_and_the_error_only(aws: None) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(SecretReferenceError, match=r"cannot read .*nope.*ResourceNotFoundException"):
        read_secret_reference(arn)


def test_a_missing_json_key_is_named(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="ci/other", SecretString='{"token": "s3cr3t"}')["ARN"]
    with pytest.raises(SecretReferenceError, match="no JSON key 'password'") as caught:
        read_secret_reference(f"{arn}#password")
    assert "s3cr3t" not in str(caught.value)
