"""Access control models, named and shaped as the Q Business API defines them.

Field names are snake_case in Python; the camelCase names of the API (``memberRelation``,
``membershipType``) are accepted too, so code written for the seed builder kit keeps working.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AccessType(StrEnum):
    """Whether a principal is granted or refused access."""

    ALLOW = "ALLOW"
    DENY = "DENY"


class MembershipType(StrEnum):
    """Where Q Business looks a principal up: the index's own store or the data source's groups."""

    INDEX = "INDEX"
    DATASOURCE = "DATASOURCE"


class MemberRelation(StrEnum):
    """How principals (or access controls) combine: all of them (AND) or any of them (OR)."""

    AND = "AND"
    OR = "OR"


_API_MODEL = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, frozen=True)


class PrincipalUser(BaseModel):
    """A user, by the id Q Business knows them by (usually an email address)."""

    model_config = _API_MODEL

    id: str
    access: AccessType = AccessType.ALLOW
    membership_type: MembershipType | None = Field(default=None, alias="membershipType")


class PrincipalGroup(BaseModel):
    """A group, by name; its members come from the connector's ``groups()`` or the index."""

    model_config = _API_MODEL

    name: str
    access: AccessType = AccessType.ALLOW
    membership_type: MembershipType | None = Field(default=None, alias="membershipType")


class Principal(BaseModel):
    """Exactly one of a user or a group."""

    model_config = _API_MODEL

    user: PrincipalUser | None = None
    group: PrincipalGroup | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Principal:
        if (self.user is None) == (self.group is None):
            raise ValueError("a Principal needs exactly one of user= or group=")
        return self

    @property
    def access(self) -> AccessType:
        """The access this principal grants or refuses."""
        member = self.user or self.group
        assert member is not None  # guaranteed by the validator
        return member.access


class AccessControl(BaseModel):
    """A list of principals and how they combine."""

    model_config = _API_MODEL

    principals: list[Principal]
    member_relation: MemberRelation = Field(default=MemberRelation.OR, alias="memberRelation")

    def to_api(self) -> dict[str, Any]:
        """The ``AccessControl`` structure of the Q Business API."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Group(BaseModel):
    """A group's direct members, as a connector's ``groups()`` reports them.

    Members are users (by id) and other groups (by name); membership is transitive.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
