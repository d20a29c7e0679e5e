"""The upstream CCF's own clients, as they call the API today, work unchanged against this backend.

Each test sends the requests those clients send, shaped as they shape them (written here from
their documented behaviour, not copied): the builder kit's ``CCFClient`` (lists without paging
parameters then with ``next_token``, batches of 10, the checkpoint as a JSON string), the example
stacks' custom resource (Create/Update/Delete of a connector from CloudFormation properties, which
arrive as strings) and the scheduled Lambda that starts a job from an EventBridge rule's input.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ccf_backend.storage import jobs
from ccf_core.api.models import JobStatus
from tests.backend.conftest import EXECUTION_ROLE, IMAGE, ROLE

#: The builder kit's CCFClient sends at most this many documents per call.
REFERENCE_BATCH = 10
GITLAB_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:GitLabTokenSecret-AbCdEf"
Q_IDS = {
    "Q_BUSINESS_APP_ID": "a" * 36,
    "Q_BUSINESS_INDEX_ID": "b" * 36,
    "Q_BUSINESS_DATA_SOURCE_ID": "c" * 36,
}
#: The input of each example stack's daily EventBridge rule (``{environment, ccf_endpoint}``).
GITLAB_RULE_INPUT = {
    "environment": {
        "GITLAB_CONFIG_PATH": "/var/task/gitlab_config.json",
        **Q_IDS,
        "GITLAB_URL": "https://gitlab.com",
        "AWS_DATA_PATH": "/var/task/",
        "GITLAB_TOKEN_SECRET_ARN": GITLAB_SECRET_ARN,
    },
    "ccf_endpoint": "https://example.execute-api.us-east-1.amazonaws.com/prod/",
}
WEB_CRAWLER_RULE_INPUT = {
    "environment": {"CRAWLER_CONFIG_PATH": "/var/task/crawler_urls.json", **Q_IDS},
    "ccf_endpoint": "https://example.execute-api.us-east-1.amazonaws.com/prod/",
}


# -- the clients, as they behave ---------------------------------------------------------------


def reference_list_documents(ccf: Any, connector_id: str) -> dict[str, dict[str, Any]]:
    """CCFClient.list_documents: no paging parameters, then ``next_token`` until there is none."""
    documents: dict[str, dict[str, Any]] = {}
    next_token = None
    while True:
        params: dict[str, Any] = {"connector_id": connector_id}
        if next_token:
            params["next_token"] = next_token
        response = ccf.list_custom_connector_documents(**params)
        for document in response["documents"]:
            documents[document["document_id"]] = document
        next_token = response.get("next_token")
        if not next_token:
            return documents


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), REFERENCE_BATCH):
        yield items[start : start + REFERENCE_BATCH]


def reference_batch_put(ccf: Any, connector_id: str, checksums: dict[str, str]) -> None:
    """CCFClient.batch_put_documents: ``{document_id, checksum}`` items, 10 per call."""
    items = [{"document_id": doc_id, "checksum": checksum} for doc_id, checksum in checksums.items()]
    for batch in _batches(items):
        ccf.batch_put_custom_connector_documents(connector_id=connector_id, documents=batch)


def reference_batch_delete(ccf: Any, connector_id: str, document_ids: list[str]) -> None:
    """CCFClient.batch_delete_documents: ids, 10 per call."""
    for batch in _batches(document_ids):
        ccf.batch_delete_custom_connector_documents(connector_id=connector_id, document_ids=batch)


def _container(properties: dict[str, str]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "image_uri": properties["DockerImageUri"],
        "execution_role_arn": properties["ExecutionRoleArn"],
        "job_role_arn": properties["JobRoleArn"],
    }
    resources: dict[str, Any] = {}
    if "Memory" in properties:
        resources["memory"] = int(properties["Memory"])
    if "Cpu" in properties:
        resources["cpu"] = float(properties["Cpu"])
    if resources:
        container["resource_requirements"] = resources
    if "Timeout" in properties:
        container["timeout"] = int(properties["Timeout"])
    return container


def reference_custom_resource(
    ccf: Any, request_type: str, properties: dict[str, str], physical_id: str = ""
) -> str:
    """The example stacks' custom resource: the CCF calls of one CloudFormation request; its physical id.

    Like the original, a failed Delete is only logged (the stack goes on), so it is not raised here.
    """
    if request_type == "Create":
        connector = ccf.create_custom_connector(
            name=properties["ConnectorName"],
            container_properties=_container(properties),
            description=properties.get("Description", ""),
        )["connector"]
        return str(connector["connector_id"])
    if request_type == "Update":
        connector = ccf.update_custom_connector(
            connector_id=physical_id,
            name=properties["ConnectorName"],
            description=properties.get("Description", ""),
            container_properties=_container(properties),
        )["connector"]
        return str(connector["connector_id"])
    with contextlib.suppress(ClientError):
        ccf.delete_custom_connector(connector_id=physical_id)
    return physical_id


def reference_scheduled_start(ccf: Any, connector_id: str, rule_input: dict[str, Any]) -> dict[str, Any]:
    """The scheduled Lambda: the rule's ``environment`` map as ``[{name, value}]``, then start a job."""
    environment = [{"name": key, "value": str(value)} for key, value in rule_input["environment"].items()]
    job = ccf.start_custom_connector_job(connector_id=connector_id, environment=environment)["job"]
    return {key: job[key] for key in ("job_id", "status", "connector_id", "created_at")}


def stack_properties(
    name: str, description: str, memory: int, cpu: int, image: str = IMAGE
) -> dict[str, str]:
    """A custom resource's properties as CloudFormation delivers them (every value a string)."""
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "ConnectorName": name,
        "Description": description,
        "DockerImageUri": image,
        "ExecutionRoleArn": EXECUTION_ROLE,
        "JobRoleArn": ROLE,
        "Memory": str(memory),
        "Cpu": str(cpu),
        "Timeout": "900",
    }


GITLAB_STACK = stack_properties("gitlab-connector", "GitLab Connector for Amazon Q Business", 2048, 1)
WEB_CRAWLER_STACK = stack_properties(
    "web-crawler-connector", "Web Crawler Connector for Amazon Q Business", 4096, 2
)


def _finish(connector_id: str, job_id: str) -> None:
    """What the job-status function does when the Batch job ends."""
    jobs.finish_job(connector_id, job_id, JobStatus.SUCCEEDED)


# -- the builder kit's CCFClient ---------------------------------------------------------------


def test_ccf_client_pages_documents_with_next_token_only(ccf: Any, connector_id: str) -> None:
    checksums = {f"https://example.com/page/{number}": f"{number:064x}" for number in range(123)}
    reference_batch_put(ccf, connector_id, checksums)
    listed = reference_list_documents(ccf, connector_id)
    assert {doc_id: doc["checksum"] for doc_id, doc in listed.items()} == checksums
    first_page = ccf.list_custom_connector_documents(connector_id=connector_id)
    assert len(first_page["documents"]) == 50  # the upstream default page size
    assert first_page["next_token"]


def test_ccf_client_batch_delete_forgets_the_documents(ccf: Any, connector_id: str) -> None:
    checksums = {f"doc-{number}": "f" * 64 for number in range(25)}
    reference_batch_put(ccf, connector_id, checksums)
    reference_batch_delete(ccf, connector_id, [f"doc-{number}" for number in range(0, 25, 2)])
    assert sorted(reference_list_documents(ccf, connector_id)) == sorted(
        f"doc-{number}" for number in range(1, 25, 2)
    )


def test_ccf_client_batch_put_replaces_a_checksum(ccf: Any, connector_id: str) -> None:
    reference_batch_put(ccf, connector_id, {"doc": "0" * 64})
    reference_batch_put(ccf, connector_id, {"doc": "1" * 64})
    assert reference_list_documents(ccf, connector_id)["doc"]["checksum"] == "1" * 64


def test_ccf_client_checkpoint_round_trips_as_a_json_string(ccf: Any, connector_id: str) -> None:
    data = json.dumps({"last_crawl": "2025-07-01T00:00:00+00:00", "cursor": "abc"})
    response = ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data=data)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    checkpoint = ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
    assert checkpoint["checkpoint_data"] == data
    assert json.loads(checkpoint["checkpoint_data"]) == json.loads(data)
    assert checkpoint["connector_id"] == connector_id  # the upstream response schema requires it


# -- the example stacks' custom resource ------------------------------------------------------


@pytest.mark.parametrize("properties", [GITLAB_STACK, WEB_CRAWLER_STACK], ids=["gitlab", "web-crawler"])
def test_custom_resource_creates_the_connector_of_each_stack(ccf: Any, properties: dict[str, str]) -> None:
    connector_id = reference_custom_resource(ccf, "Create", properties)
    connector = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert connector["name"] == properties["ConnectorName"]
    assert connector["description"] == properties["Description"]
    container = connector["container_properties"]
    assert container["resource_requirements"] == {
        "cpu": float(properties["Cpu"]),
        "memory": int(properties["Memory"]),
    }
    assert container["timeout"] == 900
    reference_custom_resource(ccf, "Delete", properties, connector_id)


def test_custom_resource_update_during_a_running_job_succeeds(ccf: Any) -> None:
    """A stack update while the daily job runs must not fail the stack (upstream allowed it)."""
    connector_id = reference_custom_resource(ccf, "Create", GITLAB_STACK)
    job = reference_scheduled_start(ccf, connector_id, GITLAB_RULE_INPUT)
    new_image = IMAGE.replace(":latest", ":v2")
    updated = dict(GITLAB_STACK, DockerImageUri=new_image, Memory="4096")
    assert reference_custom_resource(ccf, "Update", updated, connector_id) == connector_id
    connector = ccf.get_custom_connector(connector_id=connector_id)["connector"]
    assert connector["status"] == "IN_USE"
    assert connector["container_properties"]["image_uri"] == new_image
    assert connector["container_properties"]["resource_requirements"]["memory"] == 4096
    _finish(connector_id, job["job_id"])


def test_custom_resource_delete_of_a_busy_connector_is_refused_then_works(ccf: Any) -> None:
    connector_id = reference_custom_resource(ccf, "Create", WEB_CRAWLER_STACK)
    job = reference_scheduled_start(ccf, connector_id, WEB_CRAWLER_RULE_INPUT)
    with pytest.raises(ccf.exceptions.ConflictException):
        ccf.delete_custom_connector(connector_id=connector_id)
    _finish(connector_id, job["job_id"])
    reference_custom_resource(ccf, "Delete", WEB_CRAWLER_STACK, connector_id)
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.get_custom_connector(connector_id=connector_id)


# -- the example stacks' scheduled start -------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "rule_input"),
    [(GITLAB_STACK, GITLAB_RULE_INPUT), (WEB_CRAWLER_STACK, WEB_CRAWLER_RULE_INPUT)],
    ids=["gitlab", "web-crawler"],
)
def test_scheduled_start_of_each_stack_starts_a_job(
    ccf: Any, properties: dict[str, str], rule_input: dict[str, Any]
) -> None:
    connector_id = reference_custom_resource(ccf, "Create", properties)
    started = reference_scheduled_start(ccf, connector_id, rule_input)
    assert started["status"] == "STARTED"
    assert started["connector_id"] == connector_id
    assert started["job_id"].startswith("ccj-") and len(started["job_id"]) == 16
    job = ccf.get_custom_connector_job(connector_id=connector_id, job_id=started["job_id"])["job"]
    assert {item["name"]: item["value"] for item in job["environment"]} == rule_input["environment"]
    _finish(connector_id, started["job_id"])
    reference_custom_resource(ccf, "Delete", properties, connector_id)
