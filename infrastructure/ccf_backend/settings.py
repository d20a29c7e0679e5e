"""The backend's settings, read from the environment when first needed (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Settings:
    """Table names and knobs; the template sets every one of these on the Lambda.

    Attributes:
        connectors_table: connectors and their checkpoints (``CCF_CONNECTORS_TABLE``).
        jobs_table: jobs (``CCF_JOBS_TABLE``); its stream drives the orchestrator.
        documents_table: document checksums (``CCF_DOCUMENTS_TABLE``).
        region: the region ARNs are built with (``AWS_REGION``).
        job_retention_days: how long a finished job is kept before its TTL expires.
        token_key: the key that signs pagination tokens (``CCF_TOKEN_KEY``), for local use.
        token_key_secret_arn: a Secrets Manager secret holding that key (``CCF_TOKEN_KEY_SECRET_ARN``).
        purge_seconds: how long DeleteCustomConnector spends deleting the connector's documents and
            jobs before answering; the cleanup function on the connectors stream finishes the rest.
        api_endpoint: the API URL a job's runner calls back (``CCF_API_ENDPOINT``).
        job_queue: the AWS Batch job queue, name or ARN (``CCF_JOB_QUEUE``).
        job_definition_prefix: the name prefix of the job definitions the orchestrator registers
            (``CCF_JOB_DEFINITION_PREFIX``).
        allowed_job_role_arns: the job roles a connector may use (``CCF_ALLOWED_JOB_ROLE_ARNS``,
            comma-separated); None accepts any role. From the environment, an empty list refuses
            every role unless ``CCF_ALLOW_ANY_ROLE=true`` (meant for a local backend only), so a
            deployed backend never passes a role its operator did not name.
        allowed_execution_role_arns: the execution roles a connector may use
            (``CCF_ALLOWED_EXECUTION_ROLE_ARNS``), read the same way.
        reaper_grace_seconds: how long a job may stay without news before the reaper closes it
            (``CCF_REAPER_GRACE_SECONDS``).
        subnets: the Fargate tasks' subnets (``CCF_SUBNETS``, comma-separated). AWS Batch takes a
            Fargate job's subnets and security groups from the queue's compute environment, so the
            Batch executor does not send these; they are read so an executor that starts tasks
            itself (ECS RunTask) has them.
        security_groups: the Fargate tasks' security groups (``CCF_SECURITY_GROUPS``, comma-separated).
        assign_public_ip: ``ENABLED`` or ``DISABLED`` (``CCF_ASSIGN_PUBLIC_IP``), set in the job
            definitions the Batch executor registers.
    """

    connectors_table: str = "ccf-connectors"
    jobs_table: str = "ccf-jobs"
    documents_table: str = "ccf-documents"
    region: str = DEFAULT_REGION
    job_retention_days: int = 30
    token_key: str | None = None
    token_key_secret_arn: str | None = None
    purge_seconds: float = 5.0
    api_endpoint: str = ""
    job_queue: str = ""
    job_definition_prefix: str = "ccf-runner"
    allowed_job_role_arns: tuple[str, ...] | None = None
    allowed_execution_role_arns: tuple[str, ...] | None = None
    reaper_grace_seconds: float = 900.0
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: str = "DISABLED"

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings from ``CCF_*`` and ``AWS_REGION`` variables; defaults for what is unset."""
        env = os.environ
        any_role = env.get("CCF_ALLOW_ANY_ROLE", "").strip().lower() in ("1", "true", "yes")
        return cls(
            connectors_table=env.get("CCF_CONNECTORS_TABLE", cls.connectors_table),
            jobs_table=env.get("CCF_JOBS_TABLE", cls.jobs_table),
            documents_table=env.get("CCF_DOCUMENTS_TABLE", cls.documents_table),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            job_retention_days=int(env.get("CCF_JOB_RETENTION_DAYS", cls.job_retention_days)),
            token_key=env.get("CCF_TOKEN_KEY") or None,
            token_key_secret_arn=env.get("CCF_TOKEN_KEY_SECRET_ARN") or None,
            purge_seconds=float(env.get("CCF_PURGE_SECONDS", cls.purge_seconds)),
            api_endpoint=env.get("CCF_API_ENDPOINT", cls.api_endpoint),
            job_queue=env.get("CCF_JOB_QUEUE", cls.job_queue),
            job_definition_prefix=env.get("CCF_JOB_DEFINITION_PREFIX") or cls.job_definition_prefix,
            allowed_job_role_arns=_allow_list(env.get("CCF_ALLOWED_JOB_ROLE_ARNS"), any_role),
            allowed_execution_role_arns=_allow_list(env.get("CCF_ALLOWED_EXECUTION_ROLE_ARNS"), any_role),
            reaper_grace_seconds=float(env.get("CCF_REAPER_GRACE_SECONDS", cls.reaper_grace_seconds)),
            subnets=_list(env.get("CCF_SUBNETS")),
            security_groups=_list(env.get("CCF_SECURITY_GROUPS")),
            assign_public_ip=(env.get("CCF_ASSIGN_PUBLIC_IP") or cls.assign_public_ip).upper(),
        )


def _list(value: str | None) -> tuple[str, ...]:
    """A comma-separated variable as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _allow_list(value: str | None, any_role: bool) -> tuple[str, ...] | None:
    """An allow-list; None (no restriction) only for an empty list with ``CCF_ALLOW_ANY_ROLE``."""
    items = _list(value)
    return None if not items and any_role else items


_settings: Settings | None = None


def get_settings() -> Settings:
    """The settings of this process (read once)."""
    global _settings  # noqa: PLW0603 - a lazily built process-wide value
    if _settings is None:
        _settings = Settings.from_environment()
    return _settings


def set_settings(settings: Settings | None) -> None:
    """Replace the settings (tests and the local server); None reads the environment again."""
    global _settings  # noqa: PLW0603
    _settings = settings
