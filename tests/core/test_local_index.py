"""The local index destination: storage, text extraction, full-text search and ACL filtering."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ccf_core.content_types import ContentType
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.destinations.local_search import acl_allows
from ccf_core.models import (
    AccessControl,
    AccessType,
    Document,
    DocumentFile,
    DocumentMetadata,
    Group,
    MemberRelation,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.ports import PreparedDocument


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    with LocalIndex(tmp_path / "sub" / "index.db") as local:
        yield local


def prepared(
    doc_id: str,
    content: str | bytes = "",
    *,
    title: str | None = None,
    content_type: ContentType | None = None,
    acl: Sequence[AccessControl] = (),
    relation: MemberRelation = MemberRelation.OR,
) -> PreparedDocument:
    metadata = DocumentMetadata(
        title=title or f"title of {doc_id}", access_control_list=list(acl), access_control_relation=relation
    )
    typed = {} if content_type is None else {"content_type": content_type}
    doc = Document(id=doc_id, content=content, metadata=metadata, **typed)
    return PreparedDocument(document=doc, checksum="x", size=doc.size(), is_new=True)


def user(user_id: str, access: AccessType = AccessType.ALLOW) -> Principal:
    return Principal(user=PrincipalUser(id=user_id, access=access))


def group(name: str, access: AccessType = AccessType.ALLOW) -> Principal:
    return Principal(group=PrincipalGroup(name=name, access=access))


def found(
    index: LocalIndex, query: str, *, user: str | None = None, groups: Sequence[str] = (), limit: int = 10
) -> list[str]:
    return [hit.id for hit in index.search(query, user=user, groups=groups, limit=limit)]


# -- storage ----------------------------------------------------------------------------------


def test_put_then_get_round_trips_typed_attributes_and_acl(index: LocalIndex) -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    control = AccessControl(principals=[user("alice@example.com"), group("eng", AccessType.DENY)])
    metadata = DocumentMetadata(
        title="Report",
        source_uri="https://example.com/report",
        created_at=when,
        attributes={"team": "search", "tags": ["a", "b"], "pages": 42, "published": when},
        access_control_list=[control],
        access_control_relation=MemberRelation.AND,
    )
    doc = Document(id="doc-1", content="hello", metadata=metadata)
    result = index.put_documents([PreparedDocument(document=doc, checksum="abc", size=5, is_new=True)])

    stored = index.get("doc-1")
    assert result.accepted == ["doc-1"] and result.failures == []
    assert stored is not None
    assert stored.attributes == {"team": "search", "tags": ["a", "b"], "pages": 42, "published": when}
    assert stored.acl == [control.to_api()]
    assert stored.acl[0]["memberRelation"] == "OR"
    assert stored.access_control_relation == "AND"
    assert (stored.title, stored.source_uri, stored.created_at) == (
        "Report",
        "https://example.com/report",
        when,
    )
    assert (stored.content_type, stored.checksum, stored.size, stored.text) == (
        "PLAIN_TEXT",
        "abc",
        5,
        "hello",
    )


def test_get_returns_none_for_an_unknown_id(index: LocalIndex) -> None:
    assert index.get("missing") is None


def test_list_documents_is_ordered_by_id_and_paged(index: LocalIndex) -> None:
    index.put_documents([prepared("c"), prepared("a"), prepared("b")])

    assert index.count() == 3
    assert [doc.id for doc in index.list_documents()] == ["a", "b", "c"]
    assert [doc.id for doc in index.list_documents(limit=1, offset=1)] == ["b"]


def test_index_survives_reopening(tmp_path: Path) -> None:
    with LocalIndex(tmp_path / "index.db") as first:
        first.put_documents([prepared("d1", "persistent words")])
    with LocalIndex(tmp_path / "index.db") as second:
        assert found(second, "persistent") == ["d1"]


# -- full-text search -------------------------------------------------------------------------


def test_update_replaces_old_text_in_search(index: LocalIndex) -> None:
    index.put_documents([prepared("d1", "the old zebra")])
    index.put_documents([prepared("d1", "the new giraffe")])

    assert found(index, "zebra") == []
    assert found(index, "giraffe") == ["d1"]
    assert index.count() == 1


def test_delete_removes_document_from_search(index: LocalIndex) -> None:
    index.put_documents([prepared("d1", "walrus"), prepared("d2", "walrus")])

    result = index.delete_documents(["d1", "never-stored"])

    assert result.accepted == ["d1", "never-stored"]
    assert found(index, "walrus") == ["d2"]
    assert index.get("d1") is None


def test_title_is_searchable_for_binary_content(index: LocalIndex) -> None:
    index.put_documents(
        [prepared("pdf", b"%PDF-1.7 binary", title="Quarterly budget", content_type=ContentType.PDF)]
    )

    assert found(index, "budget") == ["pdf"]
    stored = index.get("pdf")
    assert stored is not None and stored.text == ""


def test_search_needs_every_word(index: LocalIndex) -> None:
    index.put_documents([prepared("both", "red apple"), prepared("one", "red car")])

    assert found(index, "red apple") == ["both"]


def test_search_hit_carries_snippet_and_metadata(index: LocalIndex) -> None:
    index.put_documents([prepared("d1", "a sentence about otters", title="Otters")])

    [hit] = index.search("otters")

    assert (hit.id, hit.title, hit.content_type) == ("d1", "Otters", "PLAIN_TEXT")
    assert hit.snippet == "a sentence about **otters**"


def test_snippet_falls_back_to_title_without_text(index: LocalIndex) -> None:
    index.put_documents([prepared("pdf", b"%PDF", title="Tax forms", content_type=ContentType.PDF)])

    [hit] = index.search("tax")

    assert hit.snippet == "**Tax** forms"


@pytest.mark.parametrize("query", ['C++ "foo', "AND", "OR NOT (", "title:x*", '"', "NEAR(a b)", "^-"])
def test_query_with_fts_syntax_does_not_raise(index: LocalIndex, query: str) -> None:
    index.put_documents([prepared("d1", "C and foo AND title x")])

    index.search(query)


def test_fts_operator_words_are_searched_literally(index: LocalIndex) -> None:
    index.put_documents([prepared("d1", "to be or not to be"), prepared("d2", "nothing")])

    assert found(index, "OR NOT") == ["d1"]


def test_limit_caps_the_number_of_hits(index: LocalIndex) -> None:
    index.put_documents([prepared(f"d{i}", "common") for i in range(5)])

    assert len(index.search("common", limit=2)) == 2


# -- text extraction --------------------------------------------------------------------------

PAGE = """<html><head><title>Harbour guide</title><style>.lighthouse { color: red }</style></head>
<body><h1>Ferries</h1><p>Boats &amp; pelicans</p><script>var secretToken = 1;</script></body></html>"""


def test_html_visible_text_and_title_are_searchable(index: LocalIndex) -> None:
    index.put_documents([prepared("page", PAGE, title="page", content_type=ContentType.HTML)])

    assert found(index, "pelicans ferries") == ["page"]
    assert found(index, "harbour") == ["page"]


def test_html_script_and_style_are_not_searchable(index: LocalIndex) -> None:
    index.put_documents([prepared("page", PAGE, title="page", content_type=ContentType.HTML)])

    assert found(index, "secretToken") == []
    assert found(index, "lighthouse") == []


def test_json_string_values_are_searchable_but_keys_are_not(index: LocalIndex) -> None:
    body = '{"fieldname": "kangaroo", "nested": [{"deep": "wombat"}], "n": 7}'
    index.put_documents([prepared("j", body, content_type=ContentType.JSON)])

    assert found(index, "kangaroo wombat") == ["j"]
    assert found(index, "fieldname") == []


def test_csv_cells_are_searchable(index: LocalIndex) -> None:
    index.put_documents([prepared("c", 'city,animal\nOslo,"moose, elk"\n', content_type=ContentType.CSV)])

    assert found(index, "oslo moose elk") == ["c"]


def test_markdown_text_is_searchable(index: LocalIndex) -> None:
    index.put_documents([prepared("m", "# Heading\n\nSome *emphasised* prose.", content_type=ContentType.MD)])

    assert found(index, "emphasised prose") == ["m"]


def test_xml_text_nodes_are_searchable_and_tags_are_not(index: LocalIndex) -> None:
    index.put_documents(
        [prepared("x", "<catalog><item>badger</item></catalog>", content_type=ContentType.XML)]
    )

    assert found(index, "badger") == ["x"]
    assert found(index, "catalog") == []


def test_invalid_utf8_is_decoded_with_replacement(index: LocalIndex) -> None:
    index.put_documents([prepared("b", b"caf\xff ferret", content_type=ContentType.PLAIN_TEXT)])

    assert found(index, "ferret") == ["b"]


def test_file_content_is_read_from_disk(index: LocalIndex, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("a note about herons", encoding="utf-8")
    doc = Document(id="f", file=DocumentFile(path), metadata=DocumentMetadata(title="notes"))
    index.put_documents([PreparedDocument(document=doc, checksum="x", size=doc.size(), is_new=True)])

    assert found(index, "herons") == ["f"]
    stored = index.get("f")
    assert stored is not None and stored.content_type == "MD"


def test_unreadable_file_fails_alone_and_the_rest_is_accepted(index: LocalIndex, tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    doc = Document(id="gone", file=DocumentFile(missing), metadata=DocumentMetadata(title="gone"))
    batch = [prepared("ok1", "fine"), PreparedDocument(doc, "x", 0, True), prepared("ok2", "fine")]

    result = index.put_documents(batch)

    assert result.accepted == ["ok1", "ok2"]
    [failure] = result.failures
    assert (failure.document_id, failure.reason) == ("gone", "content_unreadable")
    assert "gone.txt" in failure.message
    assert index.get("gone") is None and index.count() == 2


# -- groups -----------------------------------------------------------------------------------


def test_groups_of_follows_nested_memberships(index: LocalIndex) -> None:
    index.put_groups([Group(name="team", users=("bob",)), Group(name="dept", groups=("team",))])

    assert index.groups_of("bob") == {"team", "dept"}


def test_groups_of_includes_extra_groups_and_their_parents(index: LocalIndex) -> None:
    index.put_groups([Group(name="all", groups=("contractors",))])

    assert index.groups_of("nobody", ["contractors"]) == {"contractors", "all"}


def test_groups_of_tolerates_membership_cycles(index: LocalIndex) -> None:
    index.put_groups([Group(name="a", users=("u",), groups=("b",)), Group(name="b", groups=("a",))])

    assert index.groups_of("u") == {"a", "b"}


def test_put_groups_replaces_previous_members(index: LocalIndex) -> None:
    index.put_groups([Group(name="team", users=("bob",))])
    index.put_groups([Group(name="team", users=("carol",))])

    assert index.groups_of("bob") == set()
    assert index.groups_of("carol") == {"team"}


def test_delete_groups_removes_memberships(index: LocalIndex) -> None:
    index.put_groups([Group(name="team", users=("bob",))])

    result = index.delete_groups(["team", "unknown"])

    assert result.accepted == ["team", "unknown"]
    assert index.groups_of("bob") == set()


# -- ACL-aware search -------------------------------------------------------------------------


def test_document_without_acl_is_visible_to_anyone(index: LocalIndex) -> None:
    index.put_documents([prepared("public", "shared")])

    assert found(index, "shared", user="stranger") == ["public"]


def test_user_allow_shows_document_to_that_user_only(index: LocalIndex) -> None:
    index.put_documents([prepared("d", "private", acl=[AccessControl(principals=[user("alice")])])])

    assert found(index, "private", user="alice") == ["d"]
    assert found(index, "private", user="bob") == []


def test_user_deny_beats_group_allow(index: LocalIndex) -> None:
    acl = [AccessControl(principals=[group("eng"), user("mallory", AccessType.DENY)])]
    index.put_documents([prepared("d", "plans", acl=acl)])

    assert found(index, "plans", user="mallory", groups=["eng"]) == []
    assert found(index, "plans", user="alice", groups=["eng"]) == ["d"]


def test_deny_in_one_control_hides_document_granted_by_another(index: LocalIndex) -> None:
    acl = [
        AccessControl(principals=[user("alice")]),
        AccessControl(principals=[group("eng", AccessType.DENY)]),
    ]
    index.put_documents([prepared("d", "plans", acl=acl)])

    assert found(index, "plans", user="alice", groups=["eng"]) == []


def test_group_allow_applies_through_nested_memberships(index: LocalIndex) -> None:
    index.put_groups([Group(name="backend", users=("bob",)), Group(name="eng", groups=("backend",))])
    index.put_documents([prepared("d", "roadmap", acl=[AccessControl(principals=[group("eng")])])])

    assert found(index, "roadmap", user="bob") == ["d"]
    assert found(index, "roadmap", user="carol") == []


def test_and_member_relation_requires_every_principal(index: LocalIndex) -> None:
    control = AccessControl(principals=[user("alice"), group("eng")], member_relation=MemberRelation.AND)
    index.put_documents([prepared("d", "budget", acl=[control])])

    assert found(index, "budget", user="alice") == []
    assert found(index, "budget", user="alice", groups=["eng"]) == ["d"]


def test_or_member_relation_needs_any_principal(index: LocalIndex) -> None:
    control = AccessControl(principals=[user("alice"), group("eng")], member_relation=MemberRelation.OR)
    index.put_documents([prepared("d", "budget", acl=[control])])

    assert found(index, "budget", user="alice") == ["d"]
    assert found(index, "budget", user="bob", groups=["eng"]) == ["d"]
    assert found(index, "budget", user="bob") == []


def test_two_controls_with_and_relation_must_both_grant(index: LocalIndex) -> None:
    acl = [AccessControl(principals=[group("eng")]), AccessControl(principals=[group("managers")])]
    index.put_documents([prepared("d", "salaries", acl=acl, relation=MemberRelation.AND)])

    assert found(index, "salaries", user="u", groups=["eng"]) == []
    assert found(index, "salaries", user="u", groups=["eng", "managers"]) == ["d"]


def test_two_controls_with_or_relation_need_one_grant(index: LocalIndex) -> None:
    acl = [AccessControl(principals=[group("eng")]), AccessControl(principals=[group("managers")])]
    index.put_documents([prepared("d", "salaries", acl=acl, relation=MemberRelation.OR)])

    assert found(index, "salaries", user="u", groups=["managers"]) == ["d"]
    assert found(index, "salaries", user="u", groups=["sales"]) == []


def test_admin_view_without_identity_sees_everything(index: LocalIndex) -> None:
    secret = [AccessControl(principals=[user("alice")])]
    denied = [AccessControl(principals=[group("everyone", AccessType.DENY)])]
    index.put_documents(
        [prepared("a", "memo", acl=secret), prepared("b", "memo", acl=denied), prepared("c", "memo")]
    )

    assert sorted(found(index, "memo")) == ["a", "b", "c"]


def test_acl_filtering_fills_the_page_past_hidden_hits(index: LocalIndex) -> None:
    """Hidden documents ranked first must not make the searcher's page come back short."""
    hidden = [AccessControl(principals=[user("alice")])]
    docs = [prepared(f"h{i:03}", "topic " * 20, acl=hidden) for i in range(120)]
    docs += [prepared(f"v{i}", "topic filler words here") for i in range(3)]
    index.put_documents(docs)

    assert sorted(found(index, "topic", user="bob", limit=3)) == ["v0", "v1", "v2"]


# -- acl_allows (the pure decision) -----------------------------------------------------------


def test_acl_allows_control_without_allow_principals_grants_nothing() -> None:
    acl = [AccessControl(principals=[user("mallory", AccessType.DENY)]).to_api()]

    assert not acl_allows(acl, "OR", "alice", set())


def test_acl_allows_group_principal_does_not_match_user_with_that_name() -> None:
    acl = [AccessControl(principals=[group("alice")]).to_api()]

    assert not acl_allows(acl, "OR", "alice", set())
    assert acl_allows(acl, "OR", None, {"alice"})


# -- hostile searches ----------------------------------------------------------------------------


def _index_text(index: LocalIndex, doc_id: str, text: str, acl=None) -> None:
    from ccf_core import PreparedDocument
    from ccf_core.ports import RunInfo

    metadata = DocumentMetadata(title=doc_id, access_control_list=acl or [])
    doc = Document(id=doc_id, content=text, metadata=metadata)
    index.open(RunInfo("hostile", "run", True))
    index.put_documents([PreparedDocument(doc, "x" * 64, len(text), True)])


def test_a_repeated_word_is_searched_once(tmp_path) -> None:
    from ccf_core.destinations.local_search import query_terms

    assert query_terms("deploy " * 1000) == ["deploy"]
    assert len(query_terms(" ".join(f"word{n}" for n in range(100)))) == 16


def test_snippets_come_from_the_start_of_a_huge_document(tmp_path) -> None:
    with LocalIndex(tmp_path / "index.db") as index:
        _index_text(index, "huge", "needle " * 300_000)

        (hit,) = index.search("needle")

    assert "**needle**" in hit.snippet
    assert len(hit.snippet) < 400


def test_a_search_past_its_time_limit_stops_with_a_clear_error(tmp_path) -> None:
    from ccf_core.destinations.local_search import SearchTimeout

    with LocalIndex(tmp_path / "index.db") as index:
        for number in range(200):
            _index_text(index, f"d{number}", "common words here " * 50)
        with pytest.raises(SearchTimeout, match="longer than"):
            index.search_results("common", time_limit=0.0)


def test_hidden_matches_are_counted_not_shown(tmp_path) -> None:
    from ccf_core import AccessControl, AccessType, Principal, PrincipalUser

    only_alice = [
        AccessControl(principals=[Principal(user=PrincipalUser(id="alice", access=AccessType.ALLOW))])
    ]
    with LocalIndex(tmp_path / "index.db") as index:
        _index_text(index, "secret", "launch plans", acl=only_alice)
        _index_text(index, "secret-2", "launch dates", acl=only_alice)

        as_bob = index.search_results("launch", user="bob")
        as_alice = index.search_results("launch", user="alice")

    assert (as_bob.hits, as_bob.hidden) == ([], 2)
    assert (len(as_alice.hits), as_alice.hidden) == (2, 0)
