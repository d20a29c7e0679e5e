"""The fake GitLab's data: users, groups, projects with commits, issues and merge requests.

Plain Python objects a test changes between runs; :mod:`fake_gitlab` serves them over HTTP.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TOKEN = "glpat-fake-token-0123456789"
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(minutes: int) -> str:
    """A GitLab-style timestamp ``minutes`` after a fixed epoch (the fake never uses the clock)."""
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def blob_sha(content: bytes) -> str:
    """Git's blob id of ``content``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@dataclass
class User:
    id: int
    username: str
    email: str | None = None
    state: str = "active"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "username": self.username,
            "name": self.username.title(),
            "state": self.state,
            "avatar_url": None,
            "web_url": f"http://gitlab.test/{self.username}",
        }
        if self.email is not None:
            data["email"] = self.email
        return data


@dataclass
class Item:
    """An issue or a merge request."""

    iid: int
    title: str
    description: str = ""
    state: str = "opened"
    labels: list[str] = field(default_factory=list)
    author: str = "alice"
    confidential: bool = False
    milestone: str | None = None
    created: int = 0
    updated: int = 0
    moved_to_id: int | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Project:
    id: int
    path: str
    namespace: str
    visibility: str = "private"
    archived: bool = False
    description: str = ""
    default_branch: str = "main"
    members: dict[int, int] = field(default_factory=dict)
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)
    issues: dict[int, Item] = field(default_factory=dict)
    merge_requests: dict[int, Item] = field(default_factory=dict)
    wikis: dict[str, tuple[str, str]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    #: A status every request about this project answers with (403, 404, 500), or None.
    fail_with: int | None = None
    #: Statuses for one part of the project, by path under it (``wikis``, ``issues/1/notes``...).
    #: Also ``repository/commits?path=<file>`` for the commit listing of one file.
    fail_parts: dict[str, int] = field(default_factory=dict)
    #: When each commit was made (minutes after the epoch, see :func:`stamp`), by sha.
    commit_minutes: dict[str, int] = field(default_factory=dict)
    #: The minute of the latest commit; the next one is an hour later unless told otherwise.
    clock: int = 1000
    _blobs: dict[str, bytes] = field(default_factory=dict, repr=False)

    def blob(self, sha: str) -> bytes | None:
        """The content of a blob of any commit, by its sha."""
        if sha not in self._blobs:
            for _, tree in self.commits:
                for content in tree.values():
                    self._blobs.setdefault(blob_sha(content), content)
        return self._blobs.get(sha)

    @property
    def full_path(self) -> str:
        return f"{self.namespace}/{self.path}"

    @property
    def web_url(self) -> str:
        return f"http://gitlab.test/{self.full_path}"

    def head(self) -> tuple[str, dict[str, bytes]]:
        return self.commits[-1]

    def commit(self, files: dict[str, bytes | None], *, at: int | None = None) -> str:
        """Push a commit that sets (bytes) or deletes (None) files; returns its sha.

        It is dated ``at`` minutes after the epoch, by default an hour after the previous commit.
        """
        tree = dict(self.head()[1]) if self.commits else {}
        for path, content in files.items():
            if content is None:
                tree.pop(path, None)
            else:
                tree[path] = content
        sha = hashlib.sha1(f"{self.id}:{len(self.commits)}:{sorted(tree)}".encode(), usedforsecurity=False)
        self.commits.append((sha.hexdigest(), tree))
        self.clock = self.clock + 60 if at is None else at
        self.commit_minutes[sha.hexdigest()] = self.clock
        return sha.hexdigest()

    def history(self, ref: str, path: str) -> list[tuple[str, int]] | None:
        """``(sha, minute)`` of the commits up to ``ref`` that changed ``path``, newest first.

        None when ``ref`` is neither the default branch nor a commit sha. Like ``git log -- path``,
        a path that is a folder matches every file under it.
        """
        order = [sha for sha, _ in self.commits]
        if ref == self.default_branch:
            end = len(order)
        elif ref in order:
            end = order.index(ref) + 1
        else:
            return None

        def part(tree: dict[str, bytes]) -> dict[str, bytes]:
            return {name: data for name, data in tree.items() if name == path or name.startswith(path + "/")}

        found = []
        before: dict[str, bytes] = {}
        for sha, tree in self.commits[:end]:
            now = part(tree)
            if now != before:
                found.append((sha, self.commit_minutes[sha]))
            before = now
        return found[::-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.path.title(),
            "path": self.path,
            "path_with_namespace": self.full_path,
            "name_with_namespace": self.full_path.replace("/", " / "),
            "description": self.description,
            "visibility": self.visibility,
            "archived": self.archived,
            "default_branch": self.default_branch if self.commits else None,
            "web_url": self.web_url,
            "created_at": stamp(0),
            "last_activity_at": stamp(len(self.commits)),
            "topics": ["demo"],
            "wiki_enabled": True,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "namespace": {"full_path": self.namespace, "kind": "group"},
        }


@dataclass
class Group:
    id: int
    full_path: str
    members: dict[int, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.full_path.rsplit("/", 1)[-1],
            "full_path": self.full_path,
            "name": self.full_path.rsplit("/", 1)[-1].title(),
            "web_url": f"http://gitlab.test/groups/{self.full_path}",
        }


class FakeGitLabState:
    """Everything the fake serves; tests change it between runs."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.groups: dict[int, Group] = {}
        self.projects: dict[int, Project] = {}
        self.token = TOKEN
        #: Seconds every response waits (the benchmark's network latency).
        self.latency = 0.0
        #: Statuses the next requests answer with, one each (429 comes with ``Retry-After: 0``).
        self.fail_next: list[int] = []
        self.failed: Counter[int] = Counter()
        self.calls: Counter[str] = Counter()
        self.headers_seen: list[dict[str, str]] = []
        self.lock = threading.Lock()

    # -- building -------------------------------------------------------------------------

    def add_user(self, username: str, email: str | None = None) -> User:
        user = User(len(self.users) + 1, username, email)
        self.users[user.id] = user
        return user

    def add_group(self, full_path: str, members: dict[int, int] | None = None) -> Group:
        group = Group(100 + len(self.groups), full_path, dict(members or {}))
        self.groups[group.id] = group
        return group

    def add_project(self, namespace: str, path: str, **kwargs: Any) -> Project:
        project = Project(1000 + len(self.projects), path, namespace, **kwargs)
        self.projects[project.id] = project
        return project

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # -- lookups --------------------------------------------------------------------------

    def project(self, key: str) -> Project | None:
        for project in self.projects.values():
            if key in (str(project.id), project.full_path):
                return project
        return None

    def group(self, key: str) -> Group | None:
        for group in self.groups.values():
            if key in (str(group.id), group.full_path):
                return group
        return None

    def members_all(self, project: Project) -> list[dict[str, Any]]:
        """Direct members plus those inherited from every ancestor group (the highest level wins)."""
        levels: dict[int, int] = {}
        parts = project.namespace.split("/")
        for depth in range(1, len(parts) + 1):
            group = self.group("/".join(parts[:depth]))
            if group is not None:
                for uid, level in group.members.items():
                    levels[uid] = max(level, levels.get(uid, 0))
        for uid, level in project.members.items():
            levels[uid] = max(level, levels.get(uid, 0))
        return [{**self.users[uid].as_json(), "access_level": level} for uid, level in sorted(levels.items())]
