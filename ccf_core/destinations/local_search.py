"""Searching the local index: query words, snippets, and Amazon Q Business's ACL rules.

The queries themselves run in :class:`~ccf_core.destinations.local_index.LocalIndex`; this module
holds what decides what a searcher sees and how a hit reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

#: Searches stop after this many seconds (a SQLite progress handler interrupts the query).
SEARCH_TIME_LIMIT_SECONDS = 10.0
#: At most this many distinct words of a query are searched for.
MAX_QUERY_TERMS = 16
#: Snippets are cut from the first this-many characters of a document's text.
SNIPPET_SOURCE_CHARS = 65536
SNIPPET_CHARS = 160

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchHit:
    """One search result; ``score`` is relevance, higher is better (the negated FTS5 bm25)."""

    connector: str
    id: str
    title: str
    source_uri: str | None
    content_type: str | None
    snippet: str
    score: float


def _principal_matches(
    member: Mapping[str, Any], kind: str, user: str | None, groups: AbstractSet[str]
) -> bool:
    if kind == "user":
        return user is not None and member.get("id") == user
    return member.get("name") in groups


def _control_grants(control: Mapping[str, Any], user: str | None, groups: AbstractSet[str]) -> bool | None:
    """True or False for what an access control grants, None when it denies the searcher."""
    allowed: list[bool] = []
    for principal in control.get("principals", ()):
        for kind in ("user", "group"):
            member = principal.get(kind)
            if member is None:
                continue
            matches = _principal_matches(member, kind, user, groups)
            if member.get("access", "ALLOW") == "DENY":
                if matches:
                    return None
            else:
                allowed.append(matches)
    if not allowed:
        return False
    return all(allowed) if control.get("memberRelation", "OR") == "AND" else any(allowed)


def acl_allows(
    acl: Sequence[Mapping[str, Any]], relation: str, user: str | None, groups: AbstractSet[str]
) -> bool:
    """Whether a searcher may see a document, with Amazon Q Business semantics.

    An empty ACL is public. A DENY principal matching the searcher in any access control hides the
    document; otherwise each control grants by its ALLOW principals (``memberRelation`` OR: any
    matches, AND: all match, none: nothing granted) and the grants combine by ``relation``.

    Args:
        acl: The stored access controls (``AccessControl.to_api()`` dicts).
        relation: The document's ``access_control_relation``, "AND" or "OR".
        user: The searcher's user id (exact match), or None.
        groups: Every group the searcher belongs to, transitive memberships included.

    Returns:
        True if the document is visible to the searcher.
    """
    if not acl:
        return True
    grants: list[bool] = []
    for control in acl:
        granted = _control_grants(control, user, groups)
        if granted is None:
            return False
        grants.append(granted)
    return all(grants) if relation == "AND" else any(grants)


@dataclass(frozen=True)
class SearchResults:
    """The hits of a search, and how many matching documents the searcher's ACLs hid."""

    hits: list[SearchHit]
    hidden: int = 0


class SearchTimeout(RuntimeError):
    """A search ran past its time limit."""


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, in order, at most :data:`MAX_QUERY_TERMS` of them."""
    return list(dict.fromkeys(word.casefold() for word in _WORD.findall(query)))[:MAX_QUERY_TERMS]


def fts_query(terms: Sequence[str]) -> str:
    # Each word becomes a quoted FTS5 string, so no user input can be read as FTS5 syntax.
    return " AND ".join(f'"{word}"' for word in terms)


def snippet(text: str, terms: Sequence[str]) -> str:
    """A short excerpt around the first word of ``terms`` found in ``text``, words marked ``**``."""
    if not text:
        return ""
    pattern = re.compile(r"\b(" + "|".join(re.escape(term) for term in terms) + r")\b", re.IGNORECASE)
    found = pattern.search(text)
    start = 0 if found is None else max(0, found.start() - SNIPPET_CHARS // 3)
    excerpt = " ".join(text[start : start + SNIPPET_CHARS].split())
    marked = pattern.sub(lambda match: f"**{match.group(0)}**", excerpt)
    return ("..." if start else "") + marked + ("..." if start + SNIPPET_CHARS < len(text) else "")
