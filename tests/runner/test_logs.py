"""Runner logging: JSON lines with context, text lines, and secrets masked."""

from __future__ import annotations

import json
import logging

import pytest

from ccf_runner.logs import configure_logging, log_context, register_secret


def test_json_format_writes_one_parseable_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    logging.getLogger("ccf.test").info("first %d", 1)
    logging.getLogger("ccf.test").warning("second")
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("INFO", "ccf.test", "first 1"),
        ("WARNING", "ccf.test", "second"),
    ]
    assert all("ts" in record for record in records)


def test_json_lines_carry_connector_and_run_id_from_the_log_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")
    with log_context(connector="notes", run_id="abc123"):
        logging.getLogger("ccf.test").info("inside")
    logging.getLogger("ccf.test").info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (inside["connector"], inside["run_id"]) == ("notes", "abc123")
    assert "connector" not in outside


def test_registered_secret_is_masked_in_message_and_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "INFO")
    register_secret("hunter2")
    logging.getLogger("ccf.test").info("token hunter2 and %s", "arg-hunter2")
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "token *** and arg-***" in err


def test_registered_secret_is_masked_in_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    register_secret("hunter2")
    try:
        raise ValueError("bad token hunter2")
    except ValueError:
        logging.getLogger("ccf.test").exception("failed")
    record = json.loads(capsys.readouterr().err)
    assert "hunter2" not in record["exception"]
    assert "bad token ***" in record["exception"]


def test_text_format_prefixes_logger_and_non_info_levels(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "INFO")
    logging.getLogger("ccf.test").info("hello")
    logging.getLogger("ccf.test").warning("careful")
    assert capsys.readouterr().err.splitlines() == ["ccf.test: hello", "ccf.test: warning: careful"]


def test_log_level_filters_library_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "WARNING")
    logging.getLogger("ccf.test").info("hidden")
    logging.getLogger("ccf.test").warning("shown")
    assert capsys.readouterr().err.splitlines() == ["ccf.test: warning: shown"]


def test_registered_secret_is_masked_in_nested_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    register_secret("hunter2")
    report = {"error": "GET ?token=hunter2", "failures": [{"message": "bad hunter2"}], "added": 3}
    logging.getLogger("ccf.test").info("done", extra={"report": report, "note": ("x-hunter2",)})
    record = json.loads(capsys.readouterr().err)
    assert record["report"] == {"error": "GET ?token=***", "failures": [{"message": "bad ***"}], "added": 3}
    assert record["note"] == ["x-***"]


def test_masking_extra_fields_leaves_the_callers_data_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    register_secret("hunter2")
    report = {"failures": [{"message": "bad hunter2"}]}
    logging.getLogger("ccf.test").info("done", extra={"report": report})
    assert report == {"failures": [{"message": "bad hunter2"}]}
