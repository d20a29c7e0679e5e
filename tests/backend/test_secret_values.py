"""Credentials are refused where the API stores plain text (job environment, connector configuration);
references to secrets and every upstream variable name are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from ccf_core.api.secret_values import credential_problem

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitlab-token-AbCdEf"
#: Looks like a GitLab personal access token; not a real one.
GITLAB_TOKEN_VALUE = "glpat-" + "x1Y2z3" * 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITLAB_TOKEN_SECRET_ARN", SECRET_ARN),
        ("GITLAB_TOKEN", SECRET_ARN),
        ("DB_PASSWORD", "/ccf/prod/db-password"),
        ("API_KEY_PARAMETER", "arn:aws:ssm:us-east-1:123456789012:parameter/ccf/api-key"),
        ("TOKEN_URL", "https://gitlab.example.com/oauth/token"),
        ("GITLAB_TOKEN", ""),
        ("AWS_DATA_PATH", "/var/task/"),
        ("GITLAB_URL", "https://gitlab.com"),
        ("tokenizer", "/opt/models/tokenizer.json"),
        ("token_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        ("apiKeyHeader", "X-Api-Key"),
        ("CLIENT_SECRET_NAME", "prod/gitlab/client-secret"),
        ("TOKEN_TYPE", "bearer"),
    ],
)
def test_references_and_plain_settings_may_be_stored(name: str, value: str) -> None:
    assert credential_problem(name, value) is None


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("GITLAB_TOKEN", "s3cr3t-value", "name looks like a secret"),
        ("dbPassword", "hunter2", "name looks like a secret"),
        ("client-secret", "abc", "name looks like a secret"),
        ("PRIVATEKEY", "abc", "name looks like a secret"),
        ("GITLAB_TOKEN_SECRET_ARN", GITLAB_TOKEN_VALUE, "GitLab token"),
        ("SETTINGS", GITLAB_TOKEN_VALUE, "GitLab token"),
        ("NOTE", "AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("KEY_FILE_CONTENT", "-----BEGIN RSA PRIVATE KEY-----\nMII", "private key"),
        ("DATABASE_URL", "postgres://app:pa55word@db.internal/app", "URL with a password"),
    ],
)
def test_credentials_are_recognised_without_quoting_them(name: str, value: str, reason: str) -> None:
    problem = credential_problem(name, value)
    assert problem is not None and reason in problem
    assert value not in problem


def test_every_upstream_variable_name_is_accepted_on_a_job(ccf: Any, connector_id: str) -> None:
    environment = [
        {"name": "AWS_DATA_PATH", "value": "/var/task/"},
        {"name": "AWS_REGION", "value": "eu-west-1"},
        {"name": "CUSTOM_CONNECTOR_EXTRA", "value": "x"},
        {"name": "GITLAB_TOKEN_SECRET_ARN", "value": SECRET_ARN},
        {"name": "a", "value": ""},
    ]
    job = ccf.start_custom_connector_job(connector_id=connector_id, environment=environment)["job"]
    assert job["environment"] == environment


def test_a_credential_in_a_job_environment_is_refused_with_advice(http: Any, connector_id: str) -> None:
    body = {"environment": [{"name": "GITLAB_TOKEN", "value": "plain-text-token"}]}
    status, _, answer = http.request("POST", f"/api/v1/custom-connectors/{connector_id}/jobs", body)
    assert status == 400
    assert answer["field"] == "environment"
    assert "GITLAB_TOKEN" in answer["message"] and "secret_references" in answer["message"]
    assert "_ARN" in answer["message"]
    assert "plain-text-token" not in answer["message"]


def test_a_credential_in_configuration_is_refused_on_create(ccf: Any, make_connector: Any) -> None:
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        make_connector(configuration={"base_url": "https://gitlab.com", "auth": {"password": "hunter2"}})
    error = caught.value.response["Error"]
    assert "configuration.auth.password" in error["Message"]
    assert "secret_references" in error["Message"]
    assert "hunter2" not in error["Message"]


def test_a_credential_in_configuration_is_refused_on_update(ccf: Any, connector_id: str) -> None:
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.update_custom_connector(
            connector_id=connector_id, configuration={"servers": [{"apiKey": "k-123"}]}
        )
    assert "configuration.servers[0].apiKey" in caught.value.response["Error"]["Message"]
    assert "configuration" not in ccf.get_custom_connector(connector_id=connector_id)["connector"]


def test_references_in_configuration_are_stored(ccf: Any, make_connector: Any) -> None:
    configuration = {
        "token_secret_arn": SECRET_ARN,
        "password": "/ccf/db/password",
        "token_url": "https://gitlab.example.com/oauth/token",
        "projects": ["group/a", "group/b"],
    }
    connector = make_connector(configuration=configuration)
    assert connector["configuration"] == configuration
