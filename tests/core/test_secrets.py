"""Secret references (env:NAME, Secrets Manager, SSM via moto), and errors that never show a value."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from ccf_core.secrets import SecretReferenceError, is_secret_reference, read_secret_reference, resolve_secret


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


# -- resolve_secret: every kind of reference a setting may hold ----------------------------------

SM_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter"


def test_a_plain_value_is_returned_as_it_is() -> None:
    assert resolve_secret("glpat-plain-token", "token", {}) == "glpat-plain-token"
    assert resolve_secret("Bearer environment:x", "headers.Authorization", {}) == "Bearer environment:x"


def test_env_reads_the_variable_from_the_given_environment() -> None:
    assert resolve_secret("env:CI_TOKEN", "token", {"CI_TOKEN": "from-env"}) == "from-env"


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCF_TEST_SECRET", "from-os-environ")
    assert resolve_secret("env:CCF_TEST_SECRET", "token") == "from-os-environ"


@pytest.mark.parametrize(
    ("value", "environ", "problem"),
    [
        ("env:CI_TOKEN", {}, "token: environment variable CI_TOKEN is not set"),
        ("env:CI_TOKEN", {"CI_TOKEN": ""}, "token: environment variable CI_TOKEN is empty"),
        ("env:", {}, "token: env: needs a variable name"),
    ],
)
def test_an_unusable_variable_is_named_with_the_field(
    value: str, environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(SecretReferenceError) as caught:
        resolve_secret(value, "token", environ)
    assert str(caught.value).startswith(problem)
    assert (caught.value.field, caught.value.kind) == ("token", "env")


def test_a_secrets_manager_arn_and_one_json_key_of_it_are_resolved(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="ci/api", SecretString='{"token": "s3cr3t", "user": "bot"}')["ARN"]

    assert resolve_secret(f"{arn}#token", "headers.Authorization", {}) == "s3cr3t"
    assert resolve_secret(arn, "headers.Authorization", {}) == '{"token": "s3cr3t", "user": "bot"}'


def test_an_ssm_parameter_arn_and_one_json_key_of_it_are_resolved(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/ci/plain", Value="from-ssm", Type="SecureString")
    ssm.put_parameter(Name="/ci/json", Value='{"password": "pw-from-ssm"}', Type="SecureString")

    assert resolve_secret(f"{SSM_ARN}/ci/plain", "token", {}) == "from-ssm"
    assert resolve_secret(f"{SSM_ARN}/ci/json#password", "token", {}) == "pw-from-ssm"


@pytest.mark.parametrize(
    ("reference", "kind", "problem"),
    [
        (
            f"{SM_ARN}gone-AbCdEf",
            "secretsmanager",
            "cannot read Secrets Manager secret arn:aws:secretsmanager",
        ),
        (f"{SSM_ARN}/ci/gone", "ssm", "cannot read SSM parameter arn:aws:ssm:"),
    ],
)
def test_an_unreadable_reference_names_the_field_the_kind_and_the_service_error(
    aws: None, reference: str, kind: str, problem: str
) -> None:
    with pytest.raises(SecretReferenceError) as caught:
        resolve_secret(reference, "token", {})
    message = str(caught.value)
    assert message.startswith(f"token: {problem}")
    assert message.endswith(("ResourceNotFoundException", "ParameterNotFound"))
    assert caught.value.kind == kind
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::123456789012:role/hunter2-role",
        "arn:aws-cn:s3:::hunter2-bucket/key",
        "arn:aws:secretsmanager:not a region:hunter2",
    ],
)
def test_an_arn_that_is_no_supported_reference_is_refused_without_echoing_it(value: str) -> None:
    """A secret that happens to start with arn: is never sent on, nor shown."""
    with pytest.raises(SecretReferenceError) as caught:
        resolve_secret(value, "headers.Authorization", {})
    assert str(caught.value).startswith("headers.Authorization: only Secrets Manager and SSM parameter ARNs")
    assert caught.value.kind == "arn"
    assert "hunter2" not in str(caught.value)


def test_no_error_message_contains_a_secret_value(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    json_arn = client.create_secret(Name="ci/json", SecretString='{"token": "s3cr3t-json"}')["ARN"]
    text_arn = client.create_secret(Name="ci/text", SecretString="s3cr3t-text")["ARN"]
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name="/ci/list", Value='["s3cr3t-list"]', Type="SecureString"
    )

    messages = []
    for reference in (f"{json_arn}#password", f"{text_arn}#token", f"{SSM_ARN}/ci/list#token"):
        with pytest.raises(SecretReferenceError, match=r"holds no JSON key '(password|token)'") as caught:
            resolve_secret(reference, "token", {"UNRELATED": "s3cr3t-env"})
        messages.append(f"{caught.value} {caught.value!r}")

    assert messages and not any("s3cr3t" in message for message in messages)
