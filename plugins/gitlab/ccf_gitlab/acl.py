"""GitLab's permission model as Q Business access controls.

- public project: no ACL (everyone may read);
- internal project: the configured group of every signed-in user;
- private project, and confidential issues anywhere: the project's members with Reporter access
  or more (direct and inherited, from ``members/all``) as user principals, plus the project's
  group principal, whose members ``groups()`` reports. Guests see neither repository files nor
  confidential issues in GitLab, so they get nothing from a private project here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ccf_core import AccessControl, AccessType, MembershipType, Principal, PrincipalGroup, PrincipalUser
from ccf_gitlab.models import REPORTER, Member, Project
from ccf_gitlab.render import FORMAT, digest


def project_group(project_id: int) -> str:
    """The group principal of a project's Reporter-or-above members."""
    return f"gitlab-project-{project_id}-reporters"


@dataclass(frozen=True)
class ProjectAccess:
    """Who may read a project's documents.

    Attributes:
        readers: the identities of members with Reporter access or more, sorted.
        group: the project's group principal.
        default: the ACL of the project's ordinary documents.
        restricted: the ACL of what only Reporters and above see (confidential issues).
        fingerprint: changes whenever either ACL changes.
    """

    readers: tuple[str, ...]
    group: str
    default: list[AccessControl]
    restricted: list[AccessControl]
    fingerprint: str

    @property
    def default_is_restricted(self) -> bool:
        """True when ordinary documents are already limited to Reporters (a private project)."""
        return self.default == self.restricted


def project_access(
    project: Project, members: Iterable[Member], *, identity: str, internal_group: str
) -> ProjectAccess:
    """The ACLs of one project from its members (fetched once per project per run)."""
    readers = sorted(
        {m.identity(identity) for m in members if m.access_level >= REPORTER and m.state == "active"}
    )
    group = project_group(project.id)
    principals = [
        Principal(user=PrincipalUser(id=reader, access=AccessType.ALLOW, membershipType=MembershipType.INDEX))
        for reader in readers
    ]
    principals.append(
        Principal(
            group=PrincipalGroup(
                name=group, access=AccessType.ALLOW, membershipType=MembershipType.DATASOURCE
            )
        )
    )
    restricted = [AccessControl(principals=principals)]
    if project.visibility == "public":
        default: list[AccessControl] = []
    elif project.visibility == "internal":
        internal = PrincipalGroup(
            name=internal_group, access=AccessType.ALLOW, membershipType=MembershipType.DATASOURCE
        )
        default = [AccessControl(principals=[Principal(group=internal)])]
    else:
        default = restricted
    fingerprint = digest(
        FORMAT,
        project.visibility,
        readers,
        internal_group,
        project.path_with_namespace,
        project.web_url,
        project.default_branch,
    )
    return ProjectAccess(tuple(readers), group, default, restricted, fingerprint)
