"""Document checksums: what changes them, what does not, and how they are composed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccf_core import (
    AccessControl,
    AccessType,
    ContentType,
    Document,
    DocumentFile,
    DocumentMetadata,
    Group,
    MemberRelation,
    Principal,
    PrincipalGroup,
    PrincipalUser,
)
from ccf_core.checksum import (
    document_checksum,
    file_checksum_and_version,
    group_checksum,
    metadata_fingerprint,
)
from ccf_core.models.document import CHUNK_SIZE


def alice(access: AccessType = AccessType.ALLOW) -> Principal:
    return Principal(user=PrincipalUser(id="alice@example.com", access=access))


def doc(content: bytes = b"body", **changes: Any) -> Document:
    """A document with everything set; keyword arguments replace metadata fields."""
    fields: dict[str, Any] = {
        "title": "Title",
        "source_uri": "https://example.com/doc",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "last_updated_at": datetime(2024, 1, 2, tzinfo=UTC),
        "attributes": {"team": "search", "pages": 3},
        "access_control_list": [AccessControl(principals=[alice()])],
    }
    fields.update(changes)
    return Document(
        id="doc-1", content=content, content_type=ContentType.PLAIN_TEXT, metadata=DocumentMetadata(**fields)
    )


def checksum(document: Document) -> str:
    return document_checksum(document)[0]


# The same document built in a fresh interpreter, for the cross-process test.
_SUBPROCESS_SCRIPT = """
from datetime import UTC, datetime
from ccf_core import AccessControl, ContentType, Document, DocumentMetadata, Principal, PrincipalUser
from ccf_core.checksum import document_checksum
meta = DocumentMetadata(
    title="Title",
    source_uri="https://example.com/doc",
    created_at=datetime(2024, 1, 1, tzinfo=UTC),
    last_updated_at=datetime(2024, 1, 2, tzinfo=UTC),
    attributes={"team": "search", "pages": 3},
    access_control_list=[AccessControl(principals=[Principal(user=PrincipalUser(id="alice@example.com"))])],
)
doc = Document(id="doc-1", content=b"body", content_type=ContentType.PLAIN_TEXT, metadata=meta)
print(document_checksum(doc)[0])
"""


def test_same_document_gives_same_checksum() -> None:
    assert checksum(doc()) == checksum(doc())


def test_checksum_returns_content_size() -> None:
    assert document_checksum(doc(b"12345"))[1] == 5


def test_checksum_is_stable_across_processes() -> None:
    """A different interpreter (with its own hash seed) computes the same value."""
    result = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )

    assert result.stdout.strip() == checksum(doc())


def test_content_change_changes_checksum() -> None:
    assert checksum(doc(b"body")) != checksum(doc(b"body!"))


def test_title_change_changes_checksum() -> None:
    assert checksum(doc(title="Title")) != checksum(doc(title="Title 2"))


def test_attribute_value_change_changes_checksum() -> None:
    assert checksum(doc(attributes={"pages": 3})) != checksum(doc(attributes={"pages": 4}))


def test_attribute_type_change_changes_checksum() -> None:
    """The string "1" and the long 1 are different values to Q Business."""
    assert checksum(doc(attributes={"n": "1"})) != checksum(doc(attributes={"n": 1}))


def test_string_and_one_item_list_attributes_differ() -> None:
    assert checksum(doc(attributes={"tag": "a"})) != checksum(doc(attributes={"tag": ["a"]}))


def test_attribute_order_does_not_matter() -> None:
    assert checksum(doc(attributes={"a": "1", "b": "2"})) == checksum(doc(attributes={"b": "2", "a": "1"}))


def test_acl_access_change_changes_checksum() -> None:
    allowed = doc(access_control_list=[AccessControl(principals=[alice(AccessType.ALLOW)])])
    denied = doc(access_control_list=[AccessControl(principals=[alice(AccessType.DENY)])])

    assert checksum(allowed) != checksum(denied)


def test_added_principal_changes_checksum() -> None:
    more = [AccessControl(principals=[alice(), Principal(group=PrincipalGroup(name="eng"))])]

    assert checksum(doc()) != checksum(doc(access_control_list=more))


def test_source_uri_change_changes_checksum() -> None:
    assert checksum(doc(source_uri="https://example.com/a")) != checksum(
        doc(source_uri="https://example.com/b")
    )


def test_content_type_change_changes_checksum() -> None:
    html = doc().model_copy(update={"content_type": ContentType.HTML})

    assert checksum(doc()) != checksum(html)


def test_timestamps_do_not_change_checksum() -> None:
    later = datetime(2030, 6, 6, tzinfo=UTC)

    assert checksum(doc()) == checksum(doc(created_at=later, last_updated_at=later))


def test_file_and_bytes_with_same_content_give_same_checksum(tmp_path: Path) -> None:
    path = tmp_path / "body.txt"
    path.write_bytes(b"body")
    from_file = Document(id="doc-1", file=DocumentFile(path), metadata=doc().metadata)

    assert from_file.resolved_content_type() is ContentType.PLAIN_TEXT
    assert checksum(from_file) == checksum(doc(b"body"))


def test_large_file_checksum_is_fingerprint_nul_then_content(tmp_path: Path) -> None:
    """A file bigger than a chunk hashes as sha256(fingerprint + NUL + content), read in chunks."""
    content = bytes(range(256)) * (CHUNK_SIZE // 256) + b"tail" * 1000
    assert len(content) > CHUNK_SIZE
    path = tmp_path / "big.txt"
    path.write_bytes(content)
    big = Document(id="big", file=DocumentFile(path), metadata=DocumentMetadata(title="Big"))

    digest, size = document_checksum(big)

    assert size == len(content)
    assert digest == hashlib.sha256(metadata_fingerprint(big) + b"\x00" + content).hexdigest()
    assert len(list(big.iter_content())) == 2


@pytest.mark.parametrize("length", [1, 60, CHUNK_SIZE, CHUNK_SIZE + 5])
def test_a_read_with_the_version_hashes_the_whole_file(tmp_path: Path, length: int) -> None:
    """The file's size from fstat sizes the first read; the checksum is still the whole content's."""
    content = (b"0123456789abcdef" * (length // 16 + 1))[:length]
    path = tmp_path / "body.txt"
    path.write_bytes(content)
    document = Document(id="doc-1", file=DocumentFile(path), metadata=DocumentMetadata(title="Body"))
    fingerprint = metadata_fingerprint(document)

    checksum, size, held, version = file_checksum_and_version(document, fingerprint)

    assert (checksum, size) == document_checksum(document)
    assert checksum == hashlib.sha256(fingerprint + b"\x00" + content).hexdigest()
    assert held == (content if length <= CHUNK_SIZE else None)
    assert version == DocumentFile(path).version()


def test_a_file_that_grows_after_its_fstat_is_hashed_as_its_version_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes appended between the fstat and the read are left to the next run: the version
    recorded is the old size, so that run sees a new version and reads the file again."""
    path = tmp_path / "log.txt"
    path.write_bytes(b"first line\n")
    document = Document(id="log", file=DocumentFile(path), metadata=DocumentMetadata(title="Log"))
    real_fstat = os.fstat

    def fstat_then_append(descriptor: int) -> os.stat_result:
        status = real_fstat(descriptor)
        with path.open("ab") as handle:
            handle.write(b"second line\n")
        return status

    monkeypatch.setattr(os, "fstat", fstat_then_append)
    fingerprint = metadata_fingerprint(document)

    checksum, size, held, version = file_checksum_and_version(document, fingerprint)

    assert checksum == hashlib.sha256(fingerprint + b"\x00" + b"first line\n").hexdigest()
    assert (size, held) == (11, b"first line\n")
    assert version.startswith("11-")
    assert DocumentFile(path).version() != version


def test_a_file_whose_fstat_says_empty_is_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of /proc report a size of 0 and still have content: that size is not trusted."""
    path = tmp_path / "status.txt"
    path.write_bytes(b"Name: python\nState: R\n")
    document = Document(id="status", file=DocumentFile(path), metadata=DocumentMetadata(title="Status"))
    real_fstat = os.fstat

    def fstat_saying_empty(descriptor: int) -> SimpleNamespace:
        return SimpleNamespace(st_size=0, st_mtime_ns=real_fstat(descriptor).st_mtime_ns)

    monkeypatch.setattr(os, "fstat", fstat_saying_empty)

    _, size, held, version = file_checksum_and_version(document, b"")

    assert version.startswith("0-")
    assert (size, held) == (22, b"Name: python\nState: R\n")


def test_group_checksum_ignores_member_order_and_duplicates() -> None:
    first = Group(name="eng", users=("a", "b"), groups=("x",))
    second = Group(name="eng", users=("b", "a", "a"), groups=("x",))

    assert group_checksum(first) == group_checksum(second)


def test_group_checksum_changes_with_members() -> None:
    assert group_checksum(Group(name="eng", users=("a",))) != group_checksum(Group(name="eng", users=("b",)))


def test_fingerprint_encoding_is_pinned() -> None:
    """The stored checksums of every index depend on these bytes: a change re-sends every document."""
    when = datetime(2024, 5, 1, tzinfo=UTC)
    engineers = Principal(group=PrincipalGroup(name="eng"))
    document = doc(
        attributes={"team": "search", "pages": 3, "tags": ["a", "b"], "when": when},
        access_control_list=[AccessControl(principals=[alice(), engineers])],
    )

    assert metadata_fingerprint(document) == (
        b'[1,"doc-1","PLAIN_TEXT","Title","https://example.com/doc",[["pages","n",3],["tags","l",["a","b"]],'
        b'["team","s","search"],["when","d","2024-05-01T00:00:00+00:00"]],"OR",'
        b'[["OR",[["u","alice@example.com","ALLOW",null],["g","eng","ALLOW",null]]]]]'
    )


def test_record_checks_without_decoding_agree_with_decode() -> None:
    from ccf_core.checksum import MAX_STORED_VERSION, PENDING_UPDATE, SyncRecord, stored_version

    long_version = "v" * (MAX_STORED_VERSION + 1)
    versions = ["v1", "", "with:colons", long_version, "~sha256:looks-hashed"]
    records = [PENDING_UPDATE, "a" * 64, "c:m", "c:m:", "c:other:v1"]
    records += [SyncRecord("c", "m", version).encode() for version in versions]
    for value in records:
        decoded = SyncRecord.decode(value)
        for version in versions:
            same = decoded.version == stored_version(version)
            assert SyncRecord.has_version(value, version) == same, (value, version)
            assert SyncRecord.matches(value, "m", version) == (same and decoded.metadata == "m"), value
        assert SyncRecord.checksum_of(value) == decoded.checksum


def test_the_fingerprint_is_the_same_without_the_c_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interpreter without json's C accelerator writes the same bytes."""
    from ccf_core import checksum

    document = doc(
        attributes={"team": "search ✓", "pages": 3, "tags": ["a", "b"], "when": datetime(2024, 5, 1)}
    )
    fast = checksum.metadata_fingerprint(document)
    monkeypatch.setattr(checksum, "c_make_encoder", None)
    monkeypatch.setattr(checksum, "_quote", json.encoder.py_encode_basestring)
    monkeypatch.setattr(
        checksum,
        "_encode_fingerprint",
        checksum.prebuilt_json_encoder(str, ensure_ascii=False, separators=(",", ":")),
    )

    assert checksum.metadata_fingerprint(document) == fast


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_the_prebuilt_encoder_writes_what_json_dumps_writes(
    ensure_ascii: bool, separators: tuple[str, str]
) -> None:
    from ccf_core.checksum import prebuilt_json_encoder

    value = {"tïtle": 'a "quoted" ✓ 😀\n', "n": [1, 2.5, None, True], "when": datetime(2024, 5, 1)}
    encode = prebuilt_json_encoder(str, ensure_ascii=ensure_ascii, separators=separators)

    assert encode(value) == json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=str)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # any text but lone surrogates


class _Text(str):
    """A str subclass: JSON writes it as a string."""


class _Number(IntEnum):
    ONE = 1


_ATTRIBUTE_VALUES = st.one_of(
    _TEXT,
    _TEXT.map(_Text),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers().map(lambda small: small * 10**200),  # far past 64 bits
    st.just(_Number.ONE),
    st.booleans(),
    st.lists(_TEXT, max_size=3),
    st.datetimes(timezones=st.just(UTC)),
    st.floats(allow_nan=True),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    doc_id=_TEXT.filter(bool),
    title=_TEXT,
    uri=st.none() | _TEXT,
    attributes=st.dictionaries(_TEXT, _ATTRIBUTE_VALUES, max_size=5),
    content_type=st.none() | st.sampled_from(ContentType),
    relation=st.sampled_from(MemberRelation),
    with_acl=st.booleans(),
)
def test_the_fingerprint_is_the_compact_json_of_its_payload(
    doc_id: str,
    title: str,
    uri: str | None,
    attributes: dict[str, Any],
    content_type: ContentType | None,
    relation: MemberRelation,
    with_acl: bool,
) -> None:
    """What json writes for the canonical payload: the stored checksums of every index depend on it."""
    from ccf_core.checksum import _acl

    metadata = DocumentMetadata(
        title=title,
        source_uri=uri,
        attributes=attributes,
        access_control_list=[AccessControl(principals=[alice()])] if with_acl else [],
        access_control_relation=relation,
    )
    document = Document(id=doc_id, content=b"x", content_type=content_type, metadata=metadata)

    def tagged(name: str, value: Any) -> list[Any]:
        if isinstance(value, str):
            return [name, "s", value]
        if isinstance(value, list):
            return [name, "l", value]
        if isinstance(value, datetime):
            return [name, "d", value.isoformat()]
        return [name, "n", value]

    payload = [
        1,
        doc_id,
        content_type if content_type is not None else document.resolved_content_type(),
        title,
        uri,
        sorted(tagged(name, value) for name, value in metadata.attributes.items()),
        relation,
        _acl(metadata.access_control_list),
    ]
    expected = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    assert metadata_fingerprint(document, content_type) == expected
