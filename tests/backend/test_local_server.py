"""The local server's HTTP side: Nagle off, bad Content-Length, HEAD, loopback only, bearer token."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from ccf_backend import logs
from ccf_backend.local_server import LocalBackend, _RequestHandler, _Server, is_loopback
from ccf_core.api import CCFClient, create_client
from ccf_core.api.client import add_bearer_token
from ccf_runner.ccf_cli import main as ccf_main
from tests.backend.conftest import CONTAINER
from tests.dummy_aws import dummy_session

TOKEN = "local-test-token-0123456789"
CONNECTORS = "/api/v1/custom-connectors"


def _raw(backend: LocalBackend, request: bytes) -> bytes:
    """Send ``request`` as is on a new connection; everything the server answers until it closes."""
    host, port = backend.endpoint_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module", autouse=True)
def _logs_to_real_stderr() -> None:
    """The servers' JSON logs go to the real stderr, not into what CliRunner captures."""
    backend_logger = logging.getLogger("ccf_backend")
    for handler in list(backend_logger.handlers):
        backend_logger.removeHandler(handler)
    logs.configure(stream=sys.__stderr__)


@pytest.fixture(scope="module")
def open_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    with LocalBackend(data_dir=tmp_path_factory.mktemp("open")) as running:
        yield running


@pytest.fixture(scope="module")
def locked_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    with LocalBackend(data_dir=tmp_path_factory.mktemp("locked"), token=TOKEN) as running:
        yield running


def test_accepted_connections_have_nagle_off() -> None:
    """Without TCP_NODELAY every keep-alive reply waits for the client's delayed ACK (~40 ms)."""
    server = _Server(("127.0.0.1", 0), _RequestHandler)
    try:
        client = socket.create_connection(server.server_address[:2], timeout=5)
        accepted, _ = server.get_request()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        server.server_close()


def test_keep_alive_requests_share_one_connection(open_backend: LocalBackend) -> None:
    connection = HTTPConnection(open_backend.endpoint_url.removeprefix("http://"), timeout=10)
    try:
        first = None
        for _ in range(3):
            connection.request("GET", CONNECTORS)
            response = connection.getresponse()
            assert response.status == 200
            json.loads(response.read())
            # http.client would reconnect silently: the socket must be the first one each time.
            first = first or connection.sock
            assert connection.sock is first
    finally:
        connection.close()


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", " ", "\u00b2"])
def test_a_malformed_content_length_is_a_400_without_a_traceback(
    open_backend: LocalBackend, length: str, capfd: pytest.CaptureFixture[str]
) -> None:
    answer = _raw(
        open_backend,
        f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode(),
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    error = json.loads(body)
    assert error["field"] == "Content-Length"
    assert "number of bytes" in error["message"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_over_the_limit_is_refused_before_it_is_read(open_backend: LocalBackend) -> None:
    answer = _raw(
        open_backend,
        f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nContent-Length: {11 * 2**20}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"at most" in answer


def test_head_answers_like_get_without_a_body(open_backend: LocalBackend) -> None:
    connection = HTTPConnection(open_backend.endpoint_url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", CONNECTORS)
        got = connection.getresponse()
        body = got.read()
        connection.request("HEAD", CONNECTORS)
        head = connection.getresponse()
        assert head.status == 200
        assert head.read() == b""
        assert int(head.getheader("Content-Length") or -1) == len(body)
        assert head.getheader("Content-Type") == "application/json"
    finally:
        connection.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com", "::"])
def test_a_non_loopback_host_is_refused_without_a_token(host: str) -> None:
    with pytest.raises(ValueError, match=r"give --token \(clients then send it\) or --insecure"):
        LocalBackend(host)
    LocalBackend(host, token=TOKEN)  # accepted (not started: nothing listens beyond loopback here)
    LocalBackend(host, insecure=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_hosts_need_nothing(host: str) -> None:
    assert is_loopback(host)


def test_serve_refuses_a_public_host_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        ccf_main,
        ["backend", "serve", "--host", "0.0.0.0", "--data", str(tmp_path)],
        env={"CCF_API_TOKEN": ""},
    )
    assert result.exit_code == 2
    message = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert message == [
        "Error: refusing to serve the API on 0.0.0.0, which other machines can reach, without an access "
        "token: give --token (clients then send it) or --insecure"
    ]


def test_a_request_without_the_token_is_a_401(locked_backend: LocalBackend) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        connection = HTTPConnection(locked_backend.endpoint_url.removeprefix("http://"), timeout=10)
        try:
            connection.request("GET", CONNECTORS, headers=headers)
            response = connection.getresponse()
            assert response.status == 401
            error = json.loads(response.read())
            assert "Authorization: Bearer" in error["message"]
            assert TOKEN not in error["message"]
        finally:
            connection.close()


def test_the_boto3_client_and_ccf_client_send_the_token(
    locked_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = create_client(locked_backend.endpoint_url, session=dummy_session())
    with pytest.raises(ClientError) as refused:
        plain.list_custom_connectors()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401

    client = add_bearer_token(create_client(locked_backend.endpoint_url, session=dummy_session()), TOKEN)
    connector_id = client.create_custom_connector(name="with-token", container_properties=dict(CONTAINER))[
        "connector"
    ]["connector_id"]
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", locked_backend.endpoint_url)
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", connector_id)
    monkeypatch.setenv("CCF_API_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert CCFClient.from_environment().get_connector().name == "with-token"


def test_the_ccf_cli_sends_the_token(locked_backend: LocalBackend) -> None:
    runner = CliRunner()
    args = ["connectors", "list", "--endpoint-url", locked_backend.endpoint_url, "--json"]
    refused = runner.invoke(ccf_main, args, env={"CCF_API_TOKEN": ""})
    assert refused.exit_code == 1
    assert "UnauthorizedException" in refused.output or "401" in refused.output
    allowed = runner.invoke(ccf_main, [*args, "--token", TOKEN])
    assert allowed.exit_code == 0, allowed.output
    assert isinstance(json.loads(allowed.output), list)
    from_env = runner.invoke(ccf_main, args, env={"CCF_API_TOKEN": TOKEN})
    assert from_env.exit_code == 0


def test_many_clients_at_once_are_all_answered(open_backend: LocalBackend) -> None:
    client = create_client(open_backend.endpoint_url, session=dummy_session())
    failures: list[BaseException] = []

    def lister() -> None:
        try:
            for _ in range(5):
                client.list_custom_connectors()
        except BaseException as err:  # collected and asserted below
            failures.append(err)

    threads = [threading.Thread(target=lister) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_chunked_body_is_refused_and_the_connection_closed(open_backend: LocalBackend) -> None:
    answer = _raw(
        open_backend,
        f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b"2\r\n{}\r\n0\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head
    assert json.loads(body)["field"] == "Transfer-Encoding"


def test_a_request_without_the_token_is_refused_before_its_body_is_read(locked_backend: LocalBackend) -> None:
    """A 10 MB body announced by a client without the token is never waited for."""
    answer = _raw(
        locked_backend,
        f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n{{".encode(),
    )
    head, _, _ = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401 ")
    assert b"Connection: close" in head
