"""Tolerant models of the GitLab API payloads the connector reads.

Fields the connector does not use are ignored and missing optional ones take defaults, so a newer or
older GitLab (or a self-managed one with features switched off) does not break a sync.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TOLERANT = ConfigDict(extra="ignore", populate_by_name=True)

#: GitLab's access levels.
GUEST = 10
REPORTER = 20


class UserRef(BaseModel):
    """A user as embedded in issues, notes and releases."""

    model_config = _TOLERANT

    id: int = 0
    username: str = ""
    name: str = ""


class Member(BaseModel):
    """An entry of ``/projects/:id/members/all`` (direct and inherited members)."""

    model_config = _TOLERANT

    id: int
    username: str
    access_level: int = 0
    state: str = "active"
    email: str | None = None
    public_email: str | None = None

    def identity(self, mode: str) -> str:
        """The principal id: the email where GitLab exposes one (when ``mode`` is email), else username."""
        if mode == "email":
            email = self.email or self.public_email
            if email:
                return email.lower()
        return self.username


class Project(BaseModel):
    """A project, from ``/projects/:id`` or a project list."""

    model_config = _TOLERANT

    id: int
    path_with_namespace: str
    name: str = ""
    description: str | None = None
    visibility: str = "private"
    archived: bool = False
    default_branch: str | None = None
    web_url: str
    created_at: datetime | None = None
    last_activity_at: datetime | None = None
    topics: list[str] = Field(default_factory=list)
    wiki_enabled: bool = True
    issues_enabled: bool = True
    merge_requests_enabled: bool = True
    wiki_access_level: str | None = None
    issues_access_level: str | None = None
    merge_requests_access_level: str | None = None

    @property
    def has_wiki(self) -> bool:
        """Whether the wiki feature is on (older GitLab says ``wiki_enabled``, newer an access level)."""
        return self.wiki_enabled and self.wiki_access_level != "disabled"

    @property
    def has_issues(self) -> bool:
        """Whether the issues feature is on."""
        return self.issues_enabled and self.issues_access_level != "disabled"

    @property
    def has_merge_requests(self) -> bool:
        """Whether the merge requests feature is on."""
        return self.merge_requests_enabled and self.merge_requests_access_level != "disabled"


class TreeEntry(BaseModel):
    """An entry of ``/repository/tree``; ``id`` is the blob sha for a file."""

    model_config = _TOLERANT

    id: str
    path: str
    type: str


class Commit(BaseModel):
    """An entry of ``/repository/commits``."""

    model_config = _TOLERANT

    id: str
    committed_date: datetime | None = None
    created_at: datetime | None = None

    @property
    def date(self) -> datetime | None:
        """When the commit landed (``committed_date``; older GitLab only sends ``created_at``)."""
        return self.committed_date or self.created_at


class FileHistory(BaseModel):
    """A repository file's dates: those of the oldest and the newest commits that touched it."""

    model_config = _TOLERANT

    created: datetime | None = None
    updated: datetime | None = None
    #: The sha of the newest commit that touched the file.
    last_commit: str | None = None


class Milestone(BaseModel):
    """The milestone of an issue or merge request."""

    model_config = _TOLERANT

    title: str = ""


class Item(BaseModel):
    """An issue or a merge request."""

    model_config = _TOLERANT

    id: int = 0
    iid: int
    title: str = ""
    description: str | None = None
    state: str = ""
    labels: list[str] = Field(default_factory=list)
    author: UserRef | None = None
    assignees: list[UserRef] = Field(default_factory=list)
    milestone: Milestone | None = None
    created_at: datetime | None = None
    updated_at: datetime
    web_url: str
    confidential: bool = False
    moved_to_id: int | None = None
    source_branch: str | None = None
    target_branch: str | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _label_names(cls, value: Any) -> Any:
        # with_labels_details=true returns objects instead of names.
        if isinstance(value, list):
            return [item.get("name", "") if isinstance(item, dict) else item for item in value]
        return value


class Note(BaseModel):
    """A comment on an issue or merge request."""

    model_config = _TOLERANT

    id: int = 0
    body: str = ""
    author: UserRef | None = None
    created_at: datetime | None = None
    system: bool = False
    confidential: bool = False
    internal: bool = False


class WikiPage(BaseModel):
    """A wiki page from ``/wikis?with_content=1``."""

    model_config = _TOLERANT

    slug: str
    title: str = ""
    format: str = "markdown"
    content: str = ""


class Release(BaseModel):
    """A release from ``/releases``."""

    model_config = _TOLERANT

    tag_name: str
    name: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    released_at: datetime | None = None
    author: UserRef | None = None
