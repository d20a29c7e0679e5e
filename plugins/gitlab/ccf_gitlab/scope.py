"""Which projects a run indexes: the configured groups and projects, minus exclusions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from ccf_gitlab.client import TRANSIENT_ERRORS, GitLabClient, describe, status_of
from ccf_gitlab.config import GitLabConfig
from ccf_gitlab.models import Project

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopeProblem:
    """A configured group or project that could not be read this run."""

    path: str
    reason: str


def excluded(path: str, patterns: list[str]) -> bool:
    """``exclude_projects`` holds project paths, or group prefixes ending in ``/``."""
    return any(
        path == pattern or (pattern.endswith("/") and path.startswith(pattern)) for pattern in patterns
    )


def projects_in_scope(
    client: GitLabClient, config: GitLabConfig, problems: list[ScopeProblem]
) -> Iterator[Project]:
    """The projects to index, ordered by path, each once; unreadable sources go to ``problems``.

    Project records are small, so the scope is gathered before the first project is synced; that
    keeps ``max_projects`` deterministic (the first N by path) and lets every failure be known early.
    """
    found: dict[int, Project] = {}

    def gather(source: str, listing: Iterator[Project]) -> None:
        try:
            for project in listing:
                found.setdefault(project.id, project)
        except TRANSIENT_ERRORS as err:
            if status_of(err) == 401:
                raise
            logger.warning("gitlab: %s could not be listed: %s", source, describe(err))
            problems.append(ScopeProblem(source, describe(err)))

    for group in config.groups:
        gather(group, client.group_projects(group, include_archived=config.include_archived))

    def one(path: str) -> Iterator[Project]:
        yield client.project(path)  # called inside gather(), so its failure is caught there

    for path in config.projects:
        gather(path, one(path))
    if not config.groups and not config.projects:
        gather("(member projects)", client.member_projects(include_archived=config.include_archived))
    chosen = [
        project
        for project in sorted(found.values(), key=lambda p: p.path_with_namespace)
        if not excluded(project.path_with_namespace, config.exclude_projects)
        and (config.include_archived or not project.archived)
    ]
    if config.max_projects is not None and len(chosen) > config.max_projects:
        logger.warning(
            "gitlab: %d projects in scope, indexing the first %d by path (max_projects)",
            len(chosen),
            config.max_projects,
        )
        chosen = chosen[: config.max_projects]
    yield from chosen
