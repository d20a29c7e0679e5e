"""What a job's container runs: the command, environment and secrets built from a connector and a job.

One function builds it, :func:`build_launch`, and every executor runs exactly what it returns
(AWS Batch submits it, the local executor starts it as a subprocess), so a job behaves the same
on a laptop and in the cloud. The environment holds, in this order, the connector's configuration
as ``CCF_<CONNECTOR>_<FIELD>`` variables, the job's own environment (which may override a
configuration field for one run), and the variables the framework sets, which nothing overrides:
the API endpoint, the connector and job ids, the Q Business ids and ``CCF_LOAD_PLUGINS``.

Secrets never pass through here as values: the connector's ``secret_references`` (name -> Secrets
Manager or SSM ARN) become :attr:`LaunchSpec.secrets`, which AWS Batch resolves into the container
itself (``valueFrom``). A secret's name is used as the variable's name when it is already one in
upper case (``GITLAB_TOKEN``); a configuration key path (``token``, ``auth.password``) becomes the
connector's variable for that field (``CCF_GITLAB_TOKEN``, ``CCF_GITLAB_AUTH__PASSWORD``), which
``ccf-run`` reads into the connector's settings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

#: The variables ``ccf-run --state api`` reads (``ccf_core.api.client``); the backend does not import
#: the runner, so the names are repeated here and a test keeps them equal.
ENDPOINT_VARIABLE = "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"
CONNECTOR_ID_VARIABLE = "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"
JOB_ID_VARIABLE = "CUSTOM_CONNECTOR_JOB_ID"
LOAD_PLUGINS_VARIABLE = "CCF_LOAD_PLUGINS"
#: The ``qbusiness`` target's fields and the variables ``ccf-run`` reads them from (``ccf_runner.targets``).
QBUSINESS_VARIABLES = (
    ("application_id", "Q_BUSINESS_APP_ID"),
    ("index_id", "Q_BUSINESS_INDEX_ID"),
    ("data_source_id", "Q_BUSINESS_DATA_SOURCE_ID"),
)
#: The prefix and nesting separator of a connector's settings variables (``ccf_runner.settings``).
CONFIG_PREFIX = "CCF_"
CONFIG_NESTING = "__"

_ENVIRONMENT_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class LaunchError(ValueError):
    """The connector cannot be run as it is (the message says what to change)."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything an executor needs to run one job's container.

    Attributes:
        command: the container's command, ``ccf-run --connector <type> --state api``.
        environment: plain variables (never a secret value).
        secrets: variable name -> Secrets Manager or SSM parameter ARN, resolved by the executor.
        image: the container image URI.
        job_role_arn: the role the job's code runs with.
        execution_role_arn: the role that pulls the image, reads the secrets and writes the logs.
        vcpus: Fargate vCPUs.
        memory_mib: Fargate memory in MiB.
        timeout_seconds: how long the job may run before it is stopped (None: no limit).
    """

    command: list[str]
    environment: dict[str, str]
    secrets: dict[str, str]
    image: str
    job_role_arn: str
    execution_role_arn: str
    vcpus: float
    memory_mib: int
    timeout_seconds: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


def env_prefix(connector_type: str) -> str:
    """The prefix of a connector's settings variables, e.g. ``CCF_WEBCRAWLER_``."""
    return f"{CONFIG_PREFIX}{connector_type.upper().replace('-', '_')}_"


def config_value(value: Any) -> str:
    """A configuration value as ``ccf-run`` reads it back: text as is, anything else as JSON.

    ``ccf-run`` keeps the text of a string field and reads other fields as YAML, of which JSON is
    a subset, so numbers, booleans, lists and objects arrive with their types.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def configuration_environment(connector_type: str, configuration: dict[str, Any]) -> dict[str, str]:
    """The connector's configuration as ``CCF_<CONNECTOR>_<FIELD>`` variables (top-level keys).

    Raises:
        LaunchError: a key cannot be part of a variable name.
    """
    prefix = env_prefix(connector_type)
    environment: dict[str, str] = {}
    for key, value in configuration.items():
        name = prefix + key.upper().replace("-", "_")
        if not _ENVIRONMENT_NAME.match(name):
            raise LaunchError(
                f"configuration key {key!r} cannot be passed to the job as an environment variable: "
                "use letters, digits, '_' and '-' only"
            )
        if value is not None:
            environment[name] = config_value(value)
    return environment


def secret_variable(connector_type: str, name: str) -> str:
    """The variable a secret reference is given as (see the module docstring).

    Raises:
        LaunchError: the name cannot be made into a variable name.
    """
    if _ENVIRONMENT_NAME.match(name):
        return name
    parts = [part.upper().replace("-", "_") for part in name.split(".")]
    variable = env_prefix(connector_type) + CONFIG_NESTING.join(parts)
    if not _ENVIRONMENT_NAME.match(variable):
        raise LaunchError(
            f"secret reference {name!r} cannot be passed to the job as an environment variable: "
            "name it after the variable (GITLAB_TOKEN) or a configuration key path (auth.token)"
        )
    return variable


def build_launch(connector: dict[str, Any], job: dict[str, Any], api_endpoint: str) -> LaunchSpec:
    """The command, environment and secrets that run ``job`` of ``connector``.

    Args:
        connector: the stored connector (``connector_id``, ``connector_type``,
            ``container_properties``, and optional ``configuration``, ``qbusiness``,
            ``secret_references``).
        job: the stored job (``job_id`` and its ``environment``: a list of name/value pairs).
        api_endpoint: the CCF API URL the job's runner calls back.

    Raises:
        LaunchError: the connector has no ``connector_type`` or something cannot be passed on.
    """
    connector_id = str(connector["connector_id"])
    connector_type = connector.get("connector_type")
    if not connector_type:
        raise LaunchError(
            f"connector {connector_id} has no connector_type: set it (UpdateCustomConnector) to the "
            "name of the connector plugin the job runs"
        )
    properties = connector.get("container_properties") or {}
    resources = properties.get("resource_requirements") or {}

    environment = configuration_environment(connector_type, connector.get("configuration") or {})
    for variable in job.get("environment") or []:
        environment[str(variable["name"])] = str(variable["value"])
    environment[ENDPOINT_VARIABLE] = api_endpoint
    environment[CONNECTOR_ID_VARIABLE] = connector_id
    environment[JOB_ID_VARIABLE] = str(job["job_id"])
    target = connector.get("qbusiness") or {}
    for key, variable in QBUSINESS_VARIABLES:
        if target.get(key):
            environment[variable] = str(target[key])
        else:
            # A job-supplied id must not point one job at an index its connector does not name.
            environment.pop(variable, None)
    environment[LOAD_PLUGINS_VARIABLE] = connector_type

    secrets: dict[str, str] = {}
    for name, arn in sorted((connector.get("secret_references") or {}).items()):
        variable = secret_variable(connector_type, name)
        secrets[variable] = str(arn)
        # A variable is either plain or a secret; the secret wins so its value is the real one.
        environment.pop(variable, None)

    timeout = properties.get("timeout")
    return LaunchSpec(
        command=["ccf-run", "--connector", connector_type, "--state", "api"],
        environment=environment,
        secrets=secrets,
        image=str(properties.get("image_uri", "")),
        job_role_arn=str(properties.get("job_role_arn", "")),
        execution_role_arn=str(properties.get("execution_role_arn", "")),
        vcpus=float(resources.get("cpu", 1)),
        memory_mib=int(resources.get("memory", 2048)),
        timeout_seconds=int(timeout) if timeout is not None else None,
        labels={"ccf:connector-id": connector_id, "ccf:job-id": str(job["job_id"])},
    )
