"""Talks to GitLab through python-gitlab: paged generators, rate limits, retries, typed errors.

python-gitlab already honours 429 with ``Retry-After`` / ``RateLimit-Reset`` (``obey_rate_limit``)
and retries 5xx answers and dropped connections with exponential backoff
(``retry_transient_errors``); this module turns them on, bounds them with ``max_retries``, retries
read timeouts too, and never lets a whole list into memory (every list is a page-by-page generator).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import gitlab
import requests
from gitlab.client import GitlabList
from gitlab.exceptions import GitlabAuthenticationError, GitlabError, GitlabHttpError

from ccf_core.errors import CCFError
from ccf_core.retry import Backoff
from ccf_gitlab.models import Commit, FileHistory, Item, Member, Note, Project, Release, TreeEntry, WikiPage

logger = logging.getLogger(__name__)

PER_PAGE = 100
#: Beyond this many changed files a compare is not trusted to be complete (GitLab caps diffs).
MAX_COMPARE_DIFFS = 1000

#: The errors that mean "this scope could not be listed now" (the rest of the run goes on).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (GitlabError, requests.RequestException)


class AuthenticationFailed(CCFError):
    """GitLab refused the token; the run cannot do anything useful."""


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a GitLab error, if it has one."""
    return getattr(error, "response_code", None) if isinstance(error, GitlabError) else None


def describe(error: BaseException) -> str:
    """A short reason for a failed request, without URLs, headers or bodies that could carry secrets."""
    status = status_of(error)
    if status is not None:
        return {403: "403 forbidden", 404: "404 not found"}.get(status, f"HTTP {status}")
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


class _Gitlab(gitlab.Gitlab):
    """python-gitlab with a configurable retry budget and read timeouts retried like 5xx."""

    def __init__(self, *args: Any, retries: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._retries = retries
        # Waits before retrying a read timeout: up to 0.1 s at first, doubling, never over 30 s.
        self._backoff = Backoff(base=0.1, cap=30.0)

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("max_retries", self._retries)
        attempt = 0
        while True:
            try:
                return super().http_request(*args, **kwargs)
            except requests.ReadTimeout:
                if attempt >= self._retries:
                    raise
                time.sleep(self._backoff.delay(attempt))
                attempt += 1


@dataclass
class Compare:
    """What changed on a branch since a commit."""

    head: str | None
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    complete: bool = True


class GitLabClient:
    """The GitLab API calls the connector makes, as typed generators.

    Args:
        url: the instance's address.
        token: the access token (kept inside python-gitlab's session headers only).
        timeout: seconds per request.
        max_retries: retries of 429, 5xx, dropped connections and timeouts.
        ssl_verify: check TLS certificates.
    """

    def __init__(
        self, url: str, token: str, *, timeout: float = 30.0, max_retries: int = 6, ssl_verify: bool = True
    ) -> None:
        self.gl = _Gitlab(
            url,
            private_token=token,
            timeout=timeout,
            ssl_verify=ssl_verify,
            retry_transient_errors=True,
            per_page=PER_PAGE,
            retries=max_retries,
        )
        self.url = url
        self._calls = 0
        self._lock = threading.Lock()
        self.gl.session.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._calls += 1

    @property
    def calls(self) -> int:
        """HTTP requests made so far (retries included)."""
        return self._calls

    def close(self) -> None:
        """Release the HTTP connections."""
        self.gl.session.close()

    # -- identity -------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Check the token once, before anything else.

        Raises:
            AuthenticationFailed: a one-line reason (401: invalid or expired; 403: missing scope).
        """
        try:
            self.gl.auth()
        except GitlabAuthenticationError:
            raise AuthenticationFailed(
                f"authentication failed: {self.url} refused the token (401); check that it is valid, "
                "not expired or revoked, and has the read_api scope"
            ) from None
        except GitlabHttpError as err:
            if err.response_code == 403:
                raise AuthenticationFailed(
                    f"authentication failed: {self.url} answered 403 for the token's user; give the "
                    "token the read_api scope"
                ) from None
            raise

    # -- projects -------------------------------------------------------------------------

    def _list(self, path: str, **query: Any) -> Iterator[dict[str, Any]]:
        pages = self.gl.http_list(path, query_data=query, iterator=True, per_page=PER_PAGE)
        for item in pages:
            if isinstance(item, dict):
                yield item

    def project(self, path: str) -> Project:
        """One project by its path (or id)."""
        return Project.model_validate(self.gl.http_get(f"/projects/{_enc(path)}"))

    def group_projects(self, group: str, *, include_archived: bool) -> Iterator[Project]:
        """The projects of a group and of all its subgroups."""
        query: dict[str, Any] = {"include_subgroups": "true", "order_by": "id", "sort": "asc"}
        if not include_archived:
            query["archived"] = "false"
        for data in self._list(f"/groups/{_enc(group)}/projects", **query):
            yield Project.model_validate(data)

    def member_projects(self, *, include_archived: bool) -> Iterator[Project]:
        """Every project the token's user is a member of (keyset-paginated)."""
        query: dict[str, Any] = {
            "membership": "true",
            "pagination": "keyset",
            "order_by": "id",
            "sort": "asc",
        }
        if not include_archived:
            query["archived"] = "false"
        for data in self._list("/projects", **query):
            yield Project.model_validate(data)

    def members(self, project_id: int) -> Iterator[Member]:
        """Direct and inherited members (``members/all``)."""
        for data in self._list(f"/projects/{project_id}/members/all"):
            yield Member.model_validate(data)

    # -- repository -----------------------------------------------------------------------

    def head(self, project_id: int, branch: str) -> str:
        """The commit sha a branch points at."""
        data = self.gl.http_get(f"/projects/{project_id}/repository/branches/{_enc(branch)}")
        assert isinstance(data, dict)
        return str(data["commit"]["id"])

    def tree(self, project_id: int, ref: str, *, recursive: bool = True) -> Iterator[TreeEntry]:
        """Every file (blob) of the tree at ``ref`` (only the root's files unless ``recursive``)."""
        query = {"ref": ref, "recursive": "true" if recursive else "false", "pagination": "keyset"}
        for data in self._list(f"/projects/{project_id}/repository/tree", **query):
            entry = TreeEntry.model_validate(data)
            if entry.type == "blob":
                yield entry

    def compare(self, project_id: int, since: str, branch: str) -> Compare:
        """Paths changed and deleted on ``branch`` since commit ``since``.

        ``complete`` is False when GitLab may have cut the diff list (timeout, too many files),
        or the old commit is no longer an ancestor (force push): the caller then lists the tree.
        """
        data = self.gl.http_get(
            f"/projects/{project_id}/repository/compare", query_data={"from": since, "to": branch}
        )
        assert isinstance(data, dict)
        commit = data.get("commit") or {}
        diffs = data.get("diffs") or []
        result = Compare(head=commit.get("id"))
        result.complete = not data.get("compare_timeout") and len(diffs) < MAX_COMPARE_DIFFS
        if result.head is None and diffs:
            result.complete = False  # the branch moved backwards: the old commit is not an ancestor
        for diff in diffs:
            if diff.get("deleted_file"):
                result.deleted.append(diff["old_path"])
                continue
            if diff.get("renamed_file") and diff.get("old_path") != diff.get("new_path"):
                result.deleted.append(diff["old_path"])
            result.changed.append(diff["new_path"])
        return result

    def blob_id(self, project_id: int, path: str, ref: str) -> tuple[str, int] | None:
        """``(blob sha, size)`` of a file at ``ref`` from a HEAD request; None when it is not there."""
        try:
            headers = self.gl.http_head(
                f"/projects/{project_id}/repository/files/{_enc(path)}", query_data={"ref": ref}
            )
        except GitlabHttpError as err:
            if err.response_code == 404:
                return None
            raise
        return str(headers["X-Gitlab-Blob-Id"]), int(headers.get("X-Gitlab-Size", 0))

    def file_history(self, project_id: int, path: str, ref: str) -> FileHistory:
        """The oldest and newest commits that touched ``path`` up to ``ref``: the file's dates.

        GitLab lists a path's commits newest first and sends no total for them (no ``X-Total`` or
        ``X-Total-Pages``, so the last page cannot be asked for directly), and has no oldest-first
        order: the oldest commit is the last one of the listing. Pages of 100 make that one request
        for a file changed fewer than 100 times, and one more per further 100 commits. Only the
        first and the last commit are kept. A rename starts a new history (no ``follow``).
        """
        # gl.http_list with query_data, not project.commits.list(path=...): python-gitlab's list()
        # takes ``path`` as the URL to request, not as the query parameter.
        pages = self.gl.http_list(
            f"/projects/{project_id}/repository/commits",
            query_data={"ref_name": ref, "path": path},
            iterator=True,
            per_page=PER_PAGE,
        )
        first: dict[str, Any] | None = None
        last: dict[str, Any] | None = None
        for data in pages:
            if isinstance(data, dict):
                first = data if first is None else first
                last = data
        if first is None or last is None:
            return FileHistory()
        newest, oldest = Commit.model_validate(first), Commit.model_validate(last)
        return FileHistory(created=oldest.date, updated=newest.date, last_commit=newest.id)

    def raw_blob(self, project_id: int, sha: str, limit: int) -> bytes | None:
        """A blob's bytes, streamed; None once it turns out larger than ``limit``."""
        response = self.gl.http_request(
            "get", f"/projects/{project_id}/repository/blobs/{sha}/raw", streamed=True
        )
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            response.close()

    # -- issues, merge requests, wiki, releases --------------------------------------------

    def items(self, project_id: int, kind: str, *, updated_after: str | None = None) -> Iterator[Item]:
        """Issues or merge requests (``kind``), every state, oldest update first."""
        query: dict[str, Any] = {"state": "all", "order_by": "updated_at", "sort": "asc"}
        if updated_after:
            query["updated_after"] = updated_after
        for data in self._list(f"/projects/{project_id}/{kind}", **query):
            yield Item.model_validate(data)

    def count(self, project_id: int, kind: str) -> int | None:
        """How many issues or merge requests exist (None when GitLab does not say, past 10,000)."""
        pages = self.gl.http_list(
            f"/projects/{project_id}/{kind}", query_data={"state": "all"}, iterator=True, per_page=1
        )
        return pages.total if isinstance(pages, GitlabList) else None

    def notes(self, project_id: int, kind: str, iid: int) -> Iterator[Note]:
        """The comments of an issue or merge request, oldest first."""
        for data in self._list(
            f"/projects/{project_id}/{kind}/{iid}/notes", sort="asc", order_by="created_at"
        ):
            yield Note.model_validate(data)

    def wiki_pages(self, project_id: int) -> Iterator[WikiPage]:
        """Every wiki page with its content."""
        for data in self._list(f"/projects/{project_id}/wikis", with_content="1"):
            yield WikiPage.model_validate(data)

    def releases(self, project_id: int) -> Iterator[Release]:
        """Every release."""
        for data in self._list(f"/projects/{project_id}/releases"):
            yield Release.model_validate(data)


def _enc(value: str) -> str:
    """A path as GitLab wants it inside a URL segment (``a/b`` -> ``a%2Fb``)."""
    return quote(value, safe="")
