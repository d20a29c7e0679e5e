"""The GitLab connector: projects in scope -> documents with ACLs, full or incremental per project.

How a run decides what to list:

- A **full pass** (the first run, ``ccf-run --full``, every ``full_sync_every``-th run, or after a
  change of the settings that shape documents) lists every project completely. Repository files
  and issues/merge requests are yielded as :class:`DocumentVersion` (blob sha / ``updated_at``),
  so even a full pass downloads only what changed.
- An **incremental run** lists, per project, only what changed since the checkpoint's high-water
  marks: the compare API from the last indexed commit (changed and deleted paths), issues and merge
  requests ``updated_after`` the last one seen. Everything it did not list is protected with
  ``context.keep_prefix`` and what it knows was deleted is reported by ``deleted_document_ids``.
  A project new to the scope, whose ACL or path changed, whose branch was rewritten, or whose
  issue count does not add up (an issue was deleted) is listed completely instead.

The connector declares ``SyncMode.FULL``: the engine then deletes what no run protects, which is
how projects that left the scope and items a complete listing no longer shows get deleted.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gitlab.exceptions import GitlabHttpError

from ccf_core import CCFError, Connector, Document, DocumentVersion, Group, SyncContext, SyncMode
from ccf_gitlab import render
from ccf_gitlab.acl import ProjectAccess, project_access
from ccf_gitlab.client import TRANSIENT_ERRORS, AuthenticationFailed, GitLabClient, describe, status_of
from ccf_gitlab.config import GitLabConfig, Kind, TokenUnavailable, resolve_token
from ccf_gitlab.models import FileHistory, Item, Project
from ccf_gitlab.scope import ScopeProblem, projects_in_scope

logger = logging.getLogger(__name__)

#: The checkpoint's layout; another value means a full pass.
CHECKPOINT_FORMAT = 1


class GitLabUnavailable(CCFError):
    """The run cannot start: no token, or GitLab refused it. The message is one line."""


@dataclass(frozen=True)
class _Stub:
    """A document known by id and version, with the call that builds it.

    ``entry`` is the checkpoint entry of its project: a failed load marks it so that the next run
    lists the project whole again (its high-water marks already passed this item).
    """

    id: str
    version: str
    load: Callable[[], Document | None]
    entry: dict[str, Any]


class GitLabConnector(Connector):
    """Indexes GitLab projects: overview, repository files, issues, merge requests, wiki, releases."""

    name = "gitlab"
    description = "GitLab projects: README, files, issues, merge requests, wikis, releases (incremental)"
    Config = GitLabConfig
    sync_mode = SyncMode.FULL
    config: GitLabConfig

    def __init__(self, config: GitLabConfig | None = None) -> None:
        super().__init__(config)
        self.client: GitLabClient | None = None
        self._run: _RunState | None = None

    # -- the run ----------------------------------------------------------------------------

    def documents(self, context: SyncContext) -> Iterator[Document | DocumentVersion]:
        config = self.config
        self._run = None
        try:
            token = resolve_token(config)
        except TokenUnavailable as err:
            raise GitLabUnavailable(str(err)) from None
        client = self.client = GitLabClient(
            config.url,
            token,
            timeout=config.timeout,
            max_retries=config.max_retries,
            ssl_verify=config.ssl_verify,
        )
        try:
            client.authenticate()
        except AuthenticationFailed as err:
            client.close()
            raise GitLabUnavailable(str(err)) from None
        except TRANSIENT_ERRORS as err:
            client.close()
            raise GitLabUnavailable(f"cannot reach GitLab at {config.url}: {describe(err)}") from None
        run = self._run = _RunState(config, client, context)
        try:
            yield from run.documents()
        finally:
            client.close()
        context.set_checkpoint(run.next_checkpoint())
        context.logger.info("gitlab: %d API requests", client.calls)

    def deleted_document_ids(self, context: SyncContext) -> Iterator[str]:
        """Items known to be gone: deleted or renamed files, moved issues, files now skipped."""
        if self._run is not None:
            yield from dict.fromkeys(self._run.deleted)

    def groups(self, context: SyncContext) -> Iterator[Group]:
        """Each synced project's Reporter-or-above members, the group principal of its ACLs."""
        if self._run is not None:
            for name, users in sorted(self._run.groups.items()):
                yield Group(name=name, users=users)


class _RunState:
    """One run's decisions and results; a new one per run."""

    def __init__(self, config: GitLabConfig, client: GitLabClient, context: SyncContext) -> None:
        self.config = config
        self.client = client
        self.context = context
        #: Ids reported deleted at the end of the run (only ones an earlier run indexed).
        self.deleted: list[str] = []
        #: Each project's group principal -> its Reporter-or-above members.
        self.groups: dict[str, tuple[str, ...]] = {}
        previous = context.checkpoint or {}
        self.previous_projects: dict[str, dict[str, Any]] = previous.get("projects", {})
        runs = int(previous.get("runs_since_full", 0)) + 1
        every = self.config.full_sync_every
        self.full = (
            context.checkpoint is None
            or previous.get("format") != CHECKPOINT_FORMAT
            or previous.get("config") != self.config.fingerprint()
            or (every > 0 and runs >= every)
        )
        self.runs_since_full = 0 if self.full else runs
        self.projects: dict[str, dict[str, Any]] = {}
        self.include = set(self.config.include)
        if self.full:
            context.logger.info("gitlab: full pass over every project")

    def next_checkpoint(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.fingerprint(),
            "runs_since_full": self.runs_since_full,
            "projects": self.projects,
        }

    # -- listing -----------------------------------------------------------------------------

    def documents(self) -> Iterator[Document | DocumentVersion]:
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="gitlab") as pool:
            yield from self._prefetched(self._stubs(), pool)

    def _prefetched(
        self, items: Iterator[Document | _Stub | DocumentVersion], pool: ThreadPoolExecutor
    ) -> Iterator[Document | DocumentVersion]:
        """Start the downloads of changed items ahead of the engine, a few at a time."""
        window = self.config.workers * 4
        pending: deque[tuple[_Stub, Future[Document | None]]] = deque()
        try:
            for item in items:
                if not isinstance(item, _Stub):
                    yield item
                    continue
                if self.context.previous_version(item.id) == item.version:
                    yield DocumentVersion(item.id, item.version, item.load)
                    continue
                pending.append((item, pool.submit(self._load, item)))
                while len(pending) > window:
                    yield _resolved(*pending.popleft())
            while pending:
                yield _resolved(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()

    def _load(self, stub: _Stub) -> Document | None:
        """Build a changed document (in a worker thread); an item deleted since it was listed is gone."""
        try:
            return stub.load()
        except GitlabHttpError as err:
            if err.response_code == 404:
                self._deleted(stub.id)
                return None
            stub.entry["fp"] = None
            raise
        except Exception:
            stub.entry["fp"] = None
            raise

    def _stubs(self) -> Iterator[Document | _Stub | DocumentVersion]:
        problems: list[ScopeProblem] = []
        seen = 0
        for project in projects_in_scope(self.client, self.config, problems):
            seen += 1
            key = str(project.id)
            try:
                yield from self._project(project)
            except TRANSIENT_ERRORS as err:
                if status_of(err) == 401:
                    raise GitLabUnavailable(
                        f"authentication failed during the run: {describe(err)}"
                    ) from None
                self._scope_failed(project.id, project.path_with_namespace, None, err)
                if key in self.previous_projects:
                    self.projects[key] = self.previous_projects[key]
        for problem in problems:
            # A group or project of the settings that could not be read: keep what it had. Without
            # a checkpoint (a --full run) its projects are unknown, so nothing unlisted is deleted.
            if self.context.checkpoint is None:
                self.context.keep_prefix("p")
            for key, entry in self.previous_projects.items():
                path = str(entry.get("path", ""))
                if key not in self.projects and (path == problem.path or path.startswith(problem.path + "/")):
                    self.context.keep_prefix(render.project_prefix(int(key)))
                    self.projects[key] = entry
            self.context.report_problem(
                problem.path, "listing_failed", f"{problem.path}: {problem.reason}; its documents are kept"
            )
        self.context.logger.info("gitlab: %d projects in scope", seen)

    def _scope_failed(self, project_id: int, path: str, kind: str | None, err: BaseException) -> None:
        """Protect a project (or one kind of it) that could not be listed, and name it in the report."""
        prefix = render.project_prefix(project_id) if kind is None else render.kind_prefix(project_id, kind)
        self.context.keep_prefix(prefix)
        what = path if kind is None else f"{path} ({kind})"
        self.context.logger.warning(
            "gitlab: %s could not be listed: %s; its documents are kept", what, describe(err)
        )
        self.context.report_problem(
            what, "listing_failed", f"{what}: {describe(err)}; its documents are kept until it can be listed"
        )

    def _project(self, project: Project) -> Iterator[Document | _Stub | DocumentVersion]:
        config = self.config
        key = str(project.id)
        previous = self.previous_projects.get(key, {})
        members = list(self.client.members(project.id))
        access = project_access(
            project, members, identity=config.identity, internal_group=config.internal_group
        )
        self.groups[access.group] = access.readers
        # Any change to who may read, or to the project's path, touches every document's metadata.
        full = self.full or previous.get("fp") != access.fingerprint
        entry: dict[str, Any] = {"path": project.path_with_namespace, "fp": access.fingerprint}
        self.projects[key] = entry
        kinds: list[tuple[str, Callable[[], Iterator[Document | _Stub]]]] = []
        if Kind.FILES in self.include or Kind.OVERVIEW in self.include:
            kinds.append(("files", lambda: self._repository(project, access, full, previous, entry)))
        if Kind.ISSUES in self.include and project.has_issues:
            kinds.append(
                (
                    "issues",
                    lambda: self._items(project, "issues", access, full=full, previous=previous, entry=entry),
                )
            )
        if Kind.MERGE_REQUESTS in self.include and project.has_merge_requests:
            kinds.append(
                (
                    "merge_requests",
                    lambda: self._items(
                        project, "merge_requests", access, full=full, previous=previous, entry=entry
                    ),
                )
            )
        if Kind.WIKI in self.include and project.has_wiki:
            kinds.append(("wiki", lambda: self._wiki(project, access)))
        if Kind.RELEASES in self.include:
            kinds.append(("release", lambda: self._releases(project, access)))
        for kind, listing in kinds:
            try:
                yield from listing()
            except TRANSIENT_ERRORS as err:
                if status_of(err) == 401:
                    raise
                self._scope_failed(project.id, project.path_with_namespace, kind, err)
                if kind == "files":
                    self.context.keep(f"{render.project_prefix(project.id)}overview")
                # What was kept may carry an older ACL: list the whole project again next run.
                entry["fp"] = None
                if kind in previous:
                    entry[kind] = previous[kind]
                else:
                    entry.pop(kind, None)

    def _deleted(self, doc_id: str) -> None:
        """Report a deletion, but only of a document an earlier run indexed."""
        if self.context.previous_version(doc_id) is not None:
            self.deleted.append(doc_id)

    # -- repository files and the overview ------------------------------------------------------

    def _repository(
        self,
        project: Project,
        access: ProjectAccess,
        full: bool,
        previous: dict[str, Any],
        entry: dict[str, Any],
    ) -> Iterator[Document | _Stub]:
        """Files on the default branch, then the overview (which needs the README's blob)."""
        branch = project.default_branch
        before = previous.get("files") or {}
        readme: tuple[str, str] | None = None
        if branch:
            index_files = Kind.FILES in self.include
            incremental = not full and before.get("branch") == branch and before.get("commit")
            head: str | None = None
            if incremental:
                head, readme, complete = yield from self._changed_files(project, access, before, index_files)
                if not complete:
                    incremental = False
            if not incremental:
                head = self.client.head(project.id, branch)
                readme = yield from self._all_files(project, access, head, index_files=index_files)
            else:
                self.context.keep_prefix(render.kind_prefix(project.id, "files"))
            entry["files"] = {"branch": branch, "commit": head, "readme": list(readme) if readme else None}
        if Kind.OVERVIEW in self.include:
            yield self._overview(project, access, readme)

    def _all_files(
        self, project: Project, access: ProjectAccess, head: str, *, index_files: bool
    ) -> Generator[_Stub, None, tuple[str, str] | None]:
        """Stubs of every wanted file at ``head``; returns the README's ``(path, blob sha)``."""
        config = self.config
        readme: tuple[str, str] | None = None
        for entry in self.client.tree(project.id, head, recursive=index_files):
            if render.is_readme(entry.path) and _better_readme(entry.path, readme):
                readme = (entry.path, entry.id)
            if index_files and render.wanted_file(entry.path, config.file_extensions, config.exclude_paths):
                yield self._file_stub(project, access, entry.path, entry.id, head)
        return readme

    def _changed_files(
        self, project: Project, access: ProjectAccess, before: dict[str, Any], index_files: bool
    ) -> Generator[_Stub, None, tuple[str | None, tuple[str, str] | None, bool]]:
        """Stubs of the files changed since the last commit; returns ``(head, readme, complete)``."""
        config = self.config
        branch = str(before["branch"])
        readme = (str(before["readme"][0]), str(before["readme"][1])) if before.get("readme") else None
        try:
            compare = self.client.compare(project.id, str(before["commit"]), branch)
        except TRANSIENT_ERRORS as err:
            if status_of(err) != 404:
                raise
            return None, readme, False  # the old commit is gone (history rewritten): list the tree
        if not compare.complete:
            return None, readme, False
        head = compare.head or str(before["commit"])
        prefix = render.kind_prefix(project.id, "files")
        for path in compare.deleted:
            self._deleted(prefix + path)
        for path in compare.changed:
            if not index_files or not render.wanted_file(path, config.file_extensions, config.exclude_paths):
                self._deleted(prefix + path)  # an indexed file may have become excluded
                continue
            found = self.client.blob_id(project.id, path, head)
            if found is None or found[1] > config.max_file_bytes:
                self._deleted(prefix + path)
                continue
            yield self._file_stub(project, access, path, found[0], head)
        if any("/" not in path for path in (*compare.changed, *compare.deleted)):
            # Something at the root changed: find the README as a full listing would.
            readme = yield from self._all_files(project, access, head, index_files=False)
        return head, readme, True

    def _file_stub(self, project: Project, access: ProjectAccess, path: str, sha: str, head: str) -> _Stub:
        """A file at commit ``head``: its blob ``sha`` is its version; loading it also reads its dates."""
        doc_id = f"{render.kind_prefix(project.id, 'files')}{path}"
        branch = str(project.default_branch)
        entry = self.projects[str(project.id)]
        version = f"{sha}|{access.fingerprint}"

        def load() -> Document | None:
            content = self.client.raw_blob(project.id, sha, self.config.max_file_bytes)
            if content is None or render.file_content_type(path, content) is None:
                self._deleted(doc_id)  # too large or binary now: the index must not keep an old copy
                return None
            history = self._file_history(project, path, head, entry)
            document = render.file_document(project, branch, path, content, access.default, history=history)
            if document is not None and history is None:
                # A version no listing produces: the next run loads the file again, with its dates.
                document = document.model_copy(update={"version": f"{version}|undated"})
            return document

        return _Stub(doc_id, version, load, entry)

    def _file_history(
        self, project: Project, path: str, head: str, entry: dict[str, Any]
    ) -> FileHistory | None:
        """A file's dates and last commit; None (and a problem in the report) when GitLab would not say.

        The file is still indexed, without dates: losing its content over its dates would be worse.
        The project is listed completely on the next run, which loads the file again.
        """
        try:
            return self.client.file_history(project.id, path, head)
        except TRANSIENT_ERRORS as err:
            if status_of(err) == 401:
                raise
            what = f"{project.path_with_namespace}: {path}"
            self.context.logger.warning("gitlab: %s: commit dates unavailable: %s", what, describe(err))
            self.context.report_problem(
                what,
                "dates_unavailable",
                f"{what}: its commit dates could not be read ({describe(err)}); indexed without dates, "
                "they are added on the next run",
            )
            entry["fp"] = None
            return None

    def _overview(self, project: Project, access: ProjectAccess, readme: tuple[str, str] | None) -> _Stub:
        def load() -> Document:
            text = None
            if readme is not None:
                raw = self.client.raw_blob(project.id, readme[1], self.config.max_file_bytes)
                text = raw.decode("utf-8", "replace") if raw is not None else None
            return render.overview_document(project, text, access.default)

        doc_id = f"{render.project_prefix(project.id)}overview"
        version = render.overview_version(project, readme, access.fingerprint)
        return _Stub(doc_id, version, load, self.projects[str(project.id)])

    # -- issues and merge requests -------------------------------------------------------------

    def _items(
        self,
        project: Project,
        kind: str,
        access: ProjectAccess,
        *,
        full: bool,
        previous: dict[str, Any],
        entry: dict[str, Any],
        already: frozenset[str] = frozenset(),
    ) -> Iterator[_Stub]:
        """Issues or merge requests changed since the last run, or all of them in a full listing."""
        before = previous.get(kind) or {}
        since = before.get("since")
        incremental = not full and since is not None
        latest = since if incremental else None
        listed = new = 0
        yielded: set[str] = set()
        for item in self.client.items(project.id, kind, updated_after=since if incremental else None):
            listed += 1
            doc_id = render.item_id(project.id, kind, item.iid)
            if doc_id in already:
                continue
            if self.context.previous_version(doc_id) is None:
                new += 1
            stamp = item.updated_at.isoformat()
            latest = stamp if latest is None or stamp > latest else latest
            if item.moved_to_id is not None:
                self._deleted(doc_id)  # moved to another project: it is indexed there
                continue
            yielded.add(doc_id)
            yield self._item_stub(project, kind, item, access)
        total: int | None = listed
        if incremental:
            total = self.client.count(project.id, kind)
            expected = before.get("total")
            # GitLab gives no count past 10,000 items: then only the periodic full pass finds deletions.
            if total is not None and expected is not None and total != int(expected) + new:
                # Fewer than expected: something was deleted. List them all so the engine finds it.
                self.context.logger.info(
                    "gitlab: %s %s: count changed unexpectedly, listing all",
                    project.path_with_namespace,
                    kind,
                )
                yield from self._items(
                    project,
                    kind,
                    access,
                    full=True,
                    previous=previous,
                    entry=entry,
                    already=frozenset(yielded),
                )
                return
            self.context.keep_prefix(render.kind_prefix(project.id, kind))
        entry[kind] = {"since": latest, "total": total}

    def _item_stub(self, project: Project, kind: str, item: Item, access: ProjectAccess) -> _Stub:
        restricted = kind == "issues" and item.confidential
        acl = access.restricted if restricted else access.default
        internal_notes = restricted or access.default_is_restricted

        def load() -> Document:
            notes = self.client.notes(project.id, kind, item.iid)
            return render.item_document(project, kind, item, notes, acl, internal_notes=internal_notes)

        version = render.item_version(item, access.fingerprint)
        return _Stub(
            render.item_id(project.id, kind, item.iid), version, load, self.projects[str(project.id)]
        )

    # -- wiki and releases: small, listed completely every run ----------------------------------

    def _wiki(self, project: Project, access: ProjectAccess) -> Iterator[Document]:
        for page in self.client.wiki_pages(project.id):
            yield render.wiki_document(project, page, access.default)

    def _releases(self, project: Project, access: ProjectAccess) -> Iterator[Document]:
        for release in self.client.releases(project.id):
            yield render.release_document(project, release, access.default)


def _better_readme(path: str, current: tuple[str, str] | None) -> bool:
    """Whether ``path`` is a more usual README name than the current one (README.md first)."""
    if current is None:
        return True
    order = render.README_NAMES
    return order.index(path.lower()) < order.index(current[0].lower())


def _resolved(stub: _Stub, future: Future[Document | None]) -> DocumentVersion:
    return DocumentVersion(stub.id, stub.version, future.result)
