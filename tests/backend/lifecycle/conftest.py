"""Fixtures for the lifecycle tests: the API with AWS around it (moto), a plugin, fake Q Business.

``backend`` here replaces the one of ``tests/backend/conftest.py`` for this folder: the same local
API, configured as a deployed backend is (role allow-lists, a Batch job queue, the API endpoint
jobs call back), with moto's DynamoDB Streams, Batch (its Docker-free variant), Secrets Manager,
EC2 and IAM in the same process. ``harness`` is parametrised by executor; each test gets a fresh
connector and reads only its own job, so tests share the module's backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ccf_backend import executors, logs
from ccf_backend.clients import get_client
from ccf_backend.local_server import LocalBackend
from ccf_backend.settings import Settings, get_settings, set_settings
from tests.backend.conftest import EXECUTION_ROLE, IMAGE, ROLE
from tests.backend.lifecycle.harness import BatchHarness, Harness, JobsStream, subprocess_environment
from tests.backend.lifecycle.local_harness import LocalHarness
from tests.backend.serve_process import Server, client_for, start_server
from tests.backend.serve_process import plugin_site as installed_plugin
from tests.conftest import MakePluginDir
from tests.dummy_aws import DUMMY_ENVIRONMENT
from tests.fakes.qbusiness_server import FakeQBusiness

APPLICATION_ID = "a1b2c3d4-0000-4000-8000-00000000a001"
INDEX_ID = "a1b2c3d4-0000-4000-8000-00000000b002"
DATA_SOURCE_ID = "a1b2c3d4-0000-4000-8000-00000000c003"
JOB_QUEUE = "ccf-jobs"
SECRET_VALUE = "glpat-lifecycle-secret-value"
#: A role that exists but is not in the backend's allow-list.
OTHER_ROLE = "arn:aws:iam::123456789012:role/admin"

#: The connector every lifecycle test runs: ``count`` notes; it can fail, or hold until stopped.
LIFENOTES = """
    import hashlib
    import time
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict, SecretStr

    from ccf_core import Connector, Document, DocumentMetadata, hookimpl


    class LifenotesConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")

        count: int = 5
        title: str = "note"
        token: SecretStr
        token_sha256: str
        fail: bool = False
        hold_file: str | None = None


    class Lifenotes(Connector):
        name = "lifenotes"
        Config = LifenotesConfig

        def documents(self, context):
            secret = self.config.token.get_secret_value().encode()
            if hashlib.sha256(secret).hexdigest() != self.config.token_sha256:
                raise RuntimeError("the token did not arrive intact")
            if self.config.fail:
                raise RuntimeError("the notes service answered 503")
            for number in range(self.config.count):
                metadata = DocumentMetadata(title=f"{self.config.title} {number}")
                yield Document(id=f"note-{number:03d}", content=f"note {number}", metadata=metadata)
            if self.config.hold_file:
                Path(self.config.hold_file).write_text("ready")
                while not context.cancelled:
                    time.sleep(0.02)


    @hookimpl
    def ccf_register_connectors(registry):
        registry.register(Lifenotes)
"""


def _aws_resources() -> str:
    """A Fargate compute environment, the job queue and the connector's secret, in moto."""
    ec2 = get_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="ccf-jobs", Description="ccf jobs", VpcId=vpc)["GroupId"]
    service_role = get_client("iam").create_role(RoleName="ccf-batch", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    batch = get_client("batch")
    environment = batch.create_compute_environment(
        computeEnvironmentName="ccf-fargate",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 16,
            "subnets": [subnet],
            "securityGroupIds": [group],
        },
        serviceRole=service_role,
    )
    batch.create_job_queue(
        jobQueueName=JOB_QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
    )
    secret = get_client("secretsmanager").create_secret(Name="ccf/lifenotes/token", SecretString=SECRET_VALUE)
    return str(secret["ARN"])


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    """The API as deployed: role allow-lists, a Batch job queue, and AWS (moto) in the process."""
    from moto.core.config import default_user_config

    backend_logger = logging.getLogger("ccf_backend")
    for handler in list(backend_logger.handlers):
        backend_logger.removeHandler(handler)
    logs.configure(stream=sys.__stderr__)
    settings = Settings(
        purge_seconds=300.0,
        job_queue=JOB_QUEUE,
        allowed_job_role_arns=(ROLE,),
        allowed_execution_role_arns=(EXECUTION_ROLE,),
        reaper_grace_seconds=900.0,
    )
    with pytest.MonkeyPatch.context() as patch:
        # moto's Batch without Docker: it accepts and records jobs; the harness runs them.
        patch.setitem(default_user_config, "batch", {"use_docker": False})  # type: ignore[misc]
        with LocalBackend(settings=settings) as running:
            set_settings(dataclasses.replace(get_settings(), api_endpoint=running.endpoint_url))
            executors.set_executor(None)
            yield running
            executors.set_executor(None)


@pytest.fixture(scope="module")
def secret_arn(backend: LocalBackend) -> str:
    """The Batch queue exists, and the ARN of the connector's secret in moto's Secrets Manager."""
    return _aws_resources()


@pytest.fixture
def plugin_site(make_plugin_dir: MakePluginDir) -> Path:
    """A folder on the container's PYTHONPATH holding the ``lifenotes`` connector plugin."""
    return make_plugin_dir("lifenotes", LIFENOTES, {"lifenotes": "lifenotes"})


@pytest.fixture
def batch_harness(ccf: Any, secret_arn: str, plugin_site: Path, tmp_path: Path) -> Iterator[BatchHarness]:
    """AWS Batch around the API: the orchestrator on the stream, moto's Batch, ``ccf-run`` subprocesses."""
    found = BatchHarness(
        ccf=ccf,
        secret_references={"token": secret_arn},
        stream=JobsStream(get_settings().jobs_table),
        base_environment=subprocess_environment(plugin_site),
        workdir=tmp_path,
    )
    yield found
    found.close()


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ccf backend serve`` (a subprocess) with the ``lifenotes`` plugin installed next to it.

    The connector's token is in the server's environment: the local executor resolves no secret
    references, a job inherits the server's ``CCF_<CONNECTOR>_<FIELD>`` variables instead.
    """
    root = tmp_path_factory.mktemp("local-executor")
    site = installed_plugin(root, "lifenotes", LIFENOTES)
    environment = {"CCF_LIFENOTES_TOKEN": SECRET_VALUE, **DUMMY_ENVIRONMENT}
    server = start_server(root / "data", site=site, environment=environment)
    yield server
    server.stop()


@pytest.fixture
def local_harness(local_server: Server) -> LocalHarness:
    """The local executor of ``ccf backend serve``: it runs the jobs itself."""
    return LocalHarness(ccf=client_for(local_server.url), secret_references={}, server=local_server)


#: The executors every lifecycle test runs with: each has a ``<name>_harness`` fixture.
EXECUTORS = ["batch", "local"]


@pytest.fixture(params=EXECUTORS)
def harness(request: pytest.FixtureRequest) -> Harness:
    """The surroundings of one executor, for the tests every executor must pass."""
    found: Harness = request.getfixturevalue(f"{request.param}_harness")
    return found


def _harness_of(request: pytest.FixtureRequest) -> Harness:
    """The test's harness: the executor-parametrised one if it asked for it, else AWS Batch's."""
    found: Harness = request.getfixturevalue(
        "harness" if "harness" in request.fixturenames else "batch_harness"
    )
    return found


@pytest.fixture
def make_lifenotes(request: pytest.FixtureRequest) -> Callable[..., str]:
    """Create a ``lifenotes`` connector (writing to the fake Q Business) through the harness's API; its id.

    Keyword arguments are configuration fields (``count``, ``fail``, ``hold_file``).
    """
    harness = _harness_of(request)
    ccf = harness.ccf

    def make(**configuration: Any) -> str:
        configuration.setdefault("count", 5)
        configuration["token_sha256"] = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()
        connector = ccf.create_custom_connector(
            name="lifenotes",
            connector_type="lifenotes",
            container_properties={
                "execution_role_arn": EXECUTION_ROLE,
                "image_uri": IMAGE,
                "job_role_arn": ROLE,
            },
            configuration=configuration,
            qbusiness={
                "application_id": APPLICATION_ID,
                "index_id": INDEX_ID,
                "data_source_id": DATA_SOURCE_ID,
            },
            secret_references=harness.secret_references,
        )["connector"]
        return str(connector["connector_id"])

    return make


@pytest.fixture
def start_job(request: pytest.FixtureRequest, fake_qbusiness: FakeQBusiness) -> Callable[..., str]:
    """Start a job through the harness's API, pointed at the fake Q Business; its id."""
    ccf = _harness_of(request).ccf

    def start(connector_id: str, **request: Any) -> str:
        environment = [{"name": "Q_BUSINESS_ENDPOINT_URL", "value": fake_qbusiness.endpoint_url}]
        job = ccf.start_custom_connector_job(connector_id=connector_id, environment=environment, **request)
        return str(job["job"]["job_id"])

    return start
