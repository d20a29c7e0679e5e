"""The API's guards around running jobs: role allow-lists, and a start retried with a client token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.backend.conftest import CONTAINER, EXECUTION_ROLE, ROLE
from tests.backend.lifecycle.conftest import OTHER_ROLE
from tests.backend.lifecycle.harness import BatchHarness, assert_ended, job_of, state_change_event


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        str(response["Error"]["Code"]),
        str(response["Error"]["Message"]),
    )


@pytest.mark.parametrize("field", ["job_role_arn", "execution_role_arn"])
def test_create_with_a_role_outside_the_allow_list_is_a_400_naming_it(ccf: Any, field: str) -> None:
    with pytest.raises(ClientError) as raised:
        ccf.create_custom_connector(name="escalate", container_properties={**CONTAINER, field: OTHER_ROLE})

    status, code, message = _error(raised)
    assert (status, code) == (400, "BadRequestException")
    assert message.startswith(f"container_properties.{field}: {OTHER_ROLE} is not a role")


def test_update_to_a_role_outside_the_allow_list_is_a_400_and_changes_nothing(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    connector_id = make_connector()["connector_id"]

    with pytest.raises(ClientError) as raised:
        ccf.update_custom_connector(
            connector_id=connector_id, container_properties={"job_role_arn": OTHER_ROLE}
        )

    assert _error(raised)[2].startswith("container_properties.job_role_arn:")
    properties = ccf.get_custom_connector(connector_id=connector_id)["connector"]["container_properties"]
    assert (properties["job_role_arn"], properties["execution_role_arn"]) == (ROLE, EXECUTION_ROLE)


def test_allowed_roles_are_accepted(ccf: Any, make_connector: Callable[..., dict[str, Any]]) -> None:
    connector = make_connector()

    assert connector["container_properties"]["job_role_arn"] == ROLE


def test_retried_start_with_the_same_token_returns_the_same_job(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    connector_id = make_connector()["connector_id"]
    first = ccf.start_custom_connector_job(connector_id=connector_id, client_token="nightly-2025-06-01")[
        "job"
    ]

    again = ccf.start_custom_connector_job(connector_id=connector_id, client_token="nightly-2025-06-01")[
        "job"
    ]

    assert again == first
    jobs = ccf.list_custom_connector_jobs(connector_id=connector_id)["jobs"]
    assert [job["job_id"] for job in jobs] == [first["job_id"]]


def test_start_with_another_token_while_a_job_runs_is_a_409(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    connector_id = make_connector()["connector_id"]
    ccf.start_custom_connector_job(connector_id=connector_id, client_token="first")

    with pytest.raises(ClientError) as raised:
        ccf.start_custom_connector_job(connector_id=connector_id, client_token="second")

    assert _error(raised)[:2] == (409, "ConflictException")


def test_same_token_with_another_environment_is_a_409_naming_client_token(
    ccf: Any, make_connector: Callable[..., dict[str, Any]]
) -> None:
    connector_id = make_connector()["connector_id"]
    ccf.start_custom_connector_job(connector_id=connector_id, client_token="t-1")

    with pytest.raises(ClientError) as raised:
        ccf.start_custom_connector_job(
            connector_id=connector_id,
            client_token="t-1",
            environment=[{"name": "LOG_LEVEL", "value": "debug"}],
        )

    status, _, message = _error(raised)
    assert status == 409
    assert message.startswith("client_token was used for job")


def test_token_retried_after_its_job_ended_returns_that_job_and_submits_once(
    batch_harness: BatchHarness, ccf: Any, make_lifenotes: Callable[..., str], start_job: Callable[..., str]
) -> None:
    connector_id = make_lifenotes(count=2)
    job_id = start_job(connector_id, client_token="retry-me")
    batch_harness.settle()
    batch_harness.report(state_change_event(batch_harness.batch_job(job_id), 0))
    assert_ended(ccf, connector_id, job_id, "SUCCEEDED")

    assert start_job(connector_id, client_token="retry-me") == job_id
    batch_harness.settle()

    assert job_of(ccf, connector_id, job_id)["status"] == "SUCCEEDED"
    assert ccf.get_custom_connector(connector_id=connector_id)["connector"]["status"] == "AVAILABLE"
    assert len(ccf.list_custom_connector_jobs(connector_id=connector_id)["jobs"]) == 1


def test_client_token_is_validated(
    ccf: Any, make_connector: Callable[..., dict[str, Any]], http: Any
) -> None:
    connector_id = make_connector()["connector_id"]

    status, _, body = http.request(
        "POST", f"/api/v1/custom-connectors/{connector_id}/jobs", {"client_token": "has spaces"}
    )

    assert status == 400
    assert body["field"] == "client_token"
