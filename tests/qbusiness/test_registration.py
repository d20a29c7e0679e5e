"""The ``qbusiness`` destination as the registry builds it from keyword options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ccf_core import RunStatus, SyncEngine
from ccf_core.destinations.qbusiness import QBusinessDestination, QBusinessError
from ccf_core.plugins import destination_registry
from ccf_core.state import MemoryStateStore


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, as a built client finds them in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_registry_builds_a_working_destination_from_options(
    fake_qbusiness, aws_environment, ids, make_connector, make_docs
) -> None:
    destination = destination_registry().create(
        "qbusiness",
        application_id=ids["application_id"],
        index_id=ids["index_id"],
        data_source_id=ids["data_source_id"],
        region="us-east-1",
        endpoint_url=fake_qbusiness.endpoint_url,
        max_in_flight=5,
    )

    report = SyncEngine(destination, MemoryStateStore()).run(make_connector(make_docs(3)))

    assert isinstance(destination, QBusinessDestination)
    assert destination.limits.max_in_flight == 5
    assert report.status is RunStatus.SUCCEEDED
    assert len(fake_qbusiness.documents) == 3


def test_a_built_client_leaves_retries_to_the_destination(fake_qbusiness, aws_environment, ids) -> None:
    destination = QBusinessDestination(
        region="us-east-1", endpoint_url=fake_qbusiness.endpoint_url, **_ids(ids)
    )

    assert destination.client.meta.config.retries["total_max_attempts"] == 1
    assert destination.client.meta.endpoint_url == fake_qbusiness.endpoint_url


def test_ids_that_are_not_q_business_ids_are_refused_at_once(ids) -> None:
    with pytest.raises(QBusinessError, match="index_id 'my-index' is not a Q Business id"):
        QBusinessDestination(
            client=object(),
            application_id=ids["application_id"],
            index_id="my-index",
            data_source_id="d" * 36,
        )


def test_importing_ccf_core_and_the_destination_does_not_import_boto3() -> None:
    code = (
        "import sys, ccf_core, ccf_core.builtins, ccf_core.destinations.qbusiness; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def _ids(ids: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in ids.items() if key != "role_arn"}
