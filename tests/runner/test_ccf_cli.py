"""``ccf``: search with and without ACLs, show documents, show and reset state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from click.testing import CliRunner, Result

from ccf_core import (
    AccessControl,
    Connector,
    Document,
    DocumentMetadata,
    Group,
    Principal,
    PrincipalGroup,
    PrincipalUser,
    SyncContext,
    hookimpl,
)
from ccf_core.engine import split_scope, state_scope
from ccf_core.plugins import registered_plugin
from ccf_core.ports import Destination
from ccf_core.registry import ConnectorRegistry
from ccf_core.state.sqlite import SqliteStateStore
from ccf_runner import ccf_cli, run_cli

PUBLISHED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _allow(principal: Principal) -> list[AccessControl]:
    return [AccessControl(principals=[principal])]


class Wiki(Connector):
    """Three pages: one public, one for alice only, one for the ``board`` group (carol is in it)."""

    name = "wiki"

    def documents(self, context: SyncContext) -> Iterator[Document]:
        yield Document(
            id="public-plan",
            content="the roadmap plan for everyone",
            metadata=DocumentMetadata(title="Public plan"),
        )
        yield Document(
            id="secret-plan",
            content="the merger plan",
            metadata=DocumentMetadata(
                title="Secret plan",
                source_uri="https://wiki.example.com/secret",
                attributes={
                    "pages": 42,
                    "tags": ["legal", "m-and-a"],
                    "team": "legal",
                    "published": PUBLISHED,
                },
                access_control_list=_allow(Principal(user=PrincipalUser(id="alice@example.com"))),
            ),
        )
        yield Document(
            id="board-minutes",
            content="minutes of the board meeting",
            metadata=DocumentMetadata(
                title="Board minutes",
                access_control_list=_allow(Principal(group=PrincipalGroup(name="board"))),
            ),
        )

    def groups(self, context: SyncContext) -> Iterator[Group]:
        yield Group(name="board", users=("carol@example.com",))


@hookimpl
def _register(registry: ConnectorRegistry) -> None:
    registry.register(Wiki)


@pytest.fixture(autouse=True)
def synced_wiki() -> Iterator[None]:
    """The wiki connector registered and synced once into ./.ccf/."""
    with registered_plugin(SimpleNamespace(ccf_register_connectors=_register)):
        result = CliRunner().invoke(run_cli.main, ["--connector", "wiki", "--log-format", "text"])
        assert result.exit_code == 0, result.output
        yield


def ccf(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(ccf_cli.main, list(args), input=stdin)


def hit_ids(result: Result) -> list[str]:
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


# -- search -----------------------------------------------------------------------------------


def test_search_without_identity_shows_everything_and_says_acls_were_not_applied() -> None:
    result = ccf("search", "plan")
    assert result.exit_code == 0
    assert "ACLs were not applied" in result.stderr
    assert "Secret plan  [wiki: secret-plan]" in result.stdout
    assert "Public plan  [wiki: public-plan]" in result.stdout


def test_search_as_a_user_hides_documents_their_acl_does_not_allow() -> None:
    result = ccf("search", "plan", "--as-user", "bob@example.com", "--json")
    assert result.exit_code == 0
    assert hit_ids(result) == ["public-plan"]
    assert json.loads(result.stdout)["acl_applied"] is True


def test_search_as_the_allowed_user_finds_the_restricted_document() -> None:
    result = ccf("search", "merger", "--as-user", "alice@example.com", "--json")
    assert hit_ids(result) == ["secret-plan"]


def test_search_as_a_user_uses_group_memberships_the_connector_reported() -> None:
    assert hit_ids(ccf("search", "minutes", "--as-user", "carol@example.com", "--json")) == ["board-minutes"]
    assert hit_ids(ccf("search", "minutes", "--as-user", "bob@example.com", "--json")) == []


def test_search_whose_matches_are_all_hidden_says_so_without_showing_them() -> None:
    result = ccf("search", "merger", "--as-user", "bob@example.com")
    assert result.exit_code == 0
    assert "no documents this searcher may read match 'merger' (1 matching document" in result.stdout
    assert "Secret" not in result.stdout
    assert (
        json.loads(ccf("search", "merger", "--as-user", "bob@example.com", "--json").stdout)["hidden_by_acl"]
        == 1
    )


def test_search_as_group_counts_the_searcher_as_a_member() -> None:
    assert hit_ids(ccf("search", "minutes", "--as-group", "board", "--json")) == ["board-minutes"]


def test_search_without_a_local_index_says_to_run_ccf_run_first(tmp_path: Path) -> None:
    result = ccf("search", "plan", "--index", str(tmp_path / "missing.db"))
    assert result.exit_code == 1
    assert "run `ccf-run --connector NAME` first" in result.output
    assert not (tmp_path / "missing.db").exists()


# -- documents --------------------------------------------------------------------------------


def test_documents_list_shows_every_stored_id_with_its_connector() -> None:
    result = ccf("documents", "list")
    assert result.exit_code == 0
    rows = [line.split()[:2] for line in result.stdout.splitlines()[1:-1]]
    assert rows == [["wiki", "board-minutes"], ["wiki", "public-plan"], ["wiki", "secret-plan"]]
    assert result.stdout.splitlines()[-1] == "1-3 of 3 documents"


def test_documents_show_prints_typed_attributes_and_acl() -> None:
    result = ccf("documents", "show", "secret-plan")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "source uri: https://wiki.example.com/secret" in lines
    assert "  pages (long): 42" in lines
    assert "  tags (string list): legal, m-and-a" in lines
    assert f"  published (date): {PUBLISHED.isoformat()}" in lines
    assert "  1. OR of: ALLOW user alice@example.com" in lines
    assert "  the merger plan" in lines


def test_documents_show_json_keeps_attribute_types() -> None:
    result = ccf("documents", "show", "secret-plan", "--json")
    data = json.loads(result.stdout)
    assert data["attributes"]["pages"] == {"type": "long", "value": 42}
    assert data["attributes"]["published"] == {"type": "date", "value": PUBLISHED.isoformat()}
    assert data["access_control_list"][0]["principals"][0]["user"]["id"] == "alice@example.com"


def test_documents_show_of_an_unknown_id_fails_with_a_clear_message() -> None:
    result = ccf("documents", "show", "nope")
    assert result.exit_code != 0
    assert "no document with id 'nope'" in result.output


# -- state ------------------------------------------------------------------------------------


#: A second destination the wiki has state for, as Q Business names itself.
QBUSINESS = "qbusiness:app-1/index-1/ds-1"


def wiki_scopes() -> list[str]:
    with SqliteStateStore(".ccf/state.db") as store:
        return [scope for scope in store.connectors() if split_scope(scope)[0] == "wiki"]


def local_wiki_scope() -> str:
    """The scope of the wiki's state for the local index ``ccf-run`` wrote."""
    (scope,) = [scope for scope in wiki_scopes() if scope != state_scope("wiki", qbusiness())]
    return scope


def qbusiness() -> Destination:
    return cast(Destination, SimpleNamespace(name="qbusiness", identity=QBUSINESS))


@pytest.fixture
def wiki_in_qbusiness() -> None:
    """State of the wiki for a Q Business destination too: two documents and a checkpoint."""
    scope = state_scope("wiki", qbusiness())
    with SqliteStateStore(".ccf/state.db") as store:
        store.record(scope, [("a", "1"), ("b", "2")])
        store.save_checkpoint(scope, {"cursor": 7})


def test_state_show_counts_synced_documents_and_groups() -> None:
    result = ccf("state", "show", "--connector", "wiki")
    assert result.exit_code == 0
    assert "documents synced: 3" in result.stdout and "groups synced: 1" in result.stdout


@pytest.mark.usefixtures("wiki_in_qbusiness")
def test_state_show_of_a_connector_has_a_section_per_destination() -> None:
    result = ccf("state", "show", "--connector", "wiki")
    assert result.exit_code == 0
    sections = result.stdout.split("\ndestination: ")[1:]
    by_destination = {section.splitlines()[0]: section for section in sections}
    assert set(by_destination) == {split_scope(local_wiki_scope())[1], QBUSINESS}
    assert "documents synced: 2" in by_destination[QBUSINESS]
    assert 'checkpoint: {"cursor": 7}' in by_destination[QBUSINESS]
    assert "documents synced: 3" in by_destination[split_scope(local_wiki_scope())[1]]


@pytest.mark.usefixtures("wiki_in_qbusiness")
def test_state_show_of_every_connector_has_a_row_per_destination() -> None:
    result = ccf("state", "show")
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert sorted((row[0], row[1], row[2]) for row in rows) == sorted(
        [("wiki", str(split_scope(local_wiki_scope())[1]), "3"), ("wiki", QBUSINESS, "2")]
    )


@pytest.mark.usefixtures("wiki_in_qbusiness")
def test_state_show_json_gives_connector_and_destination_apart() -> None:
    result = ccf("state", "show", "--connector", "wiki", "--json")
    assert result.exit_code == 0
    summaries = {s["destination"]: s for s in json.loads(result.stdout)}
    assert summaries[QBUSINESS]["connector"] == "wiki"
    assert (summaries[QBUSINESS]["documents"], summaries[QBUSINESS]["checkpoint"]) == (2, {"cursor": 7})


def test_state_show_names_state_kept_before_it_was_per_destination() -> None:
    with SqliteStateStore(".ccf/state.db") as store:
        store.record("wiki", [("old", "1")])
    result = ccf("state", "show", "--connector", "wiki")
    assert result.exit_code == 0
    assert "destination: (any: recorded before state was kept per destination)" in result.stdout


def test_state_show_of_a_connector_without_state_fails_naming_the_known_ones() -> None:
    result = ccf("state", "show", "--connector", "other")
    assert result.exit_code == 1
    assert "no state recorded for connector 'other'" in result.output and "wiki" in result.output


def test_state_reset_with_yes_forgets_checksums_so_the_next_run_sends_everything_again() -> None:
    result = ccf("state", "reset", "--connector", "wiki", "--yes")
    assert result.exit_code == 0
    rerun = CliRunner().invoke(run_cli.main, ["--connector", "wiki", "--log-format", "text"])
    assert "updated 3" in rerun.stdout and "reconciled" in rerun.stdout
    first_line = rerun.stderr.splitlines()[0]
    assert "wiki -> local index" in first_line and "full reconcile" in first_line


@pytest.mark.usefixtures("wiki_in_qbusiness")
def test_state_reset_forgets_every_destination_of_the_connector_and_says_how_many() -> None:
    result = ccf("state", "reset", "--connector", "wiki", "--yes")
    assert result.exit_code == 0
    assert "reset for 2 destinations: 5 documents" in result.stdout
    assert wiki_scopes() == []


@pytest.mark.usefixtures("wiki_in_qbusiness")
def test_state_reset_with_a_destination_forgets_only_that_one() -> None:
    local = local_wiki_scope()
    result = ccf("state", "reset", "--connector", "wiki", "--destination", QBUSINESS, "--yes")
    assert result.exit_code == 0
    assert "reset for 1 destination: 2 documents" in result.stdout
    assert wiki_scopes() == [local]


def test_state_reset_of_an_unknown_destination_names_the_known_ones() -> None:
    result = ccf("state", "reset", "--connector", "wiki", "--destination", QBUSINESS, "--yes")
    assert result.exit_code == 0
    assert "nothing to reset" in result.stdout and str(split_scope(local_wiki_scope())[1]) in result.stdout
    assert len(wiki_scopes()) == 1


def test_state_reset_asks_for_confirmation_and_keeps_state_when_declined() -> None:
    result = ccf("state", "reset", "--connector", "wiki", stdin="n\n")
    assert result.exit_code == 1
    assert "Forget the state of 'wiki'" in result.output
    with SqliteStateStore(".ccf/state.db") as store:
        assert len(store.load_checksums(local_wiki_scope())) == 3


def test_state_show_without_a_state_file_says_to_run_ccf_run_first(tmp_path: Path) -> None:
    result = ccf("state", "show", "--connector", "wiki", "--state", str(tmp_path / "none.db"))
    assert result.exit_code == 1
    assert "no state database at" in result.output and "ccf-run" in result.output


def test_state_show_of_a_misspelled_connector_guesses_the_name() -> None:
    result = ccf("state", "show", "--connector", "wikki")
    assert result.exit_code == 1
    assert "no state recorded for connector 'wikki' in .ccf/state.db; did you mean 'wiki'?" in result.output
