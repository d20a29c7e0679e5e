"""Every template in infrastructure/: lint-clean, naming only handlers, variables and tables that exist."""

from __future__ import annotations

import fnmatch
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ccf_backend import orchestrator, settings
from ccf_backend.batch_executor import batch_status, job_definition
from ccf_backend.custom_resource import StartJobRequest
from ccf_backend.launch import LaunchSpec
from tests.backend.test_template import _CfnLoader

INFRASTRUCTURE = Path(__file__).resolve().parents[2] / "infrastructure"
TEMPLATES = sorted(INFRASTRUCTURE.glob("*.yaml"))
OPENAPI = json.loads((INFRASTRUCTURE / "openapi.json").read_text(encoding="utf-8"))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return document


BACKEND = _load(INFRASTRUCTURE / "template.yaml")
CONNECTOR_STACK = _load(INFRASTRUCTURE / "connector-stack.yaml")


def _functions(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for properties in _functions(document).values():
        for policy in properties.get("Policies", []):
            found.extend(policy.get("Statement", []) if isinstance(policy, dict) else [])
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found.extend(policy["PolicyDocument"]["Statement"])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_there_are_two_templates() -> None:
    assert [path.name for path in TEMPLATES] == ["connector-stack.yaml", "template.yaml"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_cfn_lint_finds_no_errors_or_warnings(template: Path) -> None:
    """Errors and warnings only: informational rules come and go between cfn-lint releases."""
    from cfnlint.api import lint_all

    matches = lint_all(template.read_text(encoding="utf-8"))
    assert [str(match) for match in matches if match.rule.id[0] in "EW"] == []


@pytest.mark.parametrize(
    ("template", "function"),
    [(path.name, name) for path in TEMPLATES for name in _functions(_load(path))],
)
def test_every_handler_is_a_function_of_the_code(template: str, function: str) -> None:
    handler = _functions(_load(INFRASTRUCTURE / template))[function]["Handler"]
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute)), f"{template}: {function} names {handler}"


def test_every_environment_variable_the_backend_sets_is_read_by_its_settings() -> None:
    source = Path(settings.__file__).read_text(encoding="utf-8")
    names = set(BACKEND["Globals"]["Function"]["Environment"]["Variables"])
    for properties in _functions(BACKEND).values():
        names |= set(properties.get("Environment", {}).get("Variables", {}))
    missing = sorted(name for name in names if f'"{name}"' not in source)
    assert missing == []


def test_the_orchestrator_gets_everything_it_submits_with() -> None:
    variables = _functions(BACKEND)["OrchestratorFunction"]["Environment"]["Variables"]
    assert {"CCF_API_ENDPOINT", "CCF_JOB_QUEUE", "CCF_JOB_DEFINITION_PREFIX", "CCF_ASSIGN_PUBLIC_IP"} <= set(
        variables
    )
    assert variables["CCF_JOB_QUEUE"] == {"Ref": "JobQueue"}


def test_every_reference_names_a_resource_or_parameter() -> None:
    for document in (BACKEND, CONNECTOR_STACK):
        known = set(document["Resources"]) | set(document.get("Parameters", {}))
        text = json.dumps(document)
        for kind, separator in (("Ref", None), ("GetAtt", ".")):
            for target in _tagged(document, kind):
                name = target.split(separator)[0] if separator else target
                assert name in known or name.startswith("AWS::") or name in _sam_generated(text), name


def _tagged(node: Any, kind: str) -> list[str]:
    if isinstance(node, dict):
        found = [str(node[kind])] if set(node) == {kind} and isinstance(node[kind], str) else []
        for value in node.values():
            found.extend(_tagged(value, kind))
        return found
    if isinstance(node, list):
        return [item for value in node for item in _tagged(value, kind)]
    return []


def _sam_generated(text: str) -> set[str]:
    """Resources SAM adds from an event (``<Function><Event>`` for an EventBridge rule)."""
    return {"JobStatusFunctionBatchJobEnded"} if "BatchJobEnded" in text else set()


def test_the_api_routes_exactly_the_operations_of_the_openapi_spec() -> None:
    """API Gateway answers 404 for anything else, so the deployed API is the spec, no more, no less."""
    expected = {
        (path, method) for path, item in OPENAPI["paths"].items() for method in item if method in METHODS
    }
    routed = set()
    for name, properties in _functions(BACKEND).items():
        for event in properties.get("Events", {}).values():
            if event["Type"] == "Api":
                assert name == "ApiFunction"
                routed.add((event["Properties"]["Path"], event["Properties"]["Method"]))
    assert routed == expected


def test_no_policy_passes_any_role_or_allows_every_action() -> None:
    for statement in _statements(BACKEND) + _statements(CONNECTOR_STACK):
        actions = _as_list(statement["Action"])
        assert "*" not in actions and not any(action.endswith(":*") for action in actions)
        if "iam:PassRole" in actions:
            assert statement["Resource"] in (
                {"Ref": "AllowedJobRoleArns"},
                {"Ref": "AllowedExecutionRoleArns"},
            )
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            }
        if statement["Resource"] == "*":
            assert set(actions) <= {"batch:DescribeJobs", "batch:DescribeJobDefinitions"}


def test_the_orchestrator_may_register_exactly_the_job_definitions_it_names() -> None:
    stack = "my-stack"
    prefix = _functions(BACKEND)["OrchestratorFunction"]["Environment"]["Variables"][
        "CCF_JOB_DEFINITION_PREFIX"
    ]
    prefix = prefix["Sub"].replace("${AWS::StackName}", stack)
    spec = LaunchSpec(
        command=["ccf-run", "--connector", "webcrawler", "--state", "api"],
        environment={},
        secrets={},
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-runner:1",
        job_role_arn="arn:aws:iam::123456789012:role/job",
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        vcpus=1,
        memory_mib=2048,
    )
    name = job_definition(spec, prefix, "DISABLED")["jobDefinitionName"]
    (statement,) = [
        statement
        for statement in _statements(BACKEND)
        if "batch:RegisterJobDefinition" in _as_list(statement["Action"])
    ]
    pattern = statement["Resource"][0]["Sub"].split("job-definition/")[1].replace("${AWS::StackName}", stack)
    assert fnmatch.fnmatchcase(name, pattern)
    assert not fnmatch.fnmatchcase(f"other-{name}", pattern)


def test_the_orchestrator_stream_filter_passes_the_statuses_it_acts_on() -> None:
    event = _functions(BACKEND)["OrchestratorFunction"]["Events"]["JobChanged"]["Properties"]
    (pattern,) = [json.loads(item["Pattern"]) for item in event["FilterCriteria"]["Filters"]]
    assert set(pattern["dynamodb"]["NewImage"]["status"]["S"]) == {
        status.value for status in orchestrator._ACTIONS
    }
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"], (
        "the handler returns batchItemFailures"
    )


def test_job_status_gets_every_terminal_batch_state_of_its_own_queue() -> None:
    event = _functions(BACKEND)["JobStatusFunction"]["Events"]["BatchJobEnded"]["Properties"]["Pattern"]
    assert event["source"] == ["aws.batch"]
    assert event["detail-type"] == ["Batch Job State Change"]
    assert event["detail"]["jobQueue"] == [{"Ref": "JobQueue"}]
    for status in ("SUCCEEDED", "FAILED", "RUNNABLE", "RUNNING"):
        known = batch_status({"status": status})
        assert known is not None
        assert (status in event["detail"]["status"]) == known.is_terminal


def test_every_function_logs_to_a_group_with_retention() -> None:
    for document in (BACKEND, CONNECTOR_STACK):
        for name, properties in _functions(document).items():
            group = properties["LoggingConfig"]["LogGroup"]["Ref"]
            assert document["Resources"][group]["Type"] == "AWS::Logs::LogGroup", name
            assert "RetentionInDays" in document["Resources"][group]["Properties"], name


def test_the_batch_compute_environment_is_fargate_in_the_given_subnets() -> None:
    resources = BACKEND["Resources"]["ComputeEnvironment"]["Properties"]["ComputeResources"]
    assert resources["Type"] == "FARGATE"
    assert resources["Subnets"] == {"Ref": "Subnets"}
    assert resources["SecurityGroupIds"] == {"Ref": "SecurityGroups"}


def test_the_backend_outputs_the_api_endpoint_and_the_job_queue() -> None:
    outputs = BACKEND["Outputs"]
    assert "ApiEndpoint" in outputs and "ApiId" in outputs
    assert outputs["JobQueueArn"]["Value"] == {"Ref": "JobQueue"}


def test_the_schedule_sends_a_start_job_request_the_function_accepts() -> None:
    target = CONNECTOR_STACK["Resources"]["Schedule"]["Properties"]["Target"]
    assert target["Arn"] == {"GetAtt": "ConnectorFunction.Arn"}
    text = target["Input"]["Sub"]
    filled = text.replace("${BackendApiEndpoint}", "https://abc.execute-api.eu-west-1.amazonaws.com/prod")
    filled = filled.replace("${Connector}", "cc-0123456789ab").replace(
        "<aws.scheduler.scheduled-time>", "2026-11-30T22:00:00Z"
    )
    request = StartJobRequest.model_validate(json.loads(filled))
    assert request.action == "start_job"
    assert request.client_token == "2026-11-30T22:00:00Z"


def test_the_connector_resource_is_served_by_the_custom_resource_function() -> None:
    connector = CONNECTOR_STACK["Resources"]["Connector"]
    assert connector["Properties"]["ServiceToken"] == {"GetAtt": "ConnectorFunction.Arn"}
    function = _functions(CONNECTOR_STACK)["ConnectorFunction"]
    assert function["Handler"] == "ccf_backend.custom_resource.lambda_handler"
    assert function["CodeUri"] == _functions(BACKEND)["ApiFunction"].get(
        "CodeUri", BACKEND["Globals"]["Function"]["CodeUri"]
    )
