"""A fake GitLab REST API (v4) on a local HTTP server, for python-gitlab to talk to.

It serves the recorded shapes of the endpoints the connector uses (groups, projects, members/all,
repository tree, blobs, files, branches, compare, a path's commits, issues, merge requests, notes,
wikis, releases), with GitLab's pagination headers (``x-page``, ``x-next-page``, ``x-total``,
``Link``; commits without totals, as GitLab sends them), 401 for a wrong token, and 429 responses on
demand. Its data lives in plain Python objects that a test changes between runs (edit an issue,
delete a file, push a commit, each commit an hour after the one before).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from gitlab_data import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    TOKEN,
    FakeGitLabState,
    Group,
    Item,
    Project,
    User,
    blob_sha,
    stamp,
)

__all__ = [
    "DEVELOPER",
    "GUEST",
    "MAINTAINER",
    "OWNER",
    "REPORTER",
    "TOKEN",
    "FakeGitLab",
    "FakeGitLabState",
    "Group",
    "Item",
    "Project",
    "User",
    "blob_sha",
    "stamp",
]


def _item_json(project: Project, item: Item, kind: str, users: dict[str, User]) -> dict[str, Any]:
    author = users.get(item.author)
    segment = "issues" if kind == "issues" else "merge_requests"
    data: dict[str, Any] = {
        "id": project.id * 10_000 + item.iid + (0 if kind == "issues" else 5_000),
        "iid": item.iid,
        "project_id": project.id,
        "title": item.title,
        "description": item.description,
        "state": item.state,
        "labels": item.labels,
        "author": author.as_json() if author else {"id": 0, "username": item.author},
        "assignees": [],
        "milestone": {"title": item.milestone, "id": 7} if item.milestone else None,
        "created_at": stamp(item.created),
        "updated_at": stamp(item.updated),
        "web_url": f"{project.web_url}/-/{segment}/{item.iid}",
        "user_notes_count": len(item.notes),
    }
    if kind == "issues":
        data["confidential"] = item.confidential
        data["moved_to_id"] = item.moved_to_id
    else:
        data["source_branch"] = f"feature-{item.iid}"
        data["target_branch"] = project.default_branch
        data["draft"] = False
    return data


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Buffer each response into one write: headers and body in separate small writes meet the
    # client's delayed ACK and cost ~40 ms per request.
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    # -- plumbing -------------------------------------------------------------------------

    def _handle(self, head: bool) -> None:
        state = self.server.state
        raw_path, _, query = self.path.partition("?")
        params = {key: values[-1] for key, values in parse_qs(query).items()}
        segments = [unquote(part) for part in raw_path.split("/") if part]
        if state.latency:
            time.sleep(state.latency)
        with state.lock:
            state.headers_seen.append(dict(self.headers.items()))
            route = self._route_name(segments)
            state.calls[route] += 1
            if state.fail_next:
                status = state.fail_next.pop(0)
                state.failed[status] += 1
                headers = {"Retry-After": "0"} if status == 429 else {}
                self._send(status, {"message": f"{status} fake failure"}, headers=headers)
                return
            if self.headers.get("PRIVATE-TOKEN") != state.token:
                self._send(401, {"message": "401 Unauthorized"})
                return
            try:
                self._dispatch(segments, params, head)
            except _Reply as reply:
                self._send(reply.status, reply.body, headers=reply.headers, raw=reply.raw, head=head)

    @staticmethod
    def _route_name(segments: list[str]) -> str:
        parts = segments[2:]
        if len(parts) >= 2 and parts[0] in {"projects", "groups"}:
            parts = [parts[0], "*", *parts[2:]]
        if len(parts) >= 5 and parts[2] == "repository" and parts[3] in {"files", "blobs"}:
            parts = parts[:4]
        if len(parts) >= 4 and parts[2] in {"issues", "merge_requests"}:
            parts[3] = "*"
        return "/".join(parts[:5])

    def _send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        head: bool = False,
    ) -> None:
        payload = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/octet-stream" if raw is not None else "application/json"
        )
        self.send_header("Content-Length", "0" if head else str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def _page(self, items: list[Any], params: dict[str, str]) -> None:
        """Answer with one page of ``items`` and GitLab's pagination headers."""
        per_page = min(int(params.get("per_page", 20)), 100)
        page = int(params.get("page", 1))
        total = len(items)
        pages = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-total": str(total),
            "x-total-pages": str(pages),
            "x-next-page": str(page + 1) if page < pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        base = f"http://{self.headers['Host']}{self.path.partition('?')[0]}"
        links = []
        for rel, number in (("next", page + 1 if page < pages else None), ("first", 1), ("last", pages)):
            if number is not None:
                query = urlencode({**params, "page": number, "per_page": per_page})
                links.append(f'<{base}?{query}>; rel="{rel}"')
        headers["Link"] = ", ".join(links)
        raise _Reply(200, chunk, headers)

    # -- routes ---------------------------------------------------------------------------

    def _dispatch(self, segments: list[str], params: dict[str, str], head: bool) -> None:
        state = self.server.state
        if segments[:2] != ["api", "v4"]:
            raise _Reply(404, {"message": "404 Not Found"})
        rest = segments[2:]
        if rest == ["user"]:
            raise _Reply(200, {"id": 999, "username": "indexer", "is_admin": False})
        if rest[:1] == ["groups"] and len(rest) >= 2:
            group = state.group(rest[1])
            if group is None:
                raise _Reply(404, {"message": "404 Group Not Found"})
            if len(rest) == 2:
                raise _Reply(200, group.as_json())
            if rest[2:] == ["projects"]:
                subgroups = params.get("include_subgroups") == "true"
                found = [
                    p
                    for p in state.projects.values()
                    if p.namespace == group.full_path
                    or (subgroups and p.namespace.startswith(group.full_path + "/"))
                ]
                self._page([p.as_json() for p in _filter_archived(found, params)], params)
        if rest == ["projects"]:
            self._page([p.as_json() for p in _filter_archived(list(state.projects.values()), params)], params)
        if rest[:1] == ["projects"] and len(rest) >= 2:
            project = state.project(rest[1])
            if project is None:
                raise _Reply(404, {"message": "404 Project Not Found"})
            if project.fail_with is not None:
                raise _Reply(project.fail_with, {"message": f"{project.fail_with} Forbidden"})
            self._project(project, rest[2:], params)
        raise _Reply(404, {"message": "404 Not Found"})

    def _project(self, project: Project, rest: list[str], params: dict[str, str]) -> None:
        state = self.server.state
        users = {user.username: user for user in state.users.values()}
        if not rest:
            raise _Reply(200, project.as_json())
        for size in range(len(rest), 0, -1):
            status = project.fail_parts.get("/".join(rest[:size]))
            if status is not None:
                raise _Reply(status, {"message": f"{status} fake failure"})
        if rest == ["members", "all"]:
            self._page(state.members_all(project), params)
        if rest[0] == "repository":
            self._repository(project, rest[1:], params)
        if rest[0] in {"issues", "merge_requests"}:
            kind = rest[0]
            items = project.issues if kind == "issues" else project.merge_requests
            if len(rest) == 1:
                chosen = sorted(items.values(), key=lambda item: (item.updated, item.iid))
                if "updated_after" in params:
                    since = _parse_time(params["updated_after"])
                    chosen = [item for item in chosen if _parse_time(stamp(item.updated)) >= since]
                if params.get("state") in {"opened", "closed", "merged"}:
                    chosen = [item for item in chosen if item.state == params["state"]]
                self._page([_item_json(project, item, kind, users) for item in chosen], params)
            item = items.get(int(rest[1]))
            if item is None:
                raise _Reply(404, {"message": "404 Not found"})
            if rest[2:] == ["notes"]:
                self._page(item.notes, params)
        if rest == ["wikis"]:
            pages = [
                {"slug": slug, "title": title, "format": "markdown", "encoding": "UTF-8"}
                | ({"content": content} if params.get("with_content") in {"1", "true"} else {})
                for slug, (title, content) in sorted(project.wikis.items())
            ]
            raise _Reply(200, pages)
        if rest == ["releases"]:
            self._page(project.releases, params)
        raise _Reply(404, {"message": "404 Not Found"})

    def _repository(self, project: Project, rest: list[str], params: dict[str, str]) -> None:
        if not project.commits:
            raise _Reply(404, {"message": "404 Tree Not Found"})
        shas = {sha: tree for sha, tree in project.commits}
        if rest[:1] == ["branches"] and len(rest) == 2:
            if rest[1] != project.default_branch:
                raise _Reply(404, {"message": "404 Branch Not Found"})
            sha = project.head()[0]
            raise _Reply(200, {"name": rest[1], "default": True, "commit": {"id": sha, "short_id": sha[:8]}})
        if rest == ["tree"]:
            ref = params.get("ref", project.default_branch)
            tree = project.head()[1] if ref == project.default_branch else shas.get(ref)
            if tree is None:
                raise _Reply(404, {"message": "404 Tree Not Found"})
            entries = _tree_entries(tree)
            if params.get("recursive") != "true":
                entries = [entry for entry in entries if "/" not in entry["path"]]
            self._page(entries, params)
        if rest[:1] == ["blobs"] and rest[2:] == ["raw"]:
            content = project.blob(rest[1])
            if content is not None:
                raise _Reply(200, None, raw=content)
            raise _Reply(404, {"message": "404 Blob Not Found"})
        if rest[:1] == ["files"] and len(rest) == 2:
            ref = params.get("ref", project.default_branch)
            tree = project.head()[1] if ref == project.default_branch else shas.get(ref)
            if tree is None or rest[1] not in tree:
                raise _Reply(404, {"message": "404 File Not Found"})
            content = tree[rest[1]]
            headers = {"X-Gitlab-Blob-Id": blob_sha(content), "X-Gitlab-Size": str(len(content))}
            raise _Reply(200, {"file_path": rest[1], "blob_id": blob_sha(content)}, headers)
        if rest == ["compare"]:
            self._compare(project, params)
        if rest == ["commits"]:
            self._commits(project, params)
        raise _Reply(404, {"message": "404 Not Found"})

    def _commits(self, project: Project, params: dict[str, str]) -> None:
        """A path's commits, newest first, paged as GitLab pages commits.

        GitLab sends no ``x-total`` / ``x-total-pages`` for commits and announces a next page
        whenever a page is full (even when the next one turns out empty).
        """
        path = params.get("path", "")
        status = project.fail_parts.get(f"repository/commits?path={path}")
        if status is not None:
            raise _Reply(status, {"message": f"{status} fake failure"})
        history = project.history(params.get("ref_name", project.default_branch), path)
        if history is None:
            raise _Reply(404, {"message": "404 Commit Not Found"})
        per_page = min(int(params.get("per_page", 20)), 100)
        page = int(params.get("page", 1))
        chunk = history[(page - 1) * per_page : page * per_page]
        full = len(chunk) == per_page
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-next-page": str(page + 1) if full else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        if full:
            base = f"http://{self.headers['Host']}{self.path.partition('?')[0]}"
            query = urlencode({**params, "page": page + 1, "per_page": per_page})
            headers["Link"] = f'<{base}?{query}>; rel="next"'
        raise _Reply(200, [_commit_json(project, sha, minute) for sha, minute in chunk], headers)

    def _compare(self, project: Project, params: dict[str, str]) -> None:
        order = [sha for sha, _ in project.commits]
        start = params.get("from", "")
        target = params.get("to", "")
        target_sha = project.head()[0] if target == project.default_branch else target
        if start not in order or target_sha not in order:
            raise _Reply(404, {"message": "404 Ref Not Found"})
        old = project.commits[order.index(start)][1]
        new = project.commits[order.index(target_sha)][1]
        diffs = []
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            diffs.append(
                {
                    "old_path": path,
                    "new_path": path,
                    "new_file": path not in old,
                    "deleted_file": path not in new,
                    "renamed_file": False,
                    "diff": "@@ -1 +1 @@\n",
                }
            )
        commits = order[order.index(start) + 1 : order.index(target_sha) + 1]
        commit = {"id": commits[-1], "short_id": commits[-1][:8]} if commits else None
        raise _Reply(
            200,
            {
                "commit": commit,
                "commits": [{"id": sha} for sha in commits],
                "diffs": diffs,
                "compare_timeout": False,
                "compare_same_ref": start == target_sha,
            },
        )


def _commit_json(project: Project, sha: str, minute: int) -> dict[str, Any]:
    when = stamp(minute).replace(".000Z", ".000+00:00")
    return {
        "id": sha,
        "short_id": sha[:8],
        "created_at": when,
        "parent_ids": [],
        "title": f"Commit {sha[:8]}",
        "message": f"Commit {sha[:8]}\n",
        "author_name": "Alice",
        "author_email": "alice@example.com",
        "authored_date": when,
        "committer_name": "Alice",
        "committer_email": "alice@example.com",
        "committed_date": when,
        "web_url": f"{project.web_url}/-/commit/{sha}",
    }


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _filter_archived(projects: list[Project], params: dict[str, str]) -> list[Project]:
    projects = sorted(projects, key=lambda p: p.id)
    if params.get("archived") == "false":
        return [p for p in projects if not p.archived]
    return projects


def _tree_entries(tree: dict[str, bytes]) -> list[dict[str, Any]]:
    folders: set[str] = set()
    for path in tree:
        parts = path.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    entries = [
        {"id": "0" * 40, "name": p.rsplit("/", 1)[-1], "type": "tree", "path": p, "mode": "040000"}
        for p in sorted(folders)
    ]
    entries += [
        {"id": blob_sha(c), "name": p.rsplit("/", 1)[-1], "type": "blob", "path": p, "mode": "100644"}
        for p, c in sorted(tree.items())
    ]
    return entries


class _Reply(Exception):
    def __init__(
        self, status: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> None:
        self.status, self.body, self.headers, self.raw = status, body, headers or {}, raw


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeGitLabState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeGitLab:
    """The running fake: ``url`` to point python-gitlab at, ``state`` to change between runs."""

    def __init__(self, state: FakeGitLabState | None = None) -> None:
        self.state = state or FakeGitLabState()
        self._server = _Server(self.state)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeGitLab:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
