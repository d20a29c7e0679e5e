"""The botocore model ``ccf``: generated from infrastructure/openapi.json, shipped, and found by boto3."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "generate_service_model.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_service_model", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_model_matches_the_openapi_spec() -> None:
    """Fails when infrastructure/openapi.json changed without running the generator."""
    stale = [
        str(path)
        for path, text in _generator().outputs().items()
        if not path.exists() or path.read_text("utf-8") != text
    ]
    assert not stale, f"regenerate with `python scripts/generate_service_model.py`: {stale}"


def test_generator_check_mode_exits_zero_when_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_model_metadata_signs_for_api_gateway() -> None:
    service_model, paginators = _generator().generate(
        json.loads((ROOT / "infrastructure" / "openapi.json").read_text())
    )
    metadata = service_model["metadata"]
    assert metadata["protocol"] == "rest-json"
    assert metadata["signingName"] == "execute-api"
    assert metadata["signatureVersion"] == "v4"
    assert set(paginators["pagination"]) == {
        "ListCustomConnectors",
        "ListCustomConnectorJobs",
        "ListCustomConnectorDocuments",
    }


def test_every_list_operation_takes_max_results_and_next_token() -> None:
    service_model, _ = _generator().generate(
        json.loads((ROOT / "infrastructure" / "openapi.json").read_text())
    )
    for name, operation in service_model["operations"].items():
        if not name.startswith("List"):
            continue
        members = service_model["shapes"][operation["input"]["shape"]]["members"]
        assert members["max_results"]["location"] == "querystring", name
        assert members["next_token"]["location"] == "querystring", name
        assert "next_token" in service_model["shapes"][operation["output"]["shape"]]["members"], name


def test_error_shapes_carry_their_http_status() -> None:
    service_model, _ = _generator().generate(
        json.loads((ROOT / "infrastructure" / "openapi.json").read_text())
    )
    shapes = service_model["shapes"]
    assert shapes["ConflictException"]["error"]["httpStatusCode"] == 409
    assert shapes["ResourceNotFoundException"]["exception"] is True
    assert {"shape": "ConflictException"} in service_model["operations"]["StartCustomConnectorJob"]["errors"]


def test_every_operation_of_the_spec_is_a_client_method() -> None:
    from ccf_core.api import create_client

    client = create_client("http://127.0.0.1:9", region_name="us-east-1")
    spec = json.loads((ROOT / "infrastructure" / "openapi.json").read_text())
    operation_ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert operation_ids == set(client.meta.service_model.operation_names)
    assert len(operation_ids) == 16


def test_boto3_client_ccf_works_after_registration_in_a_fresh_process() -> None:
    """What a user does after ``pip install ccf-framework``."""
    code = (
        "import boto3, ccf_core.api as api; api.register_service_model(); "
        "c = boto3.client('ccf', endpoint_url='http://127.0.0.1:9', region_name='us-east-1'); "
        "print(c.meta.service_model.signing_name, c.can_paginate('list_custom_connector_documents'))"
    )
    env = {key: value for key, value in os.environ.items() if key != "AWS_DATA_PATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["execute-api", "True"]


def test_registration_reaches_a_default_session_created_before_it() -> None:
    code = (
        "import boto3, botocore.exceptions as e\n"
        "boto3.setup_default_session(region_name='us-east-1')\n"
        "try:\n    boto3.client('ccf', endpoint_url='http://127.0.0.1:9')\n"
        "except e.UnknownServiceError:\n    print('unknown')\n"
        "import ccf_core.api as api; api.register_service_model()\n"
        "print(boto3.client('ccf', endpoint_url='http://127.0.0.1:9').meta.service_model.service_name)\n"
    )
    # -S: no site processing, so the installed .pth file does not register the model first; the
    # packages are found through PYTHONPATH instead.
    env = {key: value for key, value in os.environ.items() if key != "AWS_DATA_PATH"}
    paths = [str(Path(__file__).resolve().parents[2]), *(p for p in sys.path if p.endswith("site-packages"))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["unknown", "ccf"]


def test_python_m_ccf_core_api_prints_the_data_path() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccf_core.api"], capture_output=True, text=True, check=True
    )
    assert (Path(result.stdout.strip()) / "ccf" / "2025-06-01" / "service-2.json").is_file()


@pytest.mark.parametrize(
    "operation", ["list_custom_connectors", "list_custom_connector_jobs", "list_custom_connector_documents"]
)
def test_list_operations_accept_pagination_parameters(operation: str) -> None:
    from ccf_core.api import create_client

    client: Any = create_client("http://127.0.0.1:9", region_name="us-east-1")
    shape = client.meta.service_model.operation_model(
        client.meta.method_to_api_mapping[operation]
    ).input_shape
    assert {"max_results", "next_token"} <= set(shape.members)


def test_boto3_finds_the_ccf_model_in_a_new_process_without_importing_ccf() -> None:
    """The installed package's .pth file puts the model on AWS_DATA_PATH when Python starts."""
    import subprocess
    import sys

    code = (
        "import boto3\n"
        "client = boto3.client('ccf', endpoint_url='http://127.0.0.1:9', region_name='us-east-1',\n"
        "                      aws_access_key_id='x', aws_secret_access_key='y')\n"
        "print(client.meta.service_model.signing_name)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "AWS_DATA_PATH"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "execute-api"
