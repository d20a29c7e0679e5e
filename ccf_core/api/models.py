"""The wire models of the CCF HTTP API: requests, responses, id formats and limits.

Defined once, here; the backend (``infrastructure/ccf_backend``) validates requests with these
models and the thick client reads responses with them. ``infrastructure/openapi.json`` describes
the same contract for other clients, and a test keeps the two in step.

Field names are snake_case on the wire, as in the upstream CCF API. Request models forbid unknown
fields, so a misspelt field is a 400 naming it instead of being silently dropped; response models
ignore unknown fields, so an older client keeps working against a newer backend.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ccf_core.api.secret_values import credential_problem, secret_advice

# -- id formats and patterns -------------------------------------------------------------------

#: ``cc-`` + 12 lowercase hex digits (15 characters). The upstream schema says ``{11}`` but length
#: 15, and its server generates 12 digits; clients rely on what the server returns, so 12 it is.
CONNECTOR_ID_PATTERN = r"^cc-[0-9a-f]{12}$"
#: ``ccj-`` + 12 lowercase hex digits (16 characters; the upstream schema's length 17 is a typo).
JOB_ID_PATTERN = r"^ccj-[0-9a-f]{12}$"
CONNECTOR_NAME_PATTERN = r"^[a-zA-Z0-9-]+$"
#: The plugin a connector runs: its entry-point name (``gitlab``, ``webcrawler``).
CONNECTOR_TYPE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
ENVIRONMENT_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_]*$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"
IMAGE_URI_PATTERN = r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+$"
#: Amazon Q Business application, index and data source ids (36 characters).
QBUSINESS_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9-]{35}$"
#: A reference to a secret: a Secrets Manager secret ARN or an SSM parameter ARN, never a value.
SECRET_REFERENCE_PATTERN = (
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:[^\s]+"  # noqa: S105 - a pattern
    r"|ssm:[a-z0-9-]+:\d{12}:parameter/[^\s]+)$"
)
#: The name a secret reference is known by (an environment variable or a configuration key path).
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"  # noqa: S105 - a pattern
#: A StartCustomConnectorJob idempotency token (a UUID fits).
CLIENT_TOKEN_PATTERN = r"^[A-Za-z0-9._:-]+$"  # noqa: S105 - a pattern
CONNECTOR_ARN_PATTERN = r"^arn:aws:ccf:[a-z0-9-]+:\d{12}:custom-connector/cc-[0-9a-f]{12}$"

# -- limits ------------------------------------------------------------------------------------

#: The default page size of every List operation (the upstream default).
DEFAULT_MAX_RESULTS = 50
MAX_LIST_CONNECTORS = 100
MAX_LIST_JOBS = 100
#: Large pages, so loading the checksums of 100,000 documents takes 100 calls.
MAX_LIST_DOCUMENTS = 1000
MAX_BATCH_PUT_DOCUMENTS = 1000
MAX_BATCH_DELETE_DOCUMENTS = 1000
#: Amazon Q Business document ids are 1-1825 characters.
MAX_DOCUMENT_ID_LENGTH = 1825
MIN_CHECKSUM_LENGTH = 32
MAX_CHECKSUM_LENGTH = 512
#: The checkpoint is at most 1 MiB, measured in UTF-8 bytes (so also at most that many characters).
MAX_CHECKPOINT_BYTES = 1_048_576
#: The connector's non-secret configuration, serialised as compact JSON.
MAX_CONFIGURATION_BYTES = 65_536
MAX_ENVIRONMENT_VARIABLES = 50
MAX_ENVIRONMENT_VALUE_LENGTH = 4096
MAX_SECRET_REFERENCES = 50
MAX_NEXT_TOKEN_LENGTH = 2048
#: Prefixes of the variables the framework sets for a job's container. A job may name them (the
#: upstream API accepts every name matching ENVIRONMENT_NAME_PATTERN, and its GitLab example sends
#: ``AWS_DATA_PATH``), but the framework's own values win.
RESERVED_ENVIRONMENT_PREFIXES = ("CUSTOM_CONNECTOR_", "AWS_")
MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 604_800

#: Fargate's valid memory values (MiB) for each vCPU value the API accepts.
FARGATE_MEMORY: dict[float, range] = {
    1: range(2048, 8192 + 1, 1024),
    2: range(4096, 16384 + 1, 1024),
    4: range(8192, 30720 + 1, 1024),
    8: range(16384, 61440 + 1, 4096),
    16: range(32768, 122880 + 1, 8192),
}


class ConnectorStatus(StrEnum):
    """A connector is AVAILABLE to start a job, or IN_USE while one runs."""

    AVAILABLE = "AVAILABLE"
    IN_USE = "IN_USE"


class JobStatus(StrEnum):
    """The life of a job: STARTED -> RUNNING -> SUCCEEDED | FAILED, or -> STOPPING -> STOPPED."""

    STARTED = "STARTED"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and STOPPED: nothing changes a job after that."""
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED})
#: The statuses a stop request is accepted in (STOPPING again is a no-op, not an error).
STOPPABLE_JOB_STATUSES = frozenset({JobStatus.STARTED, JobStatus.RUNNING, JobStatus.STOPPING})


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


ConnectorId = Annotated[str, Field(pattern=CONNECTOR_ID_PATTERN, min_length=15, max_length=15)]
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN, min_length=16, max_length=16)]
ConnectorName = Annotated[str, Field(min_length=3, max_length=128, pattern=CONNECTOR_NAME_PATTERN)]
Description = Annotated[str, Field(min_length=3, max_length=1000)]
ConnectorType = Annotated[str, Field(pattern=CONNECTOR_TYPE_PATTERN)]
RoleArn = Annotated[str, Field(min_length=20, max_length=2048, pattern=ROLE_ARN_PATTERN)]
ImageUri = Annotated[str, Field(min_length=20, max_length=2048, pattern=IMAGE_URI_PATTERN)]
QBusinessId = Annotated[str, Field(pattern=QBUSINESS_ID_PATTERN)]
DocumentId = Annotated[str, Field(min_length=1, max_length=MAX_DOCUMENT_ID_LENGTH)]
Checksum = Annotated[str, Field(min_length=MIN_CHECKSUM_LENGTH, max_length=MAX_CHECKSUM_LENGTH)]
ClientToken = Annotated[str, Field(min_length=1, max_length=64, pattern=CLIENT_TOKEN_PATTERN)]
SecretReference = Annotated[str, Field(max_length=2048, pattern=SECRET_REFERENCE_PATTERN)]
Cpu = Annotated[float, Field(ge=1, le=16, strict=True)]
Memory = Annotated[int, Field(ge=1024, le=122880, strict=True)]
Timeout = Annotated[int, Field(ge=MIN_TIMEOUT_SECONDS, le=MAX_TIMEOUT_SECONDS, strict=True)]
Count = Annotated[int, Field(ge=0)]
#: A reported counter: a real integer (not a bool or a numeric string), small enough for DynamoDB.
MetricCount = Annotated[int, Field(ge=0, le=10**15, strict=True)]

#: How deeply a connector's configuration may nest.
MAX_CONFIGURATION_DEPTH = 32


def check_fargate_size(cpu: float, memory: int) -> str | None:
    """Why ``cpu``/``memory`` is not a valid Fargate size, or None when it is."""
    allowed = FARGATE_MEMORY.get(cpu)
    if allowed is None:
        return f"cpu {cpu:g} is not a Fargate size (use one of {', '.join(f'{c:g}' for c in FARGATE_MEMORY)})"
    if memory not in allowed:
        return (
            f"memory {memory} is not valid with cpu {cpu:g} on Fargate "
            f"(use {allowed.start}-{allowed.stop - 1} in steps of {allowed.step})"
        )
    return None


def _check_secret_names(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_SECRET_REFERENCES:
        raise ValueError(f"at most {MAX_SECRET_REFERENCES} secret references")
    for name in value:
        if not re.match(SECRET_NAME_PATTERN, name):
            raise ValueError(f"name {name!r} must match {SECRET_NAME_PATTERN}")
    return value


def _depth(value: Any, limit: int = MAX_CONFIGURATION_DEPTH + 1) -> int:
    """How deeply ``value`` nests (counting stops past ``limit``, so it never recurses far)."""
    if limit <= 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _check_configuration(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if _depth(value) > MAX_CONFIGURATION_DEPTH:
        raise ValueError(f"nests deeper than {MAX_CONFIGURATION_DEPTH} levels")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_CONFIGURATION_BYTES:
        raise ValueError(f"is {size} bytes as JSON; the limit is {MAX_CONFIGURATION_BYTES}")
    return value


# -- connectors --------------------------------------------------------------------------------


class ResourceRequirements(_Request):
    """vCPU and memory (MiB) of the job's Fargate container; the pair must be a Fargate size."""

    cpu: Cpu = 1
    memory: Memory = 2048


class ContainerProperties(_Request):
    """How the job's container runs (AWS Batch on Fargate)."""

    execution_role_arn: RoleArn
    image_uri: ImageUri
    job_role_arn: RoleArn
    resource_requirements: ResourceRequirements = Field(default_factory=ResourceRequirements)
    timeout: Timeout = 3600

    @model_validator(mode="after")
    def _fargate_size(self) -> ContainerProperties:
        problem = check_fargate_size(self.resource_requirements.cpu, self.resource_requirements.memory)
        if problem:
            raise ValueError(f"resource_requirements: {problem}")
        return self


class ResourceRequirementsUpdate(_Request):
    """Fields to change in the resource requirements; absent fields keep their value."""

    cpu: Cpu | None = None
    memory: Memory | None = None


class ContainerPropertiesUpdate(_Request):
    """Fields to change in the container properties; absent fields keep their value."""

    execution_role_arn: RoleArn | None = None
    image_uri: ImageUri | None = None
    job_role_arn: RoleArn | None = None
    resource_requirements: ResourceRequirementsUpdate | None = None
    timeout: Timeout | None = None


class QBusinessTarget(_Request):
    """The Amazon Q Business application, index and custom data source a connector syncs into."""

    application_id: QBusinessId
    index_id: QBusinessId
    data_source_id: QBusinessId


class QBusinessTargetUpdate(_Request):
    """Fields to change in the Q Business target; absent fields keep their value."""

    application_id: QBusinessId | None = None
    index_id: QBusinessId | None = None
    data_source_id: QBusinessId | None = None


class CreateCustomConnectorRequest(_Request):
    """Body of CreateCustomConnector."""

    name: ConnectorName
    description: Description | None = None
    container_properties: ContainerProperties
    connector_type: ConnectorType | None = None
    configuration: dict[str, Any] | None = None
    qbusiness: QBusinessTarget | None = None
    secret_references: dict[str, SecretReference] | None = None

    _configuration = field_validator("configuration")(_check_configuration)
    _secrets = field_validator("secret_references")(_check_secret_names)


class UpdateCustomConnectorRequest(_Request):
    """Body of UpdateCustomConnector: only the fields present change.

    Nested objects (``container_properties``, ``qbusiness``) are merged field by field.
    ``configuration`` and ``secret_references`` are merged as JSON Merge Patch (RFC 7386): a key
    set to null is removed, any other value replaces or extends.
    """

    name: ConnectorName | None = None
    description: Description | None = None
    container_properties: ContainerPropertiesUpdate | None = None
    connector_type: ConnectorType | None = None
    configuration: dict[str, Any] | None = None
    qbusiness: QBusinessTargetUpdate | None = None
    secret_references: dict[str, SecretReference | None] | None = None

    _configuration = field_validator("configuration")(_check_configuration)

    @field_validator("secret_references")
    @classmethod
    def _secret_names(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if value is not None:
            for name in value:
                if not re.match(SECRET_NAME_PATTERN, name):
                    raise ValueError(f"name {name!r} must match {SECRET_NAME_PATTERN}")
        return value


class ConnectorSummary(_Response):
    """A connector as ListCustomConnectors shows it."""

    connector_id: str
    arn: str
    name: str
    description: str | None = None
    status: ConnectorStatus
    created_at: str
    updated_at: str
    connector_type: str | None = None
    current_job_id: str | None = None


class ConnectorDetails(ConnectorSummary):
    """Everything about a connector except its checkpoint (which has its own operation)."""

    container_properties: dict[str, Any]
    configuration: dict[str, Any] | None = None
    qbusiness: dict[str, str] | None = None
    secret_references: dict[str, str] | None = None


class ConnectorResponse(_Response):
    """Response of Create/Get/UpdateCustomConnector."""

    connector: ConnectorDetails


class ListCustomConnectorsResponse(_Response):
    """Response of ListCustomConnectors."""

    connectors: list[ConnectorSummary]
    next_token: str | None = None


# -- jobs --------------------------------------------------------------------------------------


class EnvironmentVariable(_Request):
    """A name and value given to the job's container (not for secrets: use secret references)."""

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=ENVIRONMENT_NAME_PATTERN)]
    value: Annotated[str, Field(max_length=MAX_ENVIRONMENT_VALUE_LENGTH)]


class StartCustomConnectorJobRequest(_Request):
    """Body of StartCustomConnectorJob (optional)."""

    environment: Annotated[list[EnvironmentVariable], Field(max_length=MAX_ENVIRONMENT_VARIABLES)] = []
    #: Makes a retried start safe: the same token as the connector's latest start returns that job.
    client_token: ClientToken | None = None

    @field_validator("environment")
    @classmethod
    def _unique_names(cls, value: list[EnvironmentVariable]) -> list[EnvironmentVariable]:
        seen: set[str] = set()
        for variable in value:
            problem = credential_problem(variable.name, variable.value)
            if problem:
                advice = secret_advice(variable.name)
                raise ValueError(f"variable {variable.name!r} looks like a secret ({problem}): {advice}")
            if variable.name in seen:
                raise ValueError(f"variable {variable.name!r} is given twice")
            seen.add(variable.name)
        return value


class JobMetrics(_Request):
    """What a run did, as the runner reports it at the end of the job."""

    scanned: MetricCount = 0
    added: MetricCount = 0
    updated: MetricCount = 0
    unchanged: MetricCount = 0
    deleted: MetricCount = 0
    failed: MetricCount = 0
    skipped: MetricCount | None = None
    bytes: MetricCount | None = None
    duration_seconds: Annotated[float, Field(ge=0, le=10**9, allow_inf_nan=False, strict=True)] | None = None


class PutCustomConnectorJobMetricsRequest(_Request):
    """Body of PutCustomConnectorJobMetrics."""

    metrics: JobMetrics


class JobDetail(_Response):
    """A job and, once the runner reported them, its metrics."""

    job_id: str
    connector_id: str
    status: JobStatus
    created_at: str
    updated_at: str | None = None
    completed_at: str | None = None
    stop_requested_at: str | None = None
    failure_reason: str | None = None
    environment: list[dict[str, str]] | None = None
    metrics: dict[str, Any] | None = None


class JobResponse(_Response):
    """Response of Start/Stop/GetCustomConnectorJob and PutCustomConnectorJobMetrics."""

    job: JobDetail


class ListCustomConnectorJobsResponse(_Response):
    """Response of ListCustomConnectorJobs (newest first)."""

    jobs: list[JobDetail]
    next_token: str | None = None


# -- documents ---------------------------------------------------------------------------------


class DocumentChecksum(_Request):
    """A document id and the checksum it was synced with."""

    document_id: DocumentId
    checksum: Checksum


def _no_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for position, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{what} at position {position} repeats {item[:80]!r}")
        seen.add(item)


class BatchPutCustomConnectorDocumentsRequest(_Request):
    """Body of BatchPutCustomConnectorDocuments."""

    documents: Annotated[list[DocumentChecksum], Field(min_length=1, max_length=MAX_BATCH_PUT_DOCUMENTS)]

    @field_validator("documents")
    @classmethod
    def _unique(cls, value: list[DocumentChecksum]) -> list[DocumentChecksum]:
        _no_duplicates([document.document_id for document in value], "document_id")
        return value


class BatchDeleteCustomConnectorDocumentsRequest(_Request):
    """Body of BatchDeleteCustomConnectorDocuments."""

    document_ids: Annotated[list[DocumentId], Field(min_length=1, max_length=MAX_BATCH_DELETE_DOCUMENTS)]

    @field_validator("document_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        _no_duplicates(value, "document id")
        return value


class DocumentDetail(_Response):
    """A document's recorded checksum."""

    document_id: str
    checksum: str
    created_at: str
    updated_at: str


class ListCustomConnectorDocumentsResponse(_Response):
    """Response of ListCustomConnectorDocuments."""

    documents: list[DocumentDetail]
    next_token: str | None = None


# -- checkpoint --------------------------------------------------------------------------------


class PutCustomConnectorCheckpointRequest(_Request):
    """Body of PutCustomConnectorCheckpoint: the checkpoint as a JSON string."""

    checkpoint_data: Annotated[str, Field(min_length=1, max_length=MAX_CHECKPOINT_BYTES, strict=True)]

    @field_validator("checkpoint_data")
    @classmethod
    def _size_in_bytes(cls, value: str) -> str:
        size = len(value.encode("utf-8"))
        if size > MAX_CHECKPOINT_BYTES:
            raise ValueError(f"is {size} bytes in UTF-8; the limit is {MAX_CHECKPOINT_BYTES}")
        return value


class CheckpointDetail(_Response):
    """A stored checkpoint."""

    connector_id: str
    checkpoint_data: str
    created_at: str | None = None
    updated_at: str | None = None


class GetCustomConnectorCheckpointResponse(_Response):
    """Response of GetCustomConnectorCheckpoint."""

    checkpoint: CheckpointDetail


# -- list parameters and errors ----------------------------------------------------------------


class ListParameters(_Request):
    """Query parameters every List operation takes."""

    max_results: Annotated[int, Field(ge=1)] = DEFAULT_MAX_RESULTS
    next_token: Annotated[str, Field(min_length=1, max_length=MAX_NEXT_TOKEN_LENGTH)] | None = None


class ListJobsParameters(ListParameters):
    """Query parameters of ListCustomConnectorJobs."""

    status: JobStatus | None = None


class ErrorType(StrEnum):
    """The ``errorType`` (and error code) of every error the API returns."""

    BAD_REQUEST = "BadRequestException"
    UNAUTHORIZED = "UnauthorizedException"
    NOT_FOUND = "ResourceNotFoundException"
    METHOD_NOT_ALLOWED = "MethodNotAllowedException"
    CONFLICT = "ConflictException"
    RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceededException"
    THROTTLING = "ThrottlingException"
    INTERNAL = "InternalServerErrorException"
    SERVICE_UNAVAILABLE = "ServiceUnavailableException"


#: The HTTP status of each error type.
ERROR_STATUS: dict[ErrorType, int] = {
    ErrorType.BAD_REQUEST: 400,
    ErrorType.UNAUTHORIZED: 401,
    ErrorType.NOT_FOUND: 404,
    ErrorType.METHOD_NOT_ALLOWED: 405,
    ErrorType.CONFLICT: 409,
    ErrorType.RESOURCE_LIMIT_EXCEEDED: 400,
    ErrorType.THROTTLING: 429,
    ErrorType.INTERNAL: 500,
    ErrorType.SERVICE_UNAVAILABLE: 503,
}


class ErrorResponse(_Response):
    """The body of every error: the spec's ``message`` and ``errorType``, plus ``field`` for a 400."""

    message: str
    error_type: ErrorType = Field(alias="errorType")
    field: str | None = None
