"""The GitLab connector's settings, and where its token comes from."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ccf_core.errors import CCFError
from ccf_core.secrets import SecretReferenceError, is_secret_reference, resolve_secret


class Kind(StrEnum):
    """What the connector can index; each kind is switched on by naming it in ``include``."""

    OVERVIEW = "overview"
    FILES = "files"
    ISSUES = "issues"
    MERGE_REQUESTS = "merge_requests"
    WIKI = "wiki"
    RELEASES = "releases"


#: Markdown, documentation, configuration and the common programming languages, plus the binary
#: formats Q Business reads (PDF, Word, PowerPoint, Excel, RTF).
DEFAULT_EXTENSIONS = [
    ".md",
    ".markdown",
    ".txt",
    ".rst",
    ".adoc",
    ".html",
    ".htm",
    ".xml",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
    ".cfg",
    ".csv",
    ".py",
    ".js",
    ".jsx",
    ".ts",
    ".tsx",
    ".java",
    ".kt",
    ".scala",
    ".go",
    ".rb",
    ".rs",
    ".c",
    ".h",
    ".cpp",
    ".hpp",
    ".cs",
    ".php",
    ".swift",
    ".sh",
    ".sql",
    ".tf",
    ".proto",
    ".graphql",
    ".vue",
    ".css",
    ".scss",
    ".pdf",
    ".docx",
    ".pptx",
    ".xlsx",
    ".rtf",
]

#: Vendored, generated and tool folders: rarely worth finding in search.
DEFAULT_EXCLUDED_PATHS = [
    "node_modules/**",
    "vendor/**",
    "dist/**",
    "build/**",
    "**/node_modules/**",
    "**/vendor/**",
    "**/__pycache__/**",
    "**/*.min.js",
    "**/package-lock.json",
]


class GitLabConfig(BaseModel):
    """Settings of the GitLab connector (``ccf-run --show-config gitlab``)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default="https://gitlab.com",
        description="GitLab instance: https://gitlab.com or your self-managed server's address.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Access token (scope read_api), given as the token itself or as a reference "
        "read at run time: env:NAME (an environment variable), an arn:aws:secretsmanager:... secret "
        "or an arn:aws:ssm:... parameter. When unset, the environment variable named by token_env "
        "is read.",
    )
    token_env: str = Field(
        default="GITLAB_TOKEN",
        description="Environment variable holding the token when token is not set.",
    )
    groups: list[str] = Field(
        default_factory=list,
        description="Group paths whose projects are indexed (subgroups included), e.g. acme/platform.",
    )
    projects: list[str] = Field(
        default_factory=list,
        description="Project paths to index (namespace/project). With neither groups nor projects, "
        "every project the token's user is a member of.",
    )
    exclude_projects: list[str] = Field(
        default_factory=list,
        description="Project paths, or path prefixes ending in /, never indexed.",
    )
    include_archived: bool = Field(default=False, description="Also index archived projects.")
    max_projects: int | None = Field(
        default=None, ge=1, description="Index at most this many projects (after exclusions)."
    )
    include: list[Kind] = Field(
        default_factory=lambda: list(Kind),
        description="What to index: overview, files, issues, merge_requests, wiki, releases.",
    )
    file_extensions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXTENSIONS),
        description="Repository files with these extensions are indexed (README files always are).",
    )
    exclude_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDED_PATHS),
        description="Glob patterns of repository paths never indexed (** matches across folders).",
    )
    max_file_bytes: int = Field(
        default=1_000_000, ge=1, description="Repository files larger than this are skipped."
    )
    identity: Literal["email", "username"] = Field(
        default="email",
        description="User principals in ACLs: the member's email where the API gives it (else the "
        "username), or always the username.",
    )
    internal_group: str = Field(
        default="gitlab-internal-users",
        description="Group principal that may read internal projects (every signed-in user).",
    )
    full_sync_every: int = Field(
        default=24,
        ge=0,
        description="Make every Nth run a full pass that reconciles deletions the API cannot report "
        "(0: only on the first run and with ccf-run --full).",
    )
    workers: int = Field(default=4, ge=1, le=32, description="Downloads from GitLab in parallel.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds before a GitLab request times out.")
    max_retries: int = Field(
        default=6, ge=0, description="Retries of a request answered 429 or 5xx, or that timed out."
    )
    ssl_verify: bool = Field(default=True, description="Check the server's TLS certificate.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) address such as https://gitlab.com")
        return value.rstrip("/")

    @field_validator("groups", "projects")
    @classmethod
    def _paths(cls, values: list[str]) -> list[str]:
        return [value.strip().strip("/") for value in values]

    @field_validator("file_extensions")
    @classmethod
    def _extensions(cls, values: list[str]) -> list[str]:
        return [value.lower() if value.startswith(".") else f".{value.lower()}" for value in values]

    @model_validator(mode="after")
    def _token_source(self) -> GitLabConfig:
        if self.token is None and not self.token_env:
            raise ValueError("give token (or env:NAME, or a Secrets Manager/SSM ARN of it) or token_env")
        return self

    def fingerprint(self) -> str:
        """A hash of the settings that shape the documents; a change forces a full pass."""
        shaping = self.model_dump(
            mode="json",
            include={
                "url",
                "include",
                "file_extensions",
                "exclude_paths",
                "max_file_bytes",
                "identity",
                "internal_group",
            },
        )
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def resolve_token(config: GitLabConfig, environ: Mapping[str, str] | None = None) -> str:
    """The token itself: given directly, read from ``env:NAME``, Secrets Manager or SSM, or from
    the variable ``token_env`` names.

    Raises:
        TokenUnavailable: naming where the token was looked for (never the token).
    """
    environ = os.environ if environ is None else environ
    if config.token is not None:
        value = config.token.get_secret_value().strip()
        try:
            token = resolve_secret(value, "token", environ)
        except SecretReferenceError as err:
            raise TokenUnavailable(str(err)) from None
        return _token_in(token) if is_secret_reference(value) else token
    token = environ.get(config.token_env, "")
    if not token:
        raise TokenUnavailable(
            f"token: not set, and the environment variable {config.token_env} (token_env) is empty; "
            "set CCF_GITLAB_TOKEN, or token to env:NAME or an arn:aws:secretsmanager:... / "
            "arn:aws:ssm:... reference"
        )
    return token


class TokenUnavailable(CCFError):
    """The token could not be found or read."""


def _token_in(text: str) -> str:
    """A secret holds the token as plain text or as JSON ``{"token": "..."}`` (GitLab's key names)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(data, dict):
            for key in ("token", "GITLAB_TOKEN", "private_token"):
                if isinstance(data.get(key), str):
                    return str(data[key])
    return stripped
