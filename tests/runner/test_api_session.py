"""The credentials the ``ccf`` commands and ``ccf-run --state api`` sign CCF API calls with."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccf_runner.api_session import api_session
from ccf_runner.errors import BadConfiguration
from ccf_runner.targets import STATE_API, open_state


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere boto3 looks (environment, files, instance metadata)."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "[::1]"])
def test_a_local_backend_gets_dummy_credentials_when_none_are_configured(
    no_credentials: None, host: str
) -> None:
    credentials = api_session(f"http://{host}:8000", region="eu-west-1").get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("local", "local")


def test_an_api_elsewhere_gets_no_dummy_credentials(no_credentials: None) -> None:
    assert api_session("https://abc.execute-api.us-east-1.amazonaws.com/prod").get_credentials() is None


def test_configured_credentials_are_used_for_a_local_backend_too(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCONFIGURED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "configured")
    assert api_session("http://127.0.0.1:8000").get_credentials().access_key == "AKIDCONFIGURED"


def test_state_api_on_a_local_backend_needs_no_credentials(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ccf-run --state api`` follows the same rule as the ``ccf`` commands (nothing is called yet)."""
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", "cc-0123456789ab")
    store = open_state(STATE_API)
    try:
        assert store.ccf.client._request_signer._credentials.access_key == "local"  # what it signs with
    finally:
        store.close()

    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", "https://example.execute-api.invalid/prod")
    with pytest.raises(BadConfiguration, match="no AWS credentials found"):
        open_state(STATE_API)
