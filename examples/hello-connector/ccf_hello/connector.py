"""Every Markdown, text and HTML file under a folder becomes a document.

Files in a folder named in ``restricted`` are readable only by that folder's group; the members of
each group come from ``members`` and are reported to the index through ``groups()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ccf_core import (
    AccessControl,
    AccessType,
    Connector,
    Document,
    DocumentFile,
    DocumentMetadata,
    Group,
    MembershipType,
    Principal,
    PrincipalGroup,
    SyncContext,
    SyncMode,
)


class HelloConfig(BaseModel):
    """Settings of the hello connector."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="Folder whose files become documents.")
    patterns: list[str] = Field(
        default=["**/*.md", "**/*.txt", "**/*.html"],
        description="Glob patterns, relative to path, of the files to index.",
    )
    restricted: dict[str, str] = Field(
        default_factory=dict,
        description="Top-level subfolder -> the group allowed to read its files; other files are public.",
    )
    members: dict[str, list[str]] = Field(
        default_factory=dict, description="Group -> the user ids in it (sent to the index as groups)."
    )


def _title(path: Path) -> str:
    """The first Markdown heading, else the file name without its extension."""
    if path.suffix == ".md":
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem.replace("-", " ").replace("_", " ").capitalize()


class HelloConnector(Connector):
    """Indexes the files of a folder."""

    name = "hello"
    description = "Markdown, text and HTML files of a folder"
    Config = HelloConfig
    sync_mode = SyncMode.FULL
    config: HelloConfig

    def documents(self, context: SyncContext) -> Iterator[Document]:
        root = self.config.path
        if not root.is_dir():
            raise FileNotFoundError(f"path: folder {str(root)!r} does not exist")
        real_root = root.resolve()
        seen: set[Path] = set()
        for pattern in self.config.patterns:
            for path in sorted(root.glob(pattern)):
                if path in seen or not path.is_file():
                    continue
                seen.add(path)
                relative = path.relative_to(root)
                # A symbolic link may point anywhere (/etc/passwd): never index a file that is
                # not inside the configured folder once every link is resolved.
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    context.logger.warning(
                        "skipped %s: it is a symbolic link to %s, outside the folder %s",
                        relative,
                        target,
                        root,
                    )
                    continue
                folder = relative.parts[0] if len(relative.parts) > 1 else ""
                context.logger.debug("found %s", relative)
                yield Document(
                    id=relative.as_posix(),
                    file=DocumentFile(path),
                    metadata=DocumentMetadata(
                        title=_title(path),
                        source_uri=path.resolve().as_uri(),
                        last_updated_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                        attributes={"folder": folder or "(root)", "size_bytes": path.stat().st_size},
                        access_control_list=self._acl(folder),
                    ),
                )

    def _acl(self, folder: str) -> list[AccessControl]:
        group = self.config.restricted.get(folder)
        if group is None:
            return []
        principal = PrincipalGroup(
            name=group, access=AccessType.ALLOW, membershipType=MembershipType.DATASOURCE
        )
        return [AccessControl(principals=[Principal(group=principal)])]

    def groups(self, context: SyncContext) -> Iterator[Group]:
        for name, users in sorted(self.config.members.items()):
            yield Group(name=name, users=tuple(users))
