"""Settings: validation, CCF_GITLAB_<FIELD> variables, and the token given by reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fake_gitlab import TOKEN
from moto import mock_aws

from ccf_core import ConnectorConfigError
from ccf_core.testing import ConnectorHarness
from ccf_gitlab import GitLabConfig, GitLabConnector
from ccf_gitlab.config import TokenUnavailable, resolve_token
from ccf_runner.settings import build_config


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_settings_come_from_ccf_gitlab_variables() -> None:
    environ = {
        "CCF_GITLAB_URL": "https://gitlab.example.com/",
        "CCF_GITLAB_GROUPS": "[acme/platform, acme/docs]",
        "CCF_GITLAB_INCLUDE": "[issues, wiki]",
        "CCF_GITLAB_MAX_FILE_BYTES": "2048",
        "CCF_GITLAB_TOKEN": "12345",
    }
    raw = build_config("gitlab", GitLabConfig, environ=environ)
    config = GitLabConnector.from_config(raw).config
    assert config.url == "https://gitlab.example.com"
    assert config.groups == ["acme/platform", "acme/docs"]
    assert [kind.value for kind in config.include] == ["issues", "wiki"]
    assert config.max_file_bytes == 2048
    assert resolve_token(config, environ={}) == "12345"  # digits stay a string


def test_the_token_is_read_from_the_variable_token_env_names() -> None:
    config = GitLabConfig(token_env="MY_GITLAB_TOKEN")
    assert resolve_token(config, environ={"MY_GITLAB_TOKEN": "glpat-abc"}) == "glpat-abc"


def test_a_missing_token_names_where_it_was_looked_for() -> None:
    with pytest.raises(TokenUnavailable, match="GITLAB_TOKEN"):
        resolve_token(GitLabConfig(), environ={})


def test_the_token_can_name_an_environment_variable() -> None:
    config = GitLabConfig(token="env:CI_GITLAB_TOKEN")
    assert (
        resolve_token(config, environ={"CI_GITLAB_TOKEN": "glpat-abc", "GITLAB_TOKEN": "other"})
        == "glpat-abc"
    )


def test_an_unset_variable_in_token_is_named_and_token_env_is_not_tried() -> None:
    with pytest.raises(TokenUnavailable, match=r"^token: environment variable CI_GITLAB_TOKEN is not set"):
        resolve_token(GitLabConfig(token="env:CI_GITLAB_TOKEN"), environ={"GITLAB_TOKEN": "glpat-abc"})


def test_a_missing_token_fails_the_run_with_one_line(config: dict[str, Any], tmp_path: Any) -> None:
    settings = {key: value for key, value in config.items() if key != "token"}
    with ConnectorHarness(GitLabConnector, settings, directory=tmp_path) as harness:
        report = harness.run(check=False).report
    assert report.status == "failed"
    assert "GITLAB_TOKEN" in (report.error or "") and "\n" not in (report.error or "")


def test_the_token_is_read_from_secrets_manager(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="ci/gitlab", SecretString=TOKEN)["ARN"]
    assert resolve_token(GitLabConfig(token=arn)) == TOKEN


def test_the_token_is_read_from_an_ssm_secure_string(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/ccf/gitlab-token", Value=TOKEN, Type="SecureString")
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/ccf/gitlab-token"
    assert resolve_token(GitLabConfig(token=arn)) == TOKEN


def test_a_json_secret_gives_its_token_key(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = client.create_secret(Name="ci/gitlab-json", SecretString=f'{{"private_token": "{TOKEN}"}}')["ARN"]
    assert resolve_token(GitLabConfig(token=arn)) == TOKEN


def test_an_unreadable_secret_is_named_without_a_traceback(aws: None) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(TokenUnavailable, match="ResourceNotFoundException") as caught:
        resolve_token(GitLabConfig(token=arn))
    assert arn in str(caught.value)


def test_the_token_is_hidden_in_config_dumps() -> None:
    config = GitLabConfig(token=TOKEN)
    assert TOKEN not in repr(config)
    assert TOKEN not in str(config.model_dump())


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"url": "gitlab.example.com"}, "url"),
        ({"include": ["issues", "snippets"]}, "include.1"),
        ({"identity": "phone"}, "identity"),
        ({"grups": ["acme"]}, "grups"),
        ({"max_file_bytes": 0}, "max_file_bytes"),
    ],
)
def test_invalid_settings_name_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        GitLabConnector.from_config(settings)
    assert field in [name for name, _ in caught.value.problems]
