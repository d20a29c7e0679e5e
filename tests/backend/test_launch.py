"""The launch spec: what a job's container runs, built from a connector and a job."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ccf_backend import launch
from ccf_backend.executors import ExternalState, ExternalStatus, outcome
from ccf_backend.launch import LaunchError, build_launch
from ccf_core.api import client as api_client
from ccf_core.api.models import JobStatus
from ccf_runner import settings as runner_settings
from ccf_runner.targets import QBUSINESS_IDS

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gitlab-token-AbCdEf"
QBUSINESS = {
    "application_id": "a1b2c3d4-0000-4000-8000-00000000a001",
    "index_id": "a1b2c3d4-0000-4000-8000-00000000b002",
    "data_source_id": "a1b2c3d4-0000-4000-8000-00000000c003",
}


class Nested(BaseModel):
    model_config = ConfigDict(extra="forbid")

    depth: int = 0


class CrawlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_urls: list[str]
    max_pages: int
    follow: bool
    user_agent: str
    limits: Nested


def _connector(**fields: Any) -> dict[str, Any]:
    connector = {
        "connector_id": "cc-0123456789ab",
        "connector_type": "web-crawler",
        "container_properties": {
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:1",
            "job_role_arn": "arn:aws:iam::123456789012:role/ccf-job",
            "execution_role_arn": "arn:aws:iam::123456789012:role/ccf-execution",
            "resource_requirements": {"cpu": 2, "memory": 4096},
            "timeout": 7200,
        },
        "configuration": {
            "start_urls": ["https://example.com/"],
            "max_pages": 50,
            "follow": True,
            "user_agent": "007",
            "limits": {"depth": 3},
        },
        "qbusiness": QBUSINESS,
    }
    connector.update(fields)
    return connector


def _job(*variables: tuple[str, str]) -> dict[str, Any]:
    return {"job_id": "ccj-0123456789ab", "environment": [{"name": n, "value": v} for n, v in variables]}


def test_variable_names_are_the_ones_the_runner_reads() -> None:
    assert launch.ENDPOINT_VARIABLE == api_client.ENDPOINT_VARIABLE
    assert launch.CONNECTOR_ID_VARIABLE == api_client.CONNECTOR_ID_VARIABLE
    assert launch.JOB_ID_VARIABLE == api_client.JOB_ID_VARIABLE
    assert [variable for _, variable in launch.QBUSINESS_VARIABLES] == [env for _, env, _ in QBUSINESS_IDS]
    assert launch.env_prefix("web-crawler") == runner_settings.env_prefix("web-crawler")


def test_command_resources_and_framework_variables() -> None:
    spec = build_launch(_connector(), _job(), "https://api.example.com/prod")

    assert spec.command == ["ccf-run", "--connector", "web-crawler", "--state", "api"]
    assert (spec.vcpus, spec.memory_mib, spec.timeout_seconds) == (2.0, 4096, 7200)
    assert spec.environment["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"] == "https://api.example.com/prod"
    assert spec.environment["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"] == "cc-0123456789ab"
    assert spec.environment["CUSTOM_CONNECTOR_JOB_ID"] == "ccj-0123456789ab"
    assert spec.environment["CCF_LOAD_PLUGINS"] == "web-crawler"
    assert spec.environment["Q_BUSINESS_APP_ID"] == QBUSINESS["application_id"]
    assert spec.environment["Q_BUSINESS_DATA_SOURCE_ID"] == QBUSINESS["data_source_id"]


def test_configuration_reaches_the_runner_with_its_types() -> None:
    spec = build_launch(_connector(), _job(), "http://127.0.0.1:1")

    read_back = runner_settings.config_from_env("web-crawler", CrawlConfig, spec.environment)

    assert read_back == _connector()["configuration"]


def test_job_environment_overrides_configuration_but_not_the_framework() -> None:
    spec = build_launch(
        _connector(),
        _job(("CCF_WEB_CRAWLER_MAX_PAGES", "5"), ("CCF_LOAD_PLUGINS", "other"), ("Q_BUSINESS_APP_ID", "x")),
        "http://127.0.0.1:1",
    )

    assert spec.environment["CCF_WEB_CRAWLER_MAX_PAGES"] == "5"
    assert spec.environment["CCF_LOAD_PLUGINS"] == "web-crawler"
    assert spec.environment["Q_BUSINESS_APP_ID"] == QBUSINESS["application_id"]


def test_without_a_qbusiness_target_no_job_can_name_one() -> None:
    spec = build_launch(_connector(qbusiness=None), _job(("Q_BUSINESS_INDEX_ID", "x")), "http://127.0.0.1:1")

    assert not any(
        name.startswith("Q_BUSINESS_") and name != "Q_BUSINESS_ENDPOINT_URL" for name in spec.environment
    )


def test_secret_references_become_secrets_never_values() -> None:
    references = {"token": SECRET_ARN, "auth.password": SECRET_ARN, "GITLAB_TOKEN": SECRET_ARN}
    spec = build_launch(
        _connector(secret_references=references, configuration={"token": "plain"}), _job(), "http://x"
    )

    assert spec.secrets == {
        "CCF_WEB_CRAWLER_TOKEN": SECRET_ARN,
        "CCF_WEB_CRAWLER_AUTH__PASSWORD": SECRET_ARN,
        "GITLAB_TOKEN": SECRET_ARN,
    }
    assert "CCF_WEB_CRAWLER_TOKEN" not in spec.environment


def test_connector_without_a_type_cannot_be_launched() -> None:
    with pytest.raises(LaunchError, match="connector_type"):
        build_launch(_connector(connector_type=None), _job(), "http://x")


def test_configuration_key_that_cannot_be_a_variable_is_refused_by_name() -> None:
    with pytest.raises(LaunchError, match="'max pages'"):
        build_launch(_connector(configuration={"max pages": 3}), _job(), "http://x")


@pytest.mark.parametrize(
    ("job_status", "external", "expected"),
    [
        (JobStatus.RUNNING, ExternalStatus(ExternalState.SUCCEEDED), (JobStatus.SUCCEEDED, None)),
        (JobStatus.RUNNING, ExternalStatus(ExternalState.FAILED, "exit 1"), (JobStatus.FAILED, "exit 1")),
        (JobStatus.STOPPING, ExternalStatus(ExternalState.FAILED, "terminated"), (JobStatus.STOPPED, None)),
        (JobStatus.STOPPING, ExternalStatus(ExternalState.SUCCEEDED), (JobStatus.SUCCEEDED, None)),
    ],
)
def test_outcome_of_an_ended_container(
    job_status: JobStatus, external: ExternalStatus, expected: tuple[JobStatus, str | None]
) -> None:
    assert outcome(job_status, external) == expected
