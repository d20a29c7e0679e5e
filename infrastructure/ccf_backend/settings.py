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
    """

    connectors_table: str = "ccf-connectors"
    jobs_table: str = "ccf-jobs"
    documents_table: str = "ccf-documents"
    region: str = DEFAULT_REGION
    job_retention_days: int = 30
    token_key: str | None = None
    token_key_secret_arn: str | None = None
    purge_seconds: float = 5.0

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings from ``CCF_*`` and ``AWS_REGION`` variables; defaults for what is unset."""
        env = os.environ
        return cls(
            connectors_table=env.get("CCF_CONNECTORS_TABLE", cls.connectors_table),
            jobs_table=env.get("CCF_JOBS_TABLE", cls.jobs_table),
            documents_table=env.get("CCF_DOCUMENTS_TABLE", cls.documents_table),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            job_retention_days=int(env.get("CCF_JOB_RETENTION_DAYS", cls.job_retention_days)),
            token_key=env.get("CCF_TOKEN_KEY") or None,
            token_key_secret_arn=env.get("CCF_TOKEN_KEY_SECRET_ARN") or None,
            purge_seconds=float(env.get("CCF_PURGE_SECONDS", cls.purge_seconds)),
        )


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
