"""GitLab items as documents: ids, titles, source URLs, typed attributes and Markdown bodies.

Nothing here depends on the clock: the same GitLab state always renders the same bytes, so an
unchanged item keeps its checksum and is never uploaded again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

from ccf_core import AccessControl, ContentType, Document, DocumentMetadata
from ccf_core.content_types import content_type_from_path
from ccf_gitlab.models import FileHistory, Item, Note, Project, Release, WikiPage

#: Bump when the rendering changes, so every document is rendered again once (it is part of every
#: project's ACL fingerprint, which is part of every version). 2: repository files got their dates.
FORMAT = 2

README_NAMES = ("readme.md", "readme.markdown", "readme.rst", "readme.txt", "readme")

#: Kinds as they appear in document ids, and the API path segment of issues and merge requests.
ITEM_SEGMENTS = {"issues": "issue", "merge_requests": "mr"}


def project_prefix(project_id: int) -> str:
    """The start of every document id of a project (``p42/``)."""
    return f"p{project_id}/"


def kind_prefix(project_id: int, kind: str) -> str:
    """The start of every document id of one kind in a project (``p42/issue/``)."""
    segment = {"issues": "issue", "merge_requests": "mr", "files": "file", "wiki": "wiki"}.get(kind, kind)
    return f"{project_prefix(project_id)}{segment}/"


def digest(*parts: object) -> str:
    """A short stable hash of JSON-able parts (for versions and fingerprints)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _base_attributes(project: Project, kind: str) -> dict[str, object]:
    return {"gitlab_project": project.path_with_namespace, "gitlab_kind": kind}


# -- repository files ---------------------------------------------------------------------------


def is_readme(path: str) -> bool:
    """A README at the root of the repository."""
    return "/" not in path and path.lower() in README_NAMES


def wanted_file(path: str, extensions: Iterable[str], excluded: Iterable[str]) -> bool:
    """Whether a repository path is indexed: an allowed extension (or a README) and not excluded."""
    if any(fnmatch.fnmatchcase(path, pattern) for pattern in excluded):
        return False
    if is_readme(path):
        return True
    extension = posixpath.splitext(path)[1].lower()
    return bool(extension) and extension in set(extensions)


def file_content_type(path: str, content: bytes) -> ContentType | None:
    """The Q Business type of a file; text that has no type of its own is plain text; None: binary."""
    found = content_type_from_path(path)
    if found is not None and found not in {ContentType.PLAIN_TEXT, ContentType.MD}:
        return found
    if b"\0" in content[:8192]:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return found or ContentType.PLAIN_TEXT


def file_url(project: Project, branch: str, path: str) -> str:
    """GitLab's web page of a file on a branch."""
    return f"{project.web_url}/-/blob/{quote(branch)}/{quote(path)}"


def file_document(
    project: Project,
    branch: str,
    path: str,
    content: bytes,
    acl: list[AccessControl],
    *,
    history: FileHistory | None = None,
) -> Document | None:
    """A repository file as a document; None when it is binary of a type Q Business cannot read.

    ``history`` gives its dates and its last commit (None: unknown). The last commit is an attribute
    too, because ccf's change detection leaves dates out: a file whose dates arrive later (or
    change, as on the upgrade to FORMAT 2) then still differs from the copy in the index.
    """
    content_type = file_content_type(path, content)
    if content_type is None:
        return None
    attributes = _base_attributes(project, "file")
    attributes["gitlab_file_path"] = path
    attributes["gitlab_last_commit"] = history.last_commit if history else None
    return Document(
        id=f"{kind_prefix(project.id, 'files')}{path}",
        content=content,
        content_type=content_type,
        metadata=DocumentMetadata(
            title=f"{path} ({project.path_with_namespace})",
            source_uri=file_url(project, branch, path),
            created_at=history.created if history else None,
            last_updated_at=history.updated if history else None,
            attributes=attributes,
            access_control_list=acl,
        ),
    )


# -- project overview ---------------------------------------------------------------------------


def overview_version(project: Project, readme: tuple[str, str] | None, fingerprint: str) -> str:
    """Changes when the overview's text, its README or the project's ACL change."""
    return digest(
        FORMAT, project.name, project.description, project.topics, project.created_at, readme, fingerprint
    )


def overview_document(project: Project, readme: str | None, acl: list[AccessControl]) -> Document:
    """The project's description, topics and README as one Markdown document."""
    lines = [f"# {project.name or project.path_with_namespace}", ""]
    lines.append(f"Project `{project.path_with_namespace}` ({project.visibility}).")
    if project.topics:
        lines.append(f"Topics: {', '.join(project.topics)}.")
    if project.description:
        lines += ["", project.description.strip()]
    if readme:
        lines += ["", "---", "", readme.strip()]
    attributes = _base_attributes(project, "overview")
    attributes["gitlab_topics"] = list(project.topics)
    return Document(
        id=f"{project_prefix(project.id)}overview",
        content="\n".join(lines) + "\n",
        content_type=ContentType.MD,
        metadata=DocumentMetadata(
            title=project.name or project.path_with_namespace,
            source_uri=project.web_url,
            created_at=project.created_at,
            attributes=attributes,
            access_control_list=acl,
        ),
    )


# -- issues and merge requests ------------------------------------------------------------------


def item_id(project_id: int, kind: str, iid: int) -> str:
    """The document id of an issue or merge request."""
    return f"{kind_prefix(project_id, kind)}{iid}"


def item_version(item: Item, fingerprint: str) -> str:
    """GitLab touches ``updated_at`` on every edit and comment; the project part covers its ACL."""
    return f"{item.updated_at.isoformat()}|{fingerprint}"


def item_document(
    project: Project,
    kind: str,
    item: Item,
    notes: Iterable[Note],
    acl: list[AccessControl],
    *,
    internal_notes: bool,
) -> Document:
    """An issue or merge request with its comments, as Markdown."""
    sign = "#" if kind == "issues" else "!"
    noun = "Issue" if kind == "issues" else "Merge request"
    lines = [f"# {item.title}", "", f"{noun} {project.path_with_namespace}{sign}{item.iid} ({item.state})"]
    if item.author:
        lines.append(f"Author: @{item.author.username}")
    if item.assignees:
        lines.append("Assignees: " + ", ".join(f"@{a.username}" for a in item.assignees))
    if item.labels:
        lines.append("Labels: " + ", ".join(item.labels))
    if item.milestone and item.milestone.title:
        lines.append(f"Milestone: {item.milestone.title}")
    if item.source_branch:
        lines.append(f"Branches: {item.source_branch} -> {item.target_branch}")
    lines.append(f"Created {_date(item.created_at)}, updated {_date(item.updated_at)}")
    if item.description:
        lines += ["", item.description.strip()]
    comments = [
        note
        for note in notes
        if not note.system and (internal_notes or not (note.internal or note.confidential))
    ]
    if comments:
        lines += ["", "## Comments"]
        for note in comments:
            who = f"@{note.author.username}" if note.author else "someone"
            lines += ["", f"**{who}** ({_date(note.created_at)}):", "", note.body.strip()]
    attributes = _base_attributes(project, "issue" if kind == "issues" else "merge_request")
    attributes.update(
        gitlab_iid=item.iid,
        gitlab_state=item.state,
        gitlab_labels=list(item.labels),
        gitlab_author=item.author.username if item.author else None,
        gitlab_milestone=item.milestone.title if item.milestone and item.milestone.title else None,
    )
    if kind == "issues":
        attributes["gitlab_confidential"] = "true" if item.confidential else "false"
    return Document(
        id=item_id(project.id, kind, item.iid),
        content="\n".join(lines) + "\n",
        content_type=ContentType.MD,
        metadata=DocumentMetadata(
            title=f"{item.title} ({project.path_with_namespace}{sign}{item.iid})",
            source_uri=item.web_url,
            created_at=item.created_at,
            last_updated_at=item.updated_at,
            attributes=attributes,
            access_control_list=acl,
        ),
    )


# -- wiki and releases --------------------------------------------------------------------------


def wiki_document(project: Project, page: WikiPage, acl: list[AccessControl]) -> Document:
    """A wiki page; Markdown pages keep their type, other formats are sent as plain text."""
    content_type = ContentType.MD if page.format == "markdown" else ContentType.PLAIN_TEXT
    attributes = _base_attributes(project, "wiki")
    attributes["gitlab_wiki_slug"] = page.slug
    return Document(
        id=f"{kind_prefix(project.id, 'wiki')}{page.slug}",
        content=f"# {page.title}\n\n{page.content}",
        content_type=content_type,
        metadata=DocumentMetadata(
            title=f"{page.title or page.slug} ({project.path_with_namespace} wiki)",
            source_uri=f"{project.web_url}/-/wikis/{quote(page.slug)}",
            attributes=attributes,
            access_control_list=acl,
        ),
    )


def release_document(project: Project, release: Release, acl: list[AccessControl]) -> Document:
    """A release with its notes."""
    name = release.name or release.tag_name
    lines = [f"# {name}", "", f"Release {release.tag_name} of {project.path_with_namespace}"]
    if release.released_at:
        lines.append(f"Released {_date(release.released_at)}")
    if release.description:
        lines += ["", release.description.strip()]
    attributes = _base_attributes(project, "release")
    attributes.update(
        gitlab_tag=release.tag_name, gitlab_author=release.author.username if release.author else None
    )
    return Document(
        id=f"{kind_prefix(project.id, 'release')}{release.tag_name}",
        content="\n".join(lines) + "\n",
        content_type=ContentType.MD,
        metadata=DocumentMetadata(
            title=f"{name} ({project.path_with_namespace} release)",
            source_uri=f"{project.web_url}/-/releases/{quote(release.tag_name)}",
            created_at=release.created_at,
            last_updated_at=release.released_at,
            attributes=attributes,
            access_control_list=acl,
        ),
    )
