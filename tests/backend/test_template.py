"""infrastructure/template.yaml: the tables it declares are the tables the code creates locally.

cfn-lint checks it with every other template in test_templates.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ccf_backend.settings import Settings
from ccf_backend.storage.tables import TTL_ATTRIBUTE, table_definitions

TEMPLATE = Path(__file__).resolve().parents[2] / "infrastructure" / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)
DOCUMENT: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)
RESOURCES: dict[str, Any] = DOCUMENT["Resources"]
TABLES = {"ConnectorsTable": 0, "JobsTable": 1, "DocumentsTable": 2}


@pytest.mark.parametrize(("resource", "index"), TABLES.items())
def test_table_keys_and_indexes_match_the_code(resource: str, index: int) -> None:
    declared = RESOURCES[resource]["Properties"]
    expected = table_definitions(Settings())[index]
    assert "TableName" not in declared, "no fixed table names: two stacks must fit in one account"
    assert declared["KeySchema"] == expected["KeySchema"]
    assert sorted(declared["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        assert declared.get(kind) == expected.get(kind)
    stream = expected.get("StreamSpecification")
    assert declared.get("StreamSpecification", {}).get("StreamViewType") == (stream or {}).get(
        "StreamViewType"
    )


def test_jobs_table_has_ttl_on_the_numeric_attribute_the_code_writes() -> None:
    ttl = RESOURCES["JobsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_api_uses_aws_iam_and_one_function_serves_every_path() -> None:
    api = RESOURCES["Api"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    events = RESOURCES["ApiFunction"]["Properties"]["Events"]
    assert {event["Properties"]["RestApiId"]["Ref"] for event in events.values()} == {"Api"}
    assert all(
        event["Properties"]["Path"].startswith("/api/v1/custom-connectors") for event in events.values()
    )
    assert RESOURCES["ApiFunction"]["Properties"]["Handler"] == "ccf_backend.handler.lambda_handler"


def test_functions_get_the_table_names_from_the_environment() -> None:
    from ccf_backend import settings

    env = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)["Globals"]["Function"][
        "Environment"
    ]
    names = set(env["Variables"])
    assert {
        "CCF_CONNECTORS_TABLE",
        "CCF_JOBS_TABLE",
        "CCF_DOCUMENTS_TABLE",
        "CCF_TOKEN_KEY_SECRET_ARN",
    } <= names
    source = Path(settings.__file__).read_text(encoding="utf-8")
    assert all(f'"{name}"' in source for name in names)


def test_cleanup_failures_go_to_a_dead_letter_queue_the_function_may_write_to() -> None:
    events = RESOURCES["CleanupFunction"]["Properties"]["Events"]
    on_failure = next(iter(events.values()))["Properties"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
