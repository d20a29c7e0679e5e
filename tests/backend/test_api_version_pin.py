"""``create_client`` uses this package's ``ccf`` model even when the upstream CCF's model is registered.

The upstream deploy script runs ``aws configure add-model``, which leaves its own ``ccf`` model in
``~/.aws/models/ccf/2025-07-09T22:47:42Z/``; botocore takes the highest api version it finds, and
that model has no paging parameters. Its example images also ship it as ``ccf/2025-06-01`` (the
same version as ours) on ``AWS_DATA_PATH``. A temporary models folder plays both parts here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from ccf_backend.local_server import LocalBackend
from ccf_core.api import API_VERSION, create_client, data_path, register_service_model
from tests.dummy_aws import dummy_session

UPSTREAM_VERSION = "2025-07-09T22:47:42Z"
UPSTREAM_NAME = "Upstream CCF (test model)"


def _upstream_model(version: str) -> dict[str, Any]:
    """Our model reduced the way the upstream's is: ListCustomConnectorDocuments takes no paging."""
    ours = json.loads((Path(data_path()) / "ccf" / API_VERSION / "service-2.json").read_text("utf-8"))
    model = copy.deepcopy(ours)
    model["metadata"]["apiVersion"] = version
    model["metadata"]["serviceFullName"] = UPSTREAM_NAME
    input_shape = model["operations"]["ListCustomConnectorDocuments"]["input"]["shape"]
    members = model["shapes"][input_shape]["members"]
    model["shapes"][input_shape]["members"] = {"connector_id": members["connector_id"]}
    return model


def _models_folder(root: Path, version: str) -> Path:
    folder = root / "models"
    target = folder / "ccf" / version / "service-2.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(_upstream_model(version)), encoding="utf-8")
    return folder


@pytest.fixture
def upstream_model_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream model at a higher api version, searched before ours (as ~/.aws/models would be)."""
    monkeypatch.setenv("AWS_DATA_PATH", str(_models_folder(tmp_path, UPSTREAM_VERSION)))
    register_service_model()  # ours too, after it, as the installed package's .pth does


def test_plain_boto3_without_api_version_gets_the_upstream_model(upstream_model_registered: None) -> None:
    """Why the pin is needed: botocore picks the highest version."""
    client = dummy_session().client("ccf", endpoint_url="http://127.0.0.1:9")
    assert client.meta.service_model.api_version == UPSTREAM_VERSION


def test_plain_boto3_with_api_version_gets_ours(upstream_model_registered: None) -> None:
    """What the README tells boto3 users to write."""
    client = dummy_session().client("ccf", api_version=API_VERSION, endpoint_url="http://127.0.0.1:9")
    assert client.meta.service_model.api_version == API_VERSION
    assert client.meta.service_model.metadata["serviceFullName"] != UPSTREAM_NAME


def test_create_client_gets_our_model_and_pages(
    upstream_model_registered: None, backend: LocalBackend, make_connector: Any
) -> None:
    connector_id = make_connector()["connector_id"]
    client = create_client(backend.endpoint_url, session=dummy_session())
    assert client.meta.service_model.api_version == API_VERSION
    page = client.list_custom_connector_documents(connector_id=connector_id, max_results=5)
    assert page["documents"] == []


def test_create_client_prefers_ours_over_an_upstream_model_of_the_same_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream example images put their model at ``ccf/2025-06-01`` on AWS_DATA_PATH."""
    monkeypatch.setenv("AWS_DATA_PATH", str(_models_folder(tmp_path, API_VERSION)))
    stale = dummy_session().client("ccf", api_version=API_VERSION, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ParamValidationError):
        stale.list_custom_connector_documents(connector_id="cc-0123456789ab", max_results=5)
    client = create_client("http://127.0.0.1:9", session=dummy_session())
    assert client.meta.service_model.metadata["serviceFullName"] != UPSTREAM_NAME
    assert (
        "max_results"
        in client.meta.service_model.operation_model("ListCustomConnectorDocuments").input_shape.members
    )
