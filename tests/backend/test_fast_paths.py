"""The shortcuts that make list calls cheap keep every answer exact.

Rows parsed once and kept by their text, responses and log lines written with orjson (with json
for what orjson refuses), the ``Date`` header formatted once a second.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ccf_backend import logs
from ccf_backend.local_server import _http_date
from ccf_backend.storage.sqlite import SqliteStorage
from tests.backend.conftest import CONTAINER, RawHttp

#: The API tests run on both storages: each has its own read path (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")

TENANT = "arn:aws:ccf:us-east-1:123456789012"
CONNECTORS = "/api/v1/custom-connectors"


def test_an_integer_past_64_bits_comes_back_exactly(http: RawHttp) -> None:
    """orjson refuses such an integer; the json module writes it, so the answer is still exact."""
    huge = 2**70 + 1
    body = {"name": "huge", "container_properties": CONTAINER, "configuration": {"count": huge}}
    status, _, created = http.request("POST", CONNECTORS, body)
    assert status == 201, created
    assert created["connector"]["configuration"] == {"count": huge}
    status, _, found = http.request("GET", f"{CONNECTORS}/{created['connector']['connector_id']}")
    assert status == 200
    assert found["connector"]["configuration"] == {"count": huge}


def test_non_ascii_text_is_sent_as_utf_8(http: RawHttp) -> None:
    body = {"name": "utf-8", "description": "café ☕ 数据", "container_properties": CONTAINER}
    status, headers, created = http.request("POST", CONNECTORS, body)
    assert status == 201, created
    assert headers["Content-Type"] == "application/json"
    assert created["connector"]["description"] == "café ☕ 数据"


def test_a_listing_shows_a_change_made_after_an_earlier_listing(ccf: Any, make_connector: Any) -> None:
    connector_id = make_connector(name="before")["connector_id"]

    def listed_name() -> str:
        pages = ccf.get_paginator("list_custom_connectors").paginate()
        names = {c["connector_id"]: c["name"] for page in pages for c in page["connectors"]}
        return names[connector_id]

    assert listed_name() == "before"
    ccf.update_custom_connector(connector_id=connector_id, name="after")
    assert listed_name() == "after"


def _connector(connector_id: str, name: str) -> dict[str, Any]:
    return {
        "connector_id": connector_id,
        "tenant": TENANT,
        "name": name,
        "status": "AVAILABLE",
        "version": 1,
        "container_properties": dict(CONTAINER),
    }


def test_changing_a_listed_item_does_not_change_the_next_listing(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "backend.db")
    try:
        storage.create_connector(_connector("cc-000000000001", "kept"))
        items, _ = storage.list_connectors(TENANT, 10, None)
        items[0]["name"] = "changed by a caller"
        items[0]["status"] = "IN_USE"
        again, _ = storage.list_connectors(TENANT, 10, None)
        assert again[0]["name"] == "kept"
        assert again[0]["status"] == "AVAILABLE"
    finally:
        storage.close()


def test_rows_listed_many_times_are_parsed_once_and_the_cache_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = SqliteStorage(tmp_path / "backend.db")
    try:
        for number in range(3):
            storage.create_connector(_connector(f"cc-00000000000{number}", f"n{number}"))
        decoded: list[str] = []
        real_loads = json.loads

        def counting_loads(text: str) -> Any:
            decoded.append(text)
            return real_loads(text)

        monkeypatch.setattr("ccf_backend.storage.sqlite.json.loads", counting_loads)
        for _ in range(5):
            storage.list_connectors(TENANT, 10, None)
        assert len(decoded) == 3  # five listings of three rows: each row parsed once
        monkeypatch.undo()
        parsed = storage._parsed
        assert len(parsed._items) == 3
        parsed._max_chars = parsed._chars + 10  # room for no other row
        storage.update_connector(TENANT, "cc-000000000000", {"name": "renamed"}, 1, require_available=False)
        items, _ = storage.list_connectors(TENANT, 10, None)
        assert [item["name"] for item in items] == ["renamed", "n1", "n2"]
        assert parsed._chars <= parsed._max_chars
        assert parsed._chars == sum(len(text) for text in parsed._items)
    finally:
        storage.close()


def test_the_date_header_is_formatted_again_when_the_second_changes() -> None:
    start = 1_700_000_000.2
    assert _http_date(start) == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert _http_date(start + 0.7) == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert _http_date(start + 1.0) == "Tue, 14 Nov 2023 22:13:21 GMT"
    assert _http_date(start + 3600) == "Tue, 14 Nov 2023 23:13:20 GMT"


def _line(**fields: Any) -> dict[str, Any]:
    record = logging.LogRecord("ccf_backend.routes", logging.INFO, __file__, 1, "answered %d", (200,), None)
    record.fields = fields
    parsed: dict[str, Any] = json.loads(logs.JsonFormatter().format(record))
    return parsed


def test_a_log_line_is_one_json_object_with_its_fields() -> None:
    with logs.bound(request_id="req-1", operation="ListCustomConnectors"):
        line = _line(status=200, duration_ms=1.5, name="café")
    assert line["message"] == "answered 200"
    assert line["level"] == "INFO"
    assert line["request_id"] == "req-1"
    assert line["operation"] == "ListCustomConnectors"
    assert (line["status"], line["duration_ms"], line["name"]) == (200, 1.5, "café")


def test_a_log_line_writes_values_json_does_not_know_as_text() -> None:
    line = _line(path=Path("a") / "b", codes={404: "missing"}, huge=2**70)
    assert line["path"] == str(Path("a") / "b")
    assert line["codes"] == {"404": "missing"}
    assert line["huge"] == 2**70
