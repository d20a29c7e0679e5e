"""Document and access-control models."""

from ccf_core.models.acl import (
    AccessControl,
    AccessType,
    Group,
    MemberRelation,
    MembershipType,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.models.document import (
    AttributeValue,
    Document,
    DocumentFile,
    DocumentMetadata,
    DocumentVersion,
)

__all__ = [
    "AccessControl",
    "AccessType",
    "AttributeValue",
    "Document",
    "DocumentFile",
    "DocumentMetadata",
    "DocumentVersion",
    "Group",
    "MemberRelation",
    "MembershipType",
    "Principal",
    "PrincipalGroup",
    "PrincipalUser",
]
